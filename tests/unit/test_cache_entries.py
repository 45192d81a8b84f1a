"""pipeline.infra.cache: an entry's records as lists of their field values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.infra.cache import (
    ExtractionCache,
    extraction_bytes,
    extraction_from_json,
    extraction_to_json,
)
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue, Rejection

ROW = LabelRow("a.json", 0, 1, "Calcium", "500", "mg", raw_text="Calcium 500 mg")
READING = FileExtraction(
    "a.json",
    labels=(Label("a.json", 0, "Cal", max_daily_servings=2.0),),
    rows=(ROW,),
    issues=(ReadIssue("a.json", 0, None, 2, "ingredient row 2 has no name"),),
)


def test_records_are_their_field_values_in_field_order() -> None:
    data = json.loads(extraction_bytes(READING))
    assert data == json.loads(json.dumps(extraction_to_json(READING)))
    assert list(data) == ["source_file", "labels", "rows", "issues", "rejection"]
    assert data["issues"] == [["a.json", 0, None, 2, "ingredient row 2 has no name", False]]
    assert data["rows"][0][:7] == ["a.json", 0, 1, "Calcium", "500", "mg", None]
    assert data["rows"][0][13] == "Calcium 500 mg" and len(data["rows"][0]) == 27
    assert data["labels"][0][:7] == ["a.json", 0, "Cal", None, None, None, 2.0]
    assert data["rejection"] is None


def test_read_back_is_the_reading() -> None:
    back = extraction_from_json(json.loads(extraction_bytes(READING)))
    assert back == READING
    assert list(vars(back.rows[0]).items()) == list(vars(ROW).items())
    rejected = FileExtraction("b.json", rejection=Rejection("b.json", "not valid JSON"))
    data = json.loads(extraction_bytes(rejected))
    assert data["rejection"] == ["b.json", "not valid JSON"]
    assert extraction_from_json(data) == rejected


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["rows"][0].pop(),  # a value short
        lambda d: d["rows"].append({"source_file": "a.json"}),  # not a list of values
        lambda d: d.update(issues="none"),
        lambda d: d.update(rejection=["b.json"]),
        lambda d: d.pop("labels"),
    ],
)
def test_an_entry_of_another_shape_is_not_read(damage: object) -> None:
    data = json.loads(extraction_bytes(READING))
    damage(data)  # type: ignore[operator]
    with pytest.raises((ValueError, TypeError)):
        extraction_from_json(data)


def test_an_entry_path_is_of_a_key_only(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "cache", "v1")
    key = "0123456789abcdef" * 4
    assert cache._entry_path(key) == tmp_path / "cache" / "extract-vv1" / f"{key}.json"
    for bad in ["", "ABCD", "ab\n", "ab/../cd", "a b", "g"]:
        with pytest.raises(ValueError, match="not a cache key"):
            cache._entry_path(bad)
    assert not cache.verify(key) and cache.get(key) is None
