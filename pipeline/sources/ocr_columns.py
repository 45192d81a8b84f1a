"""Column groups side by side in an image: OCR each group as its own column.

A panel printed as two column groups side by side (nutrition rows on the left, an
ingredient list on the right; or one panel's rows continued in a second group) is one
page of text to Tesseract's single-column mode (`--psm 4`): it reads a line across
both groups, and since the rows of the two groups are seldom level, it merges a row
of one with half a row of the other ("Total Includes Sugars 3g Added Sugars 39").
Here a page whose first reading shows such groups is read again with each group cut
out and OCR'd as a column of its own; the words are mapped back to their place on the
page, so the panel reader sees the groups side by side as in a PDF's text layer (and
parts them with `pipeline.panel.column_gutters`, as it does there).

1. `find_gutters` (pixels): tall, ink-free vertical bands of the prepared page, at
   least `GUTTER_TEXT` text heights wide and `MIN_GUTTER_TEXT` text heights tall,
   with ink on both sides (any gap between a panel's name and amount columns is one
   too: step 2 tells them apart).
2. `confirmed` (words of the first reading): the panel reader's own rule for column
   groups (`parts_groups`, as `column_gutters` applies it): no word of the band crosses
   the gutter, the lines right of it start with a name, not a value, and amounts
   stand left of it; besides, the group right of it starts its lines with words of
   `MIN_NAME_LETTERS` letters and has amounts of its own. Words read with less than
   `MIN_WORD_CONFIDENCE` are specks, not words, and do not count.
3. `layout` and `compose`: the page cut into a part above the band, one part per group
   in the band, and a part below (each cut at the emptiest row near the band's edge),
   stacked one under another with white between them (one Tesseract call reads them
   all); `place` maps each word of that reading back to the page.

Only a page that holds such a band and whose first reading crosses it (a line of one
Tesseract line on both sides) is read again: a page read cleanly is OCR'd once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.panel import SETTINGS, group_lines
from pipeline.panel.cells import parts_groups
from pipeline.panel.text import _AMOUNT_IN_TEXT
from pipeline.records import Word
from pipeline.sources.ocr_glyphs import page_ink
from pipeline.sources.ocr_words import OcrWord

#: A gutter between column groups is at least this many body text heights wide...
GUTTER_TEXT = 1.0
#: ...and this many text heights tall (about four rows).
MIN_GUTTER_TEXT = 6.0
#: The rows a gutter is measured in at once, in text heights.
STRIP_TEXT = 0.5
#: Words of the first reading below this confidence (%) are specks, not words.
MIN_WORD_CONFIDENCE = 50.0
#: The first word of a group's line is a name of at least this many letters.
MIN_NAME_LETTERS = 3
#: A group right of a gutter has at least this many lines with an amount and its unit.
MIN_GROUP_AMOUNTS = 2
#: White between the stacked parts, and left of each, in text heights.
PART_GAP_TEXT = 2.0
#: How far (text heights) from a band's edge its horizontal cut may move to an empty row.
CUT_REACH_TEXT = 1.5


@dataclass(frozen=True)
class Gutter:
    """An ink-free vertical band of a page, in its pixels: columns x0..x1 (exclusive)
    of rows top..bottom (exclusive)."""

    x0: int
    x1: int
    top: int
    bottom: int

    @property
    def x(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class Part:
    """A rectangle of the page (left, top, right, bottom; exclusive) and where its
    top-left corner is in the stacked image (at_x, at_y)."""

    left: int
    top: int
    right: int
    bottom: int
    at_x: int
    at_y: int


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The (start, end) of each run of True in a 1-d mask (end exclusive)."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def find_gutters(ink: np.ndarray, text_px: float) -> list[Gutter]:
    """The tall ink-free vertical bands of a page (`ink`: True where there is ink) whose
    text is `text_px` high: at least GUTTER_TEXT text heights wide and MIN_GUTTER_TEXT
    tall, with ink left and right of them in those rows; the tallest first."""
    h, w = ink.shape
    strip = max(2, round(STRIP_TEXT * text_px))
    n = h // strip
    need = max(1, round(MIN_GUTTER_TEXT * text_px / strip))
    width = max(2, round(GUTTER_TEXT * text_px))
    if n < need or w < 3 * width:
        return []
    filled = np.asarray(ink[: n * strip].reshape(n, strip, w).any(axis=1))  # ink a strip, column
    # columns empty over `need` strips from each strip down (a sliding window)
    counts = np.vstack([np.zeros((1, w), dtype=np.int32), np.cumsum(filled, axis=0)])
    window: np.ndarray = (counts[need:] - counts[:-need]) == 0
    chains: list[list[int]] = []  # [first strip, last strip, x0, x1]
    for s in range(window.shape[0]):
        rows = filled[s : s + need].any(axis=0)
        inked = np.flatnonzero(rows)
        if inked.size == 0:
            continue
        runs = [
            (a, b)
            for a, b in _runs(window[s])
            if b - a >= width and a > inked[0] and b <= inked[-1]
        ]
        for a, b in runs:
            for chain in chains:
                lo, hi = max(chain[2], a), min(chain[3], b)
                if chain[1] == s - 1 and hi - lo >= width:
                    chain[1], chain[2], chain[3] = s, lo, hi
                    break
            else:
                chains.append([s, s, a, b])
    gutters = [Gutter(x0, x1, s0 * strip, (s1 + need) * strip) for s0, s1, x0, x1 in chains]
    return sorted(gutters, key=lambda g: (-(g.bottom - g.top), g.x0))


def _band_words(words: Sequence[OcrWord], gutter: Gutter) -> list[Word]:
    return [
        Word(w.text, w.left, w.left + w.width, w.top, w.top + w.height, 1, w.confidence)
        for w in words
        if w.confidence >= MIN_WORD_CONFIDENCE
        and gutter.top <= w.top + w.height / 2 < gutter.bottom
    ]


def confirmed(words: Sequence[OcrWord], gutter: Gutter) -> bool:
    """Whether the first reading's `words` (page pixels) show `gutter` parting two
    column groups: the panel reader's rule (`parts_groups`) over the words of its rows."""
    band = _band_words(words, gutter)
    lines = group_lines(band)
    if any(w.x0 < gutter.x < w.x1 for w in band) or not parts_groups(lines, gutter.x):
        return False
    # a group of its own starts with a word, not with a mark OCR read as letters ("Tt"),
    # and has amounts of its own (a %DV column beside the amounts has none)
    rights = [[w.text for w in ln if w.x0 > gutter.x] for ln in lines]
    starts = [r[0] for r in rights if r]
    named = sum(sum(c.isalpha() for c in t) >= MIN_NAME_LETTERS for t in starts)
    amounts = sum(bool(_AMOUNT_IN_TEXT.search(" ".join(r))) for r in rights)
    return named >= SETTINGS.group_names * len(starts) and amounts >= MIN_GROUP_AMOUNTS


def crossed(words: Sequence[OcrWord], gutter: Gutter) -> bool:
    """Whether one Tesseract line of `words` has words on both sides of `gutter` in its
    rows (the reading merged the two groups' lines)."""
    sides: dict[tuple[int, int, int], set[bool]] = {}
    for w in words:
        if gutter.top <= w.top + w.height / 2 < gutter.bottom:
            sides.setdefault(w.line_key, set()).add(w.left + w.width / 2 > gutter.x)
    return any(len(s) == 2 for s in sides.values())


def _cut_row(ink_rows: np.ndarray, lo: int, hi: int, prefer: int) -> int:
    """The row in lo..hi-1 with the least ink, the one nearest `prefer` on a tie."""
    lo, hi = max(0, lo), min(len(ink_rows), hi)
    if hi <= lo:
        return max(0, min(prefer, len(ink_rows)))
    rows = range(lo, hi)
    return min(rows, key=lambda y: (int(ink_rows[y]), abs(y - prefer)))


def layout(ink: np.ndarray, gutters: Sequence[Gutter], text_px: float) -> list[Part]:
    """The page cut for a reading by groups: the part above the band of `gutters` (the
    first one's rows: the others must be empty there too), one part per column group in
    the band, the part below; each horizontal cut at the emptiest row within
    CUT_REACH_TEXT text heights inside the band. The parts are stacked in that order
    with PART_GAP_TEXT text heights of white around and between them."""
    h, w = ink.shape
    first = gutters[0]
    reach = round(CUT_REACH_TEXT * text_px)
    per_row = ink.sum(axis=1)
    top = _cut_row(per_row, first.top, first.top + reach, first.top)
    bottom = _cut_row(per_row, first.bottom - reach, first.bottom, first.bottom)
    xs: list[int] = []
    for g in gutters:  # the first, and others empty in its band, one per gutter
        empty = g is first or not ink[top:bottom, g.x0 : g.x1].any()
        if empty and all(abs(g.x - x) >= 3 * text_px for x in xs):
            xs.append(round(g.x))
    xs.sort()
    rects = [(0, 0, w, top)]
    edges = [0, *xs, w]
    rects += [(a, top, b, bottom) for a, b in itertools.pairwise(edges)]
    rects.append((0, bottom, w, h))
    gap = round(PART_GAP_TEXT * text_px)
    parts: list[Part] = []
    at = gap
    for left, t, right, b in rects:
        if b - t <= 0 or not ink[t:b, left:right].any():
            continue
        parts.append(Part(left, t, right, b, gap, at))
        at += b - t + gap
    return parts


def compose(image: Image.Image, parts: Sequence[Part]) -> Image.Image:
    """The parts of a page `image` stacked on white, each at its (at_x, at_y)."""
    width = max(p.at_x + p.right - p.left for p in parts)
    height = max(p.at_y + p.bottom - p.top for p in parts)
    out = Image.new(image.mode, (width, height), 255)
    for p in parts:
        out.paste(image.crop((p.left, p.top, p.right, p.bottom)), (p.at_x, p.at_y))
    return out


def place(words: Sequence[OcrWord], parts: Sequence[Part]) -> list[OcrWord]:
    """The words read from the stacked image at their place on the page: each moved by
    the part its middle lies in (a word in the white between parts is dropped)."""
    out: list[OcrWord] = []
    for w in words:
        mid = w.top + w.height / 2
        part = next((p for p in parts if p.at_y <= mid < p.at_y + p.bottom - p.top), None)
        if part is None:
            continue
        dx, dy = part.left - part.at_x, part.top - part.at_y
        ink = None if w.ink is None else (w.ink[0] + dy, w.ink[1] + dy)
        out.append(
            OcrWord(
                w.text, w.left + dx, w.top + dy, w.width, w.height, w.confidence, w.line_key, ink
            )
        )
    return out


def read_by_groups(
    image: Image.Image,
    found: list[OcrWord],
    text_px: float,
    ocr: Callable[[Image.Image], list[OcrWord]],
) -> list[OcrWord]:
    """The words of a prepared page `image` (black ink on white) whose first reading
    is `found`: read again with `ocr` group by group when the page holds column
    groups side by side that the first reading merged, else `found` as it is."""
    ink = page_ink(image)
    gutters = [g for g in find_gutters(ink, text_px) if crossed(found, g) and confirmed(found, g)]
    if not gutters:
        return found
    parts = layout(ink, gutters, text_px)
    stacked = compose(image, parts)
    try:
        return place(ocr(stacked), parts)
    finally:
        stacked.close()
