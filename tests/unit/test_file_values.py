"""pipeline.records.FileValues: a reading as its records' field values (what a worker hands
back), the tables made of them, and the cache entries written and read as values."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from pipeline.infra.cache import (
    ExtractionCache,
    extraction_bytes,
    values_bytes,
    values_from_json,
    values_to_json,
)
from pipeline.records import (
    FileExtraction,
    FileValues,
    Label,
    LabelRow,
    ReadIssue,
    Rejection,
    extraction_values,
    records_to_table,
    rejected_values,
    values_extraction,
    values_of,
    values_to_table,
)

ROW = LabelRow("a.json", 0, 1, "Calcium", "500", "mg", dv_raw="38%", raw_text="Calcium 500 mg")
READING = FileExtraction(
    "a.json",
    labels=(Label("a.json", 0, "Cal", max_daily_servings=2.0),),
    rows=(ROW, LabelRow("a.json", 0, 2, "Zinc", None, None, parent="Blend")),
    issues=(ReadIssue("a.json", 0, None, 2, "ingredient row 2 has no name"),),
)
ROW_VALUES = (
    ("a.json", 0, 1, "Calcium", "500", "mg", "38%", None, None, None, None, None, None)
    + ("Calcium 500 mg",)
    + (None,) * 13
)


def test_values_of_is_the_field_values_in_field_order() -> None:
    assert values_of(LabelRow)(ROW) == ROW_VALUES
    assert values_of(Rejection)(Rejection("b.json", "why")) == ("b.json", "why")
    assert values_of(ReadIssue)(READING.issues[0]) == (
        "a.json",
        0,
        None,
        2,
        "ingredient row 2 has no name",
        False,
    )


def test_extraction_values_and_back() -> None:
    values = extraction_values(READING)
    assert values.source_file == "a.json"
    assert values.labels == (
        ("a.json", 0, "Cal", None, None, None, 2.0, "", "", "", "", None, None, None, ""),
    )
    assert values.rows[0] == ROW_VALUES
    assert values.rows[1][:9] == ("a.json", 0, 2, "Zinc", None, None, None, None, "Blend")
    assert values.rejection is None
    back = values_extraction(values)
    assert back == READING
    assert list(vars(back.rows[0]).items()) == list(vars(ROW).items())
    assert pickle.loads(pickle.dumps(values)) == values


def test_rejected_values() -> None:
    values = rejected_values("b.json", "not valid JSON")
    assert values == FileValues("b.json", (), (), (), ("b.json", "not valid JSON"))
    assert values_extraction(values) == FileExtraction(
        "b.json", rejection=Rejection("b.json", "not valid JSON")
    )


def test_a_value_tuple_of_another_length_is_no_record() -> None:
    values = extraction_values(READING)
    with pytest.raises(ValueError):
        values_extraction(values._replace(rows=(ROW_VALUES[:-1],)))


def test_values_to_table_is_records_to_table() -> None:
    values = extraction_values(READING)
    for kind, records, rows in [
        (LabelRow, READING.rows, values.rows),
        (Label, READING.labels, values.labels),
        (ReadIssue, READING.issues, values.issues),
        (Rejection, (), ()),
    ]:
        table = values_to_table(list(rows), kind)
        assert table.equals(records_to_table(list(records), kind), check_metadata=True)
    table = values_to_table(list(values.rows), LabelRow)
    assert table.column("name_raw").to_pylist() == ["Calcium", "Zinc"]
    assert table.column("parent").to_pylist() == [None, "Blend"]
    assert table.column("bbox_x0").type == "double"  # all None: its field's type
    assert values_to_table([("b.json", "why")], Rejection).to_pylist() == [
        {"source_file": "b.json", "reason": "why"}
    ]


def test_values_bytes_is_the_entry_of_the_extraction() -> None:
    values = extraction_values(READING)
    assert values_bytes(values) == extraction_bytes(READING)
    assert list(values_to_json(values)) == ["source_file", "labels", "rows", "issues", "rejection"]
    rejected = FileExtraction("b.json", rejection=Rejection("b.json", "x"))
    assert values_bytes(extraction_values(rejected)) == extraction_bytes(rejected)
    assert values_from_json(json.loads(values_bytes(values))) == values


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["rows"][0].pop(),
        lambda d: d["rows"].append({"source_file": "a.json"}),
        lambda d: d.update(issues="none"),
        lambda d: d.update(rejection=["b.json"]),
        lambda d: d.update(source_file=3),
        lambda d: d.pop("labels"),
    ],
)
def test_values_from_json_of_another_shape(damage: object) -> None:
    data = json.loads(values_bytes(extraction_values(READING)))
    damage(data)  # type: ignore[operator]
    with pytest.raises((ValueError, TypeError)):
        values_from_json(data)


def test_the_cache_stores_and_gives_values(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "cache", "v1")
    keys = [c * 64 for c in "abc"]
    values = extraction_values(READING)
    assert cache.put_values(keys[0], values) is None
    assert cache.get_values(keys[0]) == values
    assert cache.get(keys[0]) == READING
    rejected = rejected_values("b.json", "why")
    assert cache.put_many_values([(keys[1], values), (keys[2], rejected)]) is None
    assert len(list(cache.entries_dir.glob("*.pack"))) == 1
    again = ExtractionCache(tmp_path / "cache", "v1")
    assert again.get_values(keys[1]) == values and again.get_values(keys[2]) == rejected
    assert again.get_values("d" * 64) is None
    assert (again.hits, again.misses, cache.writes) == (2, 1, 3)
    assert cache.put_many_values([]) is None
