"""Two printed lines Tesseract read as one: each read again on its own.

A row whose "(as ...)" source line is set tight under it ("Magnesium 70 mg" over
"(as Magnesium Glycinate)", a descender touching the parenthesis) can be one line to
Tesseract: it gives a line box about twice the page's line height, and mixes the words of
the two ("M i 0 15%" and "(as Wagnesium Glycinate mg": the amount 70 read as 0). Here such
a band of the page is cut in two at its emptiest row and each half is read as text of its
own (both halves stacked with white between them, one OCR call for the page), and the
words of the band are replaced by that reading.

1. `tall_lines` (words of the first reading): Tesseract lines at least `TALL_LINE` times
   the page's median line height that hold a word whose own ink is at most `SHORT_INK` of
   the line's height (a heading's letters fill its line: it is not two lines), with
   another Tesseract line laid over them (`OVERLAP` of its height, over the same columns).
2. `split_band`: the band of the tall line and of the lines it overlaps, cut at the row
   with least ink in its middle (`CUT_WINDOW`), when that row holds at most `CUT_INK` of
   the band's fullest row: two lines of text, not one tall one.
3. `halves`: the band twice, each time with the glyphs of the other line whited out (a
   glyph goes with the line its middle is in: a "g" whose descender crosses the cut stays
   whole; glyphs of both lines that touch, taller than `JOINED_GLYPHS` of the band, are
   parted at the cut); `read_split_lines` stacks them, reads them and puts the words back
   (`ocr_columns.place`); the first reading's words in the band are replaced.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from pipeline.sources.ocr_columns import Part, place
from pipeline.sources.ocr_glyphs import CONFIRM_PSM, confirm_low, mark_dropped, page_ink
from pipeline.sources.ocr_words import OcrWord

#: A Tesseract line this many times the page's median line height may be two lines...
TALL_LINE = 1.5
#: ...when one of its words' own ink is at most this share of the line's height.
SHORT_INK = 0.6
#: ...and another Tesseract line lies over it: this share of that line's height inside it.
OVERLAP = 0.5
#: The cut is looked for in this share of the band's height around its middle...
CUT_WINDOW = (0.3, 0.7)
#: ...and is a row with at most this share of the ink of the band's fullest row.
CUT_INK = 0.3
#: A glyph taller than this share of the band is glyphs of both lines touching.
JOINED_GLYPHS = 0.7
#: White between the stacked halves, in median line heights.
HALF_GAP = 1.0
#: Line keys of the second reading are moved by this many blocks (kept apart from the
#: first reading's lines).
KEY_OFFSET = 100_000


def _lines(words: Sequence[OcrWord]) -> dict[tuple[int, int, int], list[OcrWord]]:
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    for w in words:
        lines.setdefault(w.line_key, []).append(w)
    return lines


def tall_lines(words: Sequence[OcrWord]) -> list[tuple[int, int]]:
    """The (top, bottom) pixel rows of each Tesseract line that may be two printed lines
    read as one (step 1)."""
    lines = _lines(words)
    heights = [ws[0].height for ws in lines.values()]
    if len(heights) < 3:
        return []
    body = statistics.median(heights)
    out: list[tuple[int, int]] = []
    for ws in lines.values():
        h = ws[0].height
        if h < TALL_LINE * body:
            continue
        short = [
            w
            for w in ws
            if w.ink is not None
            and sum(c.isalnum() for c in w.text) >= 2
            and w.ink[1] - w.ink[0] <= SHORT_INK * h
        ]
        if short and any(_laid_over(ws, other) for other in lines.values() if other is not ws):
            out.append((ws[0].top, ws[0].top + h))
    return out


def _laid_over(tall: Sequence[OcrWord], other: Sequence[OcrWord]) -> bool:
    """Whether Tesseract line `other` lies over the `tall` one: at least OVERLAP of its
    height inside the tall line's rows, and its words over the same columns."""
    t, b = tall[0].top, tall[0].top + tall[0].height
    ot, ob = other[0].top, other[0].top + other[0].height
    rows = min(b, ob) - max(t, ot)
    left = max(min(w.left for w in tall), min(w.left for w in other))
    right = min(max(w.left + w.width for w in tall), max(w.left + w.width for w in other))
    return rows >= OVERLAP * other[0].height and right > left


def split_band(
    ink: np.ndarray, words: Sequence[OcrWord], line: tuple[int, int]
) -> tuple[int, int, int] | None:
    """(top, cut, bottom) of the band of a tall `line` and the lines it overlaps, cut in
    two at its emptiest middle row; None when no row there is empty enough (step 2)."""
    top, bottom = line
    band: list[OcrWord] = []
    for ws in _lines(words).values():
        t, b = ws[0].top, ws[0].top + ws[0].height
        if min(b, bottom) - max(t, top) > 0:
            top, bottom = min(top, t), max(bottom, b)
            band += ws
    top, bottom = max(0, top), min(ink.shape[0], bottom)
    # the ink of the band's words only (not a border or a stripe beside them)
    left, right = min(w.left for w in band), max(w.left + w.width for w in band)
    rows = ink[top:bottom, max(0, left) : right].sum(axis=1)
    if rows.size < 4 or rows.max() == 0:
        return None
    lo = top + round(CUT_WINDOW[0] * (bottom - top))
    hi = top + round(CUT_WINDOW[1] * (bottom - top))
    cut = min(range(lo, hi), key=lambda y: (int(rows[y - top]), abs(y - (top + bottom) // 2)))
    if rows[cut - top] > CUT_INK * rows.max():
        return None
    return top, cut, bottom


def halves(image: Image.Image, band: tuple[int, int, int]) -> tuple[Image.Image, Image.Image]:
    """The two lines of a band (top, cut, bottom) of `image`, each the whole band with the
    other line's glyphs whited out: a glyph (a connected component of ink) belongs to the
    line its middle row is in, so a descender that runs below the cut stays with its line."""
    top, cut, bottom = band
    crop = np.asarray(image.convert("L").crop((0, top, image.width, bottom))).copy()
    labels, _ = ndimage.label(crop < 128, structure=np.ones((3, 3), dtype=bool))
    upper, lower = crop.copy(), crop.copy()
    at = cut - top
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        mine = labels[sl] == k
        if sl[0].stop - sl[0].start > JOINED_GLYPHS * (bottom - top):
            # glyphs of both lines that touch: parted at the cut
            upper[at:][labels[at:] == k] = 255
            lower[:at][labels[:at] == k] = 255
            continue
        middle = top + (sl[0].start + sl[0].stop) / 2
        target = lower if middle < cut else upper
        target[sl][mine] = 255
    return Image.fromarray(upper), Image.fromarray(lower)


def read_split_lines(
    image: Image.Image,
    found: list[OcrWord],
    ocr: Callable[[Image.Image], list[OcrWord]],
) -> list[OcrWord]:
    """The words of a prepared page `image` whose first reading is `found`, with each band
    where Tesseract read two printed lines as one read again line by line (step 3);
    `found` as it is when there is none."""
    ink = page_ink(image)
    bands: list[tuple[int, int, int]] = []
    for line in tall_lines(found):
        band = split_band(ink, found, line)
        if band is not None and all(band[2] <= b[0] or band[0] >= b[2] for b in bands):
            bands.append(band)
    if not bands:
        return found
    gap = round(HALF_GAP * statistics.median(w.height for w in found))
    parts: list[Part] = []
    pieces: list[Image.Image] = []
    at = gap
    for band in sorted(bands):
        # the band's columns only (its words' span with `gap` of white), not the page's
        inside = [w for w in found if band[0] <= w.top + w.height / 2 < band[2]]
        left = max(0, min(w.left for w in inside) - gap)
        right = min(image.width, max(w.left + w.width for w in inside) + gap)
        for half in halves(image, band):
            parts.append(Part(left, band[0], right, band[2], gap, at))
            pieces.append(half.crop((left, 0, right, half.height)))
            half.close()
            at += band[2] - band[0] + gap
    stacked = Image.new("L", (max(p.right - p.left for p in parts) + 2 * gap, at), 255)
    for part, piece in zip(parts, pieces, strict=True):
        stacked.paste(piece, (part.at_x, part.at_y))
        piece.close()
    try:
        again = place(ocr(stacked), parts)
    finally:
        stacked.close()

    def in_band(w: OcrWord) -> bool:
        mid = w.top + w.height / 2
        return any(top <= mid < bottom for top, _, bottom in bands)

    kept = [w for w in found if not in_band(w)]
    moved = [
        dataclasses.replace(w, line_key=(w.line_key[0] + KEY_OFFSET, *w.line_key[1:]))
        for w in again
    ]
    return kept + moved


def read_again(
    image: Image.Image, found: list[OcrWord], ocr: Callable[..., list[OcrWord]]
) -> list[OcrWord]:
    """The checks of a page's reading `found` that read parts of the prepared `image`
    again with `ocr` (Tesseract at the page's settings; `psm=` another mode): two
    printed lines read as one (`read_split_lines`), amounts read with low confidence
    (`ocr_glyphs.confirm_low`), then amounts with a glyph dropped (`ocr_glyphs.mark_dropped`)."""
    found = read_split_lines(image, found, ocr)
    found = confirm_low(image, found, functools.partial(ocr, psm=CONFIRM_PSM))
    return mark_dropped(page_ink(image), found)
