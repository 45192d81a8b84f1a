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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import config, sources
from pipeline.errors import AuditError, LabelError, LimitExceeded
from pipeline.infra.atomic import ParquetTables
from pipeline.infra.cache import ExtractionCache, bytes_digest, file_digest
from pipeline.infra.executors import LOCAL, Executor, map_files
from pipeline.infra.isolated import WorkerBox
from pipeline.infra.versions import extractor_version
from pipeline.records import (
    FileExtraction,
    Label,
    LabelRow,
    NotLabel,
    ReadIssue,
    Rejection,
    concat_extractions,
    record_schema,
    records_to_table,
)
from pipeline.sources.csv import is_companion_csv

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
    if Path(entry.name).suffix.lower().lstrip(".") not in config.LABEL_SUFFIXES:
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


def read_label_file(path: Path, source_file: str, data: bytes | None = None) -> FileExtraction:
    """Read one file with the reader for its type; raises LabelError when it cannot.
    `data`: the file's bytes, read once by the caller (default: read from `path`)."""
    # Start-up time: each reader is imported when a file of its type comes (pdfplumber
    # ~0.6 s, the OCR stack ~0.5 s on an idle machine; 4.6 s and 3.0 s measured under load),
    # so a worker or a run that reads only CSV or JSON never imports them.
    suffix = path.suffix.lower().lstrip(".")
    if suffix in config.PDF_SUFFIXES:
        from pipeline.sources.pdf import read_pdf

        return read_pdf(path, source_file, data)
    if suffix in config.CSV_SUFFIXES:
        from pipeline.sources.csv import read_csv

        return read_csv(path, source_file, data)
    if suffix in config.JSON_SUFFIXES:
        from pipeline.sources.dsld_json import read_dsld_json

        return read_dsld_json(path, source_file, data)
    from pipeline.sources.ocr import read_image

    return read_image(path, source_file, data)


@dataclass(frozen=True)
class FileTask:
    """One file to read: picklable, so a worker process can take it."""

    path: Path
    source_file: str


def _rejected(source_file: str, reason: str) -> FileExtraction:
    return FileExtraction(source_file, rejection=Rejection(source_file, reason))


def read_once(task: FileTask, data: bytes | None = None) -> tuple[FileExtraction, bool]:
    """Read one file (from `data`, its bytes, if given); a LabelError (or an unexpected
    reader crash) becomes its rejection. Returns the reading and whether it may be cached:
    not when a per-file limit stopped it (LimitExceeded), which depends on the run's
    settings, not only on the file. A MemoryError is raised (the worker's box handles it)."""
    try:
        extraction = read_label_file(task.path, task.source_file, data)
    except LimitExceeded as exc:
        return _rejected(task.source_file, exc.reason), False
    except LabelError as exc:
        return _rejected(task.source_file, exc.reason), True
    except MemoryError:
        raise
    except Exception as exc:  # a reader bug must not lose the file or stop the run
        reason = f"could not be read: unexpected {type(exc).__name__}: {exc}"
        # one line; the traceback with --debug
        log.warning("%s: %s", task.source_file, reason, exc_info=log.isEnabledFor(logging.DEBUG))
        return _rejected(task.source_file, reason), True
    if not extraction.labels:
        return _rejected(task.source_file, "no product found in the file"), True
    return extraction, True


def extract_file(task: FileTask) -> FileExtraction:
    """Read one file; a LabelError (or an unexpected reader crash) becomes its rejection."""
    return read_once(task)[0]


def _import_readers(suffixes: set[str]) -> None:
    """Import the readers a pool will need before it forks, so every worker inherits
    them instead of importing pdfplumber/pdfminer again."""
    if suffixes & config.PDF_SUFFIXES:
        import pipeline.sources.pdf
    if suffixes & config.CSV_SUFFIXES:
        import pipeline.sources.csv  # noqa: F401


@dataclass(frozen=True)
class ExtractStats:
    files: int
    parsed: int  # files read this run (cache misses)
    cached: int  # files whose earlier reading was reused
    companions: tuple[str, ...]  # CSV companion files read with their main file
    source_files: tuple[str, ...] = ()  # the label files, in the tables' order
    not_labels: tuple[NotLabel, ...] = ()  # what is under the folder but not read, and why


def _companions(files: Sequence[Path]) -> tuple[list[Path], dict[Path, list[Path]]]:
    """Split DSLD ProductOverview.csv companions from the label files they belong to."""
    main: list[Path] = []
    companions: dict[Path, list[Path]] = {}
    for path in files:
        if path.suffix.lower() == ".csv" and is_companion_csv(path):
            companions.setdefault(path.parent, []).append(path)
        else:
            main.append(path)
    return main, companions


@dataclass(frozen=True)
class PlannedFile:
    """One label file of this run: what to read, its cache key (None: the file could not
    be hashed; it is read, to say why), the digests the key is made of (the file's, then
    its companions'), and whether a sound entry for that key is in the cache (it is read
    back when its batch is handed on)."""

    task: FileTask
    key: str | None
    cached: bool
    digests: tuple[str, ...] = ()


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
    (None if it could not read them); `extraction`, None once stored under `key`, else the
    reading itself (not cacheable, or the cache could not be written)."""

    key: str | None
    extraction: FileExtraction | None
    store_error: str | None = None  # why the cache could not be written


def extract_into_cache(job: CacheTask) -> CacheResult:
    """Read one file once into memory, hash those bytes and hand the same bytes to the
    reader, then store the reading under the key of that digest: what is cached is what
    was read, even if the file changed since the run hashed it (or changes again after)."""
    try:
        data = sources.read_bytes(job.task.path, job.task.source_file)
    except LabelError as exc:
        return CacheResult(None, _rejected(job.task.source_file, exc.reason))
    digests = (bytes_digest(data), *job.digests[1:])
    cache = ExtractionCache(job.cache_dir, job.extractor_version)
    key = job.key if digests == job.digests else cache.cache_key(job.task.source_file, digests)
    extraction, cacheable = read_once(job.task, data)
    del data
    if not cacheable or key is None:
        return CacheResult(key, extraction)
    error = cache.put(key, extraction, warn=False)
    return CacheResult(key, None if error is None else extraction, error)


def _lost(job: CacheTask, reason: str) -> CacheResult:
    """The reading of a file whose worker was stopped or died (`reason` names why)."""
    return CacheResult(None, _rejected(job.task.source_file, reason))


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


def _plan(
    main: Sequence[Path],
    companions: dict[Path, list[Path]],
    labels_dir: Path,
    cache: Any,
    use_cache: bool,
) -> list[PlannedFile]:
    """The cache key of every file, and whether a sound entry for it is in the cache
    (`use_cache` False: every file is read). A file that cannot be hashed has no key."""
    planned = []
    for path in main:
        source_file = source_name(path, labels_dir)
        try:
            digests = [file_digest(path)]
            if path.suffix.lower() == ".csv":
                digests += [file_digest(c) for c in sorted(companions.get(path.parent, []))]
        except OSError:
            planned.append(PlannedFile(FileTask(path, source_file), None, False))
            continue
        key = cache.cache_key(source_file, digests)
        cached = use_cache and cache.verify(key)
        planned.append(PlannedFile(FileTask(path, source_file), key, cached, tuple(digests)))
    return planned


def extract_in_batches(
    labels_dir: Path,
    work: config.WorkPaths,
    take: Callable[[list[FileExtraction]], None],
    *,
    jobs: int = 1,
    use_cache: bool = True,
    progress: bool | None = None,
    batch_files: int = EXTRACT_BATCH_FILES,
    skip: Mapping[Path, str] | None = None,
    limits: config.FileLimits = config.FILE_LIMITS,
    executor: Executor = LOCAL,
) -> ExtractStats:
    """Read every label file under `labels_dir` (`scan_labels_folder`, with `skip`), handing
    the readings to `take` in file order, `batch_files` files at a time (the last batch may
    be shorter).

    Files whose content (and companion files) are unchanged since a cached reading with the
    same extractor version are not parsed again (an entry that fails its checksum is not
    used: the file is read again, with a warning). The rest are read first, each in a
    worker process of its own within `limits` (pipeline.infra.isolated.map_isolated: a file
    over a limit, or whose worker dies, is a rejection naming why), `jobs` at a time, or as
    tasks of a dask cluster (`executor`, pipeline.infra.executors); each worker stores
    its reading in the cache under the digest of the bytes it read; every batch is then
    read back from it. So memory holds one batch, whatever the number of files. A reading
    that cannot be stored comes back from the worker instead; an entry that cannot be read
    back (broken meanwhile) is read again, in a worker.
    """
    scan = scan_labels_folder(labels_dir, skip)
    files = list(scan.files)
    if not files:
        raise AuditError(
            f"no label files (*.pdf, *.csv, *.json, images) under {display_name(str(labels_dir))}"
        )
    main, companions = _companions(files)
    cache = ExtractionCache(work.cache_dir.absolute(), extractor_version())
    planned = _plan(main, companions, labels_dir, cache, use_cache)

    def read_in_workers(todo: Sequence[PlannedFile]) -> list[CacheResult]:
        if len(todo) > 1 and jobs > 1 and executor.kind == "local":
            _import_readers({p.task.path.suffix.lower().lstrip(".") for p in todo})
        return map_files(
            executor,
            extract_into_cache,
            [
                CacheTask(
                    FileTask(p.task.path.absolute(), p.task.source_file),
                    p.key,
                    p.digests,
                    cache.cache_dir,
                    cache.extractor_version,
                )
                for p in todo
            ],
            jobs=jobs,
            describe=lambda job: job.task.source_file,
            lost=_lost,
            box=WorkerBox(
                timeout_s=limits.file_timeout,
                memory_mb=limits.max_memory_mb,
                setup=_setup_worker,
                setup_arg=limits,
            ),
            reasons=LOST_REASONS,
            progress=progress,
        )

    todo = [p for p in planned if not p.cached]
    found: dict[str, CacheResult] = {}
    for p, result in zip(todo, read_in_workers(todo), strict=True):
        if result.key is not None and p.key is not None and result.key != p.key:
            log.warning(
                "%s changed while it was being read: its reading is of the content read, "
                "and is cached under that content's digest",
                p.task.source_file,
            )
        found[p.task.source_file] = result
    unstored = [r.store_error for r in found.values() if r.store_error is not None]
    if unstored:
        log.warning(
            "could not write %d cache entries in %s (%s): those files are read again next run",
            len(unstored),
            cache.entries_dir,
            unstored[0],
        )
    parsed, size = len(todo), max(1, batch_files)
    keep = {p.key for p in planned if p.cached and p.key is not None}
    keep |= {r.key for r in found.values() if r.key is not None}
    for start in range(0, len(planned), size):
        batch = []
        for p in planned[start : start + size]:
            result = found.pop(p.task.source_file, CacheResult(p.key, None))
            extraction = result.extraction
            if extraction is None and result.key is not None:
                extraction = cache.get(result.key)
            if extraction is None:  # an entry broken meanwhile: read the file again
                parsed += p.cached
                again = read_in_workers([p])[0]
                extraction = again.extraction or (
                    cache.get(again.key) if again.key is not None else None
                )
                if extraction is None:
                    reason = "could not be read: its cache entry could not be read back"
                    extraction = _rejected(p.task.source_file, reason)
            batch.append(extraction)
        take(batch)
    cache.prune(keep)
    companion_names = tuple(
        source_name(c, labels_dir) for group in companions.values() for c in group
    )
    stats = ExtractStats(
        files=len(main),
        parsed=parsed,
        cached=len(main) - parsed,
        companions=companion_names,
        source_files=tuple(p.task.source_file for p in planned),
        not_labels=scan.not_labels,
    )
    log.info("extract: %d files, %d parsed, %d from cache", len(main), parsed, stats.cached)
    return stats


#: The four tables of the extract stage: name -> record type.
LABEL_TABLES: dict[str, type] = {
    "labels": Label,
    "rows": LabelRow,
    "issues": ReadIssue,
    "rejections": Rejection,
}


def write_label_tables(
    labels_dir: Path,
    work: config.WorkPaths,
    *,
    jobs: int = 1,
    use_cache: bool = True,
    progress: bool | None = None,
    batch_files: int = EXTRACT_BATCH_FILES,
    skip: Mapping[Path, str] | None = None,
    limits: config.FileLimits = config.FILE_LIMITS,
    executor: Executor = LOCAL,
) -> ExtractStats:
    """`extract_in_batches` into labels.parquet, label_rows.parquet, read_issues.parquet and
    rejections.parquet: each batch is one row group of each (an empty one if the batch has
    no such records), with the record type's fixed schema. The four files are replaced
    together when every batch is written (none if the stage fails)."""
    paths = {
        "labels": work.labels,
        "rows": work.label_rows,
        "issues": work.read_issues,
        "rejections": work.rejections,
    }
    targets = {name: (paths[name], record_schema(kind)) for name, kind in LABEL_TABLES.items()}
    with ParquetTables(targets) as out:

        def take(batch: list[FileExtraction]) -> None:
            labels, rows, issues, rejections = concat_extractions(batch)
            records: dict[str, Sequence[object]] = {
                "labels": labels,
                "rows": rows,
                "issues": issues,
                "rejections": rejections,
            }
            for name, kind in LABEL_TABLES.items():
                out.write(name, records_to_table(records[name], kind))

        return extract_in_batches(
            labels_dir,
            work,
            take,
            jobs=jobs,
            use_cache=use_cache,
            progress=progress,
            batch_files=batch_files,
            skip=skip,
            limits=limits,
            executor=executor,
        )
