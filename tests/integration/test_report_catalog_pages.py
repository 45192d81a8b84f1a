"""The report at catalog scale, written (small N, with the thresholds lowered): the card
pages and their links, the embedded ranking data, escaping, capped lists, and the one-page
report below the threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from pipeline import report, report_card_data, report_catalog
from pipeline.errors import AuditError
from pipeline.report import write_reports
from tests.catalog_audit import HOSTILE, catalog_audit


@pytest.fixture()
def catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog scale above 3 products, 3 cards a page."""
    monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
    monkeypatch.setattr(report_catalog, "REPORT_CARDS_PER_PAGE", 3)


def embedded(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/octet-stream" id="ranking-data"[^>]*>([^<]*)<', page
    )
    assert found is not None
    return report_catalog.decode_data(found.group(1))


def card_data(page: str) -> dict[str, Any]:
    """A card page's #card-data (what its script draws the cards from)."""
    found = re.search(r'<script type="application/json" id="card-data">\n(.*)\n</script>', page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def cards_of(page: str) -> list[tuple[int, Any, str]]:
    """(place, rank, name) of each card on a page, as its script draws them."""
    data = card_data(page)
    return [
        (data["first"] + n, rank, card["h"])
        for n, (rank, card) in enumerate(zip(data["ranks"], data["cards"], strict=True))
    ]


def test_cards_are_on_pages_of_their_own_and_the_table_links_to_each(
    catalog: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    audit = catalog_audit()
    write_reports(audit, tmp_path)
    pages = sorted(p.name for p in (tmp_path / "products").iterdir())
    assert pages == [
        ".labelaudit-cards",
        "cards-00001.html",
        "cards-00002.html",
        "cards-00003.html",
    ]
    read = {n: (tmp_path / "products" / n).read_text(encoding="utf-8") for n in pages[1:]}
    assert cards_of(read["cards-00001.html"]) == [
        (1, 1, "Bone Matrix Calcium + K2"),
        (2, 2, "Copy 1"),
        (3, 3, HOSTILE),
    ]
    assert cards_of(read["cards-00002.html"]) == [
        (4, 4, "Copy 3"),
        (5, 5, "Copy 4"),
        (6, 6, "CalDenex <script>alert(1)</script>"),
    ]
    assert cards_of(read["cards-00003.html"]) == [(7, 7, "K2 MK-7 100")]
    # each card is the data of the product's whole card (the page draws the template's
    # card from it: tests/browser/test_card_pages.py)
    products = report._products(audit)
    flagged = report.finding_lines(audit["data_quality"])
    assert card_data(read["cards-00002.html"])["cards"] == [
        report_card_data.card_data(products[i], flagged.get(products[i]["product_id"], ()))
        for i in (3, 4, 5)
    ]
    assert '<a href="cards-00001.html" rel="prev">Products 1–3</a>' in read["cards-00002.html"]
    assert '<a href="cards-00003.html" rel="next">Products 7–7</a>' in read["cards-00002.html"]
    assert '<a href="../audit.html#ranking-section">' in read["cards-00003.html"]
    for text in read.values():  # a card page's scripts: its data and its drawer
        assert re.findall(r"<script[^>]*>", text) == [
            '<script type="application/json" id="card-data">',
            "<script>",
        ]

    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert '<article class="card' not in page  # no card on the main page
    links = re.findall(r'<li><a href="(products/[^"]+)">([^<]+)</a></li>', page)
    assert links == [
        ("products/cards-00001.html", "1–3"),
        ("products/cards-00002.html", "4–6"),
        ("products/cards-00003.html", "7–7"),
    ]
    data = embedded(page)
    assert data == report_catalog.ranking_data(report._products(audit), report.check_names(audit))
    assert data["name"] == [p["product_name"] for p in audit["products"]]
    assert data["cards_per_page"] == 3
    # the table's link of product i, as the page's script builds it
    assert [report_catalog.card_href(i) for i in (0, 3, 6)] == [
        "products/cards-00001.html#product-1",
        "products/cards-00002.html#product-4",
        "products/cards-00003.html#product-7",
    ]


def test_hostile_names_are_text_everywhere(catalog: None, tmp_path: Path) -> None:
    audit = catalog_audit()
    audit["changes"]["added"] = [{"product_id": "copy-2-00000002", "product_name": HOSTILE}]
    write_reports(audit, tmp_path)
    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    cards = (tmp_path / "products" / "cards-00001.html").read_text(encoding="utf-8")
    for text in (page, cards):
        assert "<img" not in text and "</script><img" not in text and "<script>alert" not in text
    # in a card page's data: JSON in which "<" is \u003c (the element cannot be ended)
    assert json.dumps(HOSTILE, ensure_ascii=False).replace("<", "\\u003c") in cards
    assert card_data(cards)["cards"][2]["h"] == HOSTILE
    assert str(escape(HOSTILE)) in page  # in what changed
    # the page's scripts: its own two, and the data element the browser never runs
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/octet-stream" id="ranking-data" data-encoding="gzip+base64">',
        "<script>",
    ]
    assert HOSTILE in embedded(page)["name"]


def test_lists_on_the_page_are_capped_with_the_count(
    catalog: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report, "REPORT_LIST_ITEMS", 2)
    audit = catalog_audit()
    audit["changes"]["added"] = [
        {"product_id": p["product_id"], "product_name": p["product_name"]}
        for p in audit["products"]
    ]
    write_reports(audit, tmp_path)
    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    changes = page[page.index('<section id="changes"') : page.index("</section>")]
    assert re.findall(r"<strong>([^<]*)</strong>", changes) == [
        "Bone Matrix Calcium + K2",
        "Copy 1",
    ]
    assert "The first 2 of 7 are shown; audit.json lists them all." in changes
    assert (
        len(
            report_catalog.decode_data(
                re.search(r'id="ranking-data"[^>]*>([^<]*)<', page).group(1)  # type: ignore[union-attr]
            )["name"]
        )
        == 7
    )  # the ranking is never capped


def test_a_small_report_is_one_page_and_removes_old_card_pages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
    write_reports(catalog_audit(), tmp_path)
    assert (tmp_path / "products" / "cards-00001.html").exists()
    small = catalog_audit(copies=0)
    write_reports(small, tmp_path)
    assert not (tmp_path / "products").exists()
    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert page == report.render_html(small)
    assert "ranking-data" not in page and page.count('<article class="card') == 3


def test_a_foreign_products_folder_stops_the_catalog_and_keeps_the_old_report(
    catalog: None, tmp_path: Path
) -> None:
    write_reports(catalog_audit(copies=0), tmp_path)
    before = (tmp_path / "audit.html").read_text(encoding="utf-8")
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / "mine.txt").write_text("not the program's", encoding="utf-8")
    with pytest.raises(AuditError, match="is not labelaudit's card folder"):
        write_reports(catalog_audit(), tmp_path)
    assert (tmp_path / "audit.html").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (tmp_path / "products").iterdir()) == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".products")] == []
