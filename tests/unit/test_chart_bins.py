"""The binned chart's edges (on a rounded grid, still under a small change of the data) and
its cache (matplotlib runs only when the cells' counts or the legend change), and a
scatter's rank labels (written into the SVG, so the drawing is kept when only ranks move)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline import report
from pipeline.chart import binned_content, binned_edges, cell_width, ratio_chart_svg
from pipeline.chart_labels import RANK_LABELS_ID


def test_cell_width_is_the_smallest_rounded_width_that_holds_the_range() -> None:
    # 40 cells: (span x 1.1) / 38.5 rounded up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k
    assert cell_width(40.0, 40) == 1.2  # needs 1.143
    assert cell_width(100.0, 40) == 3.0  # needs 2.857
    assert cell_width(180.0, 40) == 6.0  # needs 5.143
    assert cell_width(350.0, 40) == 10.0  # needs 10.0 exactly
    assert cell_width(0.0, 40) == pytest.approx(0.03)  # an empty range counts as 1


def test_edges_start_half_a_cell_or_more_below_zero_and_pass_the_band_top() -> None:
    edges = binned_edges([5.0] * 50 + [95.0] * 50, 180.0, 40)
    # 0 to the band's top 180: cells of 6 from -6 (so 0 is not on the frame) to 234
    assert edges[0] == -6.0 and edges[1] == 0.0 and edges[-1] == 234.0 and len(edges) == 41
    assert [round(b - a, 9) for a, b in itertools.pairwise(edges)] == [6.0] * 40


def test_edges_follow_the_99th_percentile_past_the_band() -> None:
    values = [float(v) for v in range(0, 1001)]  # 99th percentile 990
    edges = binned_edges(values, 180.0, 40)
    assert cell_width(990.0, 40) == 30.0  # needs 28.29
    assert (edges[0], edges[-1]) == (-30.0, 1170.0)


def test_a_small_change_of_the_data_leaves_the_edges() -> None:
    values = [float(v) for v in range(0, 1001)]
    moved = [v * 1.01 if i % 100 == 0 else v for i, v in enumerate(values)]  # 1% of them
    assert list(binned_edges(moved, 180.0, 40)) == list(binned_edges(values, 180.0, 40))


def _products(n: int, moved: int = 0, verdict_of_last: str = "partial") -> list[dict[str, Any]]:
    products = []
    for i in range(n):
        k2 = 20.0 + (i % 97) * 1.5 + (0.01 if i < moved else 0.0)  # moved within its cell
        products.append(
            {
                "k2_mcg_per_500mg_ca": k2,
                "ca_to_mg_ratio": 1.0 + (i % 13) * 0.2,
                "calcium_mg": 500.0,
                "verdict": verdict_of_last if i == n - 1 else "partial",
                "rank": n - i,  # ranks all differ from the first set's order
            }
        )
    return products


def test_binned_content_is_the_same_when_points_move_within_their_cells() -> None:
    first = binned_content(_products(1200), max_points=1000, bins=40)
    again = binned_content(list(reversed(_products(1200, moved=12))), max_points=1000, bins=40)
    assert first is not None and first == again
    assert first[4] == [["partial", 1200]]
    assert binned_content(_products(1000), max_points=1000, bins=40) is None  # not binned


def test_the_chart_is_drawn_again_only_when_what_it_draws_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[int] = []

    def draw(points: Any, **_: Any) -> str:
        drawn.append(len(points))
        return f"<svg>{len(drawn)}</svg>"

    monkeypatch.setattr(report, "chart_template", draw)
    cache = tmp_path / "chart.json"

    def chart(products: list[dict[str, Any]]) -> str:
        return report.chart_with_cache(
            products, k2_band=[100.0, 180.0], ca_mg_band=[1.5, 2.5], cache=cache
        )

    assert chart(_products(1200)) == "<svg>1</svg>"
    # 12 points moved a little, ranks changed: the same cells, the same chart
    assert chart(_products(1200, moved=12)) == "<svg>1</svg>"
    assert drawn == [1200]
    # one product's verdict changed: the legend's counts change, so it is drawn again
    assert chart(_products(1200, verdict_of_last="fails")) == "<svg>2</svg>"
    assert drawn == [1200, 1200]


def _scatter(ranks: list[int], k2: float = 0.0) -> list[dict[str, Any]]:
    return [
        {
            "k2_mcg_per_500mg_ca": 60.0 + 40.0 * i + k2,
            "ca_to_mg_ratio": 1.0 + 0.5 * i,
            "calcium_mg": 500.0,
            "verdict": "fails" if i == 1 else "partial",
            "rank": rank,
        }
        for i, rank in enumerate(ranks)
    ]


def _labels(svg: str) -> list[tuple[str, str, str]]:
    group = re.search(rf'<g id="{RANK_LABELS_ID}" [^>]*>(.*?)</g>', svg, re.S)
    assert group is not None
    return re.findall(r'<text x="([\d.]+)" y="([\d.]+)">([^<]*)</text>', group.group(1))


def test_rank_labels_sit_4_points_up_right_of_their_markers() -> None:
    svg = ratio_chart_svg(_scatter([3, 1, 2]), k2_band=[100.0, 180.0], ca_mg_band=[1.5, 2.5])
    labels = _labels(svg)
    # the partials (k2 60 rank 3, k2 140 rank 2), then the fails (k2 100 rank 1)
    assert [label[2] for label in labels] == ["3", "2", "1"]
    markers = re.findall(
        r'<use xlink:href="#[^"]+" x="([\d.]+)" y="([\d.]+)"',
        svg[svg.index('id="points-partial"') : svg.index('id="legend_1"')],
    )
    # each marker's place (partials first, as drawn) + (4, -4): right and up
    assert [(round(float(x) + 4, 5), round(float(y) - 4, 5)) for x, y in markers] == [
        (round(float(x), 5), round(float(y), 5)) for x, y, _ in labels
    ]
    assert float(labels[0][0]) < float(labels[2][0]) < float(labels[1][0])  # by k2
    assert f'clip-path="url(#{RANK_LABELS_ID}-clip)"' in svg


def test_the_drawing_is_kept_when_only_the_ranks_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "chart.json"
    bands: dict[str, Any] = {"k2_band": [100.0, 180.0], "ca_mg_band": [1.5, 2.5]}
    first = report.chart_with_cache(_scatter([1, 2, 3]), cache=cache, **bands)
    assert first == ratio_chart_svg(_scatter([1, 2, 3]), **bands)  # the same bytes
    drawn: list[int] = []
    real = report.chart_template

    def draw(points: Any, **kwargs: Any) -> str:
        drawn.append(len(points))
        return real(points, **kwargs)

    monkeypatch.setattr(report, "chart_template", draw)
    again = report.chart_with_cache(_scatter([7, 8, 9]), cache=cache, **bands)
    assert drawn == []  # matplotlib did not run
    assert again == ratio_chart_svg(_scatter([7, 8, 9]), **bands)
    assert [label[2] for label in _labels(again)] == ["7", "9", "8"]  # partials, then fails
    moved = report.chart_with_cache(_scatter([7, 8, 9], k2=5.0), cache=cache, **bands)
    assert drawn == [3] and moved != again  # a point moved: drawn again
