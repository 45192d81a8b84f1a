"""The catalog-scale report's pure parts: the embedded ranking data, its encoding, the card
links, the threshold, and the binned chart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline import report, report_catalog
from pipeline.chart import POINTS_ID_PREFIX, bin_points, ratio_chart_svg

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "audit_example.json"


def example() -> dict[str, Any]:
    audit: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return audit


def test_ranking_data_holds_every_shown_field_of_every_product_in_rank_order() -> None:
    audit = example()
    data = report_catalog.ranking_data(report._products(audit), report.check_names(audit))
    assert data == {
        "verdicts": ["matches", "partial", "fails", "not_assessable"],
        "verdict_labels": ["matches", "partial", "fails", "not assessable"],
        "brands": ["Northfield Labs", "Nikken", "Cedar Grove"],
        "forms": ["MK-7"],
        "check_count": 7,
        "cards_per_page": 100,
        "card_prefix": "products/cards-",
        "card_digits": 5,
        "table_rows": 100,
        "rank": [1, 2, 3],
        "id": ["bone-matrix-calcium-k2-3f2a9c1e", "caldenex-91bb02d4", "k2-mk-7-100-0c1d2e3f"],
        "file": ["pdf/bone-matrix.pdf", "pdf/caldenex.pdf", "k2-only.json"],
        "name": ["Bone Matrix Calcium + K2", "CalDenex <script>alert(1)</script>", "K2 MK-7 100"],
        "brand": [0, 1, 2],
        "verdict": [0, 2, 3],
        "score": [100.0, 17.5, None],
        "form": [0, -1, 0],
        "k2": [120.0, None, None],
        "camg": [2.0, 4.0, None],
        # k2_present .. fat_guidance: CalDenex has vitamin D only, fat guidance not assessed;
        # the K2-only label has no calcium, so no check ran
        "checks": ["1111111", "000010-", "-------"],
    }


def test_ranking_data_rounds_as_the_table_shows_and_drops_what_json_cannot_hold() -> None:
    products = [
        {
            "rank": 1,
            "product_name": "X",
            "verdict": "odd_verdict",
            "score": 66.666666,
            "k2_mcg_per_500mg_ca": 123.456,
            "ca_to_mg_ratio": float("nan"),
            "brand": "",
            "checks": [{"name": "b", "passed": False}],
        }
    ]
    data = report_catalog.ranking_data(products, ["a", "b"])
    assert (data["score"], data["k2"], data["camg"]) == ([66.67], [123.5], [None])
    assert data["verdicts"][-1] == "odd_verdict" and data["verdict"] == [4]
    assert data["verdict_labels"][-1] == "odd verdict"
    assert (data["brand"], data["brands"], data["checks"]) == ([-1], [], ["-0"])
    assert (data["id"], data["file"]) == ([""], [""])


def test_encoded_data_is_base64_of_gzip_and_reads_back_exactly() -> None:
    audit = example()
    data = report_catalog.ranking_data(report._products(audit), report.check_names(audit))
    encoded = report_catalog.encode_data(data)
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", encoded)  # nothing HTML could read as markup
    assert report_catalog.decode_data(encoded) == data
    assert report_catalog.encode_data(data) == encoded  # no time stamp: same page each run


def test_card_links_point_at_the_page_and_the_card() -> None:
    assert report_catalog.card_page_name(1) == "cards-00001.html"
    assert report_catalog.card_href(0) == "products/cards-00001.html#product-1"
    assert report_catalog.card_href(99) == "products/cards-00001.html#product-100"
    assert report_catalog.card_href(100) == "products/cards-00002.html#product-101"
    assert report_catalog.card_href(199_999) == "products/cards-02000.html#product-200000"


def test_catalog_only_above_the_inline_limit() -> None:
    assert report_catalog.is_catalog(1000) is False
    assert report_catalog.is_catalog(1001) is True


def test_bin_points_counts_each_point_once_and_far_points_in_the_edge_cell() -> None:
    xs = [10.0, 10.0, 150.0, 150.0, 150.0] + [120.0] * 200 + [90_000.0]
    ys = [1.0, 1.0, 2.0, 2.0, 2.0] + [2.0] * 200 + [2.0]
    counts, x_edges, y_edges = bin_points(xs, ys, (180.0, 2.5), 4)
    assert counts.sum() == len(xs)
    assert (len(x_edges), len(y_edges)) == (5, 5)
    # x from 0 to the 99th percentile (150) or the band's top (180), so 90,000 mcg does not
    # squeeze the others, on a grid of 80 (180 + 10% in 2.5 cells: 79.2, rounded up)
    assert list(x_edges) == [-80.0, 0.0, 80.0, 160.0, 240.0]
    assert [counts[i].sum() for i in range(4)] == [0, 2, 203, 1]  # 3 at 150 + the far one


def test_chart_is_binned_above_max_points_and_points_below() -> None:
    products = [
        {
            "k2_mcg_per_500mg_ca": 100.0 + (i % 3) * 60,
            "ca_to_mg_ratio": 1.0 + (i % 2),
            "calcium_mg": 500.0,
            "verdict": "partial",
            "rank": i + 1,
        }
        for i in range(12)
    ]
    binned = ratio_chart_svg(products, max_points=11, bins=4)
    assert '<image xlink:href="data:image/png;base64,' in binned
    assert POINTS_ID_PREFIX not in binned
    assert "partial (12)" in binned  # the legend keeps the verdict's count
    assert ">12<" not in binned  # no rank labels
    scatter = ratio_chart_svg(products, max_points=12, bins=4)
    assert f'id="{POINTS_ID_PREFIX}partial"' in scatter and "<image" not in scatter
