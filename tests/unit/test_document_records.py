"""The audit document's compliance findings held as Arrow (pipeline.document_records), what
changed computed from columns (pipeline.infra.history.column_changes) and the cards'
cached number filter."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.audit import _read_compliance
from pipeline.config import WorkPaths
from pipeline.document_records import RECORDS_BATCH, TableRecords
from pipeline.infra.history import column_changes
from pipeline.report_format import fmt_number
from pipeline.report_tables import _indented, audit_json_chunks


def _findings(count: int) -> pa.Table:
    return pa.table(
        {
            "source_file": [f"DSLD.zip!DSLD/{i}.json" for i in range(count)],
            "product_id": [f"p{i}" if i % 5 else None for i in range(count)],
            "detail": [f'line {i}: "quoted" \u00b5g' for i in range(count)],
        }
    )


def test_records_read_as_the_list_they_stand_for() -> None:
    records = TableRecords(_findings(3))
    assert len(records) == 3
    assert records[1] == {
        "source_file": "DSLD.zip!DSLD/1.json",
        "product_id": "p1",
        "detail": 'line 1: "quoted" \u00b5g',
    }
    assert records[-3]["product_id"] is None
    assert [r["product_id"] for r in records[1:]] == ["p1", "p2"]
    assert records == _findings(3).to_pylist()
    assert bool(TableRecords(_findings(0))) is False


def test_audit_json_writes_the_records_as_the_list_would_be_written() -> None:
    count = 2 * RECORDS_BATCH + 3  # three batches
    table = _findings(count)
    as_list = {"summary": {"products": 1}, "compliance": table.to_pylist(), "data_docs": None}
    as_table = {**as_list, "compliance": TableRecords(table)}
    text = "".join(audit_json_chunks(as_table))
    assert text == "".join(audit_json_chunks(as_list))
    assert json.loads(text)["compliance"][RECORDS_BATCH] == {
        "source_file": f"DSLD.zip!DSLD/{RECORDS_BATCH}.json",
        "product_id": f"p{RECORDS_BATCH}",
        "detail": f'line {RECORDS_BATCH}: "quoted" \u00b5g',
    }
    assert _indented(TableRecords(table)[:1], "  ") == (
        "[\n"
        "    {\n"
        '      "source_file": "DSLD.zip!DSLD/0.json",\n'
        '      "product_id": null,\n'
        '      "detail": "line 0: \\"quoted\\" \u00b5g"\n'
        "    }\n"
        "  ]"
    )


def test_changes_from_columns_first_of_a_repeated_id_counts() -> None:
    before = {
        "product_id": ["a", "b", "b", None, "gone"],
        "source_file": ["a.json", "b.json", "b2.json", "x.json", "gone.json"],
        "product_name": ["A", "B", "B2", "X", "Gone"],
        "verdict": ["fails", "partial", "matches", "fails", "fails"],
    }
    after = {
        "product_id": ["b", "a", "new"],
        "source_file": ["b.json", "a.json", "new.json"],
        "product_name": ["B", "A", "New"],
        "verdict": ["partial", "matches", "fails"],
    }
    assert column_changes(before, after) == {
        "added": [{"product_id": "new", "source_file": "new.json", "product_name": "New"}],
        "removed": [{"product_id": "gone", "source_file": "gone.json", "product_name": "Gone"}],
        "verdict_changed": [
            {
                "product_id": "a",
                "source_file": "a.json",
                "product_name": "A",
                "from": "fails",
                "to": "matches",
            }
        ],
    }
    assert column_changes(None, after) == {"added": [], "removed": [], "verdict_changed": []}


def test_the_cached_number_filter_keeps_types_apart() -> None:
    assert [fmt_number(1), fmt_number(1.0), fmt_number(True), fmt_number(2.5)] == [
        "1",
        "1",
        "—",
        "2.5",
    ]
    assert [fmt_number(1 / 3), fmt_number(1 / 3, 3), fmt_number(float("nan"))] == [
        "0.33",
        "0.333",
        "—",
    ]
    assert fmt_number("12 mg") == "12 mg"


def test_scalar_columns_and_their_records_written_as_the_list_would_be() -> None:
    table = pa.table(
        {
            "line": pa.array([1, None, 3], pa.int64()),
            "ok": [True, None, False],
            "share": [0.5, None, 1e16],
            "none": pa.nulls(3),
            "text": ["é", "a\nb", None],
        }
    )
    records = TableRecords(table)
    assert records.scalar_columns()
    as_list = {"compliance": table.to_pylist()}
    text = "".join(audit_json_chunks({"compliance": records}))
    assert text == "".join(audit_json_chunks(as_list))
    assert '"share": 1e+16,\n      "none": null,' in text
    assert not TableRecords(pa.table({"rows": [[1], [2]]})).scalar_columns()
    assert not TableRecords(pa.table({})).scalar_columns()
    nested = {"compliance": TableRecords(pa.table({"a": [1], "rows": [[1, 2]]}))}
    assert "".join(audit_json_chunks(nested)) == "".join(
        audit_json_chunks({"compliance": [{"a": 1, "rows": [1, 2]}]})
    )


def test_compliance_read_dictionary_encoded_is_written_as_the_plain_table(tmp_path: Path) -> None:
    work = WorkPaths(tmp_path)
    count = RECORDS_BATCH + 5
    plain = pa.table(
        {
            "source_file": [f"DSLD.zip!DSLD/{i // 4}.json" for i in range(count)],
            "product_id": [f"p{i // 4}" if i % 5 else None for i in range(count)],
            "detail": [f'"quoted" \u00b5g rule {i % 3}' for i in range(count)],
            "line_no": pa.array([i % 7 or None for i in range(count)], pa.int64()),
        }
    )
    # text as large_string, as pandas writes it (the stage's frame: str columns, Int64)
    large = pa.schema(
        [f.with_type(pa.large_string()) if f.name != "line_no" else f for f in plain.schema]
    )
    pq.write_table(plain.cast(large), work.compliance)
    read = _read_compliance(work)
    assert read is not None
    assert [pa.types.is_dictionary(t) for t in read.schema.types] == [True] * 3 + [False]
    assert read.nbytes < plain.nbytes
    records = TableRecords(read)
    assert records.scalar_columns()
    assert records == plain.to_pylist()
    text = "".join(audit_json_chunks({"compliance": records}))
    assert text == "".join(audit_json_chunks({"compliance": plain.to_pylist()}))
    assert _read_compliance(WorkPaths(tmp_path / "none")) is None
