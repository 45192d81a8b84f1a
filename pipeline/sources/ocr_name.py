"""The product name read from the biggest text on a label image.

A wrap or a product-page picture prints its name as a logo: letters three to ten times
the size of the panel's text, often set on a curve or a picture. The page's own reading
scales the image for the panel's text, so such letters reach Tesseract hundreds of
pixels tall and are dropped as pictures (`ocr_prep.ink_components`) or misread ("SOCAPSULES
HK DIETARY SUPPLEMENT" became ceracare's name, its "Ceracare" logo unread). Here:

1. `big_text_rows`: the ink's components at least `NAME_SEED_RATIO` times the body text,
   letter-shaped, set side by side on one row at one size (at least `NAME_MIN_LETTERS`),
   grown by the smaller components that sit in the same band (an "a" of the x-height, an
   "i"'s dot), biggest row first. Rows over the panel's rows or its heading are not names.
2. Each of the `NAME_ROWS` biggest rows is cut out of the page image and binarized on
   its own (`row_ink`: the picture around it left out), scaled so its letters are as high
   as the page's text is read at (`ocr_prep.TARGET_TEXT_PX`, then each of
   `RETRY_TEXT_PX` until it reads as a name) and read as one line of text (`NAME_PSM`).
3. `pick_name`: the first row that reads as a name (`panel.title.credible`: real words,
   read with confidence; not a statement; no word holding a mark that is no part of a
   word, "Luter*"; not the "Supplement Facts" heading; not a net quantity, "30 CAPSULES")
   together with the rows of its size stacked on it (a name wrapped over lines: each
   must read as a name too, the name is taken whole or not at all) is the product's name
   when the panel reader found no title above the panel (the file's name stood in), or
   found one in small type (its line under `TITLE_BIG` times the body text's letters)
   that the row's letters are at least `NAME_OVER_TITLE` times as tall as. A title
   printed big stays. The brand the reader found with its title is then dropped (it
   went with that title).

Only a single-frame image with one label is read this way (several panels: each has its
own title above it). No guess is made: a row that does not read as words leaves the
panel reader's name as it was.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from pipeline.errors import LabelError
from pipeline.panel.grammar import _SERVING_UNITS, _STATEMENT_RE
from pipeline.panel.title import confident, credible, title_text
from pipeline.records import FileExtraction, Word
from pipeline.sources.ocr_load import image_frames
from pipeline.sources.ocr_pixels import otsu_threshold
from pipeline.sources.ocr_prep import (
    RETRY_TEXT_PX,
    TARGET_TEXT_PX,
    Components,
    analyse,
    ink_components,
)
from pipeline.sources.ocr_words import OcrWord, _headings

#: A letter of a name is at least this many times the panel's body text high.
NAME_SEED_RATIO = 2.5
#: A row of big text holds at least this many such letters.
NAME_MIN_LETTERS = 3
#: At most this many of the biggest rows are read.
NAME_ROWS = 3
#: Tesseract's page segmentation mode for one line of text.
NAME_PSM = 7
#: The big text replaces a title the panel reader found only when its letters are this
#: many times as tall as that title's line.
NAME_OVER_TITLE = 2.0
#: A title the panel reader found whose line is at least this many times as tall as the
#: body text's letters (`ocr_prep.text_height`) is a name printed big: it stays.
TITLE_BIG = 3.0
#: Letters of one row: heights within this ratio of the row's, gaps at most this share
#: of the smaller height, overlapping by half the smaller height.
ROW_HEIGHT_RATIO = 1.7
ROW_GAP = 0.8
#: The band of a row, beyond its big letters' top and bottom (share of their height),
#: where smaller components (x-height letters; dots and marks inside it) join it.
ROW_BAND = 0.3
#: A smaller component extends a row only when at least this share of its letters'
#: height (an x-height letter: text beside the row in small type does not join it).
ROW_GROW = 0.5
#: A row is cut out of the page with this many of its heights on either side.
ROW_SIDE = 2.0
#: The panel's heading read as big text (it sets no name).
_HEADING_RE = re.compile(r"^\W*supplement\s*facts\b", re.IGNORECASE)
#: A net quantity printed big ("30 CAPSULES", "60 Softgels") is not a name.
_NET_QUANTITY_RE = re.compile(rf"^\W*\d+\s*(?:{_SERVING_UNITS})\W*$", re.IGNORECASE)

#: Marks read at a name's ends (a logo's swash, a trademark sign): not part of it.
_END_MARKS = " .,;:*'\"`‘’“”!-_|®™©†"

#: A character no name's word holds: a letter of a logo broken up reads as one ("Luter*").
_ODD_MARK_RE = re.compile(r"[^\w\s'’&.,+/()®™©!\-]")

Reader = Callable[..., list[OcrWord]]


@dataclass(frozen=True)
class TextRow:
    """A row of big letters, in the analysed image's pixels."""

    x0: int
    top: int
    x1: int
    bottom: int
    height: float  # median height of its big letters
    letters: int  # its big letters


def _boxes(comps: Components) -> list[tuple[int, int, int, int]]:
    return [
        (s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(comps.labels)
    ]


def big_text_rows(comps: Components, body_px: float, image_height: int) -> list[TextRow]:
    """The rows of letters at least NAME_SEED_RATIO times `body_px` high (pixels of the
    components' image), each grown by the smaller components in its band; biggest first."""
    boxes = _boxes(comps)
    h, w = comps.heights, comps.widths
    seeds = np.nonzero(
        (h >= NAME_SEED_RATIO * body_px)
        & (h < 0.4 * image_height)
        & (w <= 2.0 * h)
        & (w >= 0.08 * h)
        & (comps.fill >= 0.12)
    )[0]
    rows: list[list[int]] = []
    for i in sorted(seeds.tolist(), key=lambda k: boxes[k][0]):
        x0, top, _, bottom = boxes[i]
        for row in rows:
            last = boxes[row[-1]]
            size = float(np.median(h[row]))
            small = min(size, h[i])
            overlap = min(bottom, last[3]) - max(top, last[1])
            if (
                overlap >= 0.5 * small
                and x0 - last[2] <= ROW_GAP * small
                and 1 / ROW_HEIGHT_RATIO <= h[i] / size <= ROW_HEIGHT_RATIO
            ):
                row.append(i)
                break
        else:
            rows.append([i])
    out = [_grown(row, boxes, h) for row in rows if len(row) >= NAME_MIN_LETTERS]
    return sorted(out, key=lambda r: -r.height)


def _grown(row: list[int], boxes: list[tuple[int, int, int, int]], h: np.ndarray) -> TextRow:
    size = float(np.median(h[row]))
    x0 = min(boxes[i][0] for i in row)
    x1 = max(boxes[i][2] for i in row)
    top = min(boxes[i][1] for i in row)
    bottom = max(boxes[i][3] for i in row)
    band_top, band_bottom = top - ROW_BAND * size, bottom + ROW_BAND * size
    in_band = sorted(
        (
            b
            for b in boxes
            if b[1] >= band_top and b[3] <= band_bottom and b[3] - b[1] >= ROW_GROW * size
        ),
        key=lambda b: b[0],
    )
    gap = ROW_GAP * size
    for b in in_band:  # rightwards
        if b[0] >= x1 and b[0] - x1 <= gap:
            x1 = max(x1, b[2])
    for b in reversed(in_band):  # leftwards
        if b[2] <= x0 and x0 - b[2] <= gap:
            x0 = min(x0, b[0])
    return TextRow(x0, top, x1, bottom, size, len(row))


def row_ink(gray: np.ndarray, row: TextRow, factor: float) -> np.ndarray:
    """The row's letters as ink, cut from the page image `gray` (its own pixels; the
    row is in pixels of the analysed copy, `factor` times the size) with `ROW_SIDE` row
    heights on either side: binarized on its own (Otsu within the cut; inverted where
    its ground is dark), then only the components in the row's band chained to its
    letters (gaps up to ROW_GAP) kept. Cut from the gray page, not the page's normalized
    ink, which inverts a heavy bold logo's letters as a dark ground (their row then
    starts a letter late). Empty when the chain reaches the cut's side: the row runs on
    past what was measured, and a part of a name is no name."""
    h = row.height / factor
    top, bottom = row.top / factor, row.bottom / factor
    y0, y1 = max(0, int(top - ROW_BAND * h)), int(np.ceil(bottom + ROW_BAND * h))
    x0, x1 = max(0, int(row.x0 / factor - ROW_SIDE * h)), int(row.x1 / factor + ROW_SIDE * h)
    cut = gray[y0:y1, x0:x1]
    empty = np.zeros(cut.shape, dtype=bool)
    if cut.size == 0:
        return empty
    level = otsu_threshold(cut)
    ink = cut > level if float(np.median(cut)) <= level else cut <= level
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    boxes = [(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)]
    in_band = [
        k
        for k, b in enumerate(boxes, start=1)
        if b[1] > 0 and b[3] < cut.shape[0] and b[3] - b[1] >= ROW_GROW * h
    ]
    left, right = row.x0 / factor - x0, row.x1 / factor - x0
    chain = {k for k in in_band if boxes[k - 1][0] < right and boxes[k - 1][2] > left}
    if not chain:
        return empty
    lo = min(boxes[k - 1][0] for k in chain)
    hi = max(boxes[k - 1][2] for k in chain)
    for k in sorted(in_band, key=lambda k: boxes[k - 1][0]):  # rightwards
        if boxes[k - 1][0] >= hi and boxes[k - 1][0] - hi <= ROW_GAP * h:
            chain.add(k)
            hi = max(hi, boxes[k - 1][2])
    for k in sorted(in_band, key=lambda k: -boxes[k - 1][2]):  # leftwards
        if boxes[k - 1][2] <= lo and lo - boxes[k - 1][2] <= ROW_GAP * h:
            chain.add(k)
            lo = min(lo, boxes[k - 1][0])
    if lo <= 0 or hi >= cut.shape[1]:
        return empty
    # dots and marks within the chain's extent go with it
    keep = np.zeros(n + 1, dtype=bool)
    for k, b in enumerate(boxes, start=1):
        keep[k] = k in chain or (b[0] >= lo and b[2] <= hi and b[1] > 0 and b[3] < cut.shape[0])
    return keep[labels]


def row_image(ink: np.ndarray, row_px: float, text_px: float) -> Image.Image:
    """`ink` (a row's letters, `row_px` high) black on white, scaled so its letters are
    `text_px` high, with a white margin."""
    scale = text_px / row_px
    img = Image.fromarray(np.where(ink, 0, 255).astype(np.uint8), mode="L")
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.LANCZOS)
    margin = round(text_px)
    out = Image.new("L", (img.width + 2 * margin, img.height + 2 * margin), 255)
    out.paste(img, (margin, margin))
    return out


def name_words(found: Sequence[OcrWord]) -> list[Word]:
    """Tesseract's words of one row as words (positions are not used: one line)."""
    return [
        Word(w.text, float(w.left), float(w.left + w.width), 0.0, 1.0, 1, w.confidence)
        for w in sorted(found, key=lambda w: w.left)
        if w.text.strip()
    ]


def name_text(words: Sequence[Word]) -> str:
    """The row's text as a name: its unsure words at either end dropped
    (`panel.title.title_text`), and punctuation read at its ends ("Ceracare,"); a
    hyphen at its end stays (a name wrapped over lines: "Jarro-")."""
    return title_text(words).lstrip(_END_MARKS).rstrip(_END_MARKS.replace("-", ""))


def is_name(words: Sequence[Word]) -> bool:
    """Whether a row's words read as a product name: credible (`panel.title`), not the
    "Supplement Facts" heading, not a statement, not a net quantity."""
    if not words or not credible(words):
        return False
    if any(_ODD_MARK_RE.search(w.text) for w in words if confident(w)):
        return False  # "Luter*": a letter broken into a mark
    text = name_text(words)
    return bool(
        text
        and not _HEADING_RE.match(text)
        and not _STATEMENT_RE.match(text)
        and not _NET_QUANTITY_RE.match(text)
    )


def stacked(row: TextRow, rows: Sequence[TextRow]) -> list[TextRow]:
    """`row` with the rows of its size set right above and below it, overlapping it
    across (a name wrapped over lines: "Jarro-" / "Dophilus" / "infant"), top first."""
    members = [row]
    grew = True
    while grew:
        grew = False
        for r in rows:
            if (
                r in members
                or not 1 / ROW_HEIGHT_RATIO <= r.height / row.height <= ROW_HEIGHT_RATIO
            ):
                continue
            gap = ROW_GAP * row.height
            if any(
                min(r.x1, m.x1) > max(r.x0, m.x0)
                and r.top - m.bottom <= gap
                and m.top - r.bottom <= gap
                for m in members
            ):
                members.append(r)
                grew = True
    return sorted(members, key=lambda r: r.top)


def join_lines(texts: Sequence[str]) -> str:
    """A name's lines joined: a line ending in a hyphen runs on ("Jarro-" "Dophilus")."""
    out = ""
    for text in texts:
        out += text if not out or out.endswith("-") else " " + text
    return out


def pick_name(
    rows: Sequence[TextRow],
    read: Callable[[TextRow], Sequence[Word]],
    title_px: float | None,
    body_px: float,
) -> str | None:
    """The name in the first of the NAME_ROWS biggest rows that reads as one (`read`
    gives a row's words), with the rows of its size stacked on it (`stacked`), each of
    which must read as a name too (a name is taken whole or not at all); only when the
    panel reader found no title (`title_px` None), or found one whose line (`title_px`,
    in the rows' pixels) is under TITLE_BIG times the body text's letters (`body_px`)
    and the row's letters are NAME_OVER_TITLE times as tall as it; else None."""
    if title_px is not None and title_px >= TITLE_BIG * body_px:
        return None
    for row in rows[:NAME_ROWS]:
        words = read(row)
        if not is_name(words):
            continue
        if title_px is not None and row.height < NAME_OVER_TITLE * title_px:
            return None
        texts = []
        for member in stacked(row, rows):
            member_words = words if member == row else read(member)
            if not is_name(member_words):
                return None
            texts.append(name_text(member_words))
        return join_lines(texts)
    return None


def _read_row(run: Reader, exe: str, gray: np.ndarray, factor: float, row: TextRow) -> list[Word]:
    """The row's words at the first text size it reads as a name at (the last size's
    words when none)."""
    words: list[Word] = []
    ink = row_ink(gray, row, factor)
    if not ink.any():
        return words
    for text_px in (TARGET_TEXT_PX, *RETRY_TEXT_PX):
        image = row_image(ink, row.height / factor, text_px)
        try:
            words = name_words(run(image, 300.0, exe=exe, psm=NAME_PSM))
        finally:
            image.close()
        if is_name(words):
            break
    return words


def _title_px(name: str, words: Sequence[Word], to_px: float) -> float | None:
    """The height (pixels) of the tallest line holding the title's words, as read."""
    parts = set(name.split())
    heights = [w.bottom - w.top for w in words if w.text in parts]
    return max(heights) * to_px if heights else None


def _outside(row: TextRow, keep_out: Sequence[tuple[float, float, float, float]]) -> bool:
    return not any(
        row.x0 < x1 and x0 < row.x1 and row.top < bottom and top < row.bottom
        for x0, top, x1, bottom in keep_out
    )


def with_big_name(
    extraction: FileExtraction,
    pages: Sequence[Sequence[Word]],
    path: Path,
    data: bytes,
    fallback_name: str,
    engine: str,
    run: Reader,
) -> FileExtraction:
    """`extraction` with its product name read from the image's biggest text, where
    that reads as a name (module docstring); as it was otherwise. `pages`: the words of
    the kept reading (points); `fallback_name`: the name given when no title was found;
    `engine`: the OCR engine of the run (only Tesseract's readings are read again);
    `run`: the Tesseract runner (`ocr.run_tesseract`)."""
    exe = shutil.which("tesseract")
    if engine != "tesseract" or exe is None or len(extraction.labels) != 1 or len(pages) != 1:
        return extraction
    label = extraction.labels[0]
    for gray, dpi in image_frames(path, extraction.source_file, data):
        measured = analyse(gray)
        if measured.text_px is None or measured.ink is None:
            return extraction
        to_px = dpi / 72.0 * measured.factor  # points -> the analysed image's pixels
        comps = ink_components(measured.ink)
        keep_out = [
            (w.x0 * to_px, w.top * to_px, w.x1 * to_px, w.bottom * to_px)
            for w in _headings(pages[0])
        ]
        f = measured.factor
        keep_out += [
            (r.bbox_x0 * f, (r.bbox_top or 0) * f, (r.bbox_x1 or 0) * f, (r.bbox_bottom or 0) * f)
            for r in extraction.rows
            if r.bbox_x0 is not None and r.bbox_units == "px"
        ]
        body = measured.text_px * measured.factor
        candidates = big_text_rows(comps, body, measured.ink.shape[0])
        rows = [r for r in candidates if _outside(r, keep_out)]
        pixels = np.asarray(gray, dtype=np.uint8)
        read = functools.cache(functools.partial(_read_row, run, exe, pixels, measured.factor))
        found = label.product_name != fallback_name
        title_px = _title_px(label.product_name, pages[0], to_px) if found else None
        try:
            name = pick_name(rows, read, title_px, body)
        except LabelError:  # OCR failed on a row (timeout, crash): the name stays as read
            return extraction
        if name is None:
            return extraction
        named = dataclasses.replace(label, product_name=name, brand=None)
        return dataclasses.replace(extraction, labels=(named,))
    return extraction
