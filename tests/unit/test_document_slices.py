"""The audit document's products sorted into rank order on disk a slice at a time
(pipeline.document_slices): the same documents, marks and labels as those built from the
tables in memory (pipeline.document.product_docs), whatever the slice size."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.document import ProductDocs
from pipeline.document_slices import sliced_product_docs
from pipeline.protocol import CHECKS
from tests.unit.test_document import _checks, _docs, _products, _ranking, _rows


def _sliced(folder: Path, size: int) -> ProductDocs:
    pq.write_table(pa.Table.from_pandas(_products()), folder / "products.parquet")
    pq.write_table(pa.Table.from_pandas(_checks()), folder / "checks.parquet")
    # line and page numbers as a pandas frame writes them when one is missing: floats
    rows = _rows()
    for name in ("line_no", "page"):
        at = rows.schema.get_field_index(name)
        rows = rows.set_column(at, name, rows.column(name).cast(pa.float64()))
    pq.write_table(rows, folder / "nutrients.parquet")
    return sliced_product_docs(
        _ranking(),
        folder / "products.parquet",
        folder / "checks.parquet",
        folder / "nutrients.parquet",
        folder,
        size,
    )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 2048])
def test_the_sliced_documents_are_those_built_in_memory(tmp_path: Path, size: int) -> None:
    expected = _docs()
    docs = _sliced(tmp_path, size)
    assert len(docs) == 5
    assert list(docs) == list(expected)
    assert [d["product_id"] for d in docs] == ["p-e", "p-c", "p-a", "p-d", "p-b"]
    assert [r["name_raw"] for r in docs[1]["label_rows"]] == ["p-c line 1", "p-c line 2"]
    assert type(docs[1]["label_rows"][0]["line_no"]) is int
    assert docs[4]["label_rows"] == []
    assert [c["name"] for c in docs[0]["checks"]] == list(CHECKS)
    assert list(docs.without_label_rows()) == list(expected.without_label_rows())
    assert docs.batch(1, 4) == expected.batch(1, 4)
    for i in [3, 0, 4, 1, 2, -2]:
        assert docs[i] == expected[i]
    names = list(CHECKS)
    assert docs.check_marks(names) == expected.check_marks(names)
    assert docs.check_marks(names)[4] == "0000-000"  # p-b: all failed, vitamin_d not assessed
    assert docs.check_labels() == CHECKS
    assert docs.column("product_id") == expected.column("product_id")
    assert docs.fields(["rank", "score", "verdict"]) == expected.fields(
        ["rank", "score", "verdict"]
    )


def test_the_slices_folder_is_removed_on_close(tmp_path: Path) -> None:
    docs = _sliced(tmp_path, 2)
    folders = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and folders[0].startswith(".report-slices-")
    assert sorted(p.name for p in (tmp_path / folders[0]).iterdir()) == [
        f"{kind}-{index:05d}.arrow"
        for kind in ("checks", "products", "rows")
        for index in range(3)
        if not (kind == "rows" and index == 2)  # p-b, the last, has no label rows
    ]
    docs.close()
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []


def test_no_products(tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(_products().iloc[:0]), tmp_path / "products.parquet")
    pq.write_table(pa.Table.from_pandas(_checks().iloc[:0]), tmp_path / "checks.parquet")
    pq.write_table(_rows(), tmp_path / "nutrients.parquet")
    empty = sliced_product_docs(
        _ranking().iloc[:0],
        tmp_path / "products.parquet",
        tmp_path / "checks.parquet",
        tmp_path / "nutrients.parquet",
        tmp_path,
        2,
    )
    assert len(empty) == 0
    assert list(empty) == []
    assert empty.check_labels() == {}
    assert empty.check_marks(list(CHECKS)) == []
