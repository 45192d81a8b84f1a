"""The second reading (RapidOCR) of a panel's unread rows: amounts found in its lines, aligned
to Tesseract's rows by geometry, filled, and disagreements withheld (hand-built words and
boxes, no OCR)."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline import config
from pipeline.panel import words_to_labels
from pipeline.records import LabelRow, ReadIssue, Word
from pipeline.sources.ocr_second import (
    FILLED,
    Amount,
    amounts_in,
    fill_rows,
    triggered,
    withhold_disagreements,
)


def _line(y: float, cells: list[tuple[float, str, float]]) -> list[Word]:
    return [Word(text, x, x + 4.4 * len(text), y, y + 8.0, 1, conf) for x, text, conf in cells]


def _panel(magnesium: list[tuple[float, str, float]]) -> list[Word]:
    return [
        *_line(10, [(10, "Supplement", 95), (60, "Facts", 95)]),
        *_line(22, [(10, "Serving", 95), (45, "Size", 95), (68, "1", 95), (75, "Capsule", 95)]),
        *_line(34, [(120, "Amount", 95), (160, "%DV", 95)]),
        *_line(46, [(10, "Calcium", 95), (120, "500", 95), (136, "mg", 95), (160, "38%", 95)]),
        *_line(58, [(10, "Magnesium", 90), *magnesium, (160, "30%", 95)]),
    ]


def _read(words: list[Word], repairs: dict[Word, str] | None = None):  # type: ignore[no-untyped-def]
    return words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr", repairs=repairs
    )


def _box(x0: float, top: float, x1: float, bottom: float) -> list[list[float]]:
    return [[x0, top], [x1, top], [x1, bottom], [x0, bottom]]


def test_amounts_in_rapidocr_lines_are_placed_in_page_points() -> None:
    lines = [
        (_box(100, 10, 210, 20), "300mcg1000%", 0.96),
        (_box(100, 30, 160, 40), "125.mg", 0.88),
        (_box(100, 50, 140, 60), "50mB", 0.81),
        (_box(100, 70, 130, 80), "Img", 0.80),
        (_box(100, 90, 170, 100), "5.m100%", 0.65),
        (_box(0, 110, 230, 120), "Chromium(as Chelate)76 meg", 0.87),
    ]
    # crop upscaled 2x, its corner at (50, 40) page pixels, 144 dpi: a point is 2 pixels
    found = amounts_in(lines, 2.0, (50.0, 40.0), 144.0)
    assert found == [
        Amount("300", "mcg", 50.0, 65.0, 22.5, 25.0, 96.0),
        Amount("125", "mg", 50.0, 65.0, 27.5, 30.0, 88.0, "'125.mg' read as 125 mg"),
        Amount("76", "mcg", 69.23, 82.5, 47.5, 50.0, 87.0, "'76 meg' read as 76 mcg"),
    ]


def test_an_unread_row_takes_the_amount_level_with_it() -> None:
    words = _panel([(120, "zsmg", 15)])
    _, rows, issues = _read(words)
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount 'zsmg' of 'Magnesium' could not be read"
    ]
    amounts = [
        Amount("500", "mg", 121.0, 140.0, 45.5, 54.5, 97.0),
        Amount("125", "mg", 119.0, 143.0, 57.0, 66.5, 88.0, "'125.mg' read as 125 mg"),
    ]
    filled, repairs, count = fill_rows(words, {}, rows, issues, amounts)
    assert count == 1
    new = [w for w in filled if w not in words]
    assert new == [
        Word("125", 119.0, 131.0, 58.0, 66.0, 1, 88.0),
        Word("mg", 135.0, 143.0, 58.0, 66.0, 1, 88.0),
    ]
    assert repairs == {new[0]: f"{FILLED}; '125.mg' read as 125 mg"}
    _, rows, issues = _read(filled, repairs)
    magnesium = next(r for r in rows if r.name_raw == "Magnesium")
    assert (magnesium.amount_raw, magnesium.unit_raw, magnesium.dv_raw) == ("125", "mg", "30%")
    assert (magnesium.confidence, magnesium.repairs) == (88.0, repairs[new[0]])
    assert issues == []


def test_a_filled_amount_goes_through_the_ocr_doubt_checks() -> None:
    words = _panel([(120, "S.OOOmg", 60)])
    _, rows, issues = _read(words)
    filled, repairs, count = fill_rows(
        words, {}, rows, issues, [Amount("5.000", "mg", 119.0, 150.0, 57.0, 66.5, 90.0)]
    )
    assert count == 1
    _, rows, issues = _read(filled, repairs)
    magnesium = next(r for r in rows if r.name_raw == "Magnesium")
    assert magnesium.amount_raw is None
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount '5.000 mg (a point where a thousands comma may be: 5.000 "
        "could be 5,000)' of 'Magnesium' could not be read"
    ]


@pytest.mark.parametrize(
    ("garbled", "amounts"),
    [
        # Tesseract's digits are not RapidOCR's: the engines disagree
        ([(120, "24", 70)], [Amount("2", "mg", 119.0, 135.0, 57.0, 66.5, 95.0)]),
        # read below SECOND_READING_CONFIDENCE
        ([(120, "zsmg", 15)], [Amount("125", "mg", 119.0, 143.0, 57.0, 66.5, 79.0)]),
        # two amounts level with the row
        (
            [(120, "zsmg", 15)],
            [
                Amount("125", "mg", 119.0, 143.0, 57.0, 66.5, 95.0),
                Amount("12", "mg", 145.0, 158.0, 57.0, 66.5, 95.0),
            ],
        ),
        # the only amount is a line above (not level with the row)
        ([(120, "zsmg", 15)], [Amount("125", "mg", 119.0, 143.0, 50.0, 56.0, 95.0)]),
    ],
)
def test_rows_stay_unread_where_the_second_reading_is_no_reading(
    garbled: list[tuple[float, str, float]], amounts: list[Amount]
) -> None:
    words = _panel(garbled)
    _, rows, issues = _read(words)
    assert len(issues) == 1
    assert fill_rows(words, {}, rows, issues, amounts) == (words, {}, 0)


def _row(line_no: int, name: str, amount: str | None, unit: str | None) -> LabelRow:
    top = 10.0 * line_no
    return LabelRow(
        "x.png", 0, line_no, name, amount, unit, page=1, bbox_x0=10.0, bbox_top=top,
        bbox_x1=150.0, bbox_bottom=top + 8.0, bbox_units="pt",
    )  # fmt: skip


def test_an_amount_the_engines_read_differently_is_withheld() -> None:
    rows = [_row(1, "Zinc", "75", "mg"), _row(2, "Biotin", "300", "mcg")]
    words = [
        *_line(10, [(10, "Zinc", 90), (120, "75mg", 88)]),
        *_line(20, [(10, "Biotin", 90), (120, "300", 90), (136, "mcg", 90)]),
    ]
    amounts = [
        Amount("7.5", "mg", 119.0, 140.0, 9.5, 18.0, 70.0),
        Amount("300", "mcg", 119.0, 150.0, 19.5, 28.0, 96.0),
    ]
    kept, issues = withhold_disagreements(rows, [], words, amounts)
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in kept] == [
        ("Zinc", None, None),
        ("Biotin", "300", "mcg"),
    ]
    assert issues == [
        ReadIssue(
            "x.png",
            0,
            1,
            1,
            "page 1, line 1: 'Zinc' read as 75 mg by Tesseract and as 7.5 mg by RapidOCR: "
            "the amount is not taken (check the label)",
            blocks_verdict=False,
        )
    ]


def test_the_second_reading_is_made_for_unread_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    biotin = _row(1, "Biotin", None, None)
    magnesium = _row(2, "Magnesium", None, None)
    unread = [ReadIssue("x.png", 0, 1, 1, "unread"), ReadIssue("x.png", 0, 1, 2, "unread")]
    member = dataclasses.replace(biotin, parent="Proprietary Blend")
    monkeypatch.setattr(config, "SECOND_READING_UNREAD", 1)
    assert triggered([biotin], unread[:1]) is True
    assert triggered([biotin], []) is True  # no amount, in no blend
    assert triggered([member], []) is False  # a blend member without its own amount
    assert triggered([member], unread[:1]) is True
    monkeypatch.setattr(config, "SECOND_READING_UNREAD", 3)
    assert triggered([biotin], unread[:1]) is False
    assert triggered([biotin, magnesium], unread) is True  # a protocol row unread
    monkeypatch.undo()
    assert config.SECOND_READING_UNREAD == 5
    assert triggered([biotin, *(dataclasses.replace(biotin, line_no=n) for n in (2, 3, 4, 5))], [])
