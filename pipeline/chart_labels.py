"""The ratio chart's rank labels, written into matplotlib's SVG instead of drawn by it.

A scatter's label (the product's rank, 4 pt up-right of its point, 7 px, clipped to the
axes) was one matplotlib text each: laying out and writing ~800 of them was most of a
10,000-product report's chart, and since ranks shift whenever a product is added or
renamed, a rerun drew the whole chart again. Now `LabelPlaces` takes the points' places on
the page from the final draw (matplotlib's `draw_event` while the SVG is written) and
`insert` adds one group RANK_LABELS_ID of plain texts whose content is a placeholder;
`fill_ranks` puts the ranks in. The drawn chart, placeholders included, depends on the
points only (pipeline.report keeps it between runs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

#: The group of the rank labels in the chart's SVG.
RANK_LABELS_ID = "rank-labels"
#: A label's offset from its point, in points (1/72 inch), right and up.
LABEL_OFFSET_PT = 4.0
LABEL_STYLE = "font-size: 7px; text-anchor: start; fill: #212121"
_PLACEHOLDER = re.compile(r"\{rank:(\d+)\}")
_FAMILY = re.compile(r"font-family: ([^;\"]+)")


def _num(value: float) -> str:
    """A coordinate as matplotlib's SVG writes one (6 decimals, trailing zeros dropped)."""
    return f"{value:f}".rstrip("0").rstrip(".")


class LabelPlaces:
    """Where each labelled point (x, y, index) of `ax` is drawn, taken at the figure's draw
    (the last one wins: the one that writes the SVG, at its resolution and layout)."""

    def __init__(self, fig: Any, ax: Any, points: Sequence[tuple[float, float, int]]) -> None:
        self._ax = ax
        self._points = list(points)
        self._labels: list[tuple[float, float, int]] = []
        self._clip = (0.0, 0.0, 0.0, 0.0)
        if self._points:
            fig.canvas.mpl_connect("draw_event", self._take)

    def _take(self, event: Any) -> None:
        height = float(event.renderer.height)
        offset = LABEL_OFFSET_PT * self._ax.figure.dpi / 72.0
        xy = self._ax.transData.transform([(x, y) for x, y, _ in self._points])
        self._labels = [
            (float(px) + offset, height - float(py) - offset, index)
            for (px, py), (_, _, index) in zip(xy, self._points, strict=True)
        ]
        box = self._ax.bbox
        self._clip = (float(box.x0), height - float(box.y1), float(box.width), float(box.height))

    def insert(self, svg: str) -> str:
        """`svg` with the labels' group (placeholders `{rank:i}`) before its closing tag."""
        if not self._labels:
            return svg
        family = _FAMILY.search(svg)
        style = LABEL_STYLE + (f"; font-family: {family.group(1)}" if family else "")
        x, y, width, height = self._clip
        clip = f"{RANK_LABELS_ID}-clip"
        parts = [
            f'<defs><clipPath id="{clip}"><rect x="{_num(x)}" y="{_num(y)}" '
            f'width="{_num(width)}" height="{_num(height)}"/></clipPath></defs>\n',
            f'<g id="{RANK_LABELS_ID}" clip-path="url(#{clip})" style="{style}">\n',
            *(
                f'<text x="{_num(px)}" y="{_num(py)}">{{rank:{i}}}</text>\n'
                for px, py, i in self._labels
            ),
            "</g>\n",
        ]
        end = svg.rstrip().rfind("</svg>")
        return svg[:end] + "".join(parts) + svg[end:]


def fill_ranks(template: str, ranks: Sequence[str]) -> str:
    """The chart `template` (pipeline.chart.chart_template) with each placeholder `{rank:i}`
    replaced by `ranks[i]` (escaped)."""
    if "{rank:" not in template:
        return template
    return _PLACEHOLDER.sub(lambda m: escape(ranks[int(m.group(1))]), template)
