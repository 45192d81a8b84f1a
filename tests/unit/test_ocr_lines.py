"""Two printed lines Tesseract read as one: found, cut and parted (pure functions on a
drawn page and OCR words; the second reading is given, no OCR run)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.sources.ocr_glyphs import page_ink
from pipeline.sources.ocr_lines import halves, read_split_lines, split_band, tall_lines
from pipeline.sources.ocr_words import OcrWord


def _page() -> Image.Image:
    """Glyph blocks of a line at rows 10-40 and of a line under it at rows 46-76, with
    a descender (rows 10-44) and one glyph of each line touching (rows 20-70)."""
    a = np.full((100, 300), 255, dtype=np.uint8)
    for x in range(10, 200, 30):
        a[10:40, x : x + 20] = 0  # upper line
        a[46:76, x + 5 : x + 25] = 0  # lower line
    a[10:44, 250:262] = 0  # a "g": its descender reaches below the cut
    a[20:70, 220:226] = 0  # a glyph of each line, touching
    return Image.fromarray(a)


def _words() -> list[OcrWord]:
    upper = [OcrWord("Magnesium", 10, 10, 180, 30, 90.0, (1, 1, 1), (10, 40))]
    tall = [
        OcrWord("(as", 10, 12, 60, 64, 40.0, (1, 1, 2), (46, 76)),
        OcrWord("mg", 250, 12, 20, 64, 70.0, (1, 1, 2), (10, 44)),
    ]
    others = [
        OcrWord("Zinc", 10, 90 + 40 * k, 60, 34, 95.0, (2, 1, k), (90 + 40 * k, 124 + 40 * k))
        for k in range(3)
    ]
    return upper + tall + others


def test_a_tall_line_under_another_is_found_and_cut_between_them() -> None:
    words = _words()
    assert tall_lines(words) == [(12, 76)]
    ink = page_ink(_page())
    # the emptiest middle row: only the touching glyph's ink, nearest the middle
    assert split_band(ink, words, (12, 76)) == (10, 44, 76)


def test_each_half_keeps_its_line_whole_and_parts_touching_glyphs() -> None:
    upper, lower = (page_ink(h) for h in halves(_page(), (10, 44, 76)))
    # the band's rows 10..75; the upper half keeps the "g" with its descender
    assert upper[0:30, 10:30].all() and not upper[36:66, 15:35].any()
    assert upper[0:34, 250:262].all()
    assert lower[36:66, 15:35].all() and not lower[0:30, 10:30].any()
    # the touching glyph: above the cut in the upper half, below it in the lower one
    assert upper[10:34, 220:226].all() and not upper[34:60, 220:226].any()
    assert lower[34:60, 220:226].all() and not lower[10:34, 220:226].any()


def test_the_band_is_read_again_and_its_words_replaced() -> None:
    calls: list[tuple[int, int]] = []

    def ocr(image: Image.Image) -> list[OcrWord]:
        calls.append(image.size)
        # the stacked halves: white (34 px) then the upper half (66 rows), white, the lower
        return [
            OcrWord("Magnesium", 44, 34, 180, 30, 93.0, (1, 1, 1), (34, 64)),
            OcrWord("(as", 44, 34 + 66 + 34 + 36, 60, 30, 91.0, (1, 1, 2), (170, 200)),
        ]

    out = read_split_lines(_page(), _words(), ocr)
    assert calls == [(368, 234)]
    assert [(w.text, w.left, w.top, w.line_key[0]) for w in out] == [
        ("Zinc", 10, 90, 2),
        ("Zinc", 10, 130, 2),
        ("Zinc", 10, 170, 2),
        ("Magnesium", 10, 10, 100_001),
        ("(as", 10, 46, 100_001),
    ]


def test_a_page_without_such_lines_is_left_as_read() -> None:
    words = [*_words()[3:], _words()[0]]
    assert tall_lines(words) == []
    assert read_split_lines(_page(), words, lambda image: []) == words
