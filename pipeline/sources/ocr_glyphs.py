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
from pipeline.sources.ocr_words import _UNIT_RE, UNIT_REPAIRS, OcrWord

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


def word_crop(image: Image.Image, words: Sequence[OcrWord]) -> Image.Image:
    """The ink box of `words` (one word, or an amount and its unit) in `image` with
    CONFIRM_MARGIN of its height around it."""
    inks = [w.ink if w.ink is not None else (w.top, w.top + w.height) for w in words]
    top, bottom = min(i[0] for i in inks), max(i[1] for i in inks)
    m = round(CONFIRM_MARGIN * max(1, bottom - top))
    right = max(w.left + w.width for w in words)
    return image.crop((max(0, words[0].left - m), max(0, top - m), right + m, bottom + m))


def _amounts(words: Sequence[OcrWord]) -> list[list[int]]:
    """The amount words of `words`, each with the unit word after it on its line when
    there is one ("850" "mcg"): lists of indices."""
    out: list[list[int]] = []
    for i, w in enumerate(words):
        if not _AMOUNT_WORD_RE.match(w.text):
            continue
        nxt = words[i + 1] if i + 1 < len(words) else None
        unit = (
            nxt is not None
            and nxt.line_key == w.line_key
            and (_UNIT_RE.match(nxt.text) is not None or nxt.text in UNIT_REPAIRS)
        )
        out.append([i, i + 1] if unit else [i])
    return out


def confirm_low(
    image: Image.Image,
    words: Sequence[OcrWord],
    read_line: Callable[[Image.Image], list[OcrWord]],
) -> list[OcrWord]:
    """`words` (in reading order) with each amount read below CONFIRM_BELOW (its number,
    or its unit word) read again on its own (`read_line`: OCR of one line of text): when
    that reading gives the same text (spaces aside), and only that, every word of it with
    CONFIRM_CONFIDENCE or more, two readings agree and the amount's words take the second
    reading's lowest confidence. A different text, or a second reading as unsure, leaves
    them as read (still doubtful). The text is never changed here."""
    out = list(words)
    low = [a for a in _amounts(words) if min(words[i].confidence for i in a) < CONFIRM_BELOW]
    for group in low[:CONFIRM_MAX_WORDS]:
        crop = word_crop(image, [words[i] for i in group])
        try:
            again = read_line(crop)
        finally:
            crop.close()
        same = "".join(w.text for w in again) == "".join(words[i].text for i in group)
        if same and again and min(w.confidence for w in again) >= CONFIRM_CONFIDENCE:
            conf = min(w.confidence for w in again)
            for i in group:
                out[i] = dataclasses.replace(words[i], confidence=conf)
    return out
