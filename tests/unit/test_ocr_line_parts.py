"""A Tesseract line that joins small text with a large heading across a gutter is given
an extent part by part (pure functions on OCR words, no OCR run)."""

from __future__ import annotations

from pipeline.sources.ocr_words import OcrWord, line_parts, ocr_words_to_words


def _line() -> list[OcrWord]:
    """ "SUGGESTED USE: take one" (ink 30 px high) beside "Supplement Facts" (90 px) far
    right, all in one Tesseract line box 0..110."""
    return [
        OcrWord("SUGGESTED", 0, 0, 190, 110, 90.0, (1, 1, 1), (40, 70)),
        OcrWord("USE:", 200, 0, 70, 110, 96.0, (1, 1, 1), (40, 70)),
        OcrWord("take", 280, 0, 60, 110, 95.0, (1, 1, 1), (38, 70)),
        OcrWord("Supplement", 1500, 0, 600, 110, 96.0, (1, 1, 1), (10, 110)),
        OcrWord("Facts", 2120, 0, 300, 110, 96.0, (1, 1, 1), (10, 100)),
    ]


def test_small_text_beside_a_large_heading_gets_its_own_extent() -> None:
    assert [[w.text for w in p] for p in line_parts(_line())] == [
        ["SUGGESTED", "USE:", "take"],
        ["Supplement", "Facts"],
    ]
    words, _ = ocr_words_to_words(_line(), 72.0, (0.0, 0.0), 1)
    assert [(w.text, w.top, w.bottom) for w in words] == [
        ("SUGGESTED", 38.0, 70.0),
        ("USE:", 38.0, 70.0),
        ("take", 38.0, 70.0),
        ("Supplement", 0.0, 110.0),
        ("Facts", 0.0, 110.0),
    ]


def test_a_row_across_a_wide_gap_in_one_size_stays_one_part() -> None:
    row = [
        OcrWord("Calcium", 0, 0, 140, 40, 96.0, (1, 1, 1), (2, 38)),
        OcrWord("500mg", 1200, 0, 110, 40, 96.0, (1, 1, 1), (4, 34)),
    ]
    assert [[w.text for w in p] for p in line_parts(row)] == [["Calcium", "500mg"]]
    words, _ = ocr_words_to_words(row, 72.0, (0.0, 0.0), 1)
    assert {(w.top, w.bottom) for w in words} == {(0.0, 40.0)}
