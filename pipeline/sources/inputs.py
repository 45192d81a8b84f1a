"""The inputs of a run: each label file under the folder, and each member of a zip in it.

A `.zip` is read as it comes, member by member, never unpacked: each member whose name has
a reader (pipeline.sources.registry) is an input of its own, named in the report
``archive!member`` (``DSLD-full-database-JSON.zip!DSLD/12345.json``). Its digest (the
content part of its cache key) is the member's CRC-32 and size from the zip's central
directory (`member_digest`): knowing which members are unchanged costs no decompression,
and reading a member checks its bytes against that CRC (a mismatch is a damaged member).
Members that are not read are listed with why (`member_reason`): hidden names and
``__MACOSX/`` folders, other types, zips inside the zip. Two members with one name: the
first is read, each later one is a rejection (`DUPLICATE_MEMBER`).

A member is read within the run's FileLimits as a file is: its size (as the central
directory declares it, and the decompressor never gives more) against `max_file_mb`
before a byte is inflated, so a zip bomb is a rejection naming the limit. The archive
itself may be of any size: it is never read whole.

`read_task_bytes` reads one input's bytes (and its companions') in a worker. A member's
task carries its place in the archive (`member_place`, from the listing the run made), so
a worker reads it at its offset (`read_placed`, zipfile's decompression and CRC check)
without reading the archive's central directory again: that was 122 MB of ZipInfo objects
in each worker for a 200,000-member zip.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pipeline import config
from pipeline.errors import UnreadableFile
from pipeline.infra.cache import ExtractionCache, file_digest
from pipeline.infra.versions import extractor_version
from pipeline.records import NotLabel
from pipeline.sources import check_size, read_bytes
from pipeline.sources.registry import (
    COMPANION_HEAD_BYTES,
    Member,
    is_companion,
    reader_for,
    suffix_of,
    wants_companions,
)

#: Between an archive's name and its member's in `source_file`.
MEMBER_SEPARATOR = "!"

NOT_A_ZIP = "not a readable zip archive"
DUPLICATE_MEMBER = "a second member named {name} in the archive: only the first is read"
NESTED_ARCHIVE = "a zip inside a zip (not read: unpack it into the labels folder)"
ENCRYPTED_MEMBER = "the member is encrypted (password-protected)"
DAMAGED_MEMBER = "the member is damaged: {why}"
UNSUPPORTED_MEMBER = "the member uses a zip feature that cannot be read here: {what}"
#: Flag bits of a member that zipfile does not read (ZipFile.open refuses them as well).
UNSUPPORTED_FLAGS = {
    0x20: "compressed patched data (flag bit 5)",
    0x40: "strong encryption (flag bit 6)",
}
EMPTY_ARCHIVE = "the archive holds no label files"


#: What reading a zip or one of its members can raise: a damaged archive (BadZipFile,
#: EOFError, OSError), a compression method zipfile does not support (zipfile raises
#: NotImplementedError for it: UNSUPPORTED_MEMBER) and an encrypted member (RuntimeError,
#: "password required"). Each is a rejection (`member_error`).
ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class FileTask:
    """One input to read: picklable, so a worker process can take it. `path` is the file
    on disk (for a member: its archive); `member` the member's name and `member_index` its
    place in the archive's listing; `member_place` where its bytes are in the archive
    (`member_place`: a worker reads them without the archive's central directory);
    `companions` the companion inputs read with it (paths on disk, or members of the same
    archive by index)."""

    path: Path
    source_file: str
    member: str | None = None
    member_index: int = -1
    companions: tuple[str, ...] = ()
    member_place: bytes = b""

    @property
    def name(self) -> str:
        """The name the reader is chosen by (and takes its fallback product name from)."""
        return self.member if self.member is not None else self.path.name


def is_archive(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in config.ARCHIVE_SUFFIXES


def member_source(archive_source: str, member: str) -> str:
    return f"{archive_source}{MEMBER_SEPARATOR}{member}"


def member_digest(info: zipfile.ZipInfo) -> str:
    """A member's content digest as the zip records it (CRC-32 and size)."""
    return f"zip-crc32:{info.CRC:08x}:{info.file_size}"


#: A member's place (`member_place`): its local header's offset, compression method,
#: compressed and uncompressed size, CRC-32 and flag bits, as the central directory
#: records them.
_PLACE = struct.Struct("<QHQQLH")
#: The local file header (APPNOTE.TXT 4.3.7, zipfile's structFileHeader): its signature,
#: and where its flag bits and the lengths of the name and extra field are.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_HEADER_FLAGS, _HEADER_NAME_LENGTH, _HEADER_EXTRA_LENGTH = 3, 10, 11
#: Bit 11 of the flag bits: the name is UTF-8 (else cp437, as zipfile reads it).
_UTF8_NAME = 0x800


def member_place(info: zipfile.ZipInfo) -> bytes:
    """Where member `info`'s bytes are and what they are, packed (a task of each of a
    200,000-member zip holds one: ~70 bytes)."""
    return _PLACE.pack(
        info.header_offset,
        info.compress_type,
        info.compress_size,
        info.file_size,
        info.CRC,
        info.flag_bits,
    )


def placed_info(name: str, place: bytes) -> zipfile.ZipInfo:
    """The ZipInfo of member `name` at `place` (`member_place`), as zipfile reads it from
    the central directory."""
    info = zipfile.ZipInfo(name)
    (
        info.header_offset,
        info.compress_type,
        info.compress_size,
        info.file_size,
        info.CRC,
        info.flag_bits,
    ) = _PLACE.unpack(place)
    return info


def read_placed(handle: BinaryIO, info: zipfile.ZipInfo) -> bytes:
    """The bytes of member `info` (`placed_info`) of the zip open as `handle`, read as
    ZipFile.open reads them (the local header checked, then zipfile's ZipExtFile inflates
    and checks the CRC-32), without the archive's central directory: a worker of a
    200,000-member zip held it as 122 MB of ZipInfo objects. Raises what ZipFile.open
    and read raise (ZIP_ERRORS); the member's flags are checked before (`check_member`:
    encrypted, and those ZipFile.open refuses)."""
    handle.seek(info.header_offset)
    header = handle.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("Truncated file header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile("Bad magic number for file header")
    raw_name = handle.read(fields[_HEADER_NAME_LENGTH])
    handle.seek(fields[_HEADER_EXTRA_LENGTH], 1)
    name = raw_name.decode("utf-8" if fields[_HEADER_FLAGS] & _UTF8_NAME else "cp437")
    if zipfile.ZipInfo(name).filename != info.filename:
        raise zipfile.BadZipFile(
            f"File name in directory {info.filename!r} and header {raw_name!r} differ."
        )
    with zipfile.ZipExtFile(handle, "r", info) as member:
        return bytes(member.read())


def member_reason(name: str) -> str | None:
    """None: the member `name` is read; "": it is a folder entry (nothing to list); else
    why it is not read."""
    if name.endswith("/"):
        return ""
    if name.startswith(".") or "/." in name or "//" in name or "__MACOSX" in name:
        parts = PurePosixPath(name).parts  # (one path a member: 10,000 members took 1 s)
        if any(part.startswith(".") or part == "__MACOSX" for part in parts[:-1]):
            return "hidden folder"
        last = parts[-1] if parts else ""
        if last.startswith("."):
            return "hidden file"
    else:  # no part starts with "." or is __MACOSX: PurePosixPath's last part, by hand
        last = name[name.rfind("/") + 1 :]
    dot = last.rfind(".")  # PurePosixPath.suffix, of the last part
    suffix = last[dot + 1 :].lower() if 0 < dot < len(last) - 1 else ""
    if suffix in config.ARCHIVE_SUFFIXES:
        return NESTED_ARCHIVE
    if suffix not in config.LABEL_SUFFIXES:
        return "not a label file type"
    return None


@dataclass(frozen=True)
class ArchiveListing:
    """What a zip holds: the members to read (tasks, with their digests: the member's,
    then its companions'), those rejected before reading (duplicates), the members not
    read with why, and the companion members read with others (their source names)."""

    tasks: tuple[tuple[FileTask, tuple[str, ...]], ...]
    rejected: tuple[tuple[str, str], ...]
    not_labels: tuple[NotLabel, ...]
    companions: tuple[str, ...]


def list_archive(path: Path, archive_source: str) -> ArchiveListing:
    """The inputs of the zip at `path`; raises UnreadableFile if it is not a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            reasons = [member_reason(info.filename) for info in infos]
            wants: dict[str, bool] = {}  # suffix -> wants_companions (one reader a suffix)
            heads = {
                i: _head(archive, info)
                for i, info in enumerate(infos)
                if reasons[i] is None and _wants(info.filename, wants)
            }
    except ZIP_ERRORS as exc:
        raise UnreadableFile(f"{NOT_A_ZIP}: {exc}", source_file=archive_source) from exc
    counts: dict[str, int] = {}
    readable: list[tuple[int, zipfile.ZipInfo]] = []
    rejected: list[tuple[str, str]] = []
    not_labels: list[NotLabel] = []
    for index, info in enumerate(infos):
        name = info.filename
        reason = reasons[index]
        if reason:
            not_labels.append(NotLabel(member_source(archive_source, name), reason))
        elif reason is None:
            counts[name] = counts.get(name, 0) + 1
            if counts[name] == 1:
                readable.append((index, info))
            else:
                shown = f"{member_source(archive_source, name)}#{counts[name]}"
                rejected.append((shown, DUPLICATE_MEMBER.format(name=name)))
    companion_ids = {i for i, head in heads.items() if is_companion(infos[i].filename, head)}
    tasks = []
    for index, info in readable:
        if index in companion_ids:
            continue
        companions = []
        if index in heads:
            folder = PurePosixPath(info.filename).parent
            companions = sorted(
                (infos[i].filename, i)
                for i in companion_ids
                if PurePosixPath(infos[i].filename).parent == folder
            )
        task = FileTask(
            path,
            member_source(archive_source, info.filename),
            info.filename,
            index,
            tuple(str(i) for _, i in companions),
            member_place(info),
        )
        digests = (member_digest(info), *(member_digest(infos[i]) for _, i in companions))
        tasks.append((task, digests))
    if not tasks and not rejected:
        rejected.append((archive_source, EMPTY_ARCHIVE))
    return ArchiveListing(
        tuple(tasks),
        tuple(rejected),
        tuple(not_labels),
        tuple(member_source(archive_source, infos[i].filename) for i in sorted(companion_ids)),
    )


def _wants(name: str, known: dict[str, bool]) -> bool:
    """`wants_companions(name)`, found once a suffix (`known`: suffix -> answer): it
    depends on the reader of the name's suffix only."""
    suffix = suffix_of(name)
    found = known.get(suffix)
    if found is None:
        found = known[suffix] = wants_companions(name)
    return found


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as handle:
            return handle.read(COMPANION_HEAD_BYTES)
    except ZIP_ERRORS:
        return b""  # not a companion: read on its own, it is rejected with the reason


# --- in a worker -----------------------------------------------------------------------

#: The archive a worker has open (a worker reads many members of one archive in a row:
#: its central directory is read once, not once a member).
_open_archive: tuple[Path, zipfile.ZipFile] | None = None


def _archive(path: Path, source_file: str) -> zipfile.ZipFile:
    global _open_archive
    if _open_archive is None or _open_archive[0] != path:
        if _open_archive is not None:
            _open_archive[1].close()
            _open_archive = None
        try:
            _open_archive = (path, zipfile.ZipFile(path))
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UnreadableFile(f"{NOT_A_ZIP}: {exc}", source_file=source_file) from exc
    return _open_archive[1]


#: The archive file a worker has open for `read_placed_member` (its members in a row).
_open_file: tuple[Path, BinaryIO] | None = None


def _archive_file(path: Path, source_file: str) -> BinaryIO:
    global _open_file
    if _open_file is None or _open_file[0] != path:
        if _open_file is not None:
            _open_file[1].close()
            _open_file = None
        try:
            _open_file = (path, open(path, "rb"))  # noqa: SIM115 - kept open for the next
        except OSError as exc:
            raise UnreadableFile(f"{NOT_A_ZIP}: {exc}", source_file=source_file) from exc
    return _open_file[1]


def read_placed_member(task: FileTask) -> tuple[bytes, str]:
    """The bytes of the member of `task` (which has its `member_place`) and its digest,
    within the size limit; raises UnreadableFile or LimitExceeded, as `read_member`."""
    assert task.member is not None and task.member_place
    info = placed_info(task.member, task.member_place)
    check_member(info, task.source_file)
    try:
        return read_placed(_archive_file(task.path, task.source_file), info), member_digest(info)
    except ZIP_ERRORS as exc:
        raise member_error(exc, task.source_file) from exc


def check_member(info: zipfile.ZipInfo, source_file: str) -> None:
    """Raise UnreadableFile (or LimitExceeded) if member `info` is not to be read: over the
    size limit, encrypted, or of a kind zipfile does not read (UNSUPPORTED_FLAGS)."""
    check_size(info.file_size, source_file)
    if info.flag_bits & 0x1:
        raise UnreadableFile(ENCRYPTED_MEMBER, source_file=source_file)
    for bit, what in UNSUPPORTED_FLAGS.items():
        if info.flag_bits & bit:
            raise UnreadableFile(UNSUPPORTED_MEMBER.format(what=what), source_file=source_file)


def member_error(exc: BaseException, source_file: str) -> UnreadableFile:
    """The rejection of a member whose reading raised `exc` (one of ZIP_ERRORS)."""
    if isinstance(exc, NotImplementedError):  # (zipfile: a compression method it lacks)
        return UnreadableFile(UNSUPPORTED_MEMBER.format(what=exc), source_file=source_file)
    return UnreadableFile(DAMAGED_MEMBER.format(why=exc), source_file=source_file)


def read_member(path: Path, index: int, source_file: str) -> tuple[bytes, str]:
    """The bytes of member `index` of the zip at `path` and its digest (`member_digest`),
    within the size limit; raises UnreadableFile or LimitExceeded."""
    archive = _archive(path, source_file)
    try:
        info = archive.infolist()[index]
    except IndexError:
        raise UnreadableFile(
            "the member is no longer in the archive (it changed during the run)",
            source_file=source_file,
        ) from None
    check_member(info, source_file)
    try:
        with archive.open(info) as handle:
            return handle.read(), member_digest(info)
    except ZIP_ERRORS as exc:
        raise member_error(exc, source_file) from exc


def read_task_bytes(task: FileTask, file_digest: str | None = None) -> tuple[bytes, str | None]:
    """The bytes of one input, and the digest of those bytes for a member (None for a file:
    the caller hashes what it read). Raises a LabelError when they cannot be read."""
    if task.member is not None and task.member_place:
        return read_placed_member(task)
    if task.member is not None:
        return read_member(task.path, task.member_index, task.source_file)
    if is_archive(task.path):
        list_archive(task.path, task.source_file)  # raises with why it cannot be read
        raise UnreadableFile(EMPTY_ARCHIVE, source_file=task.source_file)
    return read_bytes(task.path, task.source_file), file_digest


def companion_members(task: FileTask) -> Iterator[tuple[Member, str | None]]:
    """The companions of `task`, read (with a member's digest; None for a file)."""
    for companion in task.companions:
        if task.member is not None:
            data, digest = read_member(task.path, int(companion), task.source_file)
            name = _archive(task.path, task.source_file).infolist()[int(companion)].filename
            yield Member(name, data), digest
        else:
            path = Path(companion)
            yield Member(path.name, read_bytes(path, task.source_file)), None


def companions_of(paths: Sequence[Path]) -> tuple[list[Path], dict[Path, list[Path]]]:
    """Split the companion files among `paths` (files on disk) from the others; the
    companions by folder."""
    main: list[Path] = []
    companions: dict[Path, list[Path]] = {}
    for path in paths:
        reader = None if is_archive(path) else reader_for(path.name)
        if reader is not None and reader.is_companion is not None:
            try:
                with path.open("rb") as handle:
                    head = handle.read(COMPANION_HEAD_BYTES)
            except OSError:
                head = b""
            if reader.is_companion(path.name, head):
                companions.setdefault(path.parent, []).append(path)
                continue
        main.append(path)
    return main, companions


# --- planning --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFile:
    """One input of this run: what to read, its cache key (None: the file could not be
    hashed; it is read, to say why), the digests the key is made of (the input's, then
    its companions'), whether a sound entry for that key is in the cache (it is read back
    when its batch is handed on), or why it is rejected without being read."""

    task: FileTask
    key: str | None
    cached: bool = False
    digests: tuple[str, ...] = ()
    rejection: str | None = None  # rejected before reading (a duplicate zip member ...)


def plan_inputs(
    main: Sequence[Path],
    companions: Mapping[Path, Sequence[Path]],
    source_name: Callable[[Path], str],
    cache_key: Callable[[str, Sequence[str]], str],
) -> tuple[list[PlannedFile], list[NotLabel], list[str]]:
    """The cache key of every input (each file of `main`, each member of a zip among them;
    `companions`: the companion files by folder), sorted by source name; also what the
    zips hold that is not read, and their companion members."""
    planned: list[PlannedFile] = []
    not_labels: list[NotLabel] = []
    member_companions: list[str] = []
    for path in main:
        source_file = source_name(path)
        if is_archive(path):
            try:
                listing = list_archive(path, source_file)
            except UnreadableFile as exc:
                planned.append(PlannedFile(FileTask(path, source_file), None, rejection=exc.reason))
                continue
            planned += [
                PlannedFile(task, cache_key(task.source_file, digests), digests=digests)
                for task, digests in listing.tasks
            ]
            planned += [
                PlannedFile(FileTask(path, name), None, rejection=why)
                for name, why in listing.rejected
            ]
            not_labels += listing.not_labels
            member_companions += listing.companions
            continue
        beside = sorted(companions.get(path.parent, [])) if wants_companions(path.name) else []
        task = FileTask(path, source_file, companions=tuple(str(c) for c in beside))
        try:
            digests = tuple(file_digest(p) for p in (path, *beside))
        except OSError:
            planned.append(PlannedFile(task, None))
            continue
        planned.append(PlannedFile(task, cache_key(source_file, digests), digests=digests))
    planned.sort(key=lambda p: p.task.source_file)
    return planned, not_labels, member_companions


#: Small JSON inputs (a DSLD zip's members, or the files of an unpacked one) are read
#: GROUP_FILES to a worker's item: one hand-over to a worker a file was a third of their
#: cost. A group whose worker dies or runs out of time is read again one file at a time,
#: so that only the file that did it is lost.
GROUP_FILES = 32
GROUPED_SUFFIXES = frozenset({".json"})


def group_inputs(todo: Sequence[PlannedFile], size: int = GROUP_FILES) -> list[list[PlannedFile]]:
    """`todo` in order, in groups: consecutive JSON inputs without companions up to `size`
    a group, every other input alone."""

    def small(p: PlannedFile) -> bool:
        grouped = "." + suffix_of(p.task.name) in GROUPED_SUFFIXES  # (Path(name).suffix)
        return grouped and not p.task.companions

    groups: list[list[PlannedFile]] = []
    for p in todo:
        if groups and small(p) and small(groups[-1][0]) and len(groups[-1]) < size:
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


@dataclass(frozen=True)
class ExtractStats:
    files: int
    parsed: int  # files read this run (cache misses)
    cached: int  # files whose earlier reading was reused
    companions: tuple[str, ...]  # CSV companion files read with their main file
    source_files: tuple[str, ...] = ()  # the label files, in the tables' order
    not_labels: tuple[NotLabel, ...] = ()  # what is under the folder but not read, and why
    unstored: int = 0  # readings not cached as planned (over a limit, lost, changed meanwhile)
    #: source file -> the content key of the reading handed on for it (when it was cached).
    table_keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractPlan:
    """What a run will read (`plan_extraction`): every input with its cache key, what is
    not read, and the companion files."""

    planned: tuple[PlannedFile, ...]
    not_labels: tuple[NotLabel, ...]
    companions: tuple[str, ...]

    def fingerprint(self, limits: config.FileLimits) -> str | None:
        """What the label tables depend on: each input's name and cache key (content and
        extractor version), the rejections made before reading, what is not read, and
        the limits; None if an input could not be hashed (it must be read to say why)."""
        if any(p.key is None and p.rejection is None for p in self.planned):
            return None
        payload = json.dumps(
            [
                [(p.task.source_file, p.key, p.rejection) for p in self.planned],
                [(n.source_file, n.reason) for n in self.not_labels],
                self.companions,
                repr(limits),
            ]
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def prune_cache(self, cache_dir: Path) -> None:
        """Remove the cache entries no input of this plan has, and temp files."""
        cache = ExtractionCache(cache_dir, extractor_version())
        cache.prune({p.key for p in self.planned if p.key is not None})

    def stats(
        self, parsed: int = 0, unstored: int = 0, table_keys: Mapping[str, str] | None = None
    ) -> ExtractStats:
        files = len(self.planned)
        return ExtractStats(
            files=files,
            parsed=parsed,
            cached=files - parsed,
            companions=self.companions,
            source_files=tuple(p.task.source_file for p in self.planned),
            not_labels=self.not_labels,
            unstored=unstored,
            table_keys=dict(table_keys or {}),
        )
