"""The card pages of a catalog-scale report in Chromium: each card drawn by the page from
its data (pipeline.report_card_data, templates/cards_page.js.j2) shows the same text in the
same elements as the one-page report's card rendered by jinja2, and hostile label text
stays text.

Runs headless Chromium through Playwright with the system browser (/usr/bin/chromium);
skipped when Chromium is missing, unless CI is set.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pipeline import report, report_catalog
from pipeline.report import write_reports
from tests.catalog_audit import HOSTILE, catalog_audit

pytestmark = pytest.mark.browser

#: What the page reads of a card: its text as shown, and each element's tag and classes.
CARD_SHAPE = """article => [article.innerText,
  Array.from(article.querySelectorAll('*')).map(e => e.tagName + '.' + e.className)]"""


def hostile_audit() -> dict[str, Any]:
    """The catalog audit, its third product (HOSTILE's) hostile in every text a card shows."""
    audit = catalog_audit()
    product = audit["products"][2]
    product.update(
        brand=HOSTILE,
        serving_size=HOSTILE,
        source_file=f"{HOSTILE}.json",
        verdict_reason=HOSTILE,
        directions=HOSTILE,
        warnings="<b>bold</b>",
        other_ingredients="<!--",
    )
    product["label_rows"][0].update(raw_text=HOSTILE, name_raw=HOSTILE, form_raw="</code>")
    product["checks"][0].update(label=HOSTILE, detail=HOSTILE)
    product["corrections"] = [
        {
            "line": 1,
            "field": "amount",
            "value": "30",
            "unit": "mcg",
            "printed_amount": "25",
            "printed_unit": "mcg",
            "by": HOSTILE,
            "date": "2026-01-02",
            "why": HOSTILE,
            "note": "",
        }
    ]
    return audit


def card_shapes(page: Any) -> dict[str, Any]:
    return {
        card.get_attribute("id"): card.evaluate(CARD_SHAPE)
        for card in page.locator("article.card").all()
    }


def test_a_drawn_card_is_the_templates_card_and_hostile_text_stays_text(
    browser: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    audit = hostile_audit()
    one_page = tmp_path / "one"
    write_reports(copy.deepcopy(audit), one_page)  # 7 products: the one-page report
    monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
    monkeypatch.setattr(report_catalog, "REPORT_CARDS_PER_PAGE", 3)
    catalog = tmp_path / "catalog"
    write_reports(copy.deepcopy(audit), catalog)
    assert not (one_page / "products").exists()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("dialog", lambda dialog: (problems.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto((one_page / "audit.html").as_uri())
    expected = card_shapes(page)
    assert len(expected) == 7
    drawn: dict[str, Any] = {}
    for name in ("cards-00001.html", "cards-00002.html", "cards-00003.html"):
        page.goto((catalog / "products" / name).as_uri())
        drawn |= card_shapes(page)
        # the page's own two scripts (its data and its drawer), nothing a label added
        assert page.locator("script").count() == 2
        assert page.locator("img").count() == 0
    assert drawn == expected
    text, _ = drawn["product-3"]
    assert text.startswith(f"#3 {HOSTILE}\n\n{HOSTILE} · {HOSTILE} · {HOSTILE}.json (pdf)\n")
    assert f"Line 1: 30 mcg used, printed as read 25 mcg; corrected by {HOSTILE}" in text
    assert "Warnings\n<b>bold</b>\nOther ingredients\n<!--" in text

    page.goto((catalog / "products" / "cards-00001.html").as_uri() + "#product-3")
    assert page.locator(".card:target h3").inner_text() == f"#3 {HOSTILE}"
    assert problems == []
    page.close()


def test_a_card_page_without_javascript_says_where_the_data_is(
    browser: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
    monkeypatch.setattr(report_catalog, "REPORT_CARDS_PER_PAGE", 3)
    write_reports(catalog_audit(), tmp_path)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((tmp_path / "products" / "cards-00001.html").as_uri())
    assert page.locator("article.card").count() == 0
    assert page.locator("#products").inner_text() == (
        "This page draws its products' cards with JavaScript, which is off: audit.json holds "
        "every product's data, ranking.csv the ranking."
    )
    context.close()
    assert report.REPORT_LIST_ITEMS > 0  # the module's settings are those of the run
