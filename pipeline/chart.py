"""The ratio chart of the report: K2 per 500 mg calcium against calcium : magnesium.

`ratio_chart_svg` draws every plottable product as a point (coloured and shaped by its
verdict, labelled by its rank) over the protocol's target box, with matplotlib, and
returns an SVG fragment ready to inline in the HTML page: no XML prolog, no DOCTYPE, no
metadata block, text kept as text. It is `chart_template` (matplotlib's drawing of the
points in `chart_points` order, the rank labels as placeholders: pipeline.chart_labels)
then `fill_ranks`, so a run can keep the drawing while the ranks move.
`unplotted_products` names the products that cannot be drawn and why, for the note under
the chart.

matplotlib is imported inside the function (start-up time: ~1.3 s measured for
matplotlib.figure, after pipeline.report): a run whose chart is cached, and the other
commands of the CLI, never pay it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pipeline.chart_labels import LabelPlaces, fill_ranks
from pipeline.config import CHART_BINS, CHART_MAX_POINTS
from pipeline.protocol import default_protocol
from pipeline.values import number as _number

#: Verdict -> (colour, marker, legend text). Shape and legend text carry the verdict too,
#: so the chart does not rely on colour alone.
VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "matches": ("#1a7f37", "o", "matches"),
    "partial": ("#b35900", "s", "partial"),
    "fails": ("#c62828", "^", "fails"),
    "not_assessable": ("#616161", "D", "not assessable"),
}
_OTHER_STYLE = ("#37474f", "X", "other")

#: The group ids the SVG carries (tests and the page's CSS find the parts by these).
TARGET_BOX_ID = "target-box"
POINTS_ID_PREFIX = "points-"
#: The group of the cells of a binned chart (more than CHART_MAX_POINTS points).
BINNED_ID = "binned-counts"

CHART_TITLE = "K2 per 500 mg calcium against calcium : magnesium"


def plot_point(product: Mapping[str, Any]) -> tuple[float, float] | None:
    """(k2_mcg_per_500mg_ca, ca_to_mg_ratio) of a product, or None if either is missing."""
    x = _number(product.get("k2_mcg_per_500mg_ca"))
    y = _number(product.get("ca_to_mg_ratio"))
    if x is None or y is None:
        return None
    return x, y


def unplotted_reason(product: Mapping[str, Any]) -> str:
    """Why a product has no point: "no calcium", "no K2", "no magnesium" or both of the last."""
    calcium = _number(product.get("calcium_mg"))
    if calcium is None or calcium <= 0:
        return "no calcium"
    missing = []
    if _number(product.get("k2_mcg_per_500mg_ca")) is None:
        missing.append("no K2")
    if _number(product.get("ca_to_mg_ratio")) is None:
        missing.append("no magnesium")
    return ", ".join(missing)


def unplotted_products(products: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The products the chart leaves out, in the given order, each with its reason."""
    return [
        {
            "rank": product.get("rank"),
            "product_name": product.get("product_name") or product.get("product_id") or "",
            "reason": unplotted_reason(product),
        }
        for product in products
        if plot_point(product) is None
    ]


def _band(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None and low <= high:
            return low, high
    return default


def protocol_bands(
    k2_band: Any = None, ca_mg_band: Any = None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The target box's bands: the ones given where they are [low, high], else the default
    protocol file's (pipeline.protocol.default_protocol)."""
    default = default_protocol()
    return _band(k2_band, default.k2_ratio_band), _band(ca_mg_band, default.ca_to_mg_band)


def _limits(values: Sequence[float], band_high: float) -> tuple[float, float]:
    """Axis limits: from a little below 0 (or the lowest value) to past the highest value
    or the band's top, so no point sits on the frame."""
    low = min([0.0, *values])
    high = max([band_high, *values])
    span = high - low if high > low else 1.0
    return low - 0.03 * span, high + 0.1 * span


def chart_points(products: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float, str]]:
    """(verdict, x, y, rank label) of every plottable product, in the order the chart draws
    them (by verdict, x, y, then rank label): the same products in any order draw the same
    chart."""
    points = []
    for product in products:
        point = plot_point(product)
        if point is not None:
            rank = product.get("rank")
            verdict = str(product.get("verdict") or "other")
            points.append((verdict, point[0], point[1], "" if rank is None else str(rank)))
    return sorted(points)


def ratio_chart_svg(
    products: Sequence[Mapping[str, Any]],
    *,
    k2_band: Sequence[float] | None = None,
    ca_mg_band: Sequence[float] | None = None,
    max_points: int = CHART_MAX_POINTS,
    bins: int = CHART_BINS,
) -> str:
    """An SVG fragment (starting at "<svg") of the products' ratio scatter.

    x is K2 mcg per 500 mg calcium, y is calcium : magnesium; the protocol's target box
    spans `k2_band` x `ca_mg_band` (`protocol_bands`). Each point is labelled with the
    product's rank (the group RANK_LABELS_ID, pipeline.chart_labels). The target box is the
    group with id TARGET_BOX_ID, each verdict's points the group POINTS_ID_PREFIX + verdict
    (one marker per product).

    With more than `max_points` points the chart is binned instead (`_draw_binned`): the
    group BINNED_ID holds `bins` x `bins` cells shaded by how many products each holds.
    """
    points = chart_points(products)
    template = chart_template(
        points, k2_band=k2_band, ca_mg_band=ca_mg_band, max_points=max_points, bins=bins
    )
    return fill_ranks(template, [point[3] for point in points])


def chart_template(
    points: Sequence[tuple[str, float, float, str]],
    *,
    k2_band: Sequence[float] | None = None,
    ca_mg_band: Sequence[float] | None = None,
    max_points: int = CHART_MAX_POINTS,
    bins: int = CHART_BINS,
) -> str:
    """The chart of `points` (`chart_points`) drawn by matplotlib, each rank label a
    placeholder for `fill_ranks` (a scatter only): what it draws does not depend on the
    ranks, so a rerun whose points are the same keeps it (pipeline.report's cache)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    (x_low, x_high), (y_low, y_high) = protocol_bands(k2_band, ca_mg_band)

    by_verdict: dict[str, list[tuple[float, float, str]]] = {}
    for verdict, x, y, rank in points:
        by_verdict.setdefault(verdict, []).append((x, y, rank))
    at = {verdict: 0 for verdict in by_verdict}  # each verdict's first point in `points`
    for index, (verdict, *_) in reversed(list(enumerate(points))):
        at[verdict] = index

    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text
            "svg.hashsalt": "labelaudit",  # stable ids: the same audit gives the same page
            "font.family": "sans-serif",
            "font.size": 9.0,
        }
    ):
        fig = Figure(figsize=(8.0, 4.2), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.add_patch(
            Rectangle(
                (x_low, y_low),
                x_high - x_low,
                y_high - y_low,
                facecolor=(0.18, 0.49, 0.2, 0.12),
                edgecolor="#2e7d32",
                linewidth=1.2,
                linestyle="--",
                gid=TARGET_BOX_ID,
                label=f"protocol target\n{x_low:g}-{x_high:g} mcg K2,\nCa:Mg {y_low:g}-{y_high:g}",
            )
        )
        plotted = len(points)
        if plotted > max_points:
            _draw_binned(fig, ax, by_verdict, (x_high, y_high), bins)
        ordered = [] if plotted > max_points else [v for v in VERDICT_STYLE if v in by_verdict]
        ordered += sorted(v for v in by_verdict if v not in VERDICT_STYLE and ordered)
        labelled: list[tuple[float, float, int]] = []  # x, y, the point's index
        for verdict in ordered:
            group = by_verdict[verdict]
            colour, marker, text = VERDICT_STYLE.get(verdict, _OTHER_STYLE)
            if verdict not in VERDICT_STYLE:
                text = verdict.replace("_", " ")
            ax.scatter(
                [p[0] for p in group],
                [p[1] for p in group],
                c=colour,
                marker=marker,
                s=36,
                edgecolors="white",
                linewidths=0.6,
                zorder=3,
                gid=POINTS_ID_PREFIX + verdict,
                label=f"{text} ({len(group)})",
            )
            labelled += [(x, y, at[verdict] + i) for i, (x, y, rank) in enumerate(group) if rank]
        if plotted <= max_points:
            # From 0 to past the farthest point, keeping the target box in view.
            xs = [p[1] for p in points]
            ys = [p[2] for p in points]
            ax.set_xlim(*_limits(xs, x_high))
            ax.set_ylim(*_limits(ys, y_high))
        ax.set_xlabel("Vitamin K2 (mcg) per 500 mg calcium")
        ax.set_ylabel("Calcium : magnesium (by weight)")
        ax.grid(True, color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.legend(loc="outside right upper", fontsize=8, frameon=False)
        places = LabelPlaces(fig, ax, labelled)
        buffer = io.StringIO()
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    svg = buffer.getvalue()
    start = svg.find("<svg")
    if start < 0:  # pragma: no cover - matplotlib always writes an <svg> element
        raise RuntimeError("matplotlib wrote no <svg> element")
    return places.insert(svg[start:].strip())


def binned_content(
    products: Sequence[Mapping[str, Any]],
    *,
    k2_band: Sequence[float] | None = None,
    ca_mg_band: Sequence[float] | None = None,
    max_points: int = CHART_MAX_POINTS,
    bins: int = CHART_BINS,
) -> list[Any] | None:
    """All that a binned chart (`ratio_chart_svg` with more than `max_points` points)
    draws, as JSON-ready lists: the bands, each cell's count, the cells' edges and the
    legend's verdict counts; None when the chart is not binned. Two sets of products with
    the same content give the same chart (its cache key: pipeline.report.chart_with_cache)."""
    bands = protocol_bands(k2_band, ca_mg_band)
    points = [
        (point, str(p.get("verdict") or "other")) for p in products if (point := plot_point(p))
    ]
    if len(points) <= max_points:
        return None
    counts, x_edges, y_edges = bin_points(
        [xy[0] for xy, _ in points], [xy[1] for xy, _ in points], (bands[0][1], bands[1][1]), bins
    )
    legend: dict[str, int] = {}
    for _, verdict in points:
        legend[verdict] = legend.get(verdict, 0) + 1
    shown = [[v, legend[v]] for v in VERDICT_STYLE if v in legend]
    return [list(bands), counts.tolist(), x_edges.tolist(), y_edges.tolist(), shown]


#: A binned chart's cell width is one of these times a power of ten (`cell_width`), so its
#: edges sit on a rounded grid and move only when the data's range crosses a step.
CELL_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: Room a binned axis leaves past its 99th percentile (or the band's top): 10% of its range.
BINNED_TOP_ROOM = 0.1


def cell_width(span: float, bins: int) -> float:
    """The smallest rounded width (CELL_STEPS x 10^k) with `bins` - 1.5 cells holding `span`
    and its BINNED_TOP_ROOM (half a cell or more is left below the low end, the rest above)."""
    need = (span if span > 0 else 1.0) * (1.0 + BINNED_TOP_ROOM) / max(bins - 1.5, 0.5)
    power = 10.0 ** math.floor(math.log10(need))
    return next(step * power for step in CELL_STEPS if step * power >= need * (1 - 1e-9))


def binned_edges(values: Any, band_high: float, bins: int) -> Any:
    """A binned axis's `bins` + 1 edges: from 0 (or the 1st percentile, if lower) to past
    the 99th percentile or the band's top, so a few far-off labels do not squeeze the rest,
    on a grid of `cell_width` (the low edge at least half a cell below the low end). A small
    change of the data (a percentile moving a little) leaves the edges as they were, so a
    chart whose cells hold the same counts is the same chart (pipeline.report's cache)."""
    p1, p99 = np.percentile(values, [1.0, 99.0]) if len(values) else (0.0, 0.0)
    low, high = min(0.0, float(p1)), max(band_high, float(p99))
    width = cell_width(high - low, bins)
    first = math.floor(low / width - 0.5)
    return np.array([(first + i) * width for i in range(bins + 1)])


def bin_points(
    xs: Sequence[float], ys: Sequence[float], band_tops: tuple[float, float], bins: int
) -> tuple[Any, Any, Any]:
    """(counts, x edges, y edges) of the points in `bins` x `bins` cells (counts[i][j]: x
    cell i, y cell j) over `binned_edges` of each axis; a point beyond an axis is counted
    in its edge cell."""

    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    x_edges, y_edges = binned_edges(x, band_tops[0], bins), binned_edges(y, band_tops[1], bins)
    counts, _, _ = np.histogram2d(
        np.clip(x, x_edges[0], x_edges[-1]),
        np.clip(y, y_edges[0], y_edges[-1]),
        bins=[x_edges, y_edges],
    )
    return counts, x_edges, y_edges


def _draw_binned(
    fig: Any,
    ax: Any,
    by_verdict: Mapping[str, Sequence[tuple[float, float, str]]],
    band_tops: tuple[float, float],
    bins: int,
) -> None:
    """Draw the points of every verdict as `bins` x `bins` cells shaded by their count
    (`bin_points`; log scale; empty cells left blank; the cells are one embedded image,
    so the page stays small), set the axes' limits, and name the verdicts' counts in the
    legend."""
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    xs = [p[0] for points in by_verdict.values() for p in points]
    ys = [p[1] for points in by_verdict.values() for p in points]
    counts, x_edges, y_edges = bin_points(xs, ys, band_tops, bins)
    cells = ax.pcolormesh(
        x_edges,
        y_edges,
        np.ma.masked_equal(counts.T, 0),
        cmap="Blues",
        norm=LogNorm(vmin=1, vmax=max(float(counts.max()), 2.0)),
        zorder=2,
        gid=BINNED_ID,
        rasterized=True,
    )
    fig.colorbar(cells, ax=ax, label="products per cell", pad=0.01)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    for verdict in [v for v in VERDICT_STYLE if v in by_verdict]:
        colour, marker, text = VERDICT_STYLE[verdict]
        label = f"{text} ({len(by_verdict[verdict])})"
        ax.add_line(Line2D([], [], color=colour, marker=marker, linestyle="", label=label))
