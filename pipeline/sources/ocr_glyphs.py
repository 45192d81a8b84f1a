"""A digit OCR dropped: an amount whose ink holds more glyphs than its reading has characters;
and an amount read with low confidence confirmed (or not) by a second reading of it alone.

Tesseract can drop a narrow glyph from a word and still be sure of what is left: "1130mg"
read as "130mg" at 84% confidence. A wrong amount presented as right is the worst
outcome, so each word of an amount (a number, alone or glued to its unit) is checked
against the page's ink: its separate glyphs (connected components in the word's box of
at least `MIN_GLYPH_SHARE` of the word's tallest glyph: a "." or "," counts as one
character and one small glyph, so both are left out) are counted, and when there are
more than the characters read, a glyph was dropped. Such a word's confidence is set to 0:
the panel reader does not take an amount read below `ReaderSettings.amount_confidence`
and reports it as unreadable (a read issue), which makes `read_image` read the page
again at another text size. Glyphs that touch (fewer glyphs than characters) say
nothing and leave the word as read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.sources.ocr_words import OcrWord

#: A glyph is at least this share of the word's tallest glyph high (a "." is not).
MIN_GLYPH_SHARE = 0.5
#: The words checked: a number (digits, "," and "."), alone or glued to a unit.
_AMOUNT_WORD_RE = re.compile(r"^[<>]?\d[\d,.]*(?:mcg|mg|g|µg|ug|IU)?$")


def page_ink(image: Image.Image) -> np.ndarray:
    """A prepared page (black ink on white) as a mask, True where there is ink."""
    return np.asarray(image.convert("L")) < 128


def glyph_count(ink: np.ndarray) -> int:
    """The glyphs in `ink` (a word's box, True where there is ink): its 8-connected
    components at least MIN_GLYPH_SHARE of the tallest one high."""
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return 0
    heights = np.array([s[0].stop - s[0].start for s in ndimage.find_objects(labels)])
    return int((heights >= MIN_GLYPH_SHARE * heights.max()).sum())


def read_chars(text: str) -> int:
    """The characters of an amount word that are glyphs of full height (not "." or ",")."""
    return sum(c.isalnum() for c in text)


def dropped_glyph(ink: np.ndarray, word: OcrWord) -> bool:
    """Whether `word` (an amount word, in the pixels of `ink`) has more glyphs in its box
    than characters read."""
    if not _AMOUNT_WORD_RE.match(word.text):
        return False
    top, bottom = word.ink if word.ink is not None else (word.top, word.top + word.height)
    box = ink[max(0, top) : bottom, max(0, word.left) : word.left + word.width]
    return box.size > 0 and glyph_count(box) > read_chars(word.text)


def mark_dropped(ink: np.ndarray, words: Sequence[OcrWord]) -> list[OcrWord]:
    """`words` with the confidence of each amount word OCR dropped a glyph from set to 0
    (so the panel reader reports its amount as unreadable, never takes it)."""
    return [dataclasses.replace(w, confidence=0.0) if dropped_glyph(ink, w) else w for w in words]


# --- an amount read with low confidence, read again on its own -----------------------

#: Amount words read below this confidence (%) are read again alone (below it, a protocol
#: amount makes its product not_assessable; the panel reader drops amounts read below 20).
CONFIRM_BELOW = MIN_AMOUNT_CONFIDENCE
#: The second reading confirms the first only with this confidence (%) or more...
CONFIRM_CONFIDENCE = 80.0
#: ...read from the word's ink with this many of its heights of white around it...
CONFIRM_MARGIN = 0.6
#: ...for at most this many words a page (each is one more OCR call)...
CONFIRM_MAX_WORDS = 12
#: ...each read as one line of text (Tesseract page segmentation mode 7).
CONFIRM_PSM = 7


def word_crop(image: Image.Image, word: OcrWord) -> Image.Image:
    """The word's ink box in `image` with CONFIRM_MARGIN of its height around it."""
    top, bottom = word.ink if word.ink is not None else (word.top, word.top + word.height)
    m = round(CONFIRM_MARGIN * max(1, bottom - top))
    box = (max(0, word.left - m), max(0, top - m), word.left + word.width + m, bottom + m)
    return image.crop(box)


def confirm_low(
    image: Image.Image,
    words: Sequence[OcrWord],
    read_line: Callable[[Image.Image], list[OcrWord]],
) -> list[OcrWord]:
    """`words` with each amount word read below CONFIRM_BELOW read again on its own
    (`read_line`: OCR of one line of text): when that reading gives the same text, and
    only that, with CONFIRM_CONFIDENCE or more, two readings agree and the word takes the
    second one's confidence. A different text, or a second reading as unsure, leaves the
    word as read (still doubtful). The text is never changed here."""
    out = list(words)
    low = [
        i
        for i, w in enumerate(words)
        if w.confidence < CONFIRM_BELOW and _AMOUNT_WORD_RE.match(w.text)
    ]
    for i in low[:CONFIRM_MAX_WORDS]:
        crop = word_crop(image, words[i])
        try:
            again = read_line(crop)
        finally:
            crop.close()
        if (
            len(again) == 1
            and again[0].text == words[i].text
            and again[0].confidence >= CONFIRM_CONFIDENCE
        ):
            out[i] = dataclasses.replace(words[i], confidence=again[0].confidence)
    return out
