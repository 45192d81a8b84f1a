"""Extract stage: a folder of label files -> label tables (labels, rows, issues, rejections).

`find_label_files` walks the folder (recursively, hidden files and folders ignored);
`extract_file` reads one file with the reader for its type and turns a `LabelError` into
a rejection, so one bad file never stops the run. `extract_in_batches` does the whole
folder: the files whose content has not changed come from the cache, the others are read
in parallel processes that store what they read in the cache; then the readings are handed
on `EXTRACT_BATCH_FILES` files at a time, in file order, so memory does not grow with the
number of files. `write_label_tables` streams them into the four Parquet tables;
`labels_to_rows` gathers them into DataFrames (small folders, tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline import config
from pipeline.errors import AuditError, LabelError
from pipeline.records import (
    Extraction,
    FileExtraction,
    Label,
    LabelRow,
    ReadIssue,
    Rejection,
    concat_extractions,
    record_schema,
    records_to_frame,
    records_to_table,
)

log = logging.getLogger(__name__)

#: Files handed on (and written to the tables) at a time: the extract stage holds the
#: readings of this many files, never the whole folder's. Each batch is one row group of
#: each table, which the normalize stage reads one at a time.
EXTRACT_BATCH_FILES = 512


def find_label_files(labels_dir: Path) -> list[Path]:
    """Every label file under `labels_dir` (sorted; hidden files and folders skipped)."""
    if not labels_dir.is_dir():
        raise AuditError(f"labels folder {labels_dir} does not exist or is not a folder")
    found = []
    for path in labels_dir.rglob("*"):
        rel = path.relative_to(labels_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower().lstrip(".") in config.LABEL_SUFFIXES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(labels_dir).as_posix())


def source_name(path: Path, labels_dir: Path) -> str:
    return path.relative_to(labels_dir).as_posix()


def read_label_file(path: Path, source_file: str) -> FileExtraction:
    """Read one file with the reader for its type; raises LabelError when it cannot."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in config.PDF_SUFFIXES:
        from pipeline.sources.pdf import read_pdf

        return read_pdf(path, source_file)
    if suffix in config.CSV_SUFFIXES:
        from pipeline.sources.csv import read_csv

        return read_csv(path, source_file)
    if suffix in config.JSON_SUFFIXES:
        from pipeline.sources.dsld_json import read_dsld_json

        return read_dsld_json(path, source_file)
    from pipeline.sources.ocr import read_image

    return read_image(path, source_file)


@dataclass(frozen=True)
class FileTask:
    """One file to read: picklable, so a worker process can take it."""

    path: Path
    source_file: str


def extract_file(task: FileTask) -> FileExtraction:
    """Read one file; a LabelError (or an unexpected reader crash) becomes its rejection."""
    try:
        extraction = read_label_file(task.path, task.source_file)
    except LabelError as exc:
        return FileExtraction(task.source_file, rejection=Rejection(task.source_file, exc.reason))
    except Exception as exc:  # a reader bug must not lose the file or stop the run
        log.exception("unexpected error reading %s", task.source_file)
        reason = f"could not be read: unexpected {type(exc).__name__}: {exc}"
        return FileExtraction(task.source_file, rejection=Rejection(task.source_file, reason))
    if not extraction.labels:
        reason = "no product found in the file"
        return FileExtraction(task.source_file, rejection=Rejection(task.source_file, reason))
    return extraction


def extractions_to_tables(extractions: Sequence[FileExtraction]) -> Extraction:
    labels, rows, issues, rejections = concat_extractions(extractions)
    return Extraction(
        labels=records_to_frame(labels, Label),
        rows=records_to_frame(rows, LabelRow),
        issues=records_to_frame(issues, ReadIssue),
        rejections=records_to_frame(rejections, Rejection),
        files=tuple(e.source_file for e in extractions),
    )


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


def _companions(files: Sequence[Path]) -> tuple[list[Path], dict[Path, list[Path]]]:
    """Split DSLD ProductOverview.csv companions from the label files they belong to."""
    from pipeline.sources.csv import is_companion_csv

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
    """One label file of this run: what to read, its cache key, and whether an entry for
    that key is in the cache (it is read when its batch is handed on)."""

    task: FileTask
    key: str
    cached: bool


@dataclass(frozen=True)
class CacheTask:
    """A cache miss for a worker: read the file and store the reading under `key`."""

    task: FileTask
    key: str
    cache_dir: Path
    extractor_version: str


def extract_into_cache(job: CacheTask) -> FileExtraction | None:
    """Read one file and put the reading in the cache; None once it is stored there (the
    extract stage reads it back when its batch is written, so the pool's results never
    hold the folder), the reading itself if it could not be stored."""
    from pipeline import runs

    extraction = extract_file(job.task)
    cache = runs.ExtractionCache(job.cache_dir, job.extractor_version)
    cache.put(job.key, extraction)
    return None if cache.writes else extraction


def _plan(
    main: Sequence[Path],
    companions: dict[Path, list[Path]],
    labels_dir: Path,
    cache_key: Callable[[str, Sequence[str]], str],
    entries_dir: Path | None,
) -> list[PlannedFile]:
    """The cache key of every file, and whether it has an entry (`entries_dir` None: the
    cache is not used, every file is read)."""
    from pipeline import runs

    planned = []
    for path in main:
        source_file = source_name(path, labels_dir)
        digests = [runs.file_digest(path)]
        if path.suffix.lower() == ".csv":
            digests += [runs.file_digest(c) for c in sorted(companions.get(path.parent, []))]
        key = cache_key(source_file, digests)
        cached = entries_dir is not None and (entries_dir / f"{key}.json").is_file()
        planned.append(PlannedFile(FileTask(path, source_file), key, cached))
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
) -> ExtractStats:
    """Read every label file under `labels_dir`, handing the readings to `take` in file
    order, `batch_files` files at a time (the last batch may be shorter).

    Files whose content (and companion files) are unchanged since a cached reading with the
    same extractor version are not parsed again. The rest are read first, in `jobs`
    processes that store each reading in the cache; every batch is then read back from it.
    So memory holds one batch, whatever the number of files. A reading that cannot be
    stored comes back from the worker instead; an entry that cannot be read back (broken
    meanwhile) is read again here.
    """
    from pipeline import runs

    files = find_label_files(labels_dir)
    if not files:
        raise AuditError(f"no label files (*.pdf, *.csv, *.json, images) under {labels_dir}")
    main, companions = _companions(files)
    cache = runs.ExtractionCache(work.cache_dir, config.extractor_version())
    planned = _plan(
        main, companions, labels_dir, cache.cache_key, cache.entries_dir if use_cache else None
    )
    todo = [p for p in planned if not p.cached]
    if len(todo) > 1 and jobs > 1:
        _import_readers({p.task.path.suffix.lower().lstrip(".") for p in todo})
    jobs_todo = [CacheTask(p.task, p.key, cache.cache_dir, cache.extractor_version) for p in todo]
    fresh = runs.map_in_processes(
        extract_into_cache,
        jobs_todo,
        jobs=jobs,
        describe=lambda job: job.task.source_file,
        progress=progress,
    )
    unstored = {p.key: extraction for p, extraction in zip(todo, fresh, strict=True) if extraction}
    del fresh, jobs_todo
    parsed, size = len(todo), max(1, batch_files)
    for start in range(0, len(planned), size):
        batch = []
        for p in planned[start : start + size]:
            extraction = unstored.pop(p.key, None) or cache.get(p.key)
            if extraction is None:  # a broken entry: read the file again, here
                parsed += p.cached
                extraction = extract_file(p.task)
                cache.put(p.key, extraction)
            batch.append(extraction)
        take(batch)
    cache.prune({p.key for p in planned})
    companion_names = tuple(
        source_name(c, labels_dir) for group in companions.values() for c in group
    )
    stats = ExtractStats(
        files=len(main),
        parsed=parsed,
        cached=len(main) - parsed,
        companions=companion_names,
        source_files=tuple(p.task.source_file for p in planned),
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
) -> ExtractStats:
    """`extract_in_batches` into labels.parquet, label_rows.parquet, read_issues.parquet and
    rejections.parquet: each batch is one row group of each (an empty one if the batch has
    no such records), with the record type's fixed schema. The four files are replaced
    together when every batch is written (none if the stage fails)."""
    from pipeline import runs

    paths = {
        "labels": work.labels,
        "rows": work.label_rows,
        "issues": work.read_issues,
        "rejections": work.rejections,
    }
    targets = {name: (paths[name], record_schema(kind)) for name, kind in LABEL_TABLES.items()}
    with runs.ParquetTables(targets) as out:

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
        )


def labels_to_rows(
    labels_dir: Path,
    work: config.WorkPaths,
    *,
    jobs: int = 1,
    use_cache: bool = True,
    progress: bool | None = None,
) -> tuple[Extraction, ExtractStats]:
    """Read every label file under `labels_dir` into the four label tables, in memory
    (`extract_in_batches` gathered; the extract stage streams them: `write_label_tables`)."""
    extractions: list[FileExtraction] = []
    stats = extract_in_batches(
        labels_dir, work, extractions.extend, jobs=jobs, use_cache=use_cache, progress=progress
    )
    return extractions_to_tables(extractions), stats
