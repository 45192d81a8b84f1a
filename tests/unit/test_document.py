"""The audit document's products (pipeline.document.ProductDocs): built in rank order from
Arrow tables, a batch at a time, the same whatever the batch size."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from pipeline import document
from pipeline.document import EXTRA_FIELDS, PRODUCT_FIELDS, ROW_FIELDS, product_docs
from pipeline.evidence import row_keys
from pipeline.protocol import CHECKS

IDS = ["p-a", "p-b", "p-c", "p-d", "p-e"]


def _products() -> pd.DataFrame:
    rows = []
    for i, pid in enumerate(IDS):
        row: dict[str, Any] = {f: None for f in PRODUCT_FIELDS + EXTRA_FIELDS}
        row.update(
            product_id=pid,
            source_file=f"{pid}.pdf",
            product_name=f"Product {pid[-1].upper()}",
            calcium_mg=500.0 if i % 2 == 0 else float("nan"),
            servings_per_day=2.0,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _ranking() -> pd.DataFrame:
    """Rank order e, c, a, d, b; d has no score (NaN)."""
    order = ["p-e", "p-c", "p-a", "p-d", "p-b"]
    return pd.DataFrame(
        {
            "product_id": order,
            "score": [90.0, 70.5, 40.0, float("nan"), 10.0],
            "verdict": ["matches", "partial", "fails", "not_assessable", "fails"],
            "verdict_reason": ["r-e", "r-c", "r-a", "r-d", "r-b"],
            "rank": [1, 2, 3, 4, 5],
        }
    )


def _checks() -> pd.DataFrame:
    """Every product's checks, written in reverse CHECKS order and product order a..e."""
    records = [
        {
            "product_id": pid,
            "check": check,
            "label": CHECKS[check],
            "passed": None if check == "vitamin_d" else pid != "p-b",
            "credit": 1.0,
            "weight": 10,
            "points": 10.0,
            "detail": f"{pid} {check}",
        }
        for pid in IDS
        for check in reversed(list(CHECKS))
    ]
    return pd.DataFrame(records)


def _rows() -> pa.Table:
    """Label rows out of order; p-b has none; one row of a product not in the ranking."""
    spec = [("p-c", 2), ("p-a", 1), ("p-c", 1), ("zz-gone", 1), ("p-e", 3), ("p-a", 2)]
    data: dict[str, list[Any]] = {"product_id": [pid for pid, _ in spec]}
    for name in ROW_FIELDS:
        data[name] = [None] * len(spec)
    data["line_no"] = [line for _, line in spec]
    data["page"] = [1] * len(spec)
    data["name_raw"] = [f"{pid} line {line}" for pid, line in spec]
    types = {"line_no": pa.int64(), "page": pa.int64(), "amount_normalized": pa.float64()}
    return pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in data.items()})


def _docs() -> document.ProductDocs:
    return product_docs(
        pa.Table.from_pandas(_products()),
        _ranking(),
        pa.Table.from_pandas(_checks()),
        _rows(),
    )


def test_products_come_in_rank_order_with_their_own_checks_and_rows() -> None:
    docs = list(_docs())
    assert [d["product_id"] for d in docs] == ["p-e", "p-c", "p-a", "p-d", "p-b"]
    assert [d["rank"] for d in docs] == [1, 2, 3, 4, 5]
    first = docs[0]
    assert list(first) == [
        "rank",
        *PRODUCT_FIELDS,
        "score",
        "verdict",
        "verdict_reason",
        "checks",
        *EXTRA_FIELDS,
        "label_rows",
        "corrections",
    ]
    assert [c["name"] for c in first["checks"]] == list(CHECKS)
    assert first["checks"][0] == {
        "name": "k2_present",
        "label": CHECKS["k2_present"],
        "passed": True,
        "credit": 1.0,
        "weight": 10,
        "points": 10.0,
        "detail": "p-e k2_present",
    }
    assert [c["passed"] for c in docs[4]["checks"]][:2] == [False, False]
    assert {c["passed"] for c in docs[4]["checks"] if c["name"] == "vitamin_d"} == {None}
    assert [r["name_raw"] for r in docs[1]["label_rows"]] == ["p-c line 1", "p-c line 2"]
    assert [r["name_raw"] for r in docs[2]["label_rows"]] == ["p-a line 1", "p-a line 2"]
    assert [r["name_raw"] for r in docs[0]["label_rows"]] == ["p-e line 3"]
    assert docs[4]["label_rows"] == []  # p-b has no rows
    assert docs[1]["label_rows"][0]["page"] == 1
    assert list(docs[1]["label_rows"][0]) == row_keys(ROW_FIELDS)


def test_missing_numbers_are_none_and_numbers_are_python_numbers() -> None:
    docs = list(_docs())
    by_id = {d["product_id"]: d for d in docs}
    assert by_id["p-d"]["score"] is None
    assert by_id["p-b"]["calcium_mg"] is None
    assert by_id["p-a"]["calcium_mg"] == 500.0
    assert type(by_id["p-a"]["calcium_mg"]) is float
    assert type(by_id["p-a"]["rank"]) is int
    assert by_id["p-a"]["brand"] is None


@pytest.mark.parametrize("batch", [1, 2, 3, 256])
def test_the_batch_size_changes_nothing(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = list(_docs())
    monkeypatch.setattr(document, "BATCH_PRODUCTS", batch)
    assert list(_docs()) == expected
    assert _docs() == expected


def test_indexing_slicing_and_length() -> None:
    docs = _docs()
    everything = list(docs)
    assert len(docs) == 5
    assert docs[0] == everything[0]
    assert docs[-1] == everything[4]
    assert docs[1:4] == everything[1:4]
    assert docs[::2] == everything[::2]
    with pytest.raises(IndexError):
        docs[5]
    with pytest.raises(IndexError):
        docs[-6]


@pytest.mark.parametrize("window", [1, 2, 16])
def test_indexing_in_any_order_gives_the_products(
    window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(document, "GETITEM_PRODUCTS", window)
    docs = _docs()
    everything = list(docs)
    for i in [3, 0, 4, 4, 1, 2, -2, 0]:
        assert docs[i] == everything[i]


def test_reading_without_label_rows_fields_and_check_labels() -> None:
    docs = _docs()
    light = list(docs.without_label_rows())
    assert all("label_rows" not in d for d in light)
    assert [
        {k: v for k, v in d.items() if k not in ("label_rows", "corrections")} for d in docs
    ] == light
    assert docs.column("product_id") == ["p-e", "p-c", "p-a", "p-d", "p-b"]
    assert docs.fields(["product_id", "verdict"])[3] == {
        "product_id": "p-d",
        "verdict": "not_assessable",
    }
    assert docs.check_labels() == CHECKS


def test_no_products() -> None:
    empty = product_docs(
        pa.Table.from_pandas(_products().iloc[:0]),
        _ranking().iloc[:0],
        pa.Table.from_pandas(_checks().iloc[:0]),
        _rows(),
    )
    assert len(empty) == 0
    assert list(empty) == []
    assert empty.check_labels() == {}


def test_check_labels_and_marks_are_read_once_and_handed_out_as_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = _docs()
    names = list(CHECKS)
    labels, marks = docs.check_labels(), docs.check_marks(names)
    reads: list[int] = []
    parts = type(docs._source).check_parts
    monkeypatch.setattr(
        type(docs._source), "check_parts", lambda self: reads.append(1) or parts(self)
    )
    light = docs.without_label_rows()
    assert light.check_labels() == labels == docs.check_labels() == CHECKS
    assert light.check_marks(names) == marks == docs.check_marks(names)
    assert reads == []  # the first reads' results, not read again
    labels.clear()
    marks.clear()
    assert docs.check_labels() == CHECKS and len(docs.check_marks(names)) == len(IDS)
    assert docs.check_marks(names[:2]) == [m[:2] for m in docs.check_marks(names)]
    assert reads == [1]  # other names: read for them
