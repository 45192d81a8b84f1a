"""pipeline.finding_columns: findings gathered as Arrow columns give the frames (and the
Parquet files) the records gave as dicts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

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


def _compliance_records(seed: int, count: int) -> list[dict]:
    """Findings with ties, missing values, non-ASCII text and a rule not in RULES."""
    names = [rule.name for rule in compliance.RULES[:3]] + ["not_a_rule", None]
    texts = ["b", "a", "é", "Z", "ab", None, "\u00b5g"]
    return [
        {
            "source_file": texts[(n * 3 + seed) % 7],
            "product_id": texts[(n + seed) % 7],
            "rule": names[(n * 5 + seed) % 5],
            "citation": "21 CFR 101.36",
            "severity": "error" if n % 2 else "warning",
            "detail": texts[(n * 2) % 7],
            "line_no": None if n % 4 == 0 else n % 3,
        }
        for n in range(count)
    ]


def test_compliance_sorted_in_arrow_is_the_frame_pandas_sorts() -> None:
    records = _compliance_records(0, 300) + _compliance_records(1, 200)
    columns = FindingColumns(COMPLIANCE_SCHEMA)
    columns.add_records(records[:300])  # two parts, each with a dictionary of its own
    columns.add_records(records[300:])
    table = columns.table()
    assert columns.parts == []
    assert table.num_rows == 500
    assert pa.types.is_dictionary(table.schema.field("detail").type)
    got = compliance.sorted_findings_of_table(table)
    want = compliance.sorted_findings(
        pd.DataFrame(records, columns=COMPLIANCE_SCHEMA.names).astype({"line_no": "float"})
    )
    pd.testing.assert_frame_equal(got, want)
    before = FindingColumns(COMPLIANCE_SCHEMA)  # the frame the stage sorted in pandas
    before.add_records(records)
    pd.testing.assert_frame_equal(got, compliance.sorted_findings(before.frame()))
    assert got["source_file"].isna().tolist()[:3] == [True, True, True]  # missing first
    assert got["source_file"].dropna().unique().tolist() == ["Z", "a", "ab", "b", "\u00b5g", "é"]
    empty = compliance.sorted_findings_of_table(FindingColumns(COMPLIANCE_SCHEMA).table())
    pd.testing.assert_frame_equal(empty, compliance.findings_frame([]))


def test_compliance_written_from_arrow_reads_as_the_frame_pandas_wrote(tmp_path: Path) -> None:
    records = _compliance_records(0, 300) + _compliance_records(1, 200)
    columns = FindingColumns(COMPLIANCE_SCHEMA)
    columns.add_records(records[:300])
    columns.add_records(records[300:])
    ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
    compliance.write_findings(ours, compliance.sorted_table(columns.table()))
    compliance.findings_frame(records).to_parquet(theirs)
    got = pd.read_parquet(ours)
    pd.testing.assert_frame_equal(got, pd.read_parquet(theirs))
    assert str(got["line_no"].dtype) == "Int64"
    assert got["line_no"].tolist()[:3] == [pd.NA, pd.NA, pd.NA]
    # Arrow readers get plain text too (or dictionary-encoded, when they ask for it).
    plain, before = pq.read_table(ours), pq.read_table(theirs)
    assert plain.schema.remove_metadata() == before.schema.remove_metadata()
    assert plain.to_pylist() == before.to_pylist()
    asked = pq.read_table(ours, read_dictionary=["detail"]).schema.field("detail").type
    assert pa.types.is_dictionary(asked)
    # No findings: the empty frame, as pandas wrote it.
    compliance.write_findings(
        ours, compliance.sorted_table(FindingColumns(COMPLIANCE_SCHEMA).table())
    )
    compliance.findings_frame([]).to_parquet(theirs)
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs))
