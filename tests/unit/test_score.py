"""pipeline.score's frames: made column by column, typed as from one dict a row."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pipeline.score import columns_frame

COLUMNS: list[tuple[str, list[Any]]] = [
    ("text", ["a", None, "c"]),
    ("nothing", [None, None, None]),
    ("passed", [True, None, False]),
    ("flags", [True, False, True]),
    ("ints", [1, 2, 3]),
    ("numbers", [1, 2.5, float("nan")]),
    ("mixed", ["a", 1, None]),
]


@pytest.mark.parametrize("count", [1, 3])
def test_columns_are_typed_as_the_rows_would_be(count: int) -> None:
    names = [name for name, _ in COLUMNS]
    columns = {name: values[:count] for name, values in COLUMNS}
    rows = [{name: columns[name][n] for name in names} for n in range(count)]
    made, expected = columns_frame(columns, names), pd.DataFrame(rows, columns=names)
    assert made.equals(expected)
    assert list(made.dtypes) == list(expected.dtypes)
    assert made["ints"].tolist() == [1, 2, 3][:count]


def test_no_rows_gives_empty_object_columns() -> None:
    made = columns_frame({"a": [], "b": []}, ["a", "b"])
    assert made.equals(pd.DataFrame([], columns=["a", "b"]))
    assert list(made.columns) == ["a", "b"] and len(made) == 0
