"""Extract stage: a folder of label files -> label tables (labels, rows, issues, rejections).

`find_label_files` walks the folder (recursively, hidden files and folders ignored);
`extract_file` reads one file with the reader for its type and turns a `LabelError` into
a rejection, so one bad file never stops the run. `extract_in_batches` does the whole
folder: the files whose content has not changed come from the cache, the others are read
in parallel processes that store what they read in the cache; then the readings are handed
on `EXTRACT_BATCH_FILES` files at a time, in file order, so memory does not grow with the
number of files. `write_label_tables` streams them into the four Parquet tables.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline import config, sources
from pipeline.errors import AuditError, LabelError, LimitExceeded
from pipeline.infra.cache import ExtractionCache, bytes_digest
from pipeline.infra.executors import LOCAL, Executor, imap_files, map_files
from pipeline.infra.isolated import WorkerBox
from pipeline.infra.kept_rows import KeptRows
from pipeline.infra.versions import extractor_version
from pipeline.records import (
    FileExtraction,
    FileValues,
    NotLabel,
    Rejection,
    rejected_values,
    values_extraction,
)
from pipeline.sources import read_bytes
from pipeline.sources.inputs import (
    GROUP_FILES,
    ExtractPlan,
    ExtractStats,
    FileTask,
    PlannedFile,
    companion_members,
    companions_of,
    group_inputs,
    plan_inputs,
    read_task_bytes,
)
from pipeline.sources.registry import Member, read_input, read_input_values

log = logging.getLogger(__name__)

#: Files handed on (and written to the tables) at a time: the extract stage holds the
#: readings of this many files, never the whole folder's. Each batch is one row group of
#: each table, which the normalize stage reads one at a time.
EXTRACT_BATCH_FILES = 512


#: Why an entry under the labels folder is not read as a label (audit.json "not_labels").
NOT_A_LABEL_TYPE = "not a label file type"
HIDDEN_FILE = "hidden file"
HIDDEN_FOLDER = "hidden folder"
NOT_A_REGULAR_FILE = "not a regular file"
SYMLINK_OUTSIDE = "symlink outside the labels folder"
SYMLINK_DANGLING = "dangling symlink"
SYMLINK_LOOP = "symlink loop"
SYMLINK_TO_FOLDER = "symlink to a folder (not followed)"
UNREADABLE_FOLDER = "unreadable folder"
UNREADABLE_FILE = "unreadable file"
CORRECTIONS_ENTRY = "corrections and confirmations (pipeline.corrections), not a label"

#: os.scandir and os.open, as the walk calls them (a test replaces them to make a folder
#: or a file unreadable, which a chmod cannot do for root).
_scandir = os.scandir
_open = os.open


def display_name(text: str) -> str:
    """`text` (a path) as text that is valid UTF-8: the bytes of a file name that is not
    valid UTF-8 (which Python keeps as surrogate escapes) are shown as \\xNN."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@dataclass(frozen=True)
class FolderScan:
    """What is under a labels folder: the label files to read (sorted by their source
    name) and everything else, each with why it is not read (sorted by name)."""

    files: tuple[Path, ...]
    not_labels: tuple[NotLabel, ...]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _link_reason(path: str, root: str) -> str | None:
    """Why the symlink `path` is not followed (None: it names a file in the folder)."""
    try:
        target = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return SYMLINK_LOOP
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return SYMLINK_DANGLING
        return f"{UNREADABLE_FILE}: {exc.strerror}"
    if not _inside(os.path.realpath(path), root):
        return SYMLINK_OUTSIDE
    if stat.S_ISDIR(target.st_mode):
        return SYMLINK_TO_FOLDER
    return None


def scan_labels_folder(labels_dir: Path, skip: Mapping[Path, str] | None = None) -> FolderScan:
    """Walk `labels_dir` recursively: every entry is a label file (a regular file, or a
    symlink to one inside the folder, with a label suffix) or a `NotLabel` with its reason.
    Hidden files and folders, other suffixes, special files, symlinks that leave the
    folder, dangle or loop, and folders that cannot be read are listed, not read; a
    symlinked folder is not followed. The folders in `skip` (path -> reason, e.g. the
    reports and work folders) are listed as one entry each and not entered. Names that are
    not valid UTF-8 are listed escaped (`display_name`)."""
    if not labels_dir.is_dir():
        raise AuditError(f"labels folder {labels_dir} does not exist or is not a folder")
    root = os.path.realpath(labels_dir)
    skipped = {os.path.realpath(p): why for p, why in (skip or {}).items()}
    files: list[tuple[str, Path]] = []
    not_labels: list[NotLabel] = []
    folders: list[tuple[str, str]] = [("", os.fspath(labels_dir))]
    while folders:
        rel_dir, folder = folders.pop()
        try:
            with _scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            if not rel_dir:
                raise AuditError(
                    f"labels folder {display_name(folder)} cannot be read: {exc.strerror}"
                ) from None
            not_labels.append(NotLabel(display_name(rel_dir + "/"), UNREADABLE_FOLDER))
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            reason = _entry_reason(entry, root, skipped, folders, rel)
            if reason is None:
                files.append((display_name(rel), Path(entry.path)))
            elif reason:
                shown = rel + "/" if _is_folder(entry) else rel
                not_labels.append(NotLabel(display_name(shown), reason))
    files.sort(key=lambda named: named[0])
    not_labels.sort(key=lambda n: n.source_file)
    return FolderScan(tuple(path for _, path in files), tuple(not_labels))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _entry_reason(
    entry: os.DirEntry[str],
    root: str,
    skipped: Mapping[str, str],
    folders: list[tuple[str, str]],
    rel: str,
) -> str | None:
    """None: `entry` is a label file; "": a folder to walk (added to `folders`); else
    why it is not read."""
    try:
        is_link = entry.is_symlink()
        is_dir = not is_link and entry.is_dir(follow_symlinks=False)
    except OSError as exc:
        return f"{UNREADABLE_FILE}: {exc.strerror}"
    if is_dir:
        real = os.path.realpath(entry.path)
        if real in skipped:
            return skipped[real]
        if entry.name.startswith("."):
            return HIDDEN_FOLDER
        folders.append((rel, entry.path))
        return ""
    if entry.name.startswith("."):
        return HIDDEN_FILE
    if rel == config.CORRECTIONS_FILE:  # read by pipeline.corrections, never as a label
        return CORRECTIONS_ENTRY
    if is_link:
        why = _link_reason(entry.path, root)
        if why is not None:
            return why
        real = os.path.realpath(entry.path)
        for folder, reason in skipped.items():
            if _inside(real, folder):
                return reason
    try:
        mode = entry.stat(follow_symlinks=True).st_mode
    except OSError as exc:
        return f"{UNREADABLE_FILE}: {exc.strerror}"
    if not stat.S_ISREG(mode):
        return NOT_A_REGULAR_FILE
    suffix = Path(entry.name).suffix.lower().lstrip(".")
    if suffix not in config.LABEL_SUFFIXES | config.ARCHIVE_SUFFIXES:
        return NOT_A_LABEL_TYPE
    try:  # a file this user may not read is listed, not a crash of the run when read
        os.close(_open(entry.path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        return f"{UNREADABLE_FILE}: {exc.strerror}"
    return None


def find_label_files(labels_dir: Path, skip: Mapping[Path, str] | None = None) -> list[Path]:
    """Every label file under `labels_dir` (sorted; see `scan_labels_folder`)."""
    return list(scan_labels_folder(labels_dir, skip).files)


def source_name(path: Path, labels_dir: Path) -> str:
    """The file's name in the report: its path under the labels folder, with forward
    slashes, escaped if it is not valid UTF-8."""
    return display_name(path.relative_to(labels_dir).as_posix())


def read_label_file(
    path: Path,
    source_file: str,
    data: bytes | None = None,
    companions: Sequence[Member] = (),
) -> FileExtraction:
    """Read one input with the reader registered for its name (pipeline.sources.registry);
    raises LabelError when it cannot. `path`: the file, or a zip member's name; `data`:
    its bytes, read once by the caller (default: read from `path`); `companions`: the
    companion files of its folder or archive folder."""
    if data is None:
        data = read_bytes(path, source_file)
    return read_input(data, path.as_posix(), source_file, companions)


def read_label_values(
    path: Path,
    source_file: str,
    data: bytes | None = None,
    companions: Sequence[Member] = (),
) -> FileValues:
    """`read_label_file`, the reading as field values (pipeline.records.FileValues; a
    reader with `read_values` makes no records)."""
    if data is None:
        data = read_bytes(path, source_file)
    return read_input_values(data, path.as_posix(), source_file, companions)


def _rejected(source_file: str, reason: str) -> FileExtraction:
    return FileExtraction(source_file, rejection=Rejection(source_file, reason))


def read_once(
    task: FileTask, data: bytes | None = None, companions: Sequence[Member] | None = None
) -> tuple[FileExtraction, bool]:
    """Read one file (from `data`, its bytes, if given); a LabelError (or an unexpected
    reader crash) becomes its rejection. Returns the reading and whether it may be cached:
    not when a per-file limit stopped it (LimitExceeded), which depends on the run's
    settings, not only on the file. A MemoryError is raised (the worker's box handles it)."""
    values, cacheable = read_values_once(task, data, companions)
    return values_extraction(values), cacheable


def read_values_once(
    task: FileTask, data: bytes | None = None, companions: Sequence[Member] | None = None
) -> tuple[FileValues, bool]:
    """`read_once`, the reading as field values (pipeline.sources.registry
    .read_input_values: a reader with `read_values` makes no records)."""
    try:
        if data is None:
            data = read_task_bytes(task)[0]
        if companions is None:
            companions = [member for member, _ in companion_members(task)]
        reading = read_label_values(Path(task.name), task.source_file, data, companions)
    except LimitExceeded as exc:
        return rejected_values(task.source_file, exc.reason), False
    except LabelError as exc:
        return rejected_values(task.source_file, exc.reason), True
    except MemoryError:
        raise
    except Exception as exc:  # a reader bug must not lose the file or stop the run
        reason = f"could not be read: unexpected {type(exc).__name__}: {exc}"
        # one line; the traceback with --debug
        log.warning("%s: %s", task.source_file, reason, exc_info=log.isEnabledFor(logging.DEBUG))
        return rejected_values(task.source_file, reason), True
    if not reading.labels:
        return rejected_values(task.source_file, "no product found in the file"), True
    return reading, True


@dataclass(frozen=True)
class KeptFile:
    """A file whose rows are the last run's (pipeline.infra.kept_rows): its content key is
    the one its rows in the label tables were made from."""

    source_file: str


def extract_file(task: FileTask) -> FileExtraction:
    """Read one file; a LabelError (or an unexpected reader crash) becomes its rejection."""
    return read_once(task)[0]


@dataclass(frozen=True)
class CacheTask:
    """A cache miss for a worker: read the file and store the reading in the cache."""

    task: FileTask
    key: str | None
    digests: tuple[str, ...]
    cache_dir: Path
    extractor_version: str


@dataclass(frozen=True)
class CacheResult:
    """What a worker did with one file: `key`, the cache key of the bytes it actually read
    (None if it could not read them); `reading`, what it read, as field values (they
    pickle several times faster than the records); `stored`, whether it is in the cache
    under `key` (not when it is not cacheable, or the cache could not be written:
    `store_error` says why)."""

    key: str | None
    reading: FileValues
    store_error: str | None = None  # why the cache could not be written
    stored: bool = False


def extract_into_cache(job: CacheTask) -> CacheResult:
    """Read one input once into memory, take the digest of those bytes (a file's sha256;
    a zip member's CRC-32, checked as it is inflated) and hand the same bytes to the
    reader, then store the reading under the key of that digest: what is cached is what
    was read, even if the input changed since the run planned it (or changes again after).
    The reading is also given back (the parent hands it on without reading the entry)."""
    return extract_group((job,))[0]


def _read_for_cache(job: CacheTask) -> tuple[CacheResult, bool]:
    """`extract_into_cache`'s reading, not stored yet, and whether it may be."""
    try:
        data, digest = read_task_bytes(job.task)
        read = [(data, digest), *((m.data, d) for m, d in companion_members(job.task))]
        companions = [m for m, _ in companion_members(job.task)] if job.task.companions else []
    except LabelError as exc:
        return CacheResult(None, rejected_values(job.task.source_file, exc.reason)), False
    digests = tuple(d or bytes_digest(b) for b, d in read)
    del read
    key = job.key
    if digests != job.digests:  # (changed since the plan: the key of what was read)
        cache = ExtractionCache(job.cache_dir, job.extractor_version)
        key = cache.cache_key(job.task.source_file, digests)
    reading, cacheable = read_values_once(job.task, data, companions)
    return CacheResult(key, reading), cacheable and key is not None


def extract_group(jobs: tuple[CacheTask, ...]) -> tuple[CacheResult, ...]:
    """A worker's item: one input, or a few small ones read one after the other
    (`group_inputs`), their readings stored together (ExtractionCache.put_many)."""
    read = [_read_for_cache(job) for job in jobs]
    entries = [(r.key, r.reading) for r, ok in read if ok and r.key is not None]
    if not entries:
        return tuple(r for r, _ in read)
    cache = ExtractionCache(jobs[0].cache_dir, jobs[0].extractor_version)
    error = cache.put_many_values(entries)
    return tuple(replace(r, store_error=error, stored=error is None) if ok else r for r, ok in read)


def _lost(jobs: tuple[CacheTask, ...], reason: str) -> tuple[CacheResult, ...]:
    """The reading of a file whose worker was stopped or died (`reason` names why); ()
    for a group of files (each is read again on its own)."""
    if len(jobs) > 1:
        return ()
    return (CacheResult(None, rejected_values(jobs[0].task.source_file, reason)),)


def _describe(jobs: tuple[CacheTask, ...]) -> str:
    first = jobs[0].task.source_file
    return first if len(jobs) == 1 else f"{first} and {len(jobs) - 1} more (read again one by one)"


#: How a file lost by its worker is worded (pipeline.infra.isolated.map_isolated's `reasons`).
LOST_REASONS = {
    "timeout": "reading took more than {timeout} s (limit "
    + config.limit_option("file_timeout")
    + ")",
    "memory": "the reader ran out of memory (limit {memory} MB, "
    + config.limit_option("max_memory_mb")
    + ")",
    "died": "the worker reading it died ({how})",
}


def _setup_worker(limits: config.FileLimits) -> None:
    """In each worker: the readers check this run's limits."""
    sources.set_limits(limits)


def plan_extraction(
    labels_dir: Path, work: config.WorkPaths, skip: Mapping[Path, str] | None = None
) -> ExtractPlan:
    """Scan the labels folder (with `skip`) and key every input (`plan_inputs`); nothing
    is read but the files' digests and the zips' listings."""
    scan = scan_labels_folder(labels_dir, skip)
    if not scan.files:
        raise AuditError(
            f"no label files (*.pdf, *.csv, *.json, images) under {display_name(str(labels_dir))}"
        )
    main, companions = companions_of(scan.files)
    cache = ExtractionCache(work.cache_dir.absolute(), extractor_version())
    planned, not_labels, member_companions = plan_inputs(
        main, companions, lambda path: source_name(path, labels_dir), cache.cache_key
    )
    companion_names = [source_name(c, labels_dir) for group in companions.values() for c in group]
    return ExtractPlan(
        tuple(planned),
        tuple(sorted([*scan.not_labels, *not_labels], key=lambda n: n.source_file)),
        tuple(sorted(companion_names + member_companions)),
    )


def _absolute(task: FileTask, known: dict[Path, Path] | None = None) -> FileTask:
    """`task` with absolute paths, so a worker in another folder (a Dask worker) finds it.
    `known`: the absolute paths made so far (a zip's members share its path)."""
    companions = (
        task.companions
        if task.member is not None
        else tuple(str(Path(c).absolute()) for c in task.companions)
    )
    known = {} if known is None else known
    path = known.get(task.path)
    if path is None:
        path = known[task.path] = task.path.absolute()
    if path is task.path and companions == task.companions:
        return task  # (already absolute: no copy)
    return replace(task, path=path, companions=companions)


def extract_in_batches(
    labels_dir: Path,
    work: config.WorkPaths,
    take: Callable[[list[FileValues | KeptFile]], None],
    *,
    jobs: int = 1,
    use_cache: bool = True,
    progress: bool | None = None,
    batch_files: int = EXTRACT_BATCH_FILES,
    skip: Mapping[Path, str] | None = None,
    limits: config.FileLimits = config.FILE_LIMITS,
    plan: ExtractPlan | None = None,
    executor: Executor = LOCAL,
    kept: KeptRows | None = None,
) -> ExtractStats:
    """Read every label file under `labels_dir` (`plan_extraction`, with `skip`; or the
    inputs of `plan`), handing the readings (as field values, pipeline.records.FileValues)
    to `take` in file order, `batch_files` files at a time (the last batch may be shorter).

    Files whose content (and companion files) are unchanged since a cached reading with the
    same extractor version are not parsed again (an entry that fails its checksum is not
    used: the file is read again, with a warning). The rest are read in worker processes
    within `limits` (pipeline.infra.isolated.imap_isolated: a file over a limit, or whose
    worker dies, is a rejection naming why; small JSON files a group at a time,
    `group_inputs`), `jobs` at a time, or as tasks of a dask cluster (`executor`); each
    worker stores its reading in the cache under the digest of the bytes it read and gives
    it back. They are read as the batches are handed on, about a batch ahead, so memory
    holds a batch or two, whatever the number of files. A cache entry that cannot be read
    back (broken meanwhile) is read again, in a worker.

    `kept`: the last run's label tables; a file whose key is the one its rows there were
    made from is handed on as a `KeptFile` (its cache entry is not even looked at). The
    stats' `table_keys` say which key each file's handed-on rows are of (not the files
    whose reading could not be cached: they are read again next run).
    """
    if plan is None:
        plan = plan_extraction(labels_dir, work, skip)
    cache = ExtractionCache(work.cache_dir.absolute(), extractor_version())
    table_keys: dict[str, str] = {}
    last_keys = kept.keys if use_cache and kept is not None else {}
    for p in plan.planned:
        if p.key is not None and p.rejection is None and last_keys.get(p.task.source_file) == p.key:
            table_keys[p.task.source_file] = p.key
    planned = plan.planned
    # Whether each input's reading is at hand (its rows kept, or a sound cache entry): a
    # list beside the plan, not a PlannedFile copied per input (10,000 copies: 0.1 s).
    cached = [
        use_cache
        and p.key is not None
        and (p.task.source_file in table_keys or cache.verify(p.key))
        for p in planned
    ]

    box = WorkerBox(
        timeout_s=limits.file_timeout,
        memory_mb=limits.max_memory_mb,
        setup=_setup_worker,
        setup_arg=limits,
    )
    size = max(1, batch_files)

    absolute: dict[Path, Path] = {}

    def job(p: PlannedFile) -> CacheTask:
        version = cache.extractor_version
        return CacheTask(_absolute(p.task, absolute), p.key, p.digests, cache.cache_dir, version)

    def read_in_workers(groups: Sequence[Sequence[PlannedFile]]) -> Iterator[CacheResult]:
        """The readings of `groups` (`group_inputs`), file by file in order."""
        options: dict[str, Any] = dict(
            jobs=jobs, describe=_describe, lost=_lost, box=box, reasons=LOST_REASONS
        )
        items = [tuple(job(p) for p in group) for group in groups]
        window = max(2 * max(1, jobs), size // GROUP_FILES)
        found = imap_files(
            executor, extract_group, items, window=window, weight=len, progress=progress, **options
        )
        for item, results in zip(items, found, strict=True):
            if len(results) < len(item):  # a group lost by its worker: one by one
                singles = [(j,) for j in item]
                results = tuple(
                    r for rs in map_files(executor, extract_group, singles, **options) for r in rs
                )
            yield from results

    todo = [
        p for p, at_hand in zip(planned, cached, strict=True) if not at_hand and p.rejection is None
    ]
    readings = read_in_workers(group_inputs(todo))
    changed_meanwhile = 0  # (its tables are not those of the inputs as planned)
    unstored: list[str] = []
    not_cached = 0
    parsed = len(todo) + sum(p.rejection is not None for p in planned)
    keep = {
        p.key for p, at_hand in zip(planned, cached, strict=True) if at_hand and p.key is not None
    }
    for start in range(0, len(planned), size):  # (`readings` ends with the last batch)
        batch: list[FileValues | KeptFile] = []
        for p, at_hand in zip(
            planned[start : start + size], cached[start : start + size], strict=True
        ):
            if p.rejection is not None:
                batch.append(rejected_values(p.task.source_file, p.rejection))
                continue
            if p.task.source_file in table_keys:
                batch.append(KeptFile(p.task.source_file))
                continue
            extraction: FileValues | None = None
            if not at_hand:
                result = next(readings)
                if result.key is not None and p.key is not None and result.key != p.key:
                    changed_meanwhile += 1
                    log.warning(
                        "%s changed while it was being read: its reading is of the content "
                        "read, and is cached under that content's digest",
                        p.task.source_file,
                    )
                if result.key is not None:
                    keep.add(result.key)
                    if result.stored:
                        table_keys[p.task.source_file] = result.key
                if result.store_error is not None:
                    unstored.append(result.store_error)
                not_cached += not result.stored
                extraction = result.reading
            elif p.key is not None:
                extraction = cache.get_values(p.key)
                if extraction is not None:
                    table_keys[p.task.source_file] = p.key
            if extraction is None:  # an entry broken meanwhile: read the file again
                parsed += 1
                again = next(read_in_workers([[p]]))
                if again.key is not None:
                    keep.add(again.key)
                    if again.stored:
                        table_keys[p.task.source_file] = again.key
                extraction = again.reading
            batch.append(extraction)
        take(batch)
    if unstored:
        log.warning(
            "could not write %d cache entries in %s (%s): those files are read again next run",
            len(unstored),
            cache.entries_dir,
            unstored[0],
        )
    cache.prune(keep)
    stats = plan.stats(parsed, unstored=not_cached + changed_meanwhile, table_keys=table_keys)
    log.info("extract: %d files, %d parsed, %d from cache", stats.files, parsed, stats.cached)
    return stats
