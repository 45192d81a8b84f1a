"""The stages, wired: each reads its inputs from the work folder and writes its artifact.

`extract` -> labels.parquet, label_rows.parquet, read_issues.parquet, rejections.parquet
`normalize` -> nutrients.parquet, products.parquet
`validate` -> outcomes.parquet, data_quality.parquet, gx_*_result.json
`report` -> ranking.parquet, checks.parquet, then audit.html / audit.json / ranking.csv
`audit` runs all four under one lock. The pure work is in the stage modules; this module
is the I/O edge around them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import config, rerun, rerun_stage
from pipeline.errors import AuditError
from pipeline.extract import (
    display_name,
    plan_extraction,
    scan_labels_folder,
)
from pipeline.infra import history, stages
from pipeline.infra.atomic import (
    atomic_write_parquet,
    atomic_write_text,
)
from pipeline.infra.executors import LOCAL, Executor
from pipeline.infra.lock import RunLock
from pipeline.infra.stage_process import StageProcess
from pipeline.infra.validation import (
    VALIDATE_IN_CHILD_MIN_PRODUCTS,
    validation_process,
)
from pipeline.infra.versions import code_version
from pipeline.protocol import Protocol

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped]

    from pipeline.records import Rejection

# Start-up time: the stages' modules (pandas, pyarrow, the report's: ~1.2 CPU-s of imports)
# are imported by the stage that runs them, so a run that proves unchanged (pipeline.rerun)
# imports none of them.

log = logging.getLogger(__name__)


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return pd.read_parquet(path)


def _read_compliance(work: config.WorkPaths) -> pa.Table | None:
    """compliance.parquet (pipeline.compliance), or None before any validation wrote it;
    as Arrow, kept so in the audit document (pipeline.document_records), its text columns
    dictionary-encoded (a file, product, rule, citation and severity repeat from finding
    to finding: 40,000 labels' ~96,000 findings take ~8 MB so, 30 MB as plain text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    path = work.compliance
    if not path.exists():
        return None
    schema = pq.read_schema(path)
    text = [
        field.name
        for field in schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ]
    return pq.read_table(path, read_dictionary=text)


def _row_count(path: Path) -> int:
    import pyarrow.parquet as pq

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return int(pq.ParquetFile(path).metadata.num_rows)


def _check_folder(path: Path, what: str) -> None:
    """An AuditError if `path` (a folder the run writes into) is there but is not a folder."""
    if path.exists() and not path.is_dir():
        raise AuditError(f"{what} {path} is a file, not a folder")


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# Up-to-date stages: normalize and validate are pure functions of their input artifacts, the
# code and (for validate) the protocol. Each records a fingerprint of those (pipeline.infra
# .stages) after writing its outputs; a later run whose fingerprint is the same, with the
# outputs still there, reads them back instead of computing them (a nightly run on unchanged
# labels never imports Great Expectations). `--full` recomputes everything.

# ---- stages ------------------------------------------------------------------------------------


def run_extract(
    labels_dir: Path,
    work: config.WorkPaths,
    *,
    jobs: int = 1,
    full: bool = False,
    progress: bool | None = None,
    reports_dir: Path | None = None,
    limits: config.FileLimits = config.FILE_LIMITS,
    executor: Executor = LOCAL,
) -> dict[str, Any]:
    """Extract; the four tables are written batch by batch (pipeline.extract
    .write_label_tables), so memory does not grow with the number of files. Each file is
    read within `limits`. The work folder and `reports_dir` are never read as labels, even
    inside the labels folder: they are listed under "not_labels" with what they are.
    `executor`: where the files are read (pipeline.infra.executors)."""
    from pipeline import corrections
    from pipeline.label_tables import write_label_tables

    work.root.mkdir(parents=True, exist_ok=True)
    skip = _skipped(work, reports_dir)
    # Every input keyed by its content (a zip member by its CRC): when the keys are those
    # the last run's label tables were made of, the tables are kept and no cache entry is
    # read. Not when the last run read something it could not cache (over a limit, lost).
    plan = plan_extraction(labels_dir, work, skip)
    marker = stages.done_marker(work.root, "extract")
    fingerprint = plan.fingerprint(limits)
    outputs = [work.labels, work.label_rows, work.read_issues, work.rejections]
    if not full and stages.up_to_date(marker, fingerprint, outputs):
        log.info("extract: %d inputs unchanged, label tables reused", len(plan.planned))
        stats = plan.stats()
        plan.prune_cache(work.cache_dir)  # (temp files a killed run left)
    else:
        marker.unlink(missing_ok=True)
        stats = write_label_tables(
            labels_dir,
            work,
            jobs=jobs,
            use_cache=not full,
            progress=progress,
            skip=skip,
            limits=limits,
            plan=plan,
            executor=executor,
        )
        if stats.unstored == 0:
            stages.mark_done(marker, fingerprint, outputs)
    fixes = corrections.write_snapshot(labels_dir, work.corrections)
    for error in fixes["errors"]:
        log.error("%s (that line is not applied; the audit goes on)", error)
    meta = {
        "labels_dir": display_name(str(labels_dir)),
        "labels_path": display_name(str(labels_dir.resolve())),
        "files": list(stats.source_files),
        "companion_files": list(stats.companions),
        "not_labels": [
            {"source_file": n.source_file, "reason": n.reason} for n in stats.not_labels
        ],
        "parsed": stats.parsed,
        "cached": stats.cached,
    }
    _write_json(work.run_meta, meta)
    return meta


def _skipped(work: config.WorkPaths, reports_dir: Path | None) -> dict[Path, str]:
    """The folders never read as labels, even inside the labels folder, and why."""
    skip = {work.root: "the work folder"}
    if reports_dir is not None:
        skip[reports_dir] = "the reports folder"
    return skip


def run_normalize(work: config.WorkPaths, *, full: bool = True) -> tuple[int, int]:
    """Normalize; with `full=False`, reuse the outputs if the inputs are unchanged.

    The extraction is normalized one batch of files at a time (pipeline.normalize
    .label_batches) and nutrients.parquet / products.parquet are written batch by batch,
    so memory does not grow with the number of files. Returns their row counts.
    """
    from pipeline.normalize_tables import write_normalized

    marker = stages.done_marker(work.root, "normalize")
    fingerprint = stages.fingerprint("normalize", [work.labels, work.label_rows, work.corrections])
    errors_path = _normalize_rejections(work)
    outputs = [work.nutrients, work.products, errors_path]
    if not full and stages.up_to_date(marker, fingerprint, outputs):
        log.info("normalize: inputs unchanged, outputs reused")
        return _row_count(work.nutrients), _row_count(work.products)
    marker.unlink(missing_ok=True)
    for path in (work.labels, work.label_rows):
        if not path.exists():
            raise AuditError(f"{path} does not exist: run the earlier stage first")
    # (the unchanged files' rows are the last run's: pipeline.normalize_tables)
    counts = write_normalized(work, errors_path, reuse=not full)
    stages.mark_done(marker, fingerprint, outputs)
    return counts


def _normalize_rejections(work: config.WorkPaths) -> Path:
    """The files the normalize stage could not normalize (an internal error), as
    rejections.parquet lists the files extraction could not read."""
    return work.root / "normalize_rejections.parquet"


# ---- extract and normalize in a process of their own ------------------------------------------

#: From this many inputs on (label files, or the products the last run validated here), or
#: a zip of READ_IN_CHILD_MIN_ZIP_BYTES, extract and normalize run in a process of their own
#: (`read_work_in_child`): what reading leaves in the heap (freed objects' pages that a few
#: live ones keep) goes with that process instead of staying under the validation and the
#: report (measured: the main process during validation 177 -> 147 MB at 40,000 labels,
#: ~370 -> ~150 MB at 200,000). Below it a fresh interpreter's imports (~0.6 s) would
#: outweigh it.
READ_IN_CHILD_MIN_INPUTS = 500
READ_IN_CHILD_MIN_ZIP_BYTES = 1 << 20
#: What the reading process tells when the files are read and normalizing starts: the
#: validation process is started then (GX's import, ~2 s, overlaps normalizing), not
#: before (its ~140 MB beside the reading and its workers made a 200,000-label rerun's
#: peak).
EXTRACTED = "extracted"


@dataclasses.dataclass(frozen=True)
class ReadJob:
    """The extract and normalize stages as one job for a process of their own (picklable):
    `run_extract`'s arguments, and the parent's log level."""

    labels_dir: Path
    work_root: Path
    jobs: int
    full: bool
    progress: bool | None
    reports_dir: Path | None
    limits: config.FileLimits
    executor: Executor
    log_level: int


def read_work(job: ReadJob, on_extracted: Callable[[], None] | None = None) -> dict[str, int]:
    """`run_extract` then `run_normalize`, each followed by `release_memory`; the counts of
    files and of the normalized tables' rows. `on_extracted` is called between the two."""
    from pipeline.infra.memory import release_memory

    work = config.WorkPaths(job.work_root)
    meta = run_extract(
        job.labels_dir,
        work,
        jobs=job.jobs,
        full=job.full,
        progress=job.progress,
        reports_dir=job.reports_dir,
        limits=job.limits,
        executor=job.executor,
    )
    release_memory()
    if on_extracted is not None:
        on_extracted()
    nutrients, products = run_normalize(work, full=job.full)
    release_memory()
    return {"files": len(meta["files"]), "nutrients": nutrients, "products": products}


def read_work_in_child(job: ReadJob, ready: object = None) -> dict[str, int]:
    """`read_work` in the reading process (pipeline.infra.stage_process), logging as the
    parent does; it tells the parent "extracted" when the files are read."""
    from pipeline.infra.logs import setup_logging
    from pipeline.infra.stage_process import tell_parent

    setup_logging(job.log_level)
    return read_work(job, on_extracted=lambda: tell_parent(EXTRACTED))


def warm_up_read() -> None:
    """What `read_work` imports (pandas, pyarrow, the readers), before its job comes."""
    import pipeline.label_tables
    import pipeline.normalize_tables  # noqa: F401


def reads_in_child(work: config.WorkPaths, files: Sequence[Path]) -> bool:
    """Whether this run's extract and normalize stages get a process of their own (see
    READ_IN_CHILD_MIN_INPUTS); `files`: the labels folder's files (a zip counts by its size)."""
    from pipeline.infra.validation import products_last_validated

    if len(files) >= READ_IN_CHILD_MIN_INPUTS:
        return True
    if products_last_validated(work) >= READ_IN_CHILD_MIN_INPUTS:
        return True
    for path in files:
        if path.suffix.lower() == ".zip":
            with contextlib.suppress(OSError):
                if path.stat().st_size >= READ_IN_CHILD_MIN_ZIP_BYTES:
                    return True
    return False


def read_in_child(job: ReadJob, on_extracted: Callable[[], None] | None = None) -> dict[str, int]:
    """`read_work(job)` in a fresh process (its log and progress on this one's stderr);
    `on_extracted` is called here when that process has read the files."""

    def on_event(event: str) -> None:
        if event == EXTRACTED and on_extracted is not None:
            on_extracted()

    process = StageProcess(
        "pipeline.audit:read_work_in_child", "pipeline.audit:warm_up_read", "read", log_through=True
    )
    with process:
        counts: dict[str, int] = process.run(job, on_event=on_event)
    return counts


def run_validate(
    work: config.WorkPaths,
    protocol: Protocol,
    *,
    data_docs_dir: Path | None = None,
    full: bool = True,
    process: StageProcess | None = None,
) -> dict[str, int]:
    """Validate; with `full=False` (and no Data Docs to render), reuse the outputs if the
    inputs and the protocol are unchanged, and otherwise validate only the products whose
    rows changed (pipeline.validate.validate_work). Returns how many were validated and
    reused (the outputs are in the work folder: a catalog's outcomes are not read back).

    From VALIDATE_IN_CHILD_MIN_PRODUCTS products on, the work is done in a
    process of its own (`process`, pipeline.infra.validation, if one was started early);
    `process` is ended either way.
    """
    from pipeline.validate import STATE_FILE, ValidationJob, validate_work

    marker = stages.done_marker(work.root, "validate")
    fingerprint = _validate_fingerprint(work, protocol)
    outputs = [
        work.outcomes,
        work.data_quality,
        work.gx_protocol_result,
        work.gx_data_quality_result,
        work.gx_compliance_result,
        work.compliance,
    ]
    if (
        not full
        and data_docs_dir is None
        and stages.up_to_date(marker, fingerprint, [*outputs, work.root / STATE_FILE])
    ):
        log.info("validate: inputs unchanged, outputs reused")
        if process is not None:
            process.stop()
        reused = _row_count(work.products)
        counts = {"products_validated": 0, "products_reused": reused, "label_rows_validated": 0}
        _record_validation(work, counts)
        return counts
    marker.unlink(missing_ok=True)
    job = ValidationJob(
        work_root=str(work.root),
        protocol=protocol,
        salt=stages.salt("validate", protocol_key(protocol)),
        full=full or data_docs_dir is not None,
        docs_dir=str(data_docs_dir) if data_docs_dir is not None else None,
    )
    if _row_count(work.products) >= VALIDATE_IN_CHILD_MIN_PRODUCTS:
        answer = (process or validation_process()).run(job, while_waiting=_prepare_report)
        counts = {str(k): int(v) for k, v in answer.items()}
    else:
        if process is not None:
            process.stop()
        counts = validate_work(job)
    log.info(
        "validate: %d products validated, %d unchanged (reused)",
        counts["products_validated"],
        counts["products_reused"],
    )
    _record_validation(work, counts)
    stages.mark_done(marker, fingerprint, [*outputs, work.root / STATE_FILE])
    return counts


def validation_counts(work: config.WorkPaths) -> tuple[int, int]:
    """How many checks failed (outcomes.parquet) and how many data-quality findings there
    are (data_quality.parquet), read from the files: one column, and a row count."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    passed = pq.read_table(_required(work.outcomes), columns=["passed"]).column(0)
    failed = 0 if pa.types.is_null(passed.type) else pc.sum(pc.invert(passed)).as_py()
    return int(failed or 0), _row_count(_required(work.data_quality))


def _prepare_report() -> None:
    """The report's templates and matplotlib, loaded while the validation process works."""
    # Start-up time: matplotlib's import (~0.5 s) is done only here, while waiting for the
    # validation process (a run whose chart is cached never imports it: pipeline.chart).
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.patches  # noqa: F401

    from pipeline import report

    report.prepare()


def protocol_key(protocol: Protocol) -> str:
    """What validation and scoring results depend on of the protocol: its values, not the
    path of the file it was read from (`source`, which only the report's methodology names:
    a work folder used from another checkout, whose bundled protocol is another file of the
    same content, keeps its results)."""
    return repr(dataclasses.replace(protocol, source=""))


def _validate_fingerprint(work: config.WorkPaths, protocol: Protocol) -> str | None:
    inputs = [work.products, work.nutrients, work.read_issues]
    return stages.fingerprint("validate", inputs, protocol_key(protocol))


def _record_validation(work: config.WorkPaths, counts: Mapping[str, int]) -> None:
    """How much this run validated, in run.json ("validation")."""
    try:
        meta = json.loads(work.run_meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(meta, dict):
        meta["validation"] = dict(counts)
        _write_json(work.run_meta, meta)


def run_report(
    work: config.WorkPaths,
    reports: config.ReportPaths,
    protocol: Protocol,
    *,
    started: float | None = None,
    data_docs: bool = False,
    history_out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score, rank and write the reports; returns the audit document. The run's history
    line is appended to REPORTS/history.jsonl (and, with `history_out`, put in it)."""
    import pyarrow as pa

    from pipeline import corrections, crops
    from pipeline.document import build_audit
    from pipeline.document_slices import sliced_product_docs
    from pipeline.infra.memory import release_memory
    from pipeline.report import write_reports
    from pipeline.report_inputs import _finding_lines

    _check_folder(reports.root, "the reports folder (--out)")
    for left in work.root.glob(".report-slices-*"):  # of a run that was killed
        shutil.rmtree(left, ignore_errors=True)
    # Arrow's default allocator (mimalloc) keeps what the report frees, slice after slice,
    # for reuse: peak PSS of the report step at 10,000 products 411 MB with it, 309 MB with
    # the system's (which returns large blocks), at the same speed.
    pa.set_memory_pool(pa.system_memory_pool())
    findings = _read(work.data_quality)
    keys = _product_keys(work, protocol, findings)
    # the checks are written to checks.parquet as they are scored and read back a slice
    # of the ranking at a time (pipeline.document_slices): never all held
    ranking, unscored = _score(work, protocol, findings, keys)
    # Each step below leaves garbage (reference cycles) and free blocks inside the C heap
    # behind it; given back between the steps, the report step's peak PSS at 40,000
    # products was ~40 MB lower (issue 16, memory: a few collections, ~0.1 s each).
    release_memory()
    atomic_write_parquet(work.root / "ranking.parquet", ranking)
    meta = json.loads(work.run_meta.read_text(encoding="utf-8"))
    fixes = corrections.outcome(corrections.load_snapshot(work.corrections), work.nutrients)
    meta.update(stale_corrections=fixes["stale"], correction_errors=fixes["errors"])
    previous = history.previous_columns(reports.json, reports.ranking_csv)
    release_memory()
    docs = sliced_product_docs(
        ranking,
        work.products,
        work.root / "checks.parquet",
        _required(work.nutrients),
        work.root,
        config.REPORT_SLICE_PRODUCTS,
    )
    release_memory()
    audit = build_audit(
        meta=meta,
        docs=docs,
        ranking=ranking,
        findings=findings,
        rejections=_all_rejections(work, unscored),
        protocol=protocol,
        compliance=_read_compliance(work),
    )
    del ranking
    if data_docs and (reports.data_docs_dir / "index.html").exists():
        audit["data_docs"] = f"{reports.data_docs_dir.name}/index.html"
    current = {key: audit["products"].column(key) for key in history.PREVIOUS_KEYS}
    audit["changes"] = history.column_changes(previous, current)
    del previous, current
    release_memory()
    reports.root.mkdir(parents=True, exist_ok=True)
    with crops.use_labels_folder(Path(meta.get("labels_path") or meta["labels_dir"])):
        write_reports(
            audit,
            reports.root,
            flagged_lines=_finding_lines(findings),
            chart_cache=work.root / "chart.json",
            pieces_cache=work.root / "report_pieces.sqlite",
            product_keys=keys,
        )
    duration = round(time.monotonic() - started, 3) if started is not None else None
    line = {
        "generated_at": audit["generated_at"],
        "duration_s": duration,
        "labels_dir": audit["labels_dir"],
        "files": audit["summary"]["files"],
        "parsed": meta.get("parsed"),
        "cached": meta.get("cached"),
        "products": audit["summary"]["products"],
        "rejected_files": audit["summary"]["rejected_files"],
        "verdicts": audit["summary"]["verdicts"],
        "data_quality_findings": len(audit["data_quality"]),
        "changes": {k: len(v) for k, v in audit["changes"].items()},
        "corrections_applied": fixes["applied"],
        "stale_corrections": len(fixes["stale"]),
    }
    history.append_history_record(reports.history, line)
    if history_out is not None:
        history_out.update(line)
    return audit


def _score(
    work: config.WorkPaths,
    protocol: Protocol,
    findings: pd.DataFrame,
    keys: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Score and rank the products (pipeline.report_scores; with `keys`, a product whose
    results are kept under its key is not scored again), their checks written to
    checks.parquet. Returns the ranking and the products that could not be scored."""
    import pyarrow.parquet as pq

    from pipeline.report_inputs import OUTCOMES_TYPES, _cast_nulls
    from pipeline.report_scores import SCORES_FILE, score_all, scores_salt

    for path in (work.products, work.outcomes):
        _required(path)
    products, outcomes = (
        pq.read_table(work.products, columns=_score_columns(work.products)),
        _cast_nulls(pq.read_table(work.outcomes), OUTCOMES_TYPES),
    )
    ranking, failed, count = score_all(
        products,
        outcomes,
        findings,
        protocol,
        checks_file=work.root / "checks.parquet",
        keys=keys,
        kept=work.root / SCORES_FILE,
        salt=scores_salt(code_version("report"), dataclasses.replace(protocol, source="")),
    )
    log.info("report: %d products scored, %d kept", count, products.num_rows - count)
    return ranking, failed


def _required(path: Path) -> Path:
    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return path


def _score_columns(products: Path) -> list[str]:
    """The products table's columns scoring reads (those the file has)."""
    import pyarrow.parquet as pq

    from pipeline.score import SCORE_INPUT_COLUMNS

    names = pq.read_schema(products).names
    wanted = dict.fromkeys(["product_id", *SCORE_INPUT_COLUMNS, "source_file"])
    return [name for name in wanted if name in names]


def _all_rejections(work: config.WorkPaths, unscored: Sequence[Rejection]) -> pd.DataFrame:
    """The files rejected by extraction, those the normalize stage could not normalize (an
    internal error) and the products the report could not score, by file."""
    import pandas as pd

    from pipeline.records import Rejection, records_to_frame

    rejections = _read(work.rejections)
    more = [records_to_frame(unscored, Rejection)] if unscored else []
    normalized = _normalize_rejections(work)
    if normalized.exists():
        more.append(pd.read_parquet(normalized))
    more = [frame for frame in more if len(frame)]
    if not more:
        return rejections
    frames = [rejections, *more] if len(rejections) else more
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values("source_file", kind="mergesort").reset_index(drop=True)


def _product_keys(
    work: config.WorkPaths, protocol: Protocol, findings: pd.DataFrame
) -> dict[str, str] | None:
    """product_id -> a hash of everything its part of the report is made of: the key the
    validate stage recorded for it (its product row, its label rows, the code and the
    protocol: pipeline.validate.product_keys) and its data-quality findings. None when the
    recorded keys may not be those of the current tables (validation is not up to date
    with them, or was run with another protocol): the report then reuses less."""
    from pipeline.validate import STATE_FILE

    state = work.root / STATE_FILE
    fingerprint = _validate_fingerprint(work, protocol)
    if not stages.up_to_date(stages.done_marker(work.root, "validate"), fingerprint, [state]):
        return None
    try:
        recorded = json.loads(state.read_text(encoding="utf-8"))["products"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(recorded, dict):
        return None
    found: dict[str, list[Any]] = {}
    columns = [c for c in findings.columns if c != "product_id"]
    for pid, *values in findings[["product_id", *columns]].itertuples(index=False, name=None):
        found.setdefault(pid, []).append(values)
    return stages.product_report_keys(recorded, found)


def run_audit(
    labels_dir: Path,
    reports_dir: Path,
    work_dir: Path,
    protocol: Protocol,
    *,
    jobs: int = 1,
    full: bool = False,
    progress: bool | None = None,
    lock_wait_s: float = 0.0,
    data_docs: bool = False,
    limits: config.FileLimits = config.FILE_LIMITS,
    executor: Executor = LOCAL,
) -> Mapping[str, Any]:
    """All stages under one lock on the work folder (and one on the reports folder);
    returns the audit document (an unchanged run's: pipeline.rerun.ReusedAudit, the kept
    audit.json). Each label file is read within `limits`, on `executor`."""
    started = time.monotonic()
    process: StageProcess | None = None  # (the validation process of a large input)
    work = config.WorkPaths(work_dir)
    _check_folder(reports_dir, "the reports folder (--out)")
    _check_folder(work_dir, "the work folder (--work)")
    work.root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(RunLock(work.lock, wait_seconds=lock_wait_s))
        # The reports folder too: two work folders sharing one --out take turns.
        reports_lock = config.ReportPaths(reports_dir).lock
        if reports_lock.resolve() != work.lock.resolve():
            stack.enter_context(RunLock(reports_lock, wait_seconds=lock_wait_s))
        # Nothing changed since the last report (pipeline.rerun): it is kept as it is.
        key = None
        scan = None
        if not full and not data_docs:
            scan = scan_labels_folder(labels_dir, _skipped(work, reports_dir))
            key = rerun_stage.run_key_of(scan, labels_dir, reports_dir, protocol, limits)
            kept = rerun_stage.kept_report(work, config.ReportPaths(reports_dir), key, started)
            if kept is not None:
                return kept
        rerun.forget(work.root)
        from pipeline.infra.memory import release_memory

        if scan is None:
            scan = scan_labels_folder(labels_dir, _skipped(work, reports_dir))
        job = ReadJob(
            labels_dir,
            work.root,
            jobs,
            full,
            progress,
            reports_dir,
            limits,
            executor,
            logging.getLogger().getEffectiveLevel(),
        )
        if reads_in_child(work, scan.files):

            def validation_soon() -> None:
                """Large inputs validate in a process of their own: started now, once the
                files are read, so that GX's import overlaps normalizing."""
                nonlocal process
                if process is None:
                    process = stack.enter_context(validation_process())

            read_in_child(job, on_extracted=validation_soon)
        else:
            read_work(job)
        reports = config.ReportPaths(reports_dir)
        run_validate(
            work,
            protocol,
            data_docs_dir=reports.data_docs_dir if data_docs else None,
            full=full,
            process=process,
        )
        release_memory()
        line: dict[str, Any] = {}
        audit = run_report(
            work, reports, protocol, started=started, data_docs=data_docs, history_out=line
        )
        if key is not None:
            rerun_stage.remember(work, reports, key, audit, line)
        return audit
