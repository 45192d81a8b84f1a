"""An amount OCR read with low confidence is read again alone: only the same text read
with high confidence confirms it (pure: the second reading is given, no OCR run)."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from pipeline.sources.ocr_glyphs import CONFIRM_MAX_WORDS, confirm_low, word_crop
from pipeline.sources.ocr_words import OcrWord


def _word(text: str, conf: float, left: int = 100) -> OcrWord:
    return OcrWord(text, left, 40, 60, 30, conf, (1, 1, 1), (45, 65))


def _reader(
    text: str, conf: float, calls: list[tuple[int, int]]
) -> Callable[[Image.Image], list[OcrWord]]:
    def read(crop: Image.Image) -> list[OcrWord]:
        calls.append(crop.size)
        return [OcrWord(text, 0, 0, 10, 10, conf, (1, 1, 1))] if text else []

    return read


def test_same_text_read_surely_confirms_the_amount() -> None:
    page = Image.new("L", (400, 120), 255)
    calls: list[tuple[int, int]] = []
    words = [_word("Carnitine", 20.0, 10), _word("750mg", 14.0), _word("500mg", 90.0, 200)]
    out = confirm_low(page, words, _reader("750mg", 94.0, calls))
    assert [(w.text, w.confidence) for w in out] == [
        ("Carnitine", 20.0),  # not an amount: not read again
        ("750mg", 94.0),
        ("500mg", 90.0),  # read surely the first time: not read again
    ]
    # the word's ink (20 px high) with 12 px of white around it
    assert calls == [(84, 44)]
    assert word_crop(page, [words[1]]).size == (84, 44)


def test_another_text_or_an_unsure_second_reading_leaves_it_doubtful() -> None:
    page = Image.new("L", (400, 120), 255)
    for text, conf in (("1mg", 95.0), ("11mg", 60.0), ("", 0.0)):
        out = confirm_low(page, [_word("11mg", 0.0)], _reader(text, conf, []))
        assert [(w.text, w.confidence) for w in out] == [("11mg", 0.0)]


def test_at_most_a_number_of_words_a_page_are_read_again() -> None:
    page = Image.new("L", (400, 120), 255)
    calls: list[tuple[int, int]] = []
    words = [_word("10mg", 5.0) for _ in range(CONFIRM_MAX_WORDS + 3)]
    out = confirm_low(page, words, _reader("10mg", 90.0, calls))
    assert len(calls) == CONFIRM_MAX_WORDS
    assert [w.confidence for w in out].count(90.0) == CONFIRM_MAX_WORDS


def test_an_amount_and_its_unit_word_are_read_again_together() -> None:
    page = Image.new("L", (400, 120), 255)
    calls: list[tuple[int, int]] = []
    words = [_word("850", 60.0), _word("mcg", 0.0, 170)]
    out = confirm_low(page, words, _reader("850mcg", 91.0, calls))
    assert [(w.text, w.confidence) for w in out] == [("850", 91.0), ("mcg", 91.0)]
    assert calls == [(154, 44)]  # from the number's left to the unit's right, 12 px around
