"""A tiny panel read whole by RapidOCR (`ocr_rapid_panel`): its glued lines split into the
words the panel reader needs, Tesseract's differing amounts withheld, and the reading kept
only where it reads more (hand-built words and RapidOCR lines, no OCR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.records import LabelRow, ReadIssue, Word
from pipeline.sources.ocr import _parse
from pipeline.sources.ocr_rapid import RapidLine
from pipeline.sources.ocr_rapid_panel import (
    rapid_panel_words,
    tesseract_disagreements,
    unglued,
    whole_reading,
)


@pytest.mark.parametrize(
    ("glued", "apart"),
    [
        ("VitaminD3(ascholecalcilerol(D3))", "Vitamin D3 (as cholecalcilerol (D3))"),
        ("SerMings Per Container60", "Ser Mings Per Container 60"),
        ("Otneringredients:Hypromellose,OliveOil", "Otneringredients: Hypromellose, Olive Oil"),
        ("250mg", "250 mg"),
        ("120mog", "120 mog"),
        ("25m0g(1.0001U)", "25 mog (1.000 IU)"),
        ("Amount PerServing %Daily Value", "Amount Per Serving %Daily Value"),
        # letters after a number that are no unit stay glued; so does a lone U
        ("3xyz 10U", "3xyz 10U"),
        ("menaquinone-7", "menaquinone-7"),
    ],
)
def test_a_glued_line_is_split_where_the_panel_reader_needs_words_apart(
    glued: str, apart: str
) -> None:
    assert unglued(glued) == apart


def _rapid(y: float, x: float, text: str, score: float = 0.95) -> RapidLine:
    """A RapidOCR line at 72 dpi (pixels are points)."""
    x1 = x + 4.4 * len(text)
    return ([[x, y], [x1, y], [x1, y + 8.0], [x, y + 8.0]], text, score)


def test_rapid_words_are_unglued_and_repaired_as_tesseracts_are() -> None:
    words, repairs = rapid_panel_words(
        [_rapid(10, 10, "Magneslum(asmagnesiumglycinate)250mg")], 72.0, 1
    )
    assert [w.text for w in words] == ["Magnesium", "(as", "magnesiumglycinate)", "250", "mg"]
    assert [repairs.get(w) for w in words][:1] == ["Magneslum->Magnesium"]


def _row(line_no: int, name: str, amount: str | None, unit: str | None) -> LabelRow:
    top = 10.0 * line_no
    return LabelRow(
        "x.png", 0, line_no, name, amount, unit, page=1, bbox_x0=10.0, bbox_top=top,
        bbox_x1=150.0, bbox_bottom=top + 8.0, bbox_units="pt",
    )  # fmt: skip


def test_an_amount_tesseract_read_otherwise_is_withheld() -> None:
    rapid = [_row(1, "Magnesium", "250", "mg"), _row(2, "Calcium", "500", "mg")]
    theirs = [_row(1, "vm (a3 um te}", "25", "mg"), _row(2, "Calcium", "500", "mg")]
    rows, issues = tesseract_disagreements(rapid, [], theirs)
    assert [(r.name_raw, r.amount_raw) for r in rows] == [("Magnesium", None), ("Calcium", "500")]
    assert issues == [
        ReadIssue(
            "x.png",
            0,
            1,
            1,
            "page 1, line 1: 'Magnesium' read as 250 mg by RapidOCR and as 25 mg by Tesseract: "
            "the amount is not taken (check the label)",
            blocks_verdict=True,
        )
    ]
    # a row Tesseract left unread is no disagreement
    unread = [_row(1, "vm (a3 um te}", None, None)]
    assert tesseract_disagreements(rapid, [], unread) == (rapid, [])


def _line(y: float, cells: list[tuple[float, str]]) -> list[Word]:
    return [Word(text, x, x + 4.4 * len(text), y, y + 8.0, 1, 90.0) for x, text in cells]


@dataclass(frozen=True)
class _Read:
    words: list[Word]
    repairs: dict[Word, str] = field(default_factory=dict)
    text_px: float | None = 7.0
    panels: Any = ()
    parsed: Any = None


_HEAD = [
    *_line(10, [(10, "Supplement"), (60, "Facts")]),
    *_line(22, [(10, "Serving"), (45, "Size"), (68, "1"), (75, "Capsule")]),
    *_line(34, [(120, "Amount"), (160, "%DV")]),
]


def _tesseract(rows: list[list[tuple[float, str]]]) -> _Read:
    words = [*_HEAD, *(w for i, r in enumerate(rows) for w in _line(46 + 12 * i, r))]
    return _Read(words, parsed=_parse([words], {}, "x.png", "x", [()]))


def _inside(w: Word) -> bool:
    return w.top > 42


_RAPID = [
    _rapid(46, 10, "Calcium"),
    _rapid(46, 120, "500mg"),
    _rapid(46, 160, "38%"),
    _rapid(58, 10, "Magnesium"),
    _rapid(58, 120, "250mg"),
    _rapid(58, 160, "60%"),
]
_CALCIUM = [(10.0, "Calcium"), (120.0, "500"), (138.0, "mg"), (160.0, "38%")]


def _read_rows(done: _Read) -> list[tuple[str, str | None, str | None]]:
    return [(r.name_raw, r.amount_raw, r.unit_raw) for r in done.parsed[1]]


def test_rapidocrs_whole_reading_is_kept_where_it_reads_more() -> None:
    done = _tesseract([_CALCIUM, [(10, "vm"), (30, "te}"), (160, "60%")]])
    # Tesseract's magnesium row merged into the calcium row above it
    assert _read_rows(done) == [("Calcium vm te}", "500", "mg")]
    kept = whole_reading(done, _RAPID, _inside, 72.0, _parse, "x.png", "x")
    assert _read_rows(kept) == [("Calcium", "500", "mg"), ("Magnesium", "250", "mg")]


def test_rapidocrs_whole_reading_is_not_kept_where_it_reads_no_more() -> None:
    magnesium = [(10.0, "Magnesium"), (120.0, "250"), (138.0, "mg"), (160.0, "60%")]
    done = _tesseract([_CALCIUM, magnesium])
    assert _read_rows(done) == [("Calcium", "500", "mg"), ("Magnesium", "250", "mg")]
    assert whole_reading(done, _RAPID, _inside, 72.0, _parse, "x.png", "x") is done


def test_a_whole_reading_whose_amounts_tesseract_read_otherwise_withholds_them() -> None:
    """Tesseract's calcium 600 mg against RapidOCR's 500: RapidOCR's reading reads the
    magnesium and vitamin D Tesseract lost, and its calcium is withheld, never picked."""
    calcium = [(10.0, "Calcium"), (120.0, "600"), (138.0, "mg"), (160.0, "38%")]
    done = _tesseract([calcium, [(10, "vm"), (30, "te}")], [(10, "Vtmn"), (160, "125%")]])
    assert _read_rows(done) == [("Calcium vm te}", "600", "mg"), ("Vtmn", None, None)]
    rapid = [
        *_RAPID,
        _rapid(70, 10, "VitaminD3"),
        _rapid(70, 120, "25mcg"),
        _rapid(70, 160, "125%"),
    ]
    kept = whole_reading(done, rapid, _inside, 72.0, _parse, "x.png", "x")
    assert _read_rows(kept) == [
        ("Calcium", None, None),
        ("Magnesium", "250", "mg"),
        ("Vitamin D3", "25", "mcg"),
    ]
    assert [i.detail for i in kept.parsed[2]] == [
        "page 1, line 1: 'Calcium' read as 500 mg by RapidOCR and as 600 mg by Tesseract: "
        "the amount is not taken (check the label)"
    ]


def test_a_whole_reading_that_reads_more_only_by_disagreeing_is_not_kept() -> None:
    """RapidOCR's magnesium read where Tesseract's was garbled, its calcium withheld:
    one protocol amount and one read issue each way, so Tesseract's reading stays."""
    calcium = [(10.0, "Calcium"), (120.0, "600"), (138.0, "mg"), (160.0, "38%")]
    done = _tesseract([calcium, [(10, "Magnesium"), (120, "zsmg"), (160, "60%")]])
    assert _read_rows(done) == [("Calcium", "600", "mg"), ("Magnesium", None, None)]
    assert whole_reading(done, _RAPID, _inside, 72.0, _parse, "x.png", "x") is done
