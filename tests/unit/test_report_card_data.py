"""A product's card as the data its catalog card page draws (pipeline.report_card_data):
every value formatted as the card template formats it, and JSON that cannot end its
<script> element; ProductPieces keeps each card's data and reuses it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pipeline import report
from pipeline.report_card_data import broken_card_json, card_data, card_json
from tests.catalog_audit import EXAMPLE, HOSTILE


def example() -> dict[str, Any]:
    audit: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return audit


def test_the_ocr_read_card_is_formatted_as_the_template_formats_it() -> None:
    caldenex = example()["products"][1]
    assert card_data(caldenex, {1}) == {
        "v": "fails",
        "h": "CalDenex <script>alert(1)</script>",
        "m": "Nikken · 3 Tablets · ",
        "f": "pdf/caldenex.pdf",
        "x": " (pdf-ocr, read by OCR, mean confidence 71%)",
        "b": "fails",
        "s": "score 17.5 / 100",
        "r": "no vitamin K2 on the label (vitamin K1 only)",
        "e": [None, ""],
        "c": [],
        "w": [
            [
                "1",
                " (p. 1)",
                "Vitamin K (as phylloquinone) 120 meg 150%",
                None,
                "Vitamin K",
                "phylloquinone",
                "120 meg",
                "",
                "150%",
                "120 mcg",
                " (vitamin k1)",
                "read by OCR, confidence 71%",
                "repaired: meg->mcg",
            ]
        ],
        "a": [],
        "k": [
            [
                0,
                "Vitamin K2 present",
                "0 / 15",
                "no vitamin K2 on the label (120 mcg vitamin K1, which does not count); "
                "the protocol asks for K2",
            ],
            [0, "K2 form is MK-7", "0 / 20", "vitamin K1 only; the protocol asks MK-7"],
            [
                0,
                "K2 per 500 mg calcium",
                "0 / 25",
                "0 mcg K2 per 500 mg calcium; the protocol asks 100-180",
            ],
            [
                0,
                "Calcium : magnesium near 2:1",
                "7.5 / 15",
                "calcium:magnesium 4.0:1; the protocol asks 1.5-2.5:1",
            ],
            [
                1,
                "Vitamin D present",
                "10 / 10",
                "22.5 mcg vitamin D per serving; the protocol asks vitamin D present",
            ],
            [
                0,
                "Anticoagulant (warfarin) caution",
                "0 / 10",
                "no caution for people on anticoagulants found in the warnings; the protocol "
                "asks for one",
            ],
            [None, "Take with a meal containing fat", "0 / 5", "not assessed: the label has no K2"],
        ],
        "d": [
            "Three [3] tablets at mealtime or one [1] tablet three times a day with food.",
            "Keep out of reach of children.",
            "Microcrystalline Cellulose",
            '1 serving per day (directions: "Three [3] tablets at mealtime")',
        ],
    }


def test_missing_values_corrections_and_rows_in_few_words() -> None:
    product = copy.deepcopy(example()["products"][0])
    product.update(
        brand=None,
        serving_size="",
        score=None,
        directions=None,
        servings_per_day=2.5,
        servings_per_day_source=None,
        checks=[],
        verdict_reason="no calcium on the label",
    )
    rows = product["label_rows"]
    rows[0].update(review="corrected", printed_amount_raw=None, printed_unit_raw="mcg")
    rows[1].update(review="confirmed", amount_normalized=None, form_raw=None)
    rows.append({"line_no": 9, "name_raw": "Vitamin C", "amount_raw": "60", "unit_raw": "mg"})
    product["corrections"] = [
        {"line": 1, "field": "amount", "value": "30", "unit": "mcg", "printed_amount": None,
         "printed_unit": "mcg", "by": "ana", "date": "2026-01-02", "why": "blurred"},
        {"line": 2, "field": "confirm", "value": None, "unit": None, "by": "bo",
         "date": "2026-01-03", "why": "checked"},
    ]  # fmt: skip
    data = card_data(product)
    assert (data["m"], data["s"], data["k"]) == (
        "no brand · serving size not given · ",
        "no score",
        [],
    )
    assert data["c"] == [
        "Line 1: 30 mcg used, printed as read — mcg; corrected by ana on 2026-01-02: blurred",
        "Line 2: —  as read; confirmed by bo on 2026-01-03: checked",  # as the template: 2 spaces
    ]
    assert [row[5:11] for row in data["w"][:2]] == [
        ["cholecalciferol", "25 mcg", " (corrected; read as — mcg)", "125%", "25 mcg",
         " (vitamin d)"],
        ["—", "120 mcg", " (confirmed)", "100%", "—", " (vitamin k2)"],
    ]  # fmt: skip
    # line 9 is of no protocol nutrient and has no finding: told in a few words
    assert len(data["w"]) == 4 and data["a"] == ["Vitamin C 60 mg"]
    assert data["d"] == [
        "none on the label",
        product["warnings"],
        "Hypromellose, Olive Oil, Rice Flour",
        "2.5 servings per day",
    ]
    flagged = card_data(product, {9})  # a line with a finding: in full
    assert flagged["a"] == [] and flagged["w"][4][:3] == ["9", "", "None"]


def test_card_json_cannot_end_its_script_element() -> None:
    product = {**example()["products"][0], "product_name": HOSTILE}
    text = card_json(product)
    assert "<" not in text and "\\u003c/script>\\u003cimg src=x" in text
    assert json.loads(text) == card_data(product)
    broken = broken_card_json(product, "ValueError: </script>")
    assert "<" not in broken
    assert json.loads(broken) == {
        "v": "matches",
        "h": HOSTILE,
        "error": "This card could not be built (internal error: ValueError: </script>); "
        "the product's data is in audit.json.",
    }


def test_kept_card_data_is_reused_by_a_product_that_moved(tmp_path: Path) -> None:
    audit = example()
    cache = tmp_path / "pieces.sqlite"
    keys = {p["product_id"]: f"key-{p['product_id']}" for p in audit["products"]}

    def data(products: list[dict[str, Any]]) -> tuple[list[str], list[Any], tuple[int, ...]]:
        pieces = report.ProductPieces(products, {}, cache, keys)
        made = pieces.card_data(0, len(products)), pieces.ranks(0, len(products))
        pieces.close()
        return made[0], made[1], (pieces.built, pieces.rendered, pieces.reused)

    cold, ranks, counts = data(audit["products"])
    assert cold == [card_json(p) for p in audit["products"]] and ranks == [1, 2, 3]
    assert counts == (3, 3, 0)
    moved = list(reversed(copy.deepcopy(audit["products"])))
    for place, product in enumerate(moved):
        product["rank"] = place + 7
    again, ranks, counts = data(moved)
    assert again == list(reversed(cold)) and ranks == [7, 8, 9]
    assert counts == (0, 0, 3)  # no document built, no card made


def test_points_text_is_fmt_number_of_each_whatever_was_seen_before() -> None:
    from pipeline.report_card_data import _points_text
    from pipeline.report_format import fmt_number

    pairs = [(1.0, 1), (1, 1.0), (0.5, 2), (-0.0, 3), (None, 2), (float("nan"), 1), ("x", 2)]
    for points, weight in pairs * 2:
        expected = f"{fmt_number(points)} / {fmt_number(weight)}"
        assert _points_text(points, weight) == expected
    assert _points_text(0.5, 2) == "0.5 / 2"
    assert _points_text(None, 2) == "— / 2"
    assert _points_text(True, 1) == f"{fmt_number(True)} / 1"
