"""The stages' production path over records a test makes: the label tables written as the
extract stage writes them, then normalize, validate and score as `labelaudit audit` runs
them (pipeline.audit), with a Great Expectations context made once per test module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import audit, config
from pipeline.infra.atomic import atomic_write_table
from pipeline.protocol import Protocol, load_protocol
from pipeline.records import Label, LabelRow, ReadIssue, Rejection, records_to_table
from pipeline.validate import ValidationJob, Validator, validate_work


@dataclass(frozen=True)
class Staged:
    """What each stage wrote (and the report stage's scores), as pandas frames."""

    nutrients: pd.DataFrame
    products: pd.DataFrame
    outcomes: pd.DataFrame
    findings: pd.DataFrame
    ranking: pd.DataFrame
    checks: pd.DataFrame


def run_stages(
    root: Path,
    labels: Sequence[Label],
    rows: Sequence[LabelRow],
    issues: Sequence[ReadIssue] = (),
    *,
    validator: Validator,
    protocol: Protocol | None = None,
) -> Staged:
    """Normalize, validate and score `labels` and `rows` in the work folder `root`."""
    protocol = protocol or load_protocol()
    work = config.WorkPaths(root)
    atomic_write_table(work.labels, records_to_table(labels, Label))
    atomic_write_table(work.label_rows, records_to_table(rows, LabelRow))
    atomic_write_table(work.read_issues, records_to_table(issues, ReadIssue))
    atomic_write_table(work.rejections, records_to_table([], Rejection))
    audit.run_normalize(work)
    job = ValidationJob(str(work.root), protocol, salt="test", full=True)
    validate_work(job, validator)
    findings = pd.read_parquet(work.data_quality)
    ranking, unscored = audit._score(work, protocol, findings)
    assert unscored == []
    return Staged(
        nutrients=pd.read_parquet(work.nutrients),
        products=pd.read_parquet(work.products),
        outcomes=pd.read_parquet(work.outcomes),
        findings=findings,
        ranking=ranking,
        checks=pd.read_parquet(work.root / "checks.parquet"),
    )
