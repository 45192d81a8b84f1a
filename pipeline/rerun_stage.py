"""The unchanged run, wired (pipeline.rerun has the key and the record): the run's key
from the labels folder as extraction sees it, the kept report when the key is the
recorded one, and the record a run that wrote its report leaves."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import config, rerun
from pipeline.extract import FolderScan, source_name
from pipeline.infra import history, stages
from pipeline.infra.atomic import atomic_write_text, remove_temp_files
from pipeline.protocol import Protocol

log = logging.getLogger(__name__)


def run_key_of(
    scan: FolderScan,
    labels_dir: Path,
    reports_dir: Path,
    protocol: Protocol,
    limits: config.FileLimits,
) -> str:
    """This run's key (pipeline.rerun.run_key) from the scan of the labels folder."""
    return rerun.run_key(
        labels=[(source_name(path, labels_dir), path) for path in scan.files],
        not_labels=[(n.source_file, n.reason) for n in scan.not_labels],
        labels_dir=labels_dir,
        reports_dir=reports_dir,
        protocol=repr(protocol),
        limits=limits,
    )


def kept_report(
    work: config.WorkPaths, reports: config.ReportPaths, key: str, started: float
) -> rerun.ReusedAudit | None:
    """When the last report was made from inputs of `key` and is there as written: its
    document (the kept audit.json), with a history line saying the run was unchanged
    (`"unchanged": true`, `"report_generated_at"`: when the kept report was written)."""
    record = rerun.read_record(work.root, reports.root)
    if record is None or record.get("key") != key:
        return None
    light = record["audit"]
    line = dict(record.get("history") or {})
    line.update(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - started, 3),
        parsed=0,
        cached=(line.get("parsed") or 0) + (line.get("cached") or 0),
        changes={k: 0 for k in light.get("changes") or {}},
        unchanged=True,
        report_generated_at=light.get("generated_at"),
    )
    history.append_history_record(reports.history, line)
    remove_temp_files(work.cache_dir)  # the cache entries' (extraction would remove them)
    _describe_run(work, line["cached"], light["summary"]["products"])
    log.info("unchanged: the inputs, protocol and code of the last run: its report is kept")
    return rerun.ReusedAudit(light, reports.json)


def _describe_run(work: config.WorkPaths, inputs: int, products: int) -> None:
    """run.json of an unchanged run: nothing parsed, every input cached, nothing validated."""
    try:
        meta = json.loads(work.run_meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(meta, dict):
        meta.update(parsed=0, cached=inputs)
        meta["validation"] = {
            "products_validated": 0,
            "products_reused": products,
            "label_rows_validated": 0,
        }
        atomic_write_text(work.run_meta, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def remember(
    work: config.WorkPaths,
    reports: config.ReportPaths,
    key: str,
    audit: dict[str, Any],
    line: dict[str, Any],
) -> None:
    """After a run wrote its report from inputs of `key`: its record, when the report lists
    no change (an unchanged rerun would write the same) and extraction cached every input
    (its done marker is there: nothing over a limit or lost, to be read again)."""
    if not rerun.changes_empty(audit):
        return
    if not stages.done_marker(work.root, "extract").exists():
        return
    text = rerun.record_text(key, work.root, reports.root, audit, line)
    if text is not None:
        atomic_write_text(rerun.record_path(work.root), text)
