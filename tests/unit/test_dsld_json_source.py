"""pipeline.sources.dsld_json: DSLD label JSON (API v9), single labels and arrays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelgen.dsld_formats import expected_rows, to_dsld_api_json, write_dsld_json
from labelgen.products import SAMPLE_PRODUCTS, dsld_label, dsld_labels, sample_product
from pipeline.errors import BadTable, LabelError, NoPanel, UnreadableFile
from pipeline.records import Label
from pipeline.sources.dsld_json import read_dsld_json
from tests.builders import DATA, assert_rejected, cells, heading, row, rows_of

JSON_DATA = DATA / "json"


def test_hand_written_label_with_nested_rows() -> None:
    ex = read_dsld_json(JSON_DATA / "nested_blend.json", "json/nested_blend.json")
    assert ex.labels == (
        Label(
            source_file="json/nested_blend.json",
            label_index=0,
            product_name="Bone Blend Complex",
            brand="Test Brand",
            serving_size="1-2 Capsule(s)",
            servings_per_container="60",
            max_daily_servings=None,  # maxDailyServings 0
            directions="Take 1 capsule daily with a meal.",
            warnings=(
                "Consult your physician if you take warfarin. Keep out of reach of children."
            ),
            other_ingredients="Gelatin, Olive Oil",
            source_format="dsld-json",
        ),
    )
    assert [
        (r.line_no, r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw, r.form_raw, r.parent)
        for r in ex.rows
    ] == [
        (1, "Calcium", "500", "mg", "38%", "calcium citrate, calcium carbonate", None),
        (2, "Bone Support Blend", "150.5", "mg", "*", None, None),
        (3, "Vitamin K2", "0.1", "mg", "<1%", "menaquinone-7", "Bone Support Blend"),
        (4, "Natto Extract", None, "NP", None, None, "Vitamin K2"),
        (5, "Boron", "<1", "mg", None, None, "Bone Support Blend"),
        (6, "Vitamin D", "1000", "IU", "250%", "cholecalciferol (D3)", None),
    ]
    assert row(ex, "Calcium").raw_text == "Calcium (calcium citrate, calcium carbonate) 500 mg 38%"
    assert {r.page for r in ex.rows} == {None}
    assert ex.issues == ()


def test_round_trip_of_a_real_label(tmp_path: Path) -> None:
    path = write_dsld_json(dsld_label("11243"), tmp_path / "11243.json")
    ex = read_dsld_json(path, "11243.json")
    (label,) = ex.labels
    assert heading(label) == ("Mega Daily 4 for Men", "Nikken Kenzen", "4 Tablet(s)")
    assert (label.servings_per_container, label.max_daily_servings) == ("30", 1.0)
    assert label.directions == "Recommended Use:\nTake four [4] tablets per day."
    assert label.warnings == (
        "If you are allergic to any of these ingredients, or are pregnant or nursing, consult "
        "a physician before taking this or any other dietary supplement. "
        "Keep out of reach of children."
    )
    assert label.other_ingredients == (
        "Calcium Carbonate, Cellulose, Stearic Acid, Magnesium Stearate, carbomer homopolymer"
    )
    assert cells(ex, "Calcium", "amount_raw", "unit_raw", "dv_raw", "line_no") == (
        "800",
        "mg",
        "80%",
        14,
    )
    assert cells(ex, "Vitamin K", "amount_raw", "unit_raw", "form_raw", "dv_raw") == (
        "80",
        "mcg",
        "MenaQ7",
        "100%",
    )
    assert row(ex, "Lutein").dv_raw == "0%"  # DSLD's 0 percent is kept as given
    assert len(ex.rows) == 27


def test_blend_members_and_a_member_whose_blend_is_not_a_row(tmp_path: Path) -> None:
    api = to_dsld_api_json(dsld_label("3094"))
    assert [r["name"] for r in api["ingredientRows"]] == [
        "Isomalt",
        "Vitamin B6",
        "Proprietary Blend",
    ]
    assert [r["name"] for r in api["ingredientRows"][2]["nestedRows"]] == [
        "Velvet Bean",
        "Tyrosine",
        "L-Glutamine",
    ]
    ex = read_dsld_json(write_dsld_json(dsld_label("3094"), tmp_path / "3094.json"), "3094.json")
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.parent) for r in ex.rows] == [
        ("Isomalt", "1", "g", None),  # its "Total Carbohydrates" is not a row of the label
        ("Vitamin B6", "6", "mg", None),
        ("Proprietary Blend", "210", "mg", None),
        ("Velvet Bean", None, "NP", "Proprietary Blend"),
        ("Tyrosine", None, "NP", "Proprietary Blend"),
        ("L-Glutamine", None, "NP", "Proprietary Blend"),
    ]
    assert ex.labels[0].max_daily_servings == 8.0


def test_round_trip_of_every_label(tmp_path: Path) -> None:
    labels = dsld_labels() + [sample_product(p["dsld_id"]) for p in SAMPLE_PRODUCTS]
    checked = 0
    for label in labels:
        if not label["ingredients"]:
            continue
        path = write_dsld_json(label, tmp_path / f"{label['dsld_id']}.json")
        ex = read_dsld_json(path, path.name)
        assert rows_of(ex) == expected_rows(label), label["dsld_id"]
        assert ex.labels[0].product_name == label["product_name"]
        assert ex.issues == ()
        checked += 1
    assert checked == 166


def test_label_with_no_ingredient_rows_has_no_panel(tmp_path: Path) -> None:
    path = write_dsld_json(dsld_label("63294"), tmp_path / "63294.json")
    with pytest.raises(NoPanel) as caught:
        read_dsld_json(path, "63294.json")
    assert caught.value.reason == "the DSLD label has no ingredient rows"


def test_array_of_labels_gives_one_label_each(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    labels = [sample_product("sample-bone-matrix"), dsld_label("11243")]
    path.write_text(json.dumps([to_dsld_api_json(lb) for lb in labels]), encoding="utf-8")
    ex = read_dsld_json(path, "two.json")
    assert [(lb.label_index, lb.product_name) for lb in ex.labels] == [
        (0, "Bone Matrix Calcium + K2"),
        (1, "Mega Daily 4 for Men"),
    ]
    assert rows_of(ex, 0) == expected_rows(labels[0])
    assert rows_of(ex, 1) == expected_rows(labels[1])
    assert [r.line_no for r in ex.rows if r.label_index == 1][:3] == [1, 2, 3]
    k2 = row(ex, "Vitamin K2")
    assert (k2.amount_raw, k2.unit_raw, k2.form_raw) == ("120", "mcg", "menaquinone-7 (MenaQ7)")


def test_array_label_without_rows_is_kept_with_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    labels = [dsld_label("63294"), sample_product("sample-k2-only")]
    path.write_text(json.dumps([to_dsld_api_json(lb) for lb in labels]), encoding="utf-8")
    ex = read_dsld_json(path, "mixed.json")
    assert [lb.product_name for lb in ex.labels] == ["FLORASSIST Oral Hygeine", "K2 MK-7 100"]
    assert {r.label_index for r in ex.rows} == {1}
    assert [(i.label_index, i.detail) for i in ex.issues] == [
        (0, "the label has no ingredient rows")
    ]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    text = json.dumps(to_dsld_api_json(sample_product("sample-k2-only")), ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_dsld_json(path, "bom.json").rows[0].amount_raw == "100"


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "label.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("fixture", "error", "reason"),
    [
        (
            "truncated.json",
            UnreadableFile,
            "not valid JSON: Expecting value: line 3 column 1 (char 72)",
        ),
        ("no_ingredient_rows.json", BadTable, "not a DSLD label JSON: missing 'ingredientRows'"),
        (
            "top_level_string.json",
            BadTable,
            "not a DSLD label JSON: the top level is a string, not an object",
        ),
    ],
)
def test_rejected_fixtures(fixture: str, error: type[LabelError], reason: str) -> None:
    caught = assert_rejected(
        lambda: read_dsld_json(JSON_DATA / fixture, f"json/{fixture}"), error, reason
    )
    assert str(caught) == f"json/{fixture}: {reason}"


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        ("", UnreadableFile, "the JSON file is empty"),
        (
            '{"fullName": "X", "ingredientRows": [}',
            UnreadableFile,
            "not valid JSON: Expecting value: line 1 column 38 (char 37)",
        ),
        ({"ingredientRows": []}, BadTable, "not a DSLD label JSON: missing 'fullName'"),
        ([], BadTable, "not a DSLD label JSON: the array holds no labels"),
        (
            [{"fullName": "A", "ingredientRows": []}, {"ingredientRows": []}],
            BadTable,
            "not a DSLD label JSON: item 2 of the array is missing 'fullName'",
        ),
        (
            [{"fullName": "A", "ingredientRows": []}, 7],
            BadTable,
            "not a DSLD label JSON: item 2 of the array is a number, not an object",
        ),
        (
            {"fullName": "A", "ingredientRows": {"name": "Calcium"}},
            BadTable,
            "not a DSLD label JSON: 'ingredientRows' is an object, not an array",
        ),
        (
            {"fullName": "A", "ingredientRows": ["Calcium"]},
            BadTable,
            "not a DSLD label JSON: an ingredient row is a string, not an object",
        ),
        ({"fullName": "A", "ingredientRows": []}, NoPanel, "the DSLD label has no ingredient rows"),
    ],
)
def test_rejections(tmp_path: Path, content: Any, error: type[LabelError], reason: str) -> None:
    assert_rejected(lambda: read_dsld_json(_write(tmp_path, content), "label.json"), error, reason)
