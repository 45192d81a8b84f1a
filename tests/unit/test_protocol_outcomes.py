"""pipeline.validate._outcomes: the protocol outcomes read from the suite's results."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

from pipeline.rules.protocol import CHECKS
from pipeline.validate import OUTCOME_COLUMNS, _kept_outcomes, _outcomes


def _result(check: str, kind: str, column: str, unexpected: list[str]) -> Any:
    """An expectation result as GX gives it, with what _outcomes reads of it only."""
    config = SimpleNamespace(
        meta={"check": check}, type=f"expect_column_values_to_{kind}", kwargs={"column": column}
    )
    return SimpleNamespace(expectation_config=config, result={"unexpected_index_list": unexpected})


def test_outcomes_per_product_and_check() -> None:
    table = pd.DataFrame(
        {
            "product_id": ["a", "b", "c", "d"],
            "x": [1.0, None, 2.0, None],
            "y": [None, None, None, 5.0],
        }
    )
    results = [
        _result("k2_present", "not_be_null", "x", ["b", "d"]),
        _result("k2_ratio", "be_between", "x", ["c"]),
        _result("vitamin_d", "be_between", "x", []),
        _result("vitamin_d", "be_between", "y", ["d"]),
    ]
    outcomes = _outcomes(table, results)
    assert list(outcomes.columns) == OUTCOME_COLUMNS
    assert outcomes["passed"].dtype == object
    expected = {
        "k2_present": [True, False, True, False],
        "k2_ratio": [True, None, False, None],
        "vitamin_d": [True, None, True, False],
    }
    rows = [
        (pid, check, expected.get(check, [None] * 4)[n])
        for n, pid in enumerate("abcd")
        for check in CHECKS
    ]
    got = list(outcomes.itertuples(index=False, name=None))
    assert got == rows
    assert [type(p) for *_, p in got] == [type(p) for *_, p in rows]


def test_outcomes_by_product_id() -> None:
    """A product named twice gets the same outcome on both rows (GX names rows by id)."""
    table = pd.DataFrame({"product_id": ["a", "a"], "x": [1.0, None]})
    outcomes = _outcomes(table, [_result("k2_ratio", "be_between", "x", ["a"])])
    ratio = outcomes[outcomes["check"] == "k2_ratio"]
    assert ratio["passed"].tolist() == [False, False]
    outcomes = _outcomes(table, [_result("k2_ratio", "be_between", "x", [])])
    assert outcomes.loc[outcomes["check"] == "k2_ratio", "passed"].tolist() == [True, True]


def test_outcomes_of_no_products() -> None:
    outcomes = _outcomes(pd.DataFrame({"product_id": [], "x": []}), [])
    assert outcomes.empty
    assert list(outcomes.columns) == OUTCOME_COLUMNS


def test_kept_outcomes_are_those_of_the_reused_products(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.parquet"
    pd.DataFrame(
        {
            "product_id": ["a", "a", "b", "c", "c"],
            "check": ["k2_present", "k2_ratio", "k2_present", "k2_present", "k2_ratio"],
            "passed": [True, None, False, True, False],
        }
    ).to_parquet(path)
    kept = _kept_outcomes(path, pa.array(["a", "c", "z"]))
    assert kept.to_pydict() == {
        "product_id": ["a", "a", "c", "c"],
        "check": ["k2_present", "k2_ratio", "k2_present", "k2_ratio"],
        "passed": [True, None, True, False],
    }
    assert pa.types.is_dictionary(kept.schema.field("product_id").type)  # as read
    assert _kept_outcomes(path, pa.array([], pa.string())).num_rows == 0
