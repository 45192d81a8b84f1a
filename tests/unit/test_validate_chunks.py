"""The pieces that let the validate stage work a chunk at a time: work files read in
batches with the dtypes of a whole read, rows gathered per chunk, product keys from any
split of the tables, outcomes put back in order, and GX result files written piece by piece.
(tests/integration/test_validate_incremental.py checks the stage itself against one run.)"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from pipeline.infra import parquet_batches
from pipeline.infra.jsonstream import result_file_text
from pipeline.infra.memory import between_chunks
from pipeline.infra.parquet_batches import TableFile
from pipeline.protocol import CHECKS
from pipeline.validate import (
    OUTCOME_COLUMNS,
    compact_outcomes,
    ordered_outcomes,
    product_keys,
    write_outcomes,
)
from pipeline.validation_keys import ProductKeys, chunk_plan

#: Nutrient rows as a stage may write them (with pyarrow): integers and booleans with a
#: missing value in the last batch only (batches of 3 rows).
ROWS = pa.table(
    {
        "product_id": ["a", "a", "b", "c", "c", "c", "d", "e"],
        "line_no": pa.array([1, 2, 1, 1, 2, 3, 1, 1], pa.int64()),
        "page": pa.array([1, 1, 2, 1, 1, 1, 1, None], pa.int64()),
        "member": [False, True, False, False, False, False, None, True],
        "name_raw": ["Calcium", "K2", "D3", "Calcium", None, "Zinc", "Iron", "Boron"],
    }
)


@pytest.fixture
def rows_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TableFile:
    path = tmp_path / "nutrients.parquet"
    pq.write_table(ROWS, path)
    monkeypatch.setattr(parquet_batches, "READ_BATCH_ROWS", 3)
    return TableFile.open(path)


def test_batches_get_the_dtypes_of_the_whole_file(rows_file: TableFile) -> None:
    whole = pd.read_parquet(rows_file.path)
    assert whole["page"].dtype == "float64"
    assert whole["member"].dtype == "object"
    # Converted as they come, the first batch's pages would be integers, and its flags bools.
    first = next(pq.ParquetFile(rows_file.path).iter_batches(batch_size=3)).to_pandas()
    assert (first["page"].dtype, first["member"].dtype) == ("int64", "bool")

    frames = list(rows_file.frames())
    assert [len(frame) for frame in frames] == [3, 3, 2]
    for frame in frames:
        pd.testing.assert_series_equal(frame.dtypes, whole.dtypes)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)


def test_chunks_hold_their_products_rows_in_file_order(rows_file: TableFile) -> None:
    whole = pd.read_parquet(rows_file.path)
    # Chunk 0 is complete only once "d" is read, after chunk 1 ("c"); "zz" has no rows.
    ids, chunk_at = pa.array(["a", "d", "c", "zz"]), np.array([0, 0, 1, 2])
    chunks = list(rows_file.chunks(ids, chunk_at, [3, 3, 0]))
    assert len(chunks) == 3
    for chunk, ids in zip(chunks, (["a", "d"], ["c"], ["zz"]), strict=True):
        expected = whole[whole["product_id"].isin(ids)].reset_index(drop=True)
        pd.testing.assert_frame_equal(chunk, expected)
    assert chunks[0]["line_no"].tolist() == [1, 2, 1]
    assert chunks[2].empty
    assert list(rows_file.chunks(ids, chunk_at, [])) == []


def test_product_keys_do_not_depend_on_how_the_tables_come() -> None:
    products = pd.DataFrame({"product_id": ["a", "b", "c"], "calcium_mg": [500.0, None, 1.0]})
    nutrients = pd.DataFrame({"product_id": ["a", "b", "a"], "amount_raw": ["500", "1", "90"]})
    whole = product_keys([products], [nutrients], "salt")
    split = product_keys(
        [products.iloc[:1], products.iloc[1:]],
        [nutrients.iloc[:1], nutrients.iloc[1:2], nutrients.iloc[2:]],
        "salt",
    )
    assert split == whole
    assert whole.product_ids.to_pylist() == whole.ids.to_pylist() == ["a", "b", "c"]
    assert whole.label_rows.to_pylist() == [2, 1, 0]
    before = whole.key_of()
    assert [len(key) for key in before.values()] == [64, 64, 64]
    assert len(set(before.values())) == 3

    changed = nutrients.assign(amount_raw=["500", "1", "95"])  # one of a's rows
    again = product_keys([products], [changed], "salt")
    assert again.reused(before).tolist() == [False, True, True]
    swapped = nutrients.iloc[[2, 1, 0]]  # a's rows in another order
    assert product_keys([products], [swapped], "salt").reused(before).tolist() == [
        False,
        True,
        True,
    ]
    salted = product_keys([products], [nutrients], "other salt")
    assert salted.reused(before).tolist() == [False, False, False]
    assert whole.reused(before).tolist() == [True, True, True]
    assert whole.reused({}).tolist() == [False, False, False]
    assert whole.reused({"b": before["b"], "gone": "0" * 64}).tolist() == [False, True, False]


def test_a_product_of_two_rows_is_keyed_once_by_its_last_row() -> None:
    found = ProductKeys.of_rows(
        pa.array(["a", "b", "a", "c"]),
        pa.array(["ka1", "kb", "ka2", "kc"]),
        owners=pa.array(["c", "a"]),
        counts=pa.array([4, 2]),
    )
    assert found.ids.to_pylist() == ["a", "b", "c"]
    assert found.key_of() == {"a": "ka2", "b": "kb", "c": "kc"}
    assert found.label_rows.to_pylist() == [2, 0, 4]
    assert found.reused({"a": "ka1", "c": "kc"}).tolist() == [False, False, True]


def test_chunk_plan_puts_the_products_to_validate_size_to_a_chunk() -> None:
    found = ProductKeys.of_rows(
        pa.array(["a", "b", "a", "c", "d", "e"]),
        pa.array(["k"] * 6),
        owners=pa.array(["a", "d", "e"]),
        counts=pa.array([3, 5, 7]),
    )
    plan = chunk_plan(found, np.array([False, True, False, False, False]), size=2)
    assert plan.ids.to_pylist() == ["a", "c", "d", "e"]
    assert plan.chunk_at.tolist() == [0, 0, 1, 1]
    assert list(plan.product_rows) == [3, 2]  # a has two product rows
    assert list(plan.label_rows) == [3, 12]
    nothing = chunk_plan(found, np.ones(5, np.bool_), size=2)
    assert (nothing.ids.to_pylist(), list(nothing.product_rows)) == ([], [])
    assert list(nothing.label_rows) == []


def _written(outcomes: pa.Table, tmp_path: Path) -> pd.DataFrame:
    """`outcomes` as outcomes.parquet holds them, read back by pandas."""
    write_outcomes(tmp_path / "outcomes.parquet", outcomes)
    return pd.read_parquet(tmp_path / "outcomes.parquet")


def test_outcomes_are_put_back_in_product_and_check_order(tmp_path: Path) -> None:
    first, second = list(CHECKS)[:2]
    reused = pd.DataFrame(
        {"product_id": ["b", "b", "gone"], "check": [second, first, first], "passed": [1, 0, 1]},
    ).astype({"passed": "boolean"})
    new = pd.DataFrame(
        {"product_id": ["a", "a"], "check": [first, second], "passed": [None, True]},
        dtype=object,
    )
    ids = pa.array(["a", "b", "a"])  # a product of two rows is listed where it first is
    outcomes = ordered_outcomes(ids, [compact_outcomes(reused), compact_outcomes(new)])
    assert outcomes.to_pydict() == {
        "product_id": ["a", "a", "b", "b"],
        "check": [first, second, first, second],
        "passed": [None, True, False, True],
    }
    frame = _written(outcomes, tmp_path)
    assert frame.to_dict("list") == outcomes.to_pydict()
    assert [type(v) for v in frame["passed"]] == [type(None), bool, bool, bool]
    text = pd.Series(["a"]).dtype  # as a frame of the strings has them
    assert [frame[c].dtype for c in OUTCOME_COLUMNS] == [text, text, object]
    assert frame.index.equals(pd.RangeIndex(4))
    assert pq.read_schema(tmp_path / "outcomes.parquet").field("product_id").type == pa.string()
    assert ordered_outcomes(pa.array(["a"]), [compact_outcomes(new.iloc[:0])]).num_rows == 0
    nothing = _written(ordered_outcomes(pa.array(["a"]), []), tmp_path)
    assert list(nothing.columns) == OUTCOME_COLUMNS
    assert nothing.empty


def test_an_unknown_check_comes_first_and_a_product_of_no_id_is_left_out() -> None:
    first = next(iter(CHECKS))
    new = pd.DataFrame(
        {
            "product_id": ["a", "a", None, "a"],
            "check": [first, "retired_check", first, "other_retired"],
            "passed": [True, False, True, None],
        },
        dtype=object,
    )
    outcomes = ordered_outcomes(pa.array(["a"]), [compact_outcomes(new)])
    assert outcomes.to_pydict() == {
        "product_id": ["a", "a", "a"],
        "check": ["retired_check", "other_retired", first],  # unknown ones first, in order
        "passed": [False, None, True],
    }


def test_compact_outcomes_hold_the_text_dictionary_encoded(tmp_path: Path) -> None:
    first, second = list(CHECKS)[:2]
    new = pd.DataFrame(
        {"product_id": ["b", "b", "a", "a"], "check": [first, second] * 2},
    ).assign(passed=pd.Series([True, None, False, True], dtype=object))
    compact = compact_outcomes(new)
    assert [pa.types.is_dictionary(compact.schema.field(c).type) for c in OUTCOME_COLUMNS] == [
        True,
        True,
        False,
    ]
    assert compact.column("product_id").chunk(0).dictionary.to_pylist() == ["b", "a"]
    assert compact.column("passed").to_pylist() == [True, None, False, True]
    outcomes = ordered_outcomes(pa.array(["a", "b"]), [compact])
    assert _written(outcomes, tmp_path).to_dict("list") == {
        "product_id": ["a", "a", "b", "b"],
        "check": [first, second, first, second],
        "passed": [False, True, True, None],
    }
    empty = pd.DataFrame([], columns=OUTCOME_COLUMNS)
    assert ordered_outcomes(pa.array(["a", "b"]), [compact_outcomes(empty)]).num_rows == 0


def test_a_result_file_is_written_a_run_at_a_time() -> None:
    pulled: list[int] = []

    def runs() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for chunk, results in enumerate(([{"a": 1}, {"b": "é\n"}], []), start=1):
            pulled.append(chunk)
            yield {"chunk": chunk}, {"results": results, "success": chunk == 1}

    pieces = result_file_text({"chunks": 2}, runs())
    assert next(pieces) == '{\n  "labelaudit": {\n    "chunks": 2\n  },\n  "results": ['
    assert pulled == []  # nothing validated before the file's head is out
    assert json.loads('{\n  "labelaudit": {"chunks": 2},\n  "results": [' + "".join(pieces)) == {
        "labelaudit": {"chunks": 2},
        "results": [{"a": 1}, {"b": "é\n"}],
        "runs": [
            {"chunk": 1, "result_range": [0, 2], "success": True},
            {"chunk": 2, "result_range": [2, 2], "success": False},
        ],
    }
    assert json.loads("".join(result_file_text({}, iter([])))) == {
        "labelaudit": {},
        "results": [],
        "runs": [],
    }


def test_between_chunks_collections_skip_the_objects_alive_before() -> None:
    before = gc.get_freeze_count()
    with between_chunks() as collect:
        collect()
        frozen = gc.get_freeze_count()
        collect()
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == before
    assert frozen > 0 if before == 0 else frozen == before
