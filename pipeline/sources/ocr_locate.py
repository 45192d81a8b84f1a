"""Find the Supplement Facts panel on a label image, to read it on its own (no OCR here).

A whole wrap or a product-page composite holds the panel as one part of the picture, its
text often a third of the size of the directions beside it. Read as one page, the
panel's lines merge with the text beside them and the panel is sized by the wrong text.
So the reader (`pipeline.sources.ocr.read_page`) takes the "Supplement Facts" heading
from its reading of the whole image, finds the panel's region around it here, reads the
region below the heading again on its own, at the size of the panel's own text, and
keeps that reading when it reads more rows. The rest of the image (name, directions,
warnings) keeps the words of the whole reading.

Pure functions of pixels and boxes:

- `panel_region`: the region around a heading: the panel's box (`boxed_region`), whose
  walls are vertical lines of ink or the edge of a differently coloured ground (a white
  panel printed on a blue wrap) left and right of the heading; else the column of the
  image the heading heads (`column_region`), parted from the rest by an empty gutter
  (`GUTTER_HEADINGS` heading heights wide), down to the bottom of the image; else, when
  that column is the whole picture and the heading is wide, a column as wide as the
  heading (`heading_column`).
- `worth_reading_alone`: a region of at most `MAX_REGION_SHARE` of the image.
- `region_of`: the region of the one heading of a page's words, in the page's pixels,
  from the page's analysis (`ocr_prep.analyse`: made once a page). Which reading is kept,
  the whole page's or the panel's alone, is `ocr_readings.reading_score`'s choice.

Faint print (a light grey or gold heading) is darkened when the first reading finds no
heading (`ocr_prep.stretch_contrast`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.records import Word
from pipeline.sources.ocr_pixels import _runs
from pipeline.sources.ocr_prep import Analysis
from pipeline.sources.ocr_words import _headings

#: A gutter parting the panel's column from other text is at least this many heading
#: heights wide (a panel's own gaps, name to amount, are filled by its longer rows,
#: rules and footnotes over the height of the column).
GUTTER_HEADINGS = 2.0
#: A heading set across at least this share of the image's width spans its panel.
WIDE_HEADING = 0.4
#: A wall of the panel's box: a vertical line at least this many heading heights tall.
WALL_HEADINGS = 2.5
#: The walls are looked for at most this many heading widths left and right of it.
WALL_REACH = 0.6
#: A region is worth reading on its own when it is at most this share of the image:
#: a panel that is the whole picture is read with the picture.
MAX_REGION_SHARE = 0.8


@dataclass(frozen=True)
class PanelRegion:
    """Where a panel stands in its image, in the image's pixels."""

    x0: int
    top: int
    x1: int
    bottom: int
    boxed: bool  # bounded by the panel's box (walls left and right), not by gutters

    @property
    def area(self) -> int:
        return max(0, self.x1 - self.x0) * max(0, self.bottom - self.top)


Head = tuple[float, float, float, float]  # x0, top, x1, bottom of the heading, pixels


def _walls(ink: np.ndarray, dark: np.ndarray, head_h: float) -> np.ndarray:
    """The pixels that can bound a panel: vertical lines of ink at least WALL_HEADINGS
    heading heights tall, and every pixel of a dark ground (the panel's edge where a
    light panel is printed on a dark wrap)."""
    tall = max(8, round(WALL_HEADINGS * head_h))
    vertical = _runs(np.ascontiguousarray(ink.T), tall).T
    return vertical | dark


def _wall_edge(profile: np.ndarray, start: int, stop: int, step: int) -> int | None:
    """The first column from `start` towards `stop` (exclusive) where `profile` (the
    share of the heading's band that is wall) is at least 0.9."""
    for x in range(start, stop, step):
        if profile[x] >= 0.9:
            return x
    return None


def _wall_bottom(walls: np.ndarray, x: int, top: int) -> int:
    """How far down the wall in column `x` (give or take a pixel) runs from `top`,
    across gaps of a few pixels (a wall hidden behind a picture ends there)."""
    h, w = walls.shape
    column = np.asarray(walls[:, max(0, x - 1) : min(w, x + 2)].any(axis=1))
    y, gap = top, 0
    last = top
    while y < h and gap <= 3:
        if column[y]:
            last, gap = y, 0
        else:
            gap += 1
        y += 1
    return last + 1


def boxed_region(ink: np.ndarray, dark: np.ndarray, head: Head) -> PanelRegion | None:
    """The panel's box around the heading `head`: walls (`_walls`) left and right of it,
    within WALL_REACH heading widths, running down from the heading's band; the box
    reaches as far down as the longer wall. None without two walls."""
    h, w = ink.shape
    x0, top, x1, bottom = (round(v) for v in head)
    head_h = max(1.0, head[3] - head[1])
    walls = _walls(ink, dark, head_h)
    band = walls[max(0, top) : min(h, bottom + round(head_h)), :]
    if band.size == 0:
        return None
    profile = band.mean(axis=0)
    reach = round(WALL_REACH * (x1 - x0))
    left = _wall_edge(profile, max(0, x0 - 1), max(-1, x0 - reach), -1)
    right = _wall_edge(profile, min(w - 1, x1 + 1), min(w, x1 + reach), 1)
    if left is None or right is None:
        return None
    # the box's top: the nearest row above the heading that is wall or ink all across
    box_top = max(0, top - round(head_h))
    across = (walls | ink)[: max(0, top), left : right + 1].mean(axis=1)
    for y in range(top - 1, max(-1, top - 2 * round(head_h)), -1):
        if across[y] >= 0.8:
            box_top = y
            break
    box_bottom = max(_wall_bottom(walls, left, top), _wall_bottom(walls, right, top))
    if box_bottom <= bottom:
        return None
    return PanelRegion(left, box_top, right + 1, min(h, box_bottom), boxed=True)


def column_region(ink: np.ndarray, head: Head) -> PanelRegion:
    """The column of the page the heading `head` heads: the ink from the heading's top
    to the bottom of the image, widened left and right of the heading across gaps
    narrower than GUTTER_HEADINGS heading heights (a gutter ends the column)."""
    h, w = ink.shape
    x0, top, x1, _ = (round(v) for v in head)
    head_h = max(1.0, head[3] - head[1])
    gutter = max(4, round(GUTTER_HEADINGS * head_h))
    used = np.asarray(ink[max(0, top) :, :].any(axis=0))

    def reach(start: int, step: int) -> int:
        edge, gap, x = start, 0, start
        while 0 <= x < w and gap < gutter:
            if used[x]:
                edge, gap = x, 0
            else:
                gap += 1
            x += step
        return edge

    left = reach(max(0, x0), -1)
    right = reach(min(w - 1, x1), 1)
    margin = round(0.5 * head_h)
    return PanelRegion(
        max(0, left - margin),
        max(0, top - margin),
        min(w, right + 1 + margin),
        h,
        boxed=False,
    )


def heading_column(head: Head, shape: tuple[int, int]) -> PanelRegion:
    """The column under a heading as wide as the heading (a tenth of a heading height
    more each side), from its top to the bottom of an image of `shape` (h, w)."""
    h, w = shape
    margin = 0.1 * (head[3] - head[1])
    return PanelRegion(
        max(0, round(head[0] - margin)),
        max(0, round(head[1] - margin)),
        min(w, round(head[2] + margin)),
        h,
        boxed=False,
    )


def panel_region(ink: np.ndarray, dark: np.ndarray, head: Head) -> PanelRegion:
    """The region of the panel headed by `head` (pixels of `ink`, the image's ink, and
    `dark`, its dark-ground mask, both at one scale): its box where walls bound it,
    else its column (`column_region`). Where that column is the whole picture (a
    product photo or badges touch the panel's side) and the heading is set across at
    least WIDE_HEADING of the image, the panel is taken to be as wide as its heading
    (`heading_column`: a panel's heading is set across the panel)."""
    boxed = boxed_region(ink, dark, head)
    if boxed is not None:
        return boxed
    column = column_region(ink, head)
    if (
        not worth_reading_alone(column, ink.shape)
        and head[2] - head[0] >= WIDE_HEADING * ink.shape[1]
    ):
        return heading_column(head, ink.shape)
    return column


def below(region: PanelRegion, y: float) -> PanelRegion:
    """The part of `region` below the row `y` (the heading's bottom)."""
    return PanelRegion(
        region.x0, min(region.bottom, round(y) + 1), region.x1, region.bottom, region.boxed
    )


def worth_reading_alone(region: PanelRegion, shape: tuple[int, int]) -> bool:
    """Whether reading `region` apart from the rest of an image of `shape` (h, w) helps:
    when it is at most MAX_REGION_SHARE of the image (else it is the picture)."""
    return region.area <= MAX_REGION_SHARE * shape[0] * shape[1]


def scaled(region: PanelRegion, factor: float, shape: tuple[int, int]) -> PanelRegion:
    """`region` in pixels of the image `factor` times the size (clipped to `shape`)."""
    h, w = shape
    return PanelRegion(
        max(0, int(region.x0 * factor)),
        max(0, int(region.top * factor)),
        min(w, int(np.ceil(region.x1 * factor))),
        min(h, int(np.ceil(region.bottom * factor))),
        region.boxed,
    )


def heading_spans(words: Sequence[Word]) -> list[tuple[float, float, float, float]]:
    """The box (x0, top, x1, bottom, in the words' units) of each "Supplement Facts"
    heading among OCR'd words: its "Supplement" word to the "Facts" word beside it."""
    out = []
    for head in _headings(words):
        h = head.bottom - head.top
        facts = [
            w
            for w in words
            if w.text.strip("()[]{},;:.").lower().startswith("facts")
            and abs(w.top - head.top) < 0.5 * h
            and 0 <= w.x0 - head.x1 < 2 * h
        ]
        x1 = max((w.x1 for w in facts), default=head.x1)
        bottom = max([head.bottom, *(w.bottom for w in facts)])
        out.append((head.x0, head.top, x1, bottom))
    return out


def holds(region: PanelRegion, word: Word, to_px: float) -> bool:
    """Whether the centre of `word` (points; `to_px` pixels a point) is in `region`."""
    cx, cy = (word.x0 + word.x1) / 2 * to_px, (word.top + word.bottom) / 2 * to_px
    return region.x0 <= cx <= region.x1 and region.top <= cy <= region.bottom


def level_with(region: PanelRegion, word: Word, to_px: float) -> bool:
    """Whether the middle of `word` (points; `to_px` pixels a point) is level with
    `region` (between its top and bottom), beside it or in it."""
    cy = (word.top + word.bottom) / 2 * to_px
    return region.top <= cy <= region.bottom


def region_of(
    measured: Analysis, words: Sequence[Word], dpi: float, shape: tuple[int, int]
) -> tuple[PanelRegion, PanelRegion] | None:
    """The region (page pixels) of the one panel heading among `words` and the part of
    it below the heading, when reading that apart from the rest of the page image of
    `shape` (h, w) is worth it; else None. `measured`: the page's analysis (its ink and
    dark ground at the analysis scale, `ocr_prep.analyse`)."""
    heads = heading_spans(words)
    if len(heads) != 1 or measured.ink is None:
        return None
    ink, dark, factor = measured.ink, measured.dark, measured.factor
    f = dpi / 72.0 * factor
    x0, top, x1, bottom = (v * f for v in heads[0])
    region = panel_region(ink, dark, (x0, top, x1, bottom))
    if not worth_reading_alone(region, ink.shape):
        return None
    return scaled(region, 1.0 / factor, shape), scaled(below(region, bottom), 1.0 / factor, shape)
