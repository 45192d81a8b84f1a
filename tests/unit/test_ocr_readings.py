"""OCR readings compared and heading units repaired (pure functions, no OCR run)."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline.records import FileExtraction, LabelRow, ReadIssue, Word
from pipeline.sources import ocr
from pipeline.sources.ocr_locate import PanelRegion
from pipeline.sources.ocr_prep import Prepared
from pipeline.sources.ocr_readings import (
    extraction_score,
    part_of,
    reading_score,
    whole_picture_body,
)
from pipeline.sources.ocr_words import repair_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Main Ingredients ma/serving DV", ["Main", "Ingredients", "mg/serving", "DV"]),
        ("Amount mq/serving %DV", ["Amount", "mg/serving", "%DV"]),
        ("Amount meg/day", ["Amount", "mcg/day"]),
        ("Amount mg/serving", ["Amount", "mg/serving"]),
        ("Amount ab/serving", ["Amount", "ab/serving"]),  # not a unit misread: kept
        ("ma 50", ["ma", "50"]),  # not a heading: kept
        ("Vitamin Bé 5mg", ["Vitamin", "B6", "5mg"]),
        ("Vitamin Bl2 6mcg", ["Vitamin", "B12", "6mcg"]),
        ("Bé 5mg", ["Bé", "5mg"]),  # not after "Vitamin": kept
        ("Beta Phenylethylamine HCI 200mg", ["Beta", "Phenylethylamine", "HCl", "200mg"]),
        ("Betaine HCi", ["Betaine", "HCl"]),
        ("Pyridoxine HC1 2mg", ["Pyridoxine", "HCl", "2mg"]),
        ("HCI 5mg", ["HCI", "5mg"]),  # not after a name: kept
    ],
)
def test_heading_unit_and_vitamin_b_repair(line: str, expected: list[str]) -> None:
    assert [text for text, _ in repair_line(line.split())] == expected


def _row(name: str, amount: str | None, unit: str | None) -> LabelRow:
    return LabelRow("x.png", 0, 1, name, amount, unit)


def _extraction(rows: list[LabelRow], issues: int) -> FileExtraction:
    found = tuple(ReadIssue("x.png", 0, 1, i, f"issue {i}") for i in range(issues))
    return FileExtraction(source_file="x.png", labels=(), rows=tuple(rows), issues=found)


def test_reading_score_counts_protocol_amounts_then_rows_minus_issues() -> None:
    rows = [_row("Calcium", "500", "mg"), _row("Zinc", "10", None), _row("Boron", None, None)]
    assert extraction_score(None) == (0, 0, 0)
    assert extraction_score(_extraction(rows, 0)) == (1, 1, 1)
    assert extraction_score(_extraction(rows, 2)) == (1, 1, -1)
    # any panel beats none, even one with more issues than rows
    assert extraction_score(_extraction([], 3)) > extraction_score(None)
    # more rows read do not make up for a protocol amount lost (one rule for every choice)
    more = [_row("Zinc", "10", "mg"), _row("Boron", "3", "mg"), _row("Iron", "8", "mg")]
    assert reading_score(more, []) == (1, 0, 3)
    assert reading_score(more, []) < reading_score([_row("Magnesium", "50", "mg")], [])


def test_an_amount_two_readings_disagree_on_is_withheld_not_guessed() -> None:
    kept = _extraction(
        [_row("Vitamin B6", "15", "mg"), _row("Calcium", "500", "mg"), _row("Zinc", "10", "mg")],
        0,
    )
    other = _extraction(
        [
            _row("Vitamin B6", "0.15", "mg"),
            _row("Calcium", "500.0", "mg"),
            _row("Boron", "3", "mg"),
        ],
        1,
    )
    done = ocr.withhold_disagreements(kept, [other, None])
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in done.rows] == [
        ("Vitamin B6", None, None),
        ("Calcium", "500", "mg"),  # the same amount, written another way: kept
        ("Zinc", "10", "mg"),  # the other reading lacks it: kept
    ]
    assert [(i.detail, i.blocks_verdict) for i in done.issues] == [
        (
            "page 1, line 1: 'Vitamin B6' read as 15 mg at one text size and as 0.15 mg at "
            "another: the amount is not taken (check the label)",
            False,
        )
    ]
    calcium = ocr.withhold_disagreements(
        _extraction([_row("Calcium", "130", "mg")], 0),
        [_extraction([_row("Calcium", "1130", "mg")], 0)],
    )
    assert calcium.rows[0].amount_raw is None
    assert [i.blocks_verdict for i in calcium.issues] == [True]  # a protocol nutrient
    assert ocr.withhold_disagreements(kept, []) is kept


def _word(text: str, x0: float, x1: float, top: float, bottom: float) -> Word:
    return Word(text, x0, x1, top, bottom, 1, 90.0)


#: "Supplement Facts" at 10..20 pt high
HEADING = [_word("Supplement", 5, 80, 10, 20), _word("Facts", 84, 120, 10, 20)]


def test_a_panel_that_is_the_whole_picture_is_the_page_below_its_heading() -> None:
    # 144 dpi: 2 pixels a point
    words = [_word("BDZ", 5, 30, 2, 8), *HEADING, _word("Calcium", 5, 40, 24, 29)]
    assert whole_picture_body(words, 144.0, (300, 260), 7.0) == (
        PanelRegion(0, 20, 260, 300, boxed=False),
        PanelRegion(0, 41, 260, 300, boxed=False),
    )
    # text 9 px high or more (or not measured) reads right in one reading of the page
    assert whole_picture_body(words, 144.0, (300, 260), 9.0) is None
    assert whole_picture_body(words, 144.0, (300, 260), None) is None


def test_no_or_two_headings_give_no_whole_picture_panel() -> None:
    assert whole_picture_body(HEADING[1:], 144.0, (300, 260), 7.0) is None
    second = [_word("Supplement", 5, 80, 100, 110), _word("Facts", 84, 120, 100, 110)]
    assert whole_picture_body(HEADING + second, 144.0, (300, 260), 7.0) is None


def test_a_whole_picture_panel_is_cut_from_the_page_preparation() -> None:
    # the page (h 300, w 260 at 72 dpi) prepared at twice its size, its ink box starting
    # at (10, 6) prepared pixels; the body is x 0..260, y 41..300 of the page
    image = Image.new("1", (500, 580), 255)
    image.putpixel((100, 100), 0)  # page pixel (55, 53): inside the body
    page = Prepared(image, 144.0, (10.0, 6.0), 0.5, 7.0)
    region, body = PanelRegion(0, 20, 260, 300, False), PanelRegion(0, 41, 260, 300, False)
    crop = Image.new("L", (260, 259), 255)
    part = part_of(page, (region, body), 26.0, 72.0, (300, 260), crop, faint=False)
    assert part is not None
    # cut at prepared (0, 76)..(500, 580), 24 px of white around it
    assert part.image.size == (548, 552)
    assert (part.dpi, part.skew, part.text_px) == (144.0, 0.5, 7.0)
    # the offset counts from the body's corner (0, 41): 10 - 24 - 0 and 6 + 76 - 24 - 82
    assert part.offset == (-14.0, -24.0)
    assert part.image.getpixel((124, 48)) == 0  # the ink at prepared (100, 100)
    # a region worth reading alone whose own text is not measured (a blank crop) is
    # prepared at its own size instead
    small = PanelRegion(0, 20, 130, 150, False), PanelRegion(0, 41, 130, 150, False)
    assert part_of(page, small, 26.0, 72.0, (300, 260), crop, faint=False) is None
    assert part_of(None, (region, body), 26.0, 72.0, (300, 260), crop, faint=False) is None
