"""The catalog-scale audit.html in Chromium (small N, thresholds lowered): the ranking is
drawn from the embedded data a page at a time, sorts, filters, searches, shows hostile
names as text, and each name opens the product's card page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline import report_catalog
from pipeline.report import write_reports
from tests.catalog_audit import HOSTILE, catalog_audit

pytestmark = pytest.mark.browser

RANK_ORDER = [
    "Bone Matrix Calcium + K2",
    "Copy 1",
    HOSTILE,
    "Copy 3",
    "Copy 4",
    "CalDenex <script>alert(1)</script>",
    "K2 MK-7 100",
]


def names(page: Any) -> list[str]:
    found: list[str] = page.locator("#ranking-rows th.product a").all_inner_texts()
    return found


def status_is(page: Any, text: str) -> None:
    page.locator("#ranking-status", has_text=re.compile(f"^{re.escape(text)}$")).wait_for()


def first_row_is(page: Any, name: str) -> None:
    """Wait for the table's first row to be `name` (a search redraws after a pause)."""
    exact = re.compile(f"^{re.escape(name)}$")
    page.locator("#ranking-rows tr:first-child th.product a", has_text=exact).wait_for()


def test_catalog_ranking_pages_sorts_filters_searches_and_opens_cards(
    browser: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
    monkeypatch.setattr(report_catalog, "REPORT_CARDS_PER_PAGE", 3)
    monkeypatch.setattr(report_catalog, "REPORT_TABLE_ROWS", 4)
    html_path = write_reports(catalog_audit(), tmp_path)[0]
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.goto(html_path.as_uri())
    status_is(page, "Products 1–4 of 7.")
    assert names(page) == RANK_ORDER[:4]  # hostile name shown as its text
    assert page.locator("#ranking-rows img").count() == 0
    row = page.locator("#ranking-rows tr").nth(3).locator("td, th").all_inner_texts()
    assert row[:8] == [
        "4",
        "Copy 3\ndsld.zip!DSLD/3.json",
        "Zed",
        "fails",
        "10",
        "MK-7",
        "120\u00a0mcg",
        "2.0:1",
    ]
    marks = page.locator("#ranking-rows tr").nth(3).locator("td.mark").all_text_contents()
    assert marks == ["✓ pass"] * 7
    marks = page.locator("#ranking-rows tr").nth(0).locator("td.mark").all_text_contents()
    assert len(row) == 15 and len(marks) == 7
    page.locator("#ranking-pager button[data-page='next']").click()
    status_is(page, "Products 5–7 of 7.")
    assert names(page) == RANK_ORDER[4:]
    assert page.locator("#ranking-page").inner_text() == "Page 2 of 2"

    page.locator("#ranking thead button.sort", has_text="Score").click()  # ascending
    status_is(page, "Products 1–4 of 7.")  # back to the first page
    assert names(page) == ["Copy 3", "CalDenex <script>alert(1)</script>", "Copy 4", HOSTILE]
    page.locator("#ranking thead button.sort", has_text="Score").click()  # descending
    assert names(page) == [*RANK_ORDER[:3], "Copy 4"]  # no score stays last
    page.locator("#ranking-pager button[data-page='last']").click()
    assert names(page)[-1] == "K2 MK-7 100"

    page.locator("#catalog-controls button.filter[data-verdict='fails']").click()
    status_is(page, "Products 1–2 of 2 (of 7).")
    assert names(page) == ["CalDenex <script>alert(1)</script>", "Copy 3"]  # score descending
    page.fill("#ranking-search", "zed")  # the brand
    first_row_is(page, "Copy 3")
    status_is(page, "Products 1–1 of 1 (of 7).")
    assert names(page) == ["Copy 3"]
    page.locator("#catalog-controls button.filter[data-verdict='']").click()
    page.fill("#ranking-search", "00000002")  # a part of the id
    first_row_is(page, HOSTILE)
    status_is(page, "Products 1–1 of 1 (of 7).")
    assert names(page) == [HOSTILE]
    page.fill("#ranking-search", "no such product")
    status_is(page, "No product matches (of 7).")

    page.fill("#ranking-search", "DSLD/4.json")  # the source file
    first_row_is(page, "Copy 4")
    status_is(page, "Products 1–1 of 1 (of 7).")
    page.locator("#ranking-rows th.product a").click()
    page.wait_for_load_state("load")
    assert page.url == (tmp_path / "products" / "cards-00002.html").as_uri() + "#product-5"
    assert page.locator(".card:target h3").inner_text() == "#5 Copy 4"
    assert problems == []
    page.close()
