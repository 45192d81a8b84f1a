"""The panel reader's steps on hand-built positioned words: serving-line forms, which amount
column is per serving, page columns, blends as running text, decimal commas, and the
tolerances being relative to the text size."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.panel import (
    SETTINGS,
    Box,
    ReaderSettings,
    panel_regions,
    serving_column,
    text_columns,
    words_to_labels,
)
from pipeline.records import Label, LabelRow, ReadIssue, Word
from pipeline.units import ambiguous_among_decimal_commas, parse_amount, shows_decimal_comma


def line(y: float, *cells: tuple[float, str], h: float = 8.0, scale: float = 1.0) -> list[Word]:
    """Words of one printed line; each cell is (x where it starts, text)."""
    out = []
    for x, text in cells:
        cx = x
        for token in text.split():
            width = len(token) * 4.4 * h / 8.0
            out.append(Word(token, cx * scale, (cx + width) * scale, y * scale, (y + h) * scale, 1))
            cx += width + 2.2
    return out


def panel(serving: list[str], *, scale: float = 1.0) -> list[Word]:
    words = line(40, (50, "Bone Matrix Plus"), h=18, scale=scale)
    words += line(100, (50, "Supplement Facts"), h=14, scale=scale)
    y = 118.0
    for text in serving:
        words += line(y, (50, text), scale=scale)
        y += 10
    words += line(y + 2, (220, "Amount Per Serving"), (300, "% DV"), h=7, scale=scale)
    y += 14
    for name, amount, dv in (
        ("Vitamin K2 (as MK-7)", "100 mcg", "83%"),
        ("Calcium (as calcium citrate)", "500 mg", "38%"),
    ):
        words += line(y, (50, name), (230, amount), (300, dv), scale=scale)
        y += 12
    return words


def panel_top(serving: str, *headings: tuple[float, str]) -> list[Word]:
    """The words above a panel's rows: "Supplement Facts" (y 100), the serving line (y 118)
    and the column headings (y 130, each cell (x, text)); the rows start at y 144."""
    top = line(100, (50, "Supplement Facts"), h=14) + line(118, (50, serving))
    return top + line(130, *headings, h=7)


def read(words: list[Word]) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    return words_to_labels([words], "x.pdf", fallback_name="x", source_format="pdf")


@pytest.mark.parametrize(
    ("printed", "serving", "servings"),
    [
        (["Serving Size: 2 Tablets", "Servings Per Container: 60"], "2 Tablets", "60"),
        (["Serving Size - 11g (1 scoop)"], "11g (1 scoop)", None),
        (["Serving Size 1 Capsule | Servings Per Container: 60"], "1 Capsule", "60"),
        (["Serving Size 2 gummies Servings per Container 30"], "2 gummies", "30"),
        (["Serving Size 2 Softgels", "Servings Per Container: About 30"], "2 Softgels", "About 30"),
        (["Serving size: 2 capsules", "Servings per pack: 60"], "2 capsules", "60"),
    ],
)
def test_serving_line_forms(printed: list[str], serving: str, servings: str | None) -> None:
    labels, rows, issues = read(panel(printed))
    assert issues == []
    assert (labels[0].serving_size, labels[0].servings_per_container) == (serving, servings)
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in rows] == [
        ("Vitamin K2", "100", "mcg"),
        ("Calcium", "500", "mg"),
    ]


@pytest.mark.parametrize(
    ("headings", "serving", "column"),
    [
        (["Per Tablet", "Per 3 Tablets"], "3 Tablets", 1),
        (["Amount Per 3 Tablets", "Per Tablet"], "3 Tablets", 0),
        (["Per Tablet", "Per 2 Tablets"], "1 Tablet", 0),
        (["Per 2 Capsules", "Per 4 Capsules"], "2 Capsules", 0),
        (["Amount Per Serving", "Amount Per Day"], "2 Capsules", 0),
        (["Per Day", "Per Serving"], "1 Capsule", 1),
        (["Per 100 g", "Per Serving"], "11 g", 1),
        (["Per capsule", "Per daily dose (2 capsules)"], "2 capsules", 1),
        (["Per Daily Dose", "Per capsule"], "2 capsules", 0),
        (["Children", "Adults"], "2 Tablets", None),  # the headings do not say
        (["Amount", "Amount"], "2 Tablets", None),
        (["Per Tablet", "Per 2 Tablets"], None, None),  # no serving size to match
        (["Per Tablet", "Per 2 Tablets"], "3 Tablets", None),  # neither is the serving
    ],
)
def test_which_amount_column_is_per_serving(
    headings: list[str], serving: str | None, column: int | None
) -> None:
    assert serving_column(headings, serving) == column


def test_unit_only_in_the_heading_applies_to_bare_numbers() -> None:
    words = panel_top("Serving Size 2 Capsules", (215, "Amount (mg)"), (300, "% DV"))
    words += line(144, (50, "Calcium"), (230, "500"), (300, "38%"))
    words += line(156, (50, "Magnesium"), (230, "250"), (300, "60%"))
    words += line(168, (50, "Vitamin D3"), (230, "25 mcg"), (300, "125%"))
    _, rows, issues = read(words)
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in rows] == [
        ("Calcium", "500", "mg"),
        ("Magnesium", "250", "mg"),
        ("Vitamin D3", "25", "mcg"),
    ]


def test_blend_total_and_members_in_one_run_of_text() -> None:
    words = panel(["Serving Size 2 Capsules"])
    words += line(166, (50, "Proprietary Blend 415 mg: Guggul, Bitter Melon, Cinnamon"))
    words += line(175, (50, "bark, Gymnema leaf."))
    words += line(187, (50, "Zinc"), (230, "5 mg"), (300, "45%"))
    _, rows, issues = read(words)
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.parent) for r in rows][2:] == [
        ("Proprietary Blend", "415", "mg", None),
        ("Guggul", None, None, "Proprietary Blend"),
        ("Bitter Melon", None, None, "Proprietary Blend"),
        ("Cinnamon bark", None, None, "Proprietary Blend"),
        ("Gymnema leaf", None, None, "Proprietary Blend"),
        ("Zinc", "5", "mg", None),
    ]


def test_decimal_commas() -> None:
    assert [shows_decimal_comma(t) for t in ("4,80", "1500,00", "0,5", "1,000", "10")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [ambiguous_among_decimal_commas(t) for t in ("1,250", "1.250", "12,5", "1000")] == [
        True,
        True,
        False,
        False,
    ]
    assert [parse_amount(t).value for t in ("4,80", "1500,00", "1,000")] == [4.8, 1500.0, 1000.0]  # type: ignore[union-attr]


def test_decimal_comma_amounts_are_read() -> None:
    words = panel_top(
        "Serving size: 2 capsules", (190, "Per daily dose (2 capsules)"), (300, "%NRV")
    )
    words += line(144, (50, "Vitamin B6"), (230, "4,80 mg"), (300, "343%"))
    words += line(156, (50, "Calcium"), (230, "1500,00 mg"), (300, "188%"))
    words += line(168, (50, "Magnesium"), (230, "1,250 mg"), (300, "333%"))
    _, rows, issues = read(words)
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [
        ("Vitamin B6", "4,80", "mg", "343%"),
        ("Calcium", "1500,00", "mg", "188%"),
        ("Magnesium", None, None, "333%"),
    ]
    assert [i.detail for i in issues] == [
        "page 1, line 3: amount '1,250 mg (decimal commas elsewhere on the panel: 1,250 could "
        "be 1.25 or 1250)' of 'Magnesium' could not be read"
    ]


def test_text_columns() -> None:
    words = line(10, (50, "Take two"), (300, "Supplement Facts")) + line(22, (50, "daily"))
    assert [[w.text for w in col] for col in text_columns(words)] == [
        ["Take", "daily", "two"],
        ["Supplement", "Facts"],
    ]
    assert len(text_columns(line(10, (50, "Take two tablets daily")))) == 1


def test_panel_region_is_the_smallest_box_near_the_heading() -> None:
    words = panel(["Serving Size 2 Capsules"])
    page_border = Box(10, 10, 600, 800)
    box = Box(45, 96, 340, 190)
    cell = Box(45, 140, 200, 152)  # a table cell: does not hold the heading
    (region,) = panel_regions(words, [page_border, box, cell])
    m = SETTINGS.box_margin * 14
    assert (region.x0, region.top, region.x1, region.bottom, region.boxed) == (
        45 - m,
        96 - m,
        340 + m,
        190 + m,
        True,
    )
    # a box whose top is far above the heading is not the panel's (a page border)
    assert panel_regions(words, [page_border]) == []


def test_tolerances_are_relative_to_the_text_size() -> None:
    assert dataclasses.is_dataclass(ReaderSettings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SETTINGS.cell_gap = 1.0  # type: ignore[misc]
    printed = ["Serving Size 1 Capsule | Servings Per Container: 60"]
    small, big = read(panel(printed)), read(panel(printed, scale=8.0))
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in small[1]] == [
        (r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in big[1]
    ]
    assert (small[0][0].serving_size, big[0][0].serving_size) == ("1 Capsule", "1 Capsule")


def test_ruled_table_with_unit_heading_beside_a_dv_heading() -> None:
    """ "Main Ingredients | mg/serving | DV (%)": the two value headings stand close but are
    two columns; the names' heading is no value column; a bare number under "DV" is a %DV,
    never an amount; "Ingredients (in descending order):" ends the panel."""
    words = panel_top(
        "Serving Size 6 sprays", (50, "Main Ingredients"), (215, "mg/serving"), (256, "DV (%)")
    )
    words += line(144, (50, "Calcium"), (230, "500"), (262, "38"))
    words += line(156, (50, "Magnesium"), (230, "250"))
    words += line(168, (50, "Vitamin D3"), (222, "10001U"), (262, "167"))
    words += line(182, (50, "Ingredients (in descending order): Water, lecithin."))
    labels, rows, issues = read(words)
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [
        ("Calcium", "500", "mg", "38%"),
        ("Magnesium", "250", "mg", None),
        ("Vitamin D3", None, None, "167%"),
    ]
    assert [i.detail for i in issues] == [
        "page 1, line 3: amount '10001U' of 'Vitamin D3' could not be read"
    ]
    assert labels[0].other_ingredients == "Water, lecithin."


def test_blend_amount_alone_on_the_line_under_its_name() -> None:
    """A blend's name on one line, its amount alone on the next, left of the value column
    ("9240mg †"), then its members as a comma paragraph without amounts."""
    words = panel_top("Serving Size 1 scoop", (150, "Amount Per Serving"), (240, "%DV"))
    words += line(144, (50, "Zinc"), (200, "5mg"), (240, "45%"))
    words += line(156, (50, "Strength Matrix"))
    words += line(168, (170, "9240mg"), (245, "†"))
    words += line(180, (50, "Beta-Alanine, Creatine Monohydrate,"))
    words += line(192, (50, "Betaine Anhydrous"))
    _, rows, issues = read(words)
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw, r.parent) for r in rows] == [
        ("Zinc", "5", "mg", "45%", None),
        ("Strength Matrix", "9240", "mg", "†", None),
        ("Beta-Alanine", None, None, None, "Strength Matrix"),
        ("Creatine Monohydrate", None, None, None, "Strength Matrix"),
        ("Betaine Anhydrous", None, None, None, "Strength Matrix"),
    ]


def test_a_speck_read_as_a_word_above_the_column_headings_is_skipped() -> None:
    """OCR reads a rule under the serving lines as "ee  TT" (low confidence): the column
    headings after it still head the panel; a text layer's short word is kept as text."""
    words = line(100, (50, "Supplement Facts"), h=14)
    words += line(118, (50, "Serving Size 2 Gummies"))
    speck = [dataclasses.replace(w, confidence=30.0) for w in line(128, (50, "ee"), (170, "TT"))]
    words += speck
    words += line(138, (150, "Amount Per Serving"), (240, "%DV"), h=7)
    words += line(150, (50, "Zinc"), (200, "5mg"), (240, "45%"))
    _, rows, issues = read(words)
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [
        ("Zinc", "5", "mg", "45%")
    ]
    kept = [w for w in words if w not in speck] + line(128, (50, "ee"), (170, "TT"))
    _, rows, _ = read(kept)
    assert [r.name_raw for r in rows][:1] == ["ee TT"]
