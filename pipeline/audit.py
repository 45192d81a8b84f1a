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
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__, config
from pipeline.errors import AuditError
from pipeline.protocol import Protocol

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped]

    from pipeline.records import Rejection

log = logging.getLogger(__name__)


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return pd.read_parquet(path)


def _read_compliance(work: config.WorkPaths) -> pd.DataFrame | None:
    """compliance.parquet (pipeline.compliance), or None before any validation wrote it."""
    import pandas as pd

    path = work.compliance
    return pd.read_parquet(path) if path.exists() else None


def _row_count(path: Path) -> int:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return int(pq.ParquetFile(path).metadata.num_rows)


def _check_folder(path: Path, what: str) -> None:
    """An AuditError if `path` (a folder the run writes into) is there but is not a folder."""
    if path.exists() and not path.is_dir():
        raise AuditError(f"{what} {path} is a file, not a folder")


def _write(path: Path, frame: pd.DataFrame) -> None:
    from pipeline.runs import atomic_write_parquet

    atomic_write_parquet(path, frame)


def _write_json(path: Path, data: Any) -> None:
    from pipeline.runs import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# ---- up-to-date stages --------------------------------------------------------------------------
#
# normalize and validate are pure functions of their input artifacts, the code and (for
# validate) the protocol. Each records a fingerprint of those in `work/.<stage>.done` after
# writing its outputs; a later run whose fingerprint is the same, with the outputs still
# there, reads them back instead of computing them (a nightly run on unchanged labels never
# imports Great Expectations). `--full` recomputes everything.


@functools.cache
def _code_digest() -> str:
    """sha256 of this package's source, protocol and templates, and the library versions
    the results depend on: any change to them recomputes every stage."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("pandas", "pyarrow", "great_expectations"):
        digest.update(f"{package}={version(package)}\n".encode())
    for path in sorted(config.PACKAGE_DIR.rglob("*")):
        if path.suffix in {".py", ".toml", ".j2"} and path.is_file():
            digest.update(path.relative_to(config.PACKAGE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint(inputs: Sequence[Path], settings: Any = None) -> str | None:
    """What a stage's outputs depend on; None when an input is missing (the stage then
    says which, when it reads it)."""
    from pipeline.runs import file_digest

    if not all(p.exists() for p in inputs):
        return None

    payload = json.dumps(
        [__version__, _code_digest(), [file_digest(p) for p in inputs], settings],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _done_marker(work: config.WorkPaths, stage: str) -> Path:
    return work.root / f".{stage}.done"


def _up_to_date(marker: Path, fingerprint: str | None, outputs: Sequence[Path]) -> bool:
    """Whether the stage's done `marker` records `fingerprint` (its inputs are unchanged)
    and each of `outputs` is the very file the stage wrote (its sha256 as recorded). An
    output that is there but does not match (damaged, or replaced by another run's) is
    logged: the stage is run again, never counted as reused."""
    from pipeline.runs import file_digest

    if fingerprint is None:
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("fingerprint") != fingerprint:
        return False
    digests = recorded.get("outputs")
    if not isinstance(digests, dict):
        return False
    for path in outputs:
        if not path.exists():
            return False
        if digests.get(path.name) != file_digest(path):
            log.warning(
                "%s: %s is not the file the stage wrote (damaged or replaced): "
                "the stage is run again",
                marker.name.strip(".").removesuffix(".done"),
                path.name,
            )
            return False
    return True


def _mark_done(marker: Path, fingerprint: str | None, outputs: Sequence[Path] = ()) -> None:
    """Record that the stage ran on inputs of `fingerprint` and wrote `outputs` (with
    their sha256, so that `_up_to_date` knows them again)."""
    from pipeline.runs import atomic_write_text, file_digest

    if fingerprint is not None:
        written = {path.name: file_digest(path) for path in outputs}
        content = {"fingerprint": fingerprint, "outputs": written}
        atomic_write_text(marker, json.dumps(content, sort_keys=True) + "\n")


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
) -> dict[str, Any]:
    """Extract; the four tables are written batch by batch (pipeline.extract
    .write_label_tables), so memory does not grow with the number of files. Each file is
    read within `limits`. The work folder and `reports_dir` are never read as labels, even
    inside the labels folder: they are listed under "not_labels" with what they are."""
    from pipeline import corrections
    from pipeline.extract import display_name, plan_extraction, write_label_tables

    work.root.mkdir(parents=True, exist_ok=True)
    skip = {work.root: "the work folder"}
    if reports_dir is not None:
        skip[reports_dir] = "the reports folder"
    # Every input keyed by its content (a zip member by its CRC): when the keys are those
    # the last run's label tables were made of, the tables are kept and no cache entry is
    # read. Not when the last run read something it could not cache (over a limit, lost).
    plan = plan_extraction(labels_dir, work, skip)
    marker = _done_marker(work, "extract")
    fingerprint = plan.fingerprint(limits)
    outputs = [work.labels, work.label_rows, work.read_issues, work.rejections]
    if not full and _up_to_date(marker, fingerprint, outputs):
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
        )
        if stats.unstored == 0:
            _mark_done(marker, fingerprint, outputs)
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


def run_normalize(work: config.WorkPaths, *, full: bool = True) -> tuple[int, int]:
    """Normalize; with `full=False`, reuse the outputs if the inputs are unchanged.

    The extraction is normalized one batch of files at a time (pipeline.normalize
    .label_batches) and nutrients.parquet / products.parquet are written batch by batch,
    so memory does not grow with the number of files. Returns their row counts.
    """
    from pipeline import corrections
    from pipeline.normalize import (
        NUTRIENTS_SCHEMA,
        PRODUCTS_SCHEMA,
        label_batches,
        normalize_files,
    )
    from pipeline.records import Rejection, records_to_table
    from pipeline.runs import ParquetTables, atomic_write_table

    marker = _done_marker(work, "normalize")
    fingerprint = _fingerprint([work.labels, work.label_rows, work.corrections])
    errors_path = _normalize_rejections(work)
    outputs = [work.nutrients, work.products, errors_path]
    if not full and _up_to_date(marker, fingerprint, outputs):
        log.info("normalize: inputs unchanged, outputs reused")
        return _row_count(work.nutrients), _row_count(work.products)
    marker.unlink(missing_ok=True)
    for path in (work.labels, work.label_rows):
        if not path.exists():
            raise AuditError(f"{path} does not exist: run the earlier stage first")
    targets = {
        "nutrients": (work.nutrients, NUTRIENTS_SCHEMA),
        "products": (work.products, PRODUCTS_SCHEMA),
    }
    rejected: list[Rejection] = []
    fixes = corrections.current(corrections.load_snapshot(work.corrections))
    with ParquetTables(targets) as out:
        for labels, rows in label_batches(work.labels, work.label_rows):
            tables, failed = normalize_files(labels, corrections.apply_to_rows(rows, fixes))
            del labels, rows
            rejected += failed
            for nutrients, products in tables:
                out.write("nutrients", nutrients)
                out.write("products", products)
            del tables
    atomic_write_table(errors_path, records_to_table(rejected, Rejection))
    _mark_done(marker, fingerprint, outputs)
    return out.rows["nutrients"], out.rows["products"]


def _normalize_rejections(work: config.WorkPaths) -> Path:
    """The files the normalize stage could not normalize (an internal error), as
    rejections.parquet lists the files extraction could not read."""
    return work.root / "normalize_rejections.parquet"


#: From this many products on, Great Expectations runs in a separate process (a fresh
#: interpreter, not a fork: pyarrow's threads are running), so that its ~160 MB are freed
#: before the report is built. Below it the memory does not matter and a fresh interpreter
#: importing pandas and GX (~3 s) would double the time of a small audit.
VALIDATE_IN_CHILD_MIN_PRODUCTS = 500


def run_validate(
    work: config.WorkPaths,
    protocol: Protocol,
    *,
    data_docs_dir: Path | None = None,
    full: bool = True,
    process: ValidationProcess | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate; with `full=False` (and no Data Docs to render), reuse the outputs if the
    inputs and the protocol are unchanged, and otherwise validate only the products whose
    rows changed (pipeline.validate.validate_work).

    From VALIDATE_IN_CHILD_MIN_PRODUCTS products on, the work is done in a
    ValidationProcess (`process`, if one was started early); `process` is ended either way.
    """
    from pipeline.validate import STATE_FILE, ValidationJob

    marker = _done_marker(work, "validate")
    fingerprint = _fingerprint([work.products, work.nutrients, work.read_issues], repr(protocol))
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
        and _up_to_date(marker, fingerprint, [*outputs, work.root / STATE_FILE])
    ):
        log.info("validate: inputs unchanged, outputs reused")
        if process is not None:
            process.stop()
        reused = _row_count(work.products)
        _record_validation(
            work, {"products_validated": 0, "products_reused": reused, "label_rows_validated": 0}
        )
        return _read(work.outcomes), _read(work.data_quality)
    marker.unlink(missing_ok=True)
    job = ValidationJob(
        work_root=str(work.root),
        protocol=protocol,
        salt=hashlib.sha256(f"{__version__}\n{_code_digest()}\n{protocol!r}".encode()).hexdigest(),
        full=full or data_docs_dir is not None,
        docs_dir=str(data_docs_dir) if data_docs_dir is not None else None,
    )
    if _row_count(work.products) >= VALIDATE_IN_CHILD_MIN_PRODUCTS:
        counts = (process or ValidationProcess()).run(job, while_waiting=_prepare_report)
    else:
        if process is not None:
            process.stop()
        counts = _validate_here(job)
    log.info(
        "validate: %d products validated, %d unchanged (reused)",
        counts["products_validated"],
        counts["products_reused"],
    )
    _record_validation(work, counts)
    _mark_done(marker, fingerprint, [*outputs, work.root / STATE_FILE])
    return _read(work.outcomes), _read(work.data_quality)


def _prepare_report() -> None:
    """The report's imports and template, loaded while the validation process works."""
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.patches  # noqa: F401

    from pipeline import report

    report.prepare()


def _validate_here(job: Any) -> dict[str, int]:
    from pipeline.validate import validate_work

    return validate_work(job)


#: What the validation process runs: pipeline.validate.main, with the cyclic garbage
#: collector off while it imports pandas and Great Expectations (main() turns it back on).
#: Collecting among the hundreds of thousands of objects an import makes, all of which
#: live as long as the process, is wasted work: the process is ready in ~1.9 s, not ~3.1 s.
VALIDATION_PROCESS_CODE = (
    "import gc; gc.disable(); from pipeline.validate import main; raise SystemExit(main())"
)


class ValidationProcess:
    """The validate stage in a fresh interpreter (`VALIDATION_PROCESS_CODE`, as `python -m
    pipeline.validate` but faster to start), a new process that never re-imports the
    caller's main module and shares nothing with it.

    It starts importing Great Expectations as soon as it is created, so it can be started
    early (while files are read); `run` sends it the job and waits for the answer, and
    `stop` (also on leaving a `with` block) ends it if it is still there. A failure in the
    child is one AuditError line; its traceback goes to the debug log.
    """

    def __init__(self) -> None:
        import subprocess
        import sys

        env = dict(os.environ)
        package_root = str(config.PACKAGE_DIR.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", VALIDATION_PROCESS_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._reaped = False

    def __enter__(self) -> ValidationProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, job: Any, while_waiting: Callable[[], None] | None = None) -> dict[str, int]:
        """Send `job`, call `while_waiting` (work of our own while the child validates),
        then wait for the child's answer."""
        import pickle

        try:
            stdin, self._proc.stdin = self._proc.stdin, None  # communicate() leaves it be
            assert stdin is not None
            with contextlib.suppress(BrokenPipeError):  # it died: its stderr says why
                stdin.write(pickle.dumps(job))
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
            if while_waiting is not None:
                while_waiting()
            stdout, stderr_bytes = self._proc.communicate()
            self._reaped = True
        finally:
            self.stop()
        stderr = stderr_bytes.decode("utf-8", "replace")
        try:
            answer = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            log.debug("validation process output:\n%s", stderr)
            lines = stderr.strip().splitlines()
            last = lines[-1] if lines else f"exit code {self._proc.returncode}"
            raise AuditError(f"validate: the validation process failed: {last}") from None
        if "error" in answer:
            log.debug("validation process:\n%s", answer.get("tb") or stderr)
            raise AuditError(str(answer["error"]))
        return {str(k): int(v) for k, v in answer["counts"].items()}

    def stop(self) -> None:
        """End the process if it still runs (it is only importing, or waiting)."""
        if self._reaped:
            return
        self._reaped = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()  # closes the pipes, reaps the process


def _release_memory() -> None:
    """Give back what a stage left: garbage, and the pages Arrow's allocator keeps for
    reuse (40-50 MB after normalizing 2,000 files), before the next stage (or the
    validation process beside it) needs memory."""
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()


def _products_last_validated(work: config.WorkPaths) -> int:
    """How many products the last validation here covered (run.json's "validation"), 0 if
    unknown; read without pandas or pyarrow."""
    try:
        counts = json.loads(work.run_meta.read_text(encoding="utf-8"))["validation"]
        return int(counts["products_validated"]) + int(counts["products_reused"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


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
) -> dict[str, Any]:
    from pipeline import corrections, crops, runs
    from pipeline.document import build_audit
    from pipeline.report import write_reports

    _check_folder(reports.root, "the reports folder (--out)")
    findings = _read(work.data_quality)
    products, ranking, checks, unscored = _score(work, protocol, findings)
    _write(work.root / "ranking.parquet", ranking)
    runs.atomic_write_table(work.root / "checks.parquet", checks)
    meta = json.loads(work.run_meta.read_text(encoding="utf-8"))
    fixes = corrections.outcome(corrections.load_snapshot(work.corrections), work.nutrients)
    meta.update(stale_corrections=fixes["stale"], correction_errors=fixes["errors"])
    previous = runs.previous_products(reports.json, reports.ranking_csv)
    audit = build_audit(
        meta=meta,
        products=products,
        ranking=ranking,
        checks=checks,
        rows=_label_rows_table(work.nutrients),
        findings=findings,
        rejections=_all_rejections(work, unscored),
        protocol=protocol,
        compliance=_read_compliance(work),
    )
    del products, ranking, checks
    if data_docs and (reports.data_docs_dir / "index.html").exists():
        audit["data_docs"] = f"{reports.data_docs_dir.name}/index.html"
    current = audit["products"].fields(runs.PREVIOUS_KEYS)
    audit["changes"] = runs.changes_between(previous, current)
    del previous, current
    reports.root.mkdir(parents=True, exist_ok=True)
    with crops.use_labels_folder(Path(meta.get("labels_path") or meta["labels_dir"])):
        write_reports(
            audit,
            reports.root,
            flagged_lines=_finding_lines(findings),
            chart_cache=work.root / "chart.json",
            pieces_cache=work.root / "report_pieces.sqlite",
            product_keys=_product_keys(work, protocol, findings),
        )
    duration = round(time.monotonic() - started, 3) if started is not None else None
    runs.write_history_record(
        reports.history_dir,
        {
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
        },
    )
    return audit


#: Products scored at a time by the report stage (as pandas objects only while scored).
SCORE_GROUP_PRODUCTS = 1000


def _score(
    work: config.WorkPaths, protocol: Protocol, findings: pd.DataFrame
) -> tuple[pa.Table, pd.DataFrame, pa.Table, list[Rejection]]:
    """Score the products a group at a time (pipeline.score.score_products), then rank them
    all: the products and the checks stay in Arrow tables. Returns the products, the
    ranking, the checks and the products that could not be scored (`_scored`)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    from pipeline.score import SCORE_INPUT_COLUMNS, rank_products

    for path in (work.products, work.outcomes):
        if not path.exists():
            raise AuditError(f"{path} does not exist: run the earlier stage first")
    products, outcomes = (
        pq.read_table(work.products),
        _cast_nulls(pq.read_table(work.outcomes), OUTCOMES_TYPES),
    )
    scored: list[pd.DataFrame] = []
    checks: list[pa.Table] = []
    failed: list[Rejection] = []
    for start in range(0, max(products.num_rows, 1), SCORE_GROUP_PRODUCTS):
        group = products.slice(start, SCORE_GROUP_PRODUCTS)
        ids = group.column("product_id")
        mine = outcomes.filter(pc.is_in(outcomes.column("product_id"), value_set=ids))
        their_findings = findings[findings["product_id"].isin(ids.to_pylist())]
        inputs = group.select([*SCORE_INPUT_COLUMNS, "source_file"]).to_pylist()
        for group_scored, group_checks in _scored(
            inputs, mine.to_pandas(), their_findings, protocol, failed
        ):
            scored.append(group_scored)
            checks.append(pa.Table.from_pandas(group_checks, preserve_index=False))
    ranking = rank_products(pd.concat(scored, ignore_index=True))
    if ranking.empty:  # no product: typed columns all the same
        ranking = ranking.astype(EMPTY_RANKING_DTYPES)
    all_checks = pa.concat_tables(checks, promote_options="default")
    return products, ranking, _cast_nulls(all_checks, CHECKS_TYPES), failed


def _scored(
    products: list[dict[str, Any]],
    outcomes: pd.DataFrame,
    findings: pd.DataFrame,
    protocol: Protocol,
    failed: list[Rejection],
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """`score_products` of a group, so that an internal error in one product loses only
    that product: if the group fails, each product is scored on its own, and one that still
    fails is added to `failed` (a rejection of its file, naming the product and the error)."""
    from pipeline.normalize import internal_error_reason
    from pipeline.records import Rejection
    from pipeline.score import score_products

    try:
        return [score_products(products, outcomes, findings, protocol)]
    except Exception:
        log.warning(
            "report: scoring a group failed; scoring its products one by one", exc_info=True
        )
    results = []
    for product in products:
        pid = product["product_id"]
        try:
            results.append(
                score_products(
                    [product],
                    outcomes[outcomes["product_id"] == pid],
                    findings[findings["product_id"] == pid],
                    protocol,
                )
            )
        except Exception as exc:
            log.error("report: product %s: %s", pid, exc, exc_info=True)
            reason = internal_error_reason("scoring", exc)
            name = product.get("product_name")
            source_file = str(product.get("source_file"))
            failed.append(Rejection(source_file, f"product {name!r}: {reason}"))
    return results


#: The column types of the report stage's tables where an empty one cannot show them.
EMPTY_RANKING_DTYPES = {
    "product_id": "str",
    "score": "float64",
    "verdict": "str",
    "verdict_reason": "str",
    "rank": "int64",
}
CHECKS_TYPES = {
    "product_id": "large_string",
    "check": "large_string",
    "label": "large_string",
    "passed": "bool",
    "credit": "float64",
    "weight": "float64",
    "points": "float64",
    "detail": "large_string",
}
OUTCOMES_TYPES = {"product_id": "string", "check": "string", "passed": "bool"}


def _cast_nulls(table: pa.Table, types: Mapping[str, str]) -> pa.Table:
    """`table` with each column of `types` that has no type (an empty table written from
    pandas objects, or a column all None) cast to its type."""
    import pyarrow as pa

    for name, kind in types.items():
        index = table.schema.get_field_index(name)
        if index >= 0 and pa.types.is_null(table.schema.field(index).type):
            table = table.set_column(index, name, table.column(name).cast(kind))
    return table


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


def _label_rows_table(nutrients: Path) -> pa.Table:
    """The label rows the report shows (product_id and ROW_FIELDS) as an Arrow table,
    never as pandas objects; line and page numbers as integers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.document import ROW_FIELDS

    if not nutrients.exists():
        raise AuditError(f"{nutrients} does not exist: run the earlier stage first")
    table = pq.read_table(nutrients, columns=["product_id", *ROW_FIELDS])
    for name in ("line_no", "page"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(pa.int64()))
    return table


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
    fingerprint = _fingerprint([work.products, work.nutrients, work.read_issues], repr(protocol))
    if not _up_to_date(_done_marker(work, "validate"), fingerprint, [state]):
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
    return {
        str(pid): hashlib.sha256(f"{key}\n{found.get(pid, [])!r}".encode()).hexdigest()
        for pid, key in recorded.items()
    }


def _finding_lines(findings: pd.DataFrame) -> dict[Any, set[int]]:
    """product_id -> the label lines with a data-quality finding (data_quality.parquet's
    `line_no`; a work folder validated before it existed gives none)."""
    if "line_no" not in findings.columns:
        return {}
    lines: dict[Any, set[int]] = {}
    named = findings[findings["line_no"].notna()]
    for pid, line in zip(named["product_id"], named["line_no"], strict=True):
        lines.setdefault(pid, set()).add(int(line))
    return lines


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
) -> dict[str, Any]:
    """All stages under one lock on the work folder (and one on the reports folder);
    returns the audit document. Each label file is read within `limits`."""
    started = time.monotonic()
    work = config.WorkPaths(work_dir)
    _check_folder(reports_dir, "the reports folder (--out)")
    _check_folder(work_dir, "the work folder (--work)")
    work.root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        # Large inputs validate in a ValidationProcess. When the last run here validated
        # that many products, it is started first of all, before this process imports
        # pandas and pyarrow, so that GX's import (2-3 s) overlaps those imports, reading
        # and normalizing; it is ended as soon as validation proves up to date (or when
        # another run holds the lock). A first run starts it when it validates: its
        # extraction holds more memory.
        process: ValidationProcess | None = None
        if _products_last_validated(work) >= VALIDATE_IN_CHILD_MIN_PRODUCTS:
            process = stack.enter_context(ValidationProcess())
        from pipeline.runs import RunLock

        stack.enter_context(RunLock(work.lock, wait_seconds=lock_wait_s))
        # The reports folder too: two work folders sharing one --out take turns.
        reports_lock = config.ReportPaths(reports_dir).lock
        if reports_lock.resolve() != work.lock.resolve():
            stack.enter_context(RunLock(reports_lock, wait_seconds=lock_wait_s))
        run_extract(
            labels_dir,
            work,
            jobs=jobs,
            full=full,
            progress=progress,
            reports_dir=reports_dir,
            limits=limits,
        )
        _release_memory()
        run_normalize(work, full=full)
        _release_memory()
        reports = config.ReportPaths(reports_dir)
        run_validate(
            work,
            protocol,
            data_docs_dir=reports.data_docs_dir if data_docs else None,
            full=full,
            process=process,
        )
        _release_memory()
        return run_report(work, reports, protocol, started=started, data_docs=data_docs)
