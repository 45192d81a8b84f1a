"""A tiny panel's unread rows (`ocr_tiny`): RapidOCR's amounts fill them only when read
surely, read alike by Tesseract, or confirmed by the printed %DV (hand-built words and
RapidOCR lines, no OCR); and a serving size's lost count (`ocr_count`)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PIL import Image

from pipeline import config
from pipeline.panel import words_to_labels
from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE, check_dv, point_put_back
from pipeline.records import Label, LabelRow, ReadIssue, Word
from pipeline.sources import ocr_second
from pipeline.sources.ocr_count import better_of, counted, with_counts
from pipeline.sources.ocr_locate import PanelRegion
from pipeline.sources.ocr_rapid import RapidLine
from pipeline.sources.ocr_second import FILLED, Amount, fill_rows, triggered
from pipeline.sources.ocr_tiny import as_tesseract_read, candidates, confirm, in_points, tiny


def _line(y: float, cells: list[tuple[float, str, float]]) -> list[Word]:
    return [Word(text, x, x + 4.4 * len(text), y, y + 8.0, 1, conf) for x, text, conf in cells]


def _panel(rows: list[tuple[str, str, str]]) -> list[Word]:
    """A panel whose rows (name, Tesseract's amount text, %DV) start at y 46, 12 apart."""
    words = [
        *_line(10, [(10, "Supplement", 95), (60, "Facts", 95)]),
        *_line(22, [(10, "Serving", 95), (45, "Size", 95), (68, "1", 95), (75, "Capsule", 95)]),
        *_line(34, [(120, "Amount", 95), (160, "%DV", 95)]),
    ]
    for i, (name, amount, dv) in enumerate(rows):
        parts = name.split()
        cells = [(10.0 + 30 * j, p, 90.0) for j, p in enumerate(parts)]
        words += _line(46 + 12 * i, [*cells, (120, amount, 20), (160, dv, 90)])
    return words


def _read(words: list[Word], repairs: dict[Word, str] | None = None):  # type: ignore[no-untyped-def]
    return words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr", repairs=repairs
    )


def _rapid(y: float, x: float, text: str, score: float) -> RapidLine:
    """A RapidOCR line at 72 dpi (pixels are points), level with the row at `y`."""
    x1 = x + 4.4 * len(text)
    return ([[x, y - 0.5], [x1, y - 0.5], [x1, y + 8.5], [x, y + 8.5]], text, score)


def _fill(words: list[Word], lines: list[RapidLine]) -> tuple[list[LabelRow], list[ReadIssue]]:
    _, rows, issues = _read(words)
    points = in_points(lines, 72.0)
    filled, repairs, _ = fill_rows(
        words, {}, rows, issues, candidates(points), lambda r, a, u: confirm(r, points, a, u)
    )
    _, rows, issues = _read(filled, repairs)
    return rows, issues


def test_a_panel_is_tiny_below_the_named_text_size() -> None:
    assert config.TINY_TEXT_PX == 8.0
    assert (tiny(6.0), tiny(7.99), tiny(8.0), tiny(None)) == (True, True, False, False)


def test_any_unread_row_of_a_tiny_panel_calls_for_the_second_reading() -> None:
    _, rows, issues = _read(_panel([("Biotin", "3OOmcq", "1000%")]))
    assert [i.detail for i in issues] == [
        "page 1, line 1: amount '3OOmcq' of 'Biotin' could not be read"
    ]
    assert (triggered(rows, issues, 6.0), triggered(rows, issues, 10.0)) == (True, False)
    assert triggered(rows, issues) is False


def test_candidates_take_low_confidence_amounts_a_lone_I_and_mangled_units() -> None:
    lines = in_points(
        [
            _rapid(46, 120, "50.mB", 0.77),
            _rapid(58, 120, "15mg", 0.59),
            _rapid(70, 120, "Img", 0.79),
            _rapid(82, 120, "Senl", 0.60),
            _rapid(94, 120, "25mg", 0.54),  # below the floor
            _rapid(106, 10, "Iron 18mg", 0.90),
            _rapid(118, 120, "50.xB", 0.90),  # no unit starts with x
        ],
        72.0,
    )
    assert candidates(lines) == [
        Amount("50", "", 120.0, 142.0, 45.5, 54.5, 77.0, "'50.mB'"),
        Amount("15", "mg", 120.0, 137.6, 57.5, 66.5, 59.0),
        Amount("1", "mg", 120.0, 133.2, 69.5, 78.5, 79.0, "'Img' read as 1 mg"),
        Amount("18", "mg", 32.0, 49.6, 105.5, 114.5, 90.0),
    ]


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("Somg", ("50", "mg")),
        ("img", ("1", "mg")),
        ("7,5mg", ("7.5", "mg")),
        ("2OOmeg", ("200", "mcg")),
        ("tSmg", None),  # a t is no digit's look-alike
        ("Somgx", None),
        ("mg", None),
    ],
)
def test_tesseract_text_is_read_with_its_look_alike_digits(
    text: str, read: tuple[str, str] | None
) -> None:
    assert as_tesseract_read(text) == read


def test_tiny_amounts_fill_when_tesseract_reads_them_alike_or_the_dv_confirms_them() -> None:
    words = _panel(
        [
            ("Vitamin C", "Somg", "56%"),
            ("Vitamin E", "tSmg", "1OOX"),
            ("Manganese", "img", "42%"),
        ]
    )
    lines = [
        _rapid(46, 120, "50.mB", 0.77),
        _rapid(58, 120, "15mg", 0.59),
        _rapid(58, 160, "100%", 0.92),
        _rapid(70, 120, "Img", 0.79),
    ]
    rows, issues = _fill(words, lines)
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.confidence, r.repairs) for r in rows] == [
        (
            "Vitamin C",
            "50",
            "mg",
            77.0,
            f"{FILLED}; 50 mg: RapidOCR read '50.mB' at 77%, Tesseract 'Somg': read alike",
        ),
        (
            "Vitamin E",
            "15",
            "mg",
            25.0,  # REPAIRED_CONFIDENCE: a %DV confirms, it does not read
            f"{FILLED}; 15 mg: RapidOCR read 15 mg at 59%, "
            "confirmed by the printed 100% DV of 15 mg",
        ),
        (
            "Manganese",
            "1",
            "mg",
            79.0,
            f"{FILLED}; 1 mg: RapidOCR read 'Img' at 79%, Tesseract 'img': read alike",
        ),
    ]
    # the %DV Tesseract misread stays unread: RapidOCR's "100%" confirmed the amount only
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount '1OOX' of 'Vitamin E' could not be read"
    ]


def test_a_tiny_amount_the_dv_confirmed_is_still_checked_by_the_panel_reader() -> None:
    """The printed %DV as RapidOCR read it confirms 15 mg of vitamin E; Tesseract's reading
    of it, "20%", is the panel's %DV, and the reader's own %DV check doubts the amount."""
    rows, issues = _fill(
        _panel([("Vitamin E", "tSmg", "20%")]),
        [_rapid(46, 120, "15mg", 0.59), _rapid(46, 160, "100%", 0.92)],
    )
    assert [(r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [(None, None, "20%")]
    assert [i.detail for i in issues] == [
        "page 1, line 1: amount '15 mg (15 mg of vitamin E would be 100% of the 15 mg DV "
        "(75% of the older 20.1 mg DV), the label prints 20%: amount or %DV misread)' of "
        "'Vitamin E' could not be read"
    ]


def test_a_tiny_amount_beside_a_misread_leading_zero_dv_is_kept_confirmed() -> None:
    """Tesseract's "00%" (the "1" of 100% lost) checks nothing; RapidOCR's 100% confirms."""
    rows, issues = _fill(
        _panel([("Vitamin E", "tSmg", "00%")]),
        [_rapid(46, 120, "15mg", 0.59), _rapid(46, 160, "100%", 0.92)],
    )
    got = [(r.amount_raw, r.unit_raw, r.dv_raw, r.confidence) for r in rows]
    assert got == [("15", "mg", "00%", REPAIRED_CONFIDENCE)]
    assert issues == []


@pytest.mark.parametrize(
    ("row", "rapid"),
    [
        # a lost digit: 5 mg of vitamin E is 33% of its DV, the label prints 100%
        (("Vitamin E", "tSmg", "100%"), [_rapid(46, 120, "5mg", 0.59)]),
        # Tesseract reads 50, RapidOCR 60 below its threshold, and no %DV to tell
        (("Vitamin C", "Somg", "*"), [_rapid(46, 120, "60mg", 0.70)]),
        # the mangled unit starts with g, Tesseract's with m
        (("Vitamin C", "Somg", "56%"), [_rapid(46, 120, "50.gB", 0.90)]),
        # a mangled unit and nothing under it to take the unit from
        (("Vitamin C", "tSmq", "56%"), [_rapid(46, 120, "50.mB", 0.90)]),
        # read surely, but Tesseract's digits are not RapidOCR's
        (("Vitamin C", "6Smg", "56%"), [_rapid(46, 120, "50mg", 0.95)]),
        # the %DV confirms 15 mg of vitamin E, but the names are two nutrients
        (
            ("Vitamin C", "tSmg", "100%"),
            [_rapid(46, 10, "Vitamin E", 0.9), _rapid(46, 120, "15mg", 0.59)],
        ),
    ],
)
def test_an_unconfirmed_tiny_amount_leaves_its_row_unread(
    row: tuple[str, str, str], rapid: list[RapidLine]
) -> None:
    words = _panel([row])
    _, _, before = _read(words)
    rows, issues = _fill(words, rapid)
    assert [(r.amount_raw, r.unit_raw) for r in rows] == [(None, None)]
    assert issues == before
    assert [i.detail for i in issues] == [
        f"page 1, line 1: amount '{row[1]}' of '{row[0]}' could not be read"
    ]


def test_a_sure_tiny_amount_fills_as_on_any_panel() -> None:
    rows, issues = _fill(_panel([("Biotin", "3OOmcq", "1000%")]), [_rapid(46, 120, "300mcg", 0.97)])
    assert [(r.amount_raw, r.unit_raw, r.repairs) for r in rows] == [("300", "mcg", FILLED)]
    assert issues == []


def _glued_chromium() -> RapidLine:
    """RapidOCR's one line for a row's name and amount, its "76mcg" over x 120-147.5."""
    text = "Chromium(as Chelate)76mcg"  # 20 characters of name, 5.5 pt a character
    x0, x1 = 10.0, 10.0 + 5.5 * len(text)
    return ([[x0, 45.5], [x1, 45.5], [x1, 54.5], [x0, 54.5]], text, 0.88)


def test_a_row_whose_name_names_no_nutrient_takes_rapidocrs_name_when_its_dv_agrees() -> None:
    # Tesseract read "onwm" for Chromium; RapidOCR glued the name to the amount; 76 mcg of
    # chromium is 217% of its 35 mcg DV, as printed
    words = _panel([("onwm", "7Gmeg", "217%")])
    rows, issues = _fill(words, [_glued_chromium()])
    got = [(r.name_raw, r.amount_raw, r.unit_raw, r.confidence, r.repairs) for r in rows]
    assert got == [
        (
            "Chromium",
            "76",
            "mcg",
            REPAIRED_CONFIDENCE,
            "name read by RapidOCR 'Chromium(as Chelate)': Tesseract read 'onwm'; " + FILLED,
        )
    ]
    assert issues == []


@pytest.mark.parametrize(
    ("name", "dv"),
    [
        ("onwm", "90%"),  # 76 mcg of chromium is not 90%: Tesseract's name kept
        ("Biotin", "217%"),  # Tesseract's name names a nutrient: kept
    ],
)
def test_rapidocrs_name_is_not_taken_without_agreement(name: str, dv: str) -> None:
    rows, _ = _fill(_panel([(name, "7Gmeg", dv)]), [_glued_chromium()])
    assert [r.name_raw for r in rows] == [name]
    assert "name read by RapidOCR" not in (rows[0].repairs or "")


def test_a_dv_printed_with_a_leading_zero_is_a_misread_and_checks_nothing() -> None:
    assert check_dv("15", "mg", "00%", "Vitamin E") is None
    assert check_dv("15", "mg", "05%", "Vitamin E") is None
    assert check_dv("15", "mg", "0.5%", "Vitamin E") is not None  # a real 0.5% doubts 15 mg


def test_a_point_the_dv_put_back_is_no_disagreement_with_the_digits_read() -> None:
    repaired = "7.5 mg: the point OCR lost, from the printed 68% DV of 11 mg"
    assert point_put_back("7.5", repaired, "75") is True
    assert point_put_back("7.5", "Zino->Zinc", "75") is False  # no point put back
    assert point_put_back("7.5", repaired, "76") is False  # other digits
    assert point_put_back("75", repaired, "75") is False  # no point in the kept amount


@pytest.mark.parametrize(
    ("kept", "others", "serving"),
    [
        ("Capsule", ["1 Capsule"], "1 Capsule"),
        ("capsule", [None, "1  Capsule"], "1 Capsule"),
        ("Capsule", ["1 Capsule", "2 Capsule"], "Capsule"),  # the others disagree
        ("Capsule", ["1 Tablet"], "Capsule"),
        ("2 Capsules", ["1 Capsule"], "2 Capsules"),  # the kept one has its count
        (None, ["1 Capsule"], None),
    ],
)
def test_a_serving_size_takes_the_count_another_reading_read(
    kept: str | None, others: list[str | None], serving: str | None
) -> None:
    assert counted(kept, others) == serving


@dataclass(frozen=True)
class _Page:
    parsed: tuple[list[Label], list[LabelRow], list[ReadIssue]] | None


def _page(serving: str, rows: list[LabelRow]) -> _Page:
    return _Page(([Label("x.png", 0, "X", serving_size=serving)], rows, []))


def test_the_better_page_reading_is_kept_with_the_count_the_other_read() -> None:
    row = LabelRow("x.png", 0, 1, "Magnesium", "125", "mg")
    alone, whole = _page("Capsule", [row]), _page("1 Capsule", [])
    kept = better_of(alone, whole)
    assert kept.parsed is not None
    assert [label.serving_size for label in kept.parsed[0]] == ["1 Capsule"]
    assert kept.parsed[1] == [row]
    assert better_of(whole, alone) is not whole  # the one with the row is kept
    tie = better_of(_page("1 Capsule", []), _page("Capsule", []))
    assert tie.parsed is not None and tie.parsed[0][0].serving_size == "1 Capsule"
    labels = [Label("x.png", 0, "X", serving_size="Capsule")]
    assert with_counts(labels, [[Label("x.png", 1, "Y", serving_size="1 Capsule")]]) == labels


@dataclass(frozen=True)
class _Reading:
    words: list[Word]
    repairs: dict[Word, str]
    text_px: float | None
    panels: tuple[object, ...]
    parsed: tuple[list[Label], list[LabelRow], list[ReadIssue]] | None


@pytest.mark.parametrize(("text_px", "amount"), [(6.0, ("50", "mg")), (10.0, (None, None))])
def test_the_second_reading_confirms_amounts_on_tiny_panels_only(
    monkeypatch: pytest.MonkeyPatch, text_px: float, amount: tuple[str | None, str | None]
) -> None:
    """At 6 px one unread row calls for the second reading and "50.mB" over Tesseract's
    "Somg" fills it; at 10 px one unread vitamin C row does not call for it."""
    words = _panel([("Vitamin C", "Somg", "56%")])
    lines = [_rapid(46, 120, "50.mB", 0.77)]
    monkeypatch.setattr(ocr_second, "rapid_lines", lambda gray, box, px: lines)
    done = _Reading(words, {}, text_px, (), _read(words))
    body = PanelRegion(0, 0, 200, 100, boxed=True)
    with Image.new("L", (200, 100), 255) as gray:
        out = ocr_second.second_reading(done, gray, body, 72.0, _parse, "x.png", "x")
    assert out.parsed is not None
    assert [(r.amount_raw, r.unit_raw) for r in out.parsed[1]] == [amount]


def _parse(pages, repairs, source_file, fallback_name, graphics):  # type: ignore[no-untyped-def]
    return words_to_labels(
        pages, source_file, fallback_name=fallback_name, source_format="image-ocr", repairs=repairs
    )
