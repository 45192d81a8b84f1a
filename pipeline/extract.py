"""Extract stage: a folder of label files -> label tables (labels, rows, issues, rejections).

`find_label_files` walks the folder (recursively, hidden files and folders ignored);
`extract_file` reads one file with the reader for its type and turns a `LabelError` into
a rejection, so one bad file never stops the run; `labels_to_rows` does the whole folder,
in parallel processes, reusing the cache for files whose content has not changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
    records_to_frame,
)

log = logging.getLogger(__name__)


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


def labels_to_rows(
    labels_dir: Path,
    work: config.WorkPaths,
    *,
    jobs: int = 1,
    use_cache: bool = True,
    progress: bool | None = None,
) -> tuple[Extraction, ExtractStats]:
    """Read every label file under `labels_dir` into the four label tables.

    Files whose content (and companion files) are unchanged since a cached reading with the
    same extractor version are not parsed again; the rest are read in `jobs` processes.
    """
    from pipeline import runs

    files = find_label_files(labels_dir)
    if not files:
        raise AuditError(f"no label files (*.pdf, *.csv, *.json, images) under {labels_dir}")
    main, companions = _companions(files)
    cache = runs.ExtractionCache(work.cache_dir, config.EXTRACTOR_VERSION)
    results: dict[str, FileExtraction] = {}
    todo: list[tuple[FileTask, str]] = []
    keys: set[str] = set()
    for path in main:
        source_file = source_name(path, labels_dir)
        digests = [runs.file_digest(path)]
        if path.suffix.lower() == ".csv":
            digests += [runs.file_digest(c) for c in sorted(companions.get(path.parent, []))]
        key = cache.cache_key(source_file, digests)
        keys.add(key)
        hit = cache.get(key) if use_cache else None
        if hit is not None:
            results[source_file] = hit
        else:
            todo.append((FileTask(path, source_file), key))
    if len(todo) > 1 and jobs > 1:
        _import_readers({task.path.suffix.lower().lstrip(".") for task, _ in todo})
    fresh = runs.map_in_processes(
        extract_file,
        [task for task, _ in todo],
        jobs=jobs,
        describe=lambda task: task.source_file,
        progress=progress,
    )
    for (task, key), extraction in zip(todo, fresh, strict=True):
        cache.put(key, extraction)
        results[task.source_file] = extraction
    cache.prune(keys)
    ordered = [results[source_name(p, labels_dir)] for p in main]
    companion_names = tuple(
        source_name(c, labels_dir) for group in companions.values() for c in group
    )
    stats = ExtractStats(len(main), len(todo), len(main) - len(todo), companion_names)
    log.info("extract: %d files, %d parsed, %d from cache", len(main), len(todo), stats.cached)
    return extractions_to_tables(ordered), stats
