"""The stages, wired: each reads its inputs from the work folder and writes its artifact.

`extract` -> labels.parquet, label_rows.parquet, read_issues.parquet, rejections.parquet
`normalize` -> nutrients.parquet, products.parquet
`validate` -> outcomes.parquet, data_quality.parquet, gx_*_result.json
`report` -> ranking.parquet, checks.parquet, then audit.html / audit.json / ranking.csv
`audit` runs all four under one lock. The pure work is in the stage modules; this module
is the I/O edge around them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import __version__, config
from pipeline.errors import AuditError
from pipeline.nutrients import NUTRIENTS, UPPER_LIMITS
from pipeline.protocol import Protocol

log = logging.getLogger(__name__)


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return pd.read_parquet(path)


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
    if fingerprint is None:
        return False
    try:
        recorded = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return recorded == fingerprint and all(p.exists() for p in outputs)


def _mark_done(marker: Path, fingerprint: str | None) -> None:
    from pipeline.runs import atomic_write_text

    if fingerprint is not None:
        atomic_write_text(marker, fingerprint + "\n")


# ---- stages ------------------------------------------------------------------------------------


def run_extract(
    labels_dir: Path,
    work: config.WorkPaths,
    *,
    jobs: int = 1,
    full: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    from pipeline.extract import labels_to_rows

    work.root.mkdir(parents=True, exist_ok=True)
    extraction, stats = labels_to_rows(
        labels_dir, work, jobs=jobs, use_cache=not full, progress=progress
    )
    _write(work.labels, extraction.labels)
    _write(work.label_rows, extraction.rows)
    _write(work.read_issues, extraction.issues)
    _write(work.rejections, extraction.rejections)
    meta = {
        "labels_dir": str(labels_dir),
        "files": list(extraction.files),
        "companion_files": list(stats.companions),
        "parsed": stats.parsed,
        "cached": stats.cached,
    }
    _write_json(work.run_meta, meta)
    return meta


def run_normalize(
    work: config.WorkPaths, *, full: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalize; with `full=False`, reuse the outputs if the inputs are unchanged."""
    from pipeline.normalize import nutrients_to_products, rows_to_nutrients

    marker = _done_marker(work, "normalize")
    fingerprint = _fingerprint([work.labels, work.label_rows])
    if not full and _up_to_date(marker, fingerprint, [work.nutrients, work.products]):
        log.info("normalize: inputs unchanged, outputs reused")
        return _read(work.nutrients), _read(work.products)
    marker.unlink(missing_ok=True)
    labels, rows = _read(work.labels), _read(work.label_rows)
    nutrients = rows_to_nutrients(rows, labels)
    products = nutrients_to_products(nutrients, labels)
    _write(work.nutrients, nutrients)
    _write(work.products, products)
    _mark_done(marker, fingerprint)
    return nutrients, products


def run_validate(
    work: config.WorkPaths,
    protocol: Protocol,
    *,
    data_docs_dir: Path | None = None,
    full: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate; with `full=False` (and no Data Docs to render), reuse the outputs if the
    inputs and the protocol are unchanged."""
    from pipeline.validate import Validator, products_to_outcomes, tables_to_findings

    marker = _done_marker(work, "validate")
    fingerprint = _fingerprint([work.products, work.nutrients, work.read_issues], repr(protocol))
    outputs = [
        work.outcomes,
        work.data_quality,
        work.gx_protocol_result,
        work.gx_data_quality_result,
    ]
    if not full and data_docs_dir is None and _up_to_date(marker, fingerprint, outputs):
        log.info("validate: inputs unchanged, outputs reused")
        return _read(work.outcomes), _read(work.data_quality)
    marker.unlink(missing_ok=True)
    products, nutrients = _read(work.products), _read(work.nutrients)
    validator = Validator(docs_dir=data_docs_dir)
    outcomes, protocol_result = products_to_outcomes(products, protocol, validator)
    findings, quality_result = tables_to_findings(
        nutrients, products, _read(work.read_issues), validator
    )
    _write(work.outcomes, outcomes)
    _write(work.data_quality, findings)
    _write_json(work.gx_protocol_result, protocol_result)
    _write_json(work.gx_data_quality_result, quality_result)
    _mark_done(marker, fingerprint)
    return outcomes, findings


def run_report(
    work: config.WorkPaths,
    reports: config.ReportPaths,
    protocol: Protocol,
    *,
    started: float | None = None,
    data_docs: bool = False,
) -> dict[str, Any]:
    from pipeline import runs
    from pipeline.report import write_reports
    from pipeline.score import outcomes_to_ranking

    products, findings = _read(work.products), _read(work.data_quality)
    ranking, checks = outcomes_to_ranking(products, _read(work.outcomes), findings, protocol)
    _write(work.root / "ranking.parquet", ranking)
    _write(work.root / "checks.parquet", checks)
    meta = json.loads(work.run_meta.read_text(encoding="utf-8"))
    previous = _previous_products(runs.read_previous_audit(reports.json))
    audit = build_audit(
        meta=meta,
        products=products,
        ranking=ranking,
        checks=checks,
        nutrients=_read(work.nutrients),
        findings=findings,
        rejections=_read(work.rejections),
        protocol=protocol,
    )
    if data_docs and (reports.data_docs_dir / "index.html").exists():
        audit["data_docs"] = f"{reports.data_docs_dir.name}/index.html"
    audit["changes"] = runs.changes_between(previous, audit["products"])
    reports.root.mkdir(parents=True, exist_ok=True)
    write_reports(audit, reports.root)
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
        },
    )
    return audit


def _previous_products(previous: Mapping[str, Any] | None) -> list[Any] | None:
    """What `changes_between` reads of the previous audit's products, so that the whole
    previous document (about 100 MB as Python objects for 2,000 PDFs) is not
    held while this run's report is built."""
    if not previous:
        return None
    products = previous.get("products")
    if not isinstance(products, list):
        return []
    keys = ("product_id", "source_file", "product_name", "verdict")
    return [{k: p.get(k) for k in keys} if isinstance(p, Mapping) else p for p in products]


# ---- the audit document (audit.json) ------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON-ready: NaN/NA -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        return None if pd.isna(value) else value
    if hasattr(value, "item"):
        return _clean(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{c: _clean(row[c]) for c in columns} for row in frame.to_dict("records")]


PRODUCT_FIELDS = [
    "product_id",
    "source_file",
    "product_name",
    "brand",
    "serving_size",
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
    "k2_form",
    "k2_mcg_per_500mg_ca",
    "ca_to_mg_ratio",
]
EXTRA_FIELDS = [
    "source_format",
    "ocr_confidence",
    "servings_per_day",
    "servings_per_day_source",
    "calcium_mg_per_day",
    "magnesium_mg_per_day",
    "vitamin_d_mcg_per_day",
    "directions",
    "warnings",
    "other_ingredients",
    "amount_columns",
]
ROW_FIELDS = [
    "line_no",
    "page",
    "name_raw",
    "form_raw",
    "parent",
    "amount_raw",
    "unit_raw",
    "dv_raw",
    "amount_alt_raw",
    "unit_alt_raw",
    "alt_amounts_raw",
    "raw_text",
    "nutrient",
    "k2_form",
    "amount_normalized",
    "unit_normalized",
    "unit_status",
    "unit_note",
    "confidence",
    "repairs",
]


@dataclass(frozen=True)
class _Tables:
    checks: dict[str, list[dict[str, Any]]]
    rows: dict[str, list[dict[str, Any]]]


def _group(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record, pid in zip(_records(frame, columns), frame["product_id"], strict=True):
        grouped.setdefault(pid, []).append(record)
    return grouped


def build_audit(
    *,
    meta: Mapping[str, Any],
    products: pd.DataFrame,
    ranking: pd.DataFrame,
    checks: pd.DataFrame,
    nutrients: pd.DataFrame,
    findings: pd.DataFrame,
    rejections: pd.DataFrame,
    protocol: Protocol,
) -> dict[str, Any]:
    """The audit document: audit.json as written, and what the HTML report renders."""
    from pipeline.score import VERDICTS
    from pipeline.validate import conversions_used, daily_values

    tables = _Tables(
        checks=_group(
            checks.rename(columns={"check": "name"}),
            ["name", "label", "passed", "credit", "weight", "points", "detail"],
        ),
        rows=_group(
            nutrients.astype({"page": "Int64", "line_no": "Int64"}).sort_values(
                ["product_id", "line_no"]
            ),
            ROW_FIELDS,
        ),
    )
    merged = ranking.merge(products, on="product_id", how="left")
    product_docs = []
    for record in merged.to_dict("records"):
        pid = record["product_id"]
        doc: dict[str, Any] = {"rank": int(record["rank"])}
        doc.update({f: _clean(record.get(f)) for f in PRODUCT_FIELDS})
        doc.update(
            score=_clean(record["score"]),
            verdict=record["verdict"],
            verdict_reason=record["verdict_reason"],
            checks=[{k: v for k, v in c.items()} for c in tables.checks.get(pid, [])],
        )
        doc.update({f: _clean(record.get(f)) for f in EXTRA_FIELDS})
        doc["label_rows"] = tables.rows.get(pid, [])
        product_docs.append(doc)
    verdicts = {v: int((ranking["verdict"] == v).sum()) for v in VERDICTS}
    rejected = _records(rejections, ["source_file", "reason"])
    quality = _records(findings, ["source_file", "product_id", "check", "severity", "detail"])
    with_products = {p["source_file"] for p in product_docs}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels_dir": meta["labels_dir"],
        "tool_version": __version__,
        "protocol_file": protocol.source,
        "summary": {
            "files": len(with_products) + len(rejected),
            "products": len(product_docs),
            "rejected_files": len(rejected),
            "verdicts": verdicts,
            "data_quality_findings": len(quality),
            "companion_files": list(meta.get("companion_files", [])),
        },
        "changes": {"added": [], "removed": [], "verdict_changed": []},
        "products": product_docs,
        "rejected": rejected,
        "data_quality": quality,
        "methodology": {
            "protocol": protocol.to_dict(),
            "daily_values": list(daily_values()),
            "conversions": conversions_used(),
            "upper_limits": [
                {"nutrient": NUTRIENTS[u.nutrient].display, "limit": u.text} for u in UPPER_LIMITS
            ],
        },
        "data_docs": None,
    }


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
) -> dict[str, Any]:
    """All stages under one lock on the work folder; returns the audit document."""
    from pipeline.runs import RunLock

    started = time.monotonic()
    work = config.WorkPaths(work_dir)
    work.root.mkdir(parents=True, exist_ok=True)
    with RunLock(work.lock, wait_seconds=lock_wait_s):
        run_extract(labels_dir, work, jobs=jobs, full=full, progress=progress)
        run_normalize(work, full=full)
        reports = config.ReportPaths(reports_dir)
        run_validate(
            work,
            protocol,
            data_docs_dir=reports.data_docs_dir if data_docs else None,
            full=full,
        )
        return run_report(work, reports, protocol, started=started, data_docs=data_docs)
