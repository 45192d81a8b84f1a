"""pipeline.compliance.column_records / records_of: a frame's rows as dicts, the values
`DataFrame.to_dict("records")` gives (Python's own scalars), built from column lists."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.compliance import column_records, records_of

#: The first row of `_frame`, as dicts of it give it (no value missing).
FIRST_ROW = {"source_file": "a.json", "line_no": 3, "blocking": True, "amount": 0.5, "count": 1}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_file": ["a.json", None, "c.json"],
            "line_no": pd.array([3, None, 12], dtype="Int64"),
            "blocking": [True, False, True],
            "amount": [0.5, float("nan"), 800.0],
            "count": [1, 2, 3],
        }
    )


def test_column_records_are_to_dicts_records() -> None:
    frame = _frame()
    got = column_records(frame)
    want = frame.to_dict("records")
    assert [list(r) for r in got] == [["source_file", "line_no", "blocking", "amount", "count"]] * 3
    assert got[0] == FIRST_ROW
    assert (
        got[2]
        == want[2]
        == {
            "source_file": "c.json",
            "line_no": 12,
            "blocking": True,
            "amount": 800.0,
            "count": 3,
        }
    )
    for mine, theirs in zip(got, want, strict=True):
        assert [type(v) for v in mine.values()] == [type(v) for v in theirs.values()]
    assert type(got[0]["count"]) is int and type(got[0]["amount"]) is float
    assert math.isnan(got[1]["amount"]) and math.isnan(got[1]["source_file"])
    assert got[1]["line_no"] is None  # (an Int64 column's NA, as to_dict gives it)


def test_records_of_has_none_where_a_value_is_missing() -> None:
    got = records_of(_frame())
    assert got[1] == {
        "source_file": None,
        "line_no": None,
        "blocking": False,
        "amount": None,
        "count": 2,
    }
    assert got[0] == FIRST_ROW
    assert type(got[0]["line_no"]) is int


def test_a_frame_without_columns_gives_one_empty_dict_a_row() -> None:
    frame = pd.DataFrame(index=range(2))
    assert column_records(frame) == frame.to_dict("records") == [{}, {}]
