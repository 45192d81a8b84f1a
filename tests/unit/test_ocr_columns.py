"""Reading column groups side by side (pipeline.sources.ocr_columns), a digit OCR dropped
(ocr_glyphs), and the panel-reader rules they rely on: pure functions over small arrays
and hand-placed words, exact values."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.panel import column_gutters
from pipeline.panel.cells import _header_columns
from pipeline.panel.geometry import _Line
from pipeline.panel.ocr_doubts import ocr_doubt
from pipeline.panel.rows import member_amount
from pipeline.panel.text import _before_values, beside_group
from pipeline.records import Word
from pipeline.sources.ocr_columns import (
    Gutter,
    Part,
    compose,
    confirmed,
    crossed,
    find_gutters,
    layout,
    place,
)
from pipeline.sources.ocr_glyphs import dropped_glyph, glyph_count, mark_dropped, read_chars
from pipeline.sources.ocr_words import OcrWord, _box_words, ocr_words_to_words

# --- gutters in pixels ---------------------------------------------------------------


def _two_groups() -> np.ndarray:
    """200 x 400 px of ink: text lines (10 px high, every 20 px) in x 10-180 and 220-390,
    with a 40 px white gutter between; a heading across the whole width on top."""
    ink = np.zeros((200, 400), dtype=bool)
    ink[2:12, 10:390] = True  # the heading, across the gutter
    for y in range(30, 190, 20):
        ink[y : y + 10, 10:180] = True
        ink[y + 5 : y + 15, 220:390] = True  # the right group's rows are not level
    return ink


def test_find_gutters_gives_the_tall_white_band_between_the_groups() -> None:
    gutters = find_gutters(_two_groups(), 10.0)
    # strips of 5 px; the band runs from below the heading to the bottom of the page
    assert gutters[0] == Gutter(180, 220, 15, 200)
    assert gutters[0].x == 200.0


def test_find_gutters_needs_ink_on_both_sides_and_enough_height() -> None:
    ink = _two_groups()
    ink[:, 220:] = False  # no right group: the white at the right is the margin
    assert [g for g in find_gutters(ink, 10.0) if g.x0 >= 180] == []
    short = np.zeros((40, 400), dtype=bool)
    short[5:35, 10:180] = True
    short[5:35, 220:390] = True
    assert find_gutters(short, 10.0) == []  # 30 px: less than 6 text heights


def _word(text: str, left: int, top: int, key: int, conf: float = 95.0) -> OcrWord:
    return OcrWord(text, left, top, 10 * len(text), 10, conf, (1, 1, key), (top, top + 10))


def test_confirmed_and_crossed_by_the_first_reading() -> None:
    gutter = Gutter(180, 220, 15, 200)
    rows = [
        ("Total", 10, "Fat", 60, "0g", 150, "Calcium", 230, "20mg", 330),
        ("Sodium", 10, "", 0, "5mg", 150, "Magnesium", 230, "5mg", 340),
        ("Protein", 10, "", 0, "0g", 150, "Zinc", 230, "50mg", 330),
    ]
    words: list[OcrWord] = []
    for k, (a, ax, b, bx, c, cx, d, dx, e, ex) in enumerate(rows, start=1):
        top = 30 + 20 * k
        words += [_word(a, ax, top, k), _word(c, cx, top, k), _word(d, dx, top, k)]
        words += [_word(e, ex, top, k)] + ([_word(b, bx, top, k)] if b else [])
    assert crossed(words, gutter) is True  # one Tesseract line on both sides
    assert confirmed(words, gutter) is True
    # a %DV column right of the gutter is no group: values, not names, and no amounts
    dv = [w for w in words if w.left < 180] + [_word("2%", 230, 30 + 20 * k, k) for k in (1, 2, 3)]
    assert confirmed(dv, gutter) is False
    # lines read apart already: nothing to read again
    apart = [OcrWord(*w.__dict__.values()) for w in words]
    apart = [
        OcrWord(
            w.text,
            w.left,
            w.top,
            w.width,
            w.height,
            w.confidence,
            (2 if w.left > 200 else 1, 1, w.top),
            w.ink,
        )
        for w in apart
    ]
    assert crossed(apart, gutter) is False


def test_layout_cuts_above_beside_and_below_the_band() -> None:
    ink = _two_groups()
    ink[195:200, 10:390] = True  # a line across the whole width at the bottom
    gutter = Gutter(180, 220, 15, 190)
    parts = layout(ink, [gutter], 10.0)
    # each cut at the empty row nearest the band's edge inside it (top 15; bottom: rows
    # 185-189 are empty, 189 the nearest to 190); the parts are stacked 20 px apart
    # (2 text heights) and 20 px from the left
    assert parts == [
        Part(0, 0, 400, 15, 20, 20),
        Part(0, 15, 200, 189, 20, 55),
        Part(200, 15, 400, 189, 20, 249),
        Part(0, 189, 400, 200, 20, 443),
    ]


def test_compose_and_place_map_words_back_to_the_page() -> None:
    page = Image.new("L", (400, 200), 255)
    page.paste(0, (230, 50, 260, 60))  # a mark in the right group
    parts = [Part(0, 0, 200, 100, 20, 20), Part(200, 0, 400, 100, 20, 140)]
    stacked = compose(page, parts)
    assert stacked.size == (220, 240)
    assert np.asarray(stacked)[190, 50] == 0  # (230, 50) moved by (-200 + 20, 140)
    read = [OcrWord("20mg", 50, 188, 30, 10, 90.0, (3, 1, 1), (190, 200))]
    assert place(read, parts) == [OcrWord("20mg", 230, 48, 30, 10, 90.0, (3, 1, 1), (50, 60))]
    # a word in the white between two parts is dropped
    assert place([OcrWord("x", 5, 125, 5, 10, 10.0, (4, 1, 1))], parts) == []


# --- a dropped digit -----------------------------------------------------------------


def _glyphs(count: int) -> np.ndarray:
    ink = np.zeros((20, 12 * count + 4), dtype=bool)
    for i in range(count):
        ink[4:16, 4 + 12 * i : 12 + 12 * i] = True
    ink[14:16, 1:3] = True  # a decimal point's speck: less than half a glyph high
    return ink


def test_glyph_count_counts_full_height_components() -> None:
    assert glyph_count(_glyphs(6)) == 6
    assert glyph_count(np.zeros((5, 5), dtype=bool)) == 0
    assert read_chars("1,130mg") == 6
    assert read_chars("0.15") == 3


def test_an_amount_with_more_glyphs_than_read_characters_is_not_taken() -> None:
    ink = _glyphs(6)  # "1130mg": six glyphs
    word = OcrWord("130mg", 0, 0, ink.shape[1], 20, 84.0, (1, 1, 1), (0, 20))
    assert dropped_glyph(ink, word) is True
    assert mark_dropped(ink, [word])[0].confidence == 0.0
    right = OcrWord("1130mg", 0, 0, ink.shape[1], 20, 84.0, (1, 1, 1), (0, 20))
    assert dropped_glyph(ink, right) is False
    name = OcrWord("Calcium", 0, 0, ink.shape[1], 20, 84.0, (1, 1, 1), (0, 20))
    assert dropped_glyph(ink, name) is False  # only amounts are checked
    # touching glyphs (fewer glyphs than characters) say nothing
    assert dropped_glyph(_glyphs(3), OcrWord("1130mg", 0, 0, 40, 20, 84.0, (1, 1, 1))) is False


# --- the line box, separators, footnotes, members ---------------------------------------


def test_a_tall_mark_does_not_set_its_line_box() -> None:
    line = [
        OcrWord("Boron", 0, 100, 50, 50, 96.0, (1, 1, 1), (110, 136)),
        OcrWord("1mg", 200, 100, 30, 50, 90.0, (1, 1, 1), (110, 140)),
        OcrWord("Tt", 300, 100, 20, 50, 60.0, (1, 1, 1), (104, 150)),
    ]
    assert [w.text for w in _box_words(line)] == ["Boron", "1mg"]
    words, _ = ocr_words_to_words(line, 72.0, (0.0, 0.0), 1)
    assert {(w.top, w.bottom) for w in words} == {(110.0, 140.0)}


def _w(text: str, x0: float, x1: float, top: float = 0.0, h: float = 10.0) -> Word:
    return Word(text, x0, x1, top, top + h, 1)


def test_column_gutters_with_rows_not_level_between_the_groups() -> None:
    lines = [
        [_w("Total", 0, 40, 0), _w("0g", 90, 110, 0)],
        [_w("Calcium", 150, 210, 6), _w("20mg", 260, 290, 6)],
        [_w("Sodium", 0, 50, 12), _w("5mg", 90, 110, 12)],
        [_w("Magnesium", 150, 230, 18), _w("5mg", 260, 290, 18)],
        [_w("Protein", 0, 50, 24), _w("0g", 90, 110, 24)],
        [_w("Zinc", 150, 190, 30), _w("50mg", 260, 290, 30)],
    ]
    assert column_gutters(lines) == [130.0]


def test_a_heading_of_no_letter_or_digit_is_no_column() -> None:
    header = _Line([_w("Amount", 40, 90), _w("Per", 95, 115), _w("Serving", 120, 170),
                    _w("=", 190, 194), _w("%DV", 220, 250)], 1)  # fmt: skip
    assert [(c.kind, c.text) for c in _header_columns([header])] == [
        ("amount", "Amount Per Serving"),
        ("dv", "%DV"),
    ]


def test_a_tight_serving_line_is_kept_whole_over_the_value_column() -> None:
    words = [_w("2", 50, 55), _w("Gummies", 58, 100), _w("(6g)", 103, 125)]
    assert [w.text for w in _before_values(words, 110.0)] == ["2", "Gummies", "(6g)"]
    apart = [_w("1", 50, 55), _w("Tablet", 58, 90), _w("25%", 140, 160)]
    assert [w.text for w in _before_values(apart, 110.0)] == ["1", "Tablet"]
    assert [w.text for w in _before_values(apart, None)] == ["1", "Tablet", "25%"]


def test_a_footnote_under_the_right_group_does_not_end_the_left_one() -> None:
    note = _Line([_w("†", 150, 155, 100), _w("Daily", 158, 180, 100), _w("Value", 183, 210, 100),
                  _w("not", 213, 230, 100), _w("established.", 233, 290, 100)], 1)  # fmt: skip
    left_row = _Line([_w("Cordyceps", 0, 60, 112), _w("75mg", 90, 115, 112)], 1)
    assert beside_group(note, left_row, 0.0) is True
    assert beside_group(note, None, 0.0) is False  # the panel's last line: it ends there
    full = _Line([_w("Other", 0, 30, 112), _w("ingredients:", 33, 90, 112)], 1)
    assert beside_group(note, full, 0.0) is False  # a statement follows
    under = _Line([_w("†", 0, 5, 100), _w("Daily", 8, 30, 100), _w("Value", 33, 60, 100)], 1)
    assert beside_group(under, left_row, 0.0) is False  # the panel's own footnote


def test_a_member_amount_in_parentheses() -> None:
    assert member_amount("Caffeine Anhydrous (300mg)") == ("Caffeine Anhydrous", "300mg")
    assert member_amount("Vitamin B12 (1,000 mcg)") == ("Vitamin B12", "1,000 mcg")
    assert member_amount("Green Tea (leaf) (50 mg)") == ("Green Tea (leaf)", "50 mg")
    assert member_amount("Zinc (as zinc citrate)") == ("Zinc (as zinc citrate)", None)
    assert member_amount("Boron (1.5 mg) extra") == ("Boron (1.5 mg) extra", None)


def test_ocr_doubts_a_point_before_three_digits_and_a_bare_number() -> None:
    assert ocr_doubt("5.000", "mcg", "Biotin") == (
        "a point where a thousands comma may be: 5.000 could be 5,000"
    )
    assert ocr_doubt("0.125", "mg", "Copper") is None
    assert ocr_doubt("29", None, "Sugars") == (
        "no unit: OCR may have read the unit as a digit ('2g' as '29')"
    )
    assert ocr_doubt("15", None, "Calories") is None
    assert ocr_doubt("2", "g", "Sugars") is None
