"""pipeline.finding_columns: findings gathered as Arrow columns give the frames (and the
Parquet files) the records gave as dicts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline import compliance, quality
from pipeline.finding_columns import (
    COMPLIANCE_SCHEMA,
    QUALITY_SCHEMA,
    FindingColumns,
    records_table,
)


def _quality(pid: str | None, check: str, line: int | None, blocking: bool = False) -> dict:
    return {
        "source_file": f"{pid}.json",
        "product_id": pid,
        "check": check,
        "severity": "error" if blocking else "warning",
        "detail": f"{check} on line {line}",
        "blocking": blocking,
        "line_no": line,
    }


RECORDS = [
    _quality("b", "unit_known", 3),
    _quality(None, "read", None, blocking=True),
    _quality("a", "amount_present", 2, blocking=True),
    _quality("a", "serving_size_present", None),
]


def test_columns_give_the_frame_the_records_gave() -> None:
    columns = FindingColumns(QUALITY_SCHEMA)
    columns.add_records(RECORDS[:2])
    columns.add_records([])
    columns.add_records(RECORDS[2:])
    got = quality.sorted_findings(columns.frame())
    want = quality.findings_frame(RECORDS)
    pd.testing.assert_frame_equal(got, want)
    assert got["product_id"].fillna("-").tolist() == ["-", "a", "a", "b"]
    assert got["line_no"].tolist() == [pd.NA, 2, pd.NA, 3]
    assert got["blocking"].dtype == bool
    assert got["blocking"].tolist() == [True, True, False, False]


def test_kept_findings_are_those_of_the_products_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "data_quality.parquet"
    quality.findings_frame(RECORDS).to_parquet(path)
    columns = FindingColumns(QUALITY_SCHEMA)
    columns.add_kept(path, {"a"}, but_check="serving_size_present")
    columns.add_kept(path, set())  # nothing to keep: nothing read
    columns.add_kept(tmp_path / "missing.parquet", {"a"})
    got = quality.sorted_findings(columns.frame())
    assert got.to_dict("records") == [
        {
            "source_file": "a.json",
            "product_id": "a",
            "check": "amount_present",
            "severity": "error",
            "detail": "amount_present on line 2",
            "blocking": True,
            "line_no": 2,
        }
    ]


def test_no_findings_is_the_empty_frame_of_no_records() -> None:
    got = compliance.sorted_findings(FindingColumns(COMPLIANCE_SCHEMA).frame())
    pd.testing.assert_frame_equal(got, compliance.findings_frame([]))
    assert list(got.columns) == [*compliance.COMPLIANCE_COLUMNS, "line_no"]


def test_compliance_columns_keep_the_order_of_the_rules(tmp_path: Path) -> None:
    first, second = (rule.name for rule in compliance.RULES[:2])
    records = [
        {
            "source_file": "x.json",
            "product_id": "x",
            "rule": rule,
            "citation": "21 CFR 101.36",
            "severity": "error",
            "detail": f"{rule} broken",
            "line_no": line,
        }
        for rule, line in ((second, 4), (first, None), (first, 1))
    ]
    path = tmp_path / "compliance.parquet"
    compliance.findings_frame(records[:1]).to_parquet(path)
    columns = FindingColumns(COMPLIANCE_SCHEMA)
    columns.add_kept(path, {"x"})
    columns.add_records(records[1:])
    got = compliance.sorted_findings(columns.frame())
    pd.testing.assert_frame_equal(got, compliance.findings_frame(records))
    assert got["rule"].tolist() == [first, first, second]
    assert got["line_no"].tolist() == [pd.NA, 1, 4]


def test_parts_are_held_dictionary_encoded_and_given_back_plain() -> None:
    many = [_quality(f"p{n % 50}", "unit_known", n % 7) for n in range(2000)]
    columns = FindingColumns(QUALITY_SCHEMA)
    columns.add_records(many)
    (part,) = columns.parts
    assert pa.types.is_dictionary(part.schema.field("product_id").type)
    assert part.schema.field("line_no").type == pa.int64()
    assert part.nbytes < records_table(many, QUALITY_SCHEMA).nbytes / 2
    pd.testing.assert_frame_equal(
        quality.sorted_findings(columns.frame()), quality.findings_frame(many)
    )
