"""pipeline.sources.dsld_json.dsld_json_values: a DSLD label read as field values (what a
worker hands back), the same reading as dsld_json_from_bytes's records; and the registry's
and the extract stage's values path (read_input_values, read_values_once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import BadTable
from pipeline.extract import read_label_values, read_values_once
from pipeline.records import Label, LabelRow, ReadIssue, defaults_after, extraction_values
from pipeline.sources.dsld_json import (
    _number,
    _raw_text,
    dsld_json_from_bytes,
    dsld_json_values,
)
from pipeline.sources.inputs import FileTask
from pipeline.sources.registry import read_input, read_input_values
from tests.builders import DATA

NESTED = DATA / "json" / "nested_blend.json"
TAIL = (None,) * 13  # a LabelRow's fields after raw_text: all None
NO_ALT = (None, None, None, None)  # amount_alt_raw, unit_alt_raw, alt_amounts_raw, page
LABEL_TAIL = (None, None, None, "")  # pages, amount_columns, ocr_confidence, footnotes
CALCIUM = "Calcium (citrate) 500 mg 38.5%"
BORON = "Boron <1 mg *"

DOC = {
    "fullName": " Cal ",
    "brandName": "",
    "id": 7,
    "servingSizes": [{"minQuantity": 1, "maxQuantity": 2.0, "unit": "Tablet(s)"}],
    "ingredientRows": [
        {
            "name": "Calcium",
            "forms": [{"name": "Unspecified"}, {"name": "citrate"}],
            "quantity": [
                {
                    "quantity": 500.0,
                    "unit": "mg",
                    "operator": " = ",
                    "dailyValueTargetGroup": [
                        {"name": "Children", "percent": 10},
                        {"name": "Adults and children 4 or more years of age", "percent": 38.5},
                    ],
                }
            ],
            "nestedRows": [
                {"name": " ", "quantity": [{"quantity": 0, "unit": "NP"}]},
                {
                    "name": "Boron",
                    "quantity": [
                        "x",
                        {
                            "quantity": "1",
                            "unit": "mg",
                            "operator": "<",
                            "dailyValueTargetGroup": [{"footnote": "Not established"}],
                        },
                    ],
                },
            ],
        }
    ],
}


def test_defaults_after() -> None:
    assert defaults_after(
        ReadIssue, ("source_file", "label_index", "page", "line_no", "detail")
    ) == (False,)
    assert defaults_after(Label, [f for f in Label.__dataclass_fields__][:11]) == (
        None,
        None,
        None,
        "",
    )
    with pytest.raises(TypeError, match="first fields"):
        defaults_after(LabelRow, ("label_index",))
    with pytest.raises(TypeError, match="has no default"):
        defaults_after(LabelRow, ("source_file",))


def test_number_is_format_number() -> None:
    assert [_number(v) for v in (800.0, 0.5, 3, True, " 2 ", -0.0, 1e20)] == [
        "800",
        "0.5",
        "3",
        "True",
        "2",
        "0",
        "100000000000000000000",
    ]


def test_raw_text_of_the_parts_there() -> None:
    assert _raw_text("Calcium", "citrate", "500", "mg", "38%") == "Calcium (citrate) 500 mg 38%"
    assert _raw_text("Zinc", None, None, "NP", None) == "Zinc NP"
    assert _raw_text("", None, "5", None, "*") == "5 *"
    assert _raw_text("", None, None, None, "*") == "*"
    assert _raw_text("", None, None, None, None) == ""


def test_the_values_of_a_label() -> None:
    values = dsld_json_values(json.dumps(DOC).encode(), "a.json", "a.json")
    assert values.labels == (
        (
            "a.json",
            0,
            "Cal",
            None,
            "1-2 Tablet(s)",
            None,
            None,
            "",
            "",
            "",
            "dsld-json",
            *LABEL_TAIL,
        ),
    )
    assert values.rows == (
        ("a.json", 0, 1, "Calcium", "500", "mg", "38.5%", "citrate", None, *NO_ALT, CALCIUM, *TAIL),
        ("a.json", 0, 2, "", None, "NP", None, None, "Calcium", *NO_ALT, "NP", *TAIL),
        ("a.json", 0, 3, "Boron", "<1", "mg", "*", None, "Calcium", *NO_ALT, BORON, *TAIL),
    )
    assert values.issues == (("a.json", 0, None, 2, "ingredient row 2 has no name", False),)
    assert values.rejection is None


def test_the_values_are_the_records_values() -> None:
    for doc in (DOC, [DOC, {**DOC, "ingredientRows": []}]):
        data = json.dumps(doc).encode()
        values = dsld_json_values(data, "a.json", "a.json")
        assert values == extraction_values(dsld_json_from_bytes(data, "a.json", "a.json"))
    data = NESTED.read_bytes()
    assert read_input_values(data, "n.json", "n.json") == extraction_values(
        read_input(data, "n.json", "n.json")
    )
    assert len(read_input_values(data, "n.json", "n.json").rows) == 6


def test_a_bad_row_is_the_same_error() -> None:
    data = json.dumps({**DOC, "ingredientRows": [3]}).encode()
    with pytest.raises(BadTable, match="an ingredient row is a number, not an object"):
        dsld_json_values(data, "a.json", "a.json")


def test_read_values_once(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(json.dumps(DOC).encode())
    (tmp_path / "b.json").write_bytes(b"[]")
    values, cacheable = read_values_once(FileTask(tmp_path / "a.json", "a.json"))
    assert cacheable and [r[3] for r in values.rows] == ["Calcium", "", "Boron"]
    assert values == read_label_values(tmp_path / "a.json", "a.json")
    rejected, cacheable = read_values_once(FileTask(tmp_path / "b.json", "b.json"))
    assert cacheable
    assert rejected.rejection == ("b.json", "not a DSLD label JSON: the array holds no labels")
