"""pipeline.report_format.card_rows: the rows a card shows in full, and the rest in a line."""

from __future__ import annotations

from typing import Any

from pipeline.report_format import _printed, card_rows

ROWS: list[dict[str, Any]] = [
    {
        "line_no": 1,
        "name_raw": "Calcium",
        "amount_raw": "500",
        "unit_raw": "mg",
        "nutrient": "calcium",
    },
    {"line_no": 2, "name_raw": "Vitamin C", "amount_raw": "60", "unit_raw": "mg"},
    {"line_no": 3, "name_raw": "Zinc", "amount_raw": "5", "unit_raw": None},
    {"line_no": 4, "name_raw": "Iron", "amount_raw": None, "unit_raw": "mg"},
    {"line_no": 5, "name_raw": None, "amount_raw": 7, "unit_raw": ""},
    {"line_no": 6, "name_raw": "Blend", "amount_raw": "", "unit_raw": None},
    {"line_no": 7, "name_raw": "Biotin", "amount_raw": "30", "unit_raw": "mcg", "repairs": "x"},
    {
        "line_no": 8,
        "name_raw": "Copper",
        "amount_raw": "1",
        "unit_raw": "zz",
        "unit_status": "unknown_unit",
    },
    {"line_no": 9, "name_raw": " Boron ", "amount_raw": "1", "unit_raw": "mg"},
]


def test_rows_in_full_and_the_others_in_a_few_words() -> None:
    full, others = card_rows(ROWS, {9})
    assert [row["line_no"] for row in full] == [1, 7, 8, 9]
    assert others == ["Vitamin C 60 mg", "Zinc 5", "Iron mg", "7", "Blend"]
    assert others == [_printed(row) for row in ROWS if row["line_no"] in (2, 3, 4, 5, 6)]
    full, others = card_rows(ROWS)
    assert [row["line_no"] for row in full] == [1, 7, 8]
    assert others[-1] == "Boron  1 mg" == _printed(ROWS[-1])
