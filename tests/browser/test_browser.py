"""audit.html in a real browser: loads offline, sorts and filters the ranking table.

Runs headless Chromium through Playwright with the system browser (/usr/bin/chromium);
Playwright never downloads one. Skipped when Chromium is missing, unless CI is set.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.report import write_reports
from tests.builders import AUDIT_EXAMPLE, REPO

pytestmark = pytest.mark.browser

EXAMPLE = AUDIT_EXAMPLE
SCREENSHOT = Path("/tmp/audit-screenshot.png")

#: (name, verdict, score, k2 per 500 mg Ca, Ca:Mg) of the products added to the example.
EXTRA = [
    ("Alpha Bone Complex", "matches", 92.5, 150.0, 1.8),
    ("Beta Cal Plus", "partial", 67.5, 60.0, 2.2),
    ("Gamma Mag Cal", "partial", 55.0, 210.0, 1.0),
    ("Delta D3 Calcium", "fails", 32.5, 20.0, 3.1),
    ("Epsilon Plain Calcium", "fails", 0.0, 0.0, 5.0),
]
# Rank order once the extras are in (score, best first; no score last).
RANK_ORDER = [
    "Bone Matrix Calcium + K2",
    "Alpha Bone Complex",
    "Beta Cal Plus",
    "Gamma Mag Cal",
    "Delta D3 Calcium",
    "CalDenex <script>alert(1)</script>",
    "Epsilon Plain Calcium",
    "K2 MK-7 100",
]


def audit_with_extras() -> dict[str, Any]:
    audit: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    base = audit["products"][0]
    for n, (name, verdict, score, k2_ratio, ca_mg) in enumerate(EXTRA):
        product = copy.deepcopy(base)
        product.update(
            product_id=f"extra-{n}",
            source_file=f"csv/extra-{n}.csv",
            product_name=name,
            verdict=verdict,
            score=score,
            k2_mcg_per_500mg_ca=k2_ratio,
            ca_to_mg_ratio=ca_mg,
            magnesium_mg=500.0 / ca_mg,
            vitamin_k2_mcg=k2_ratio,
        )
        audit["products"].append(product)
    audit["products"].sort(key=lambda p: (p["score"] is None, -(p["score"] or 0.0)))
    for rank, product in enumerate(audit["products"], start=1):
        product["rank"] = rank
    verdicts = [p["verdict"] for p in audit["products"]]
    audit["summary"]["products"] = len(verdicts)
    audit["summary"]["verdicts"] = {v: verdicts.count(v) for v in audit["summary"]["verdicts"]}
    return audit


def column_header(page: Any, text: str) -> Any:
    """The ranking table's <th> whose sort button reads exactly `text`."""
    button = page.locator("button.sort", has_text=re.compile(f"^{re.escape(text)}$"))
    return page.locator("#ranking thead th", has=button)


def product_names(page: Any) -> list[str]:
    """The product names of the ranking rows in display order (visible or not)."""
    names: list[str] = page.locator("#ranking tbody th.product a").all_inner_texts()
    return names


def visible_names(page: Any) -> list[str]:
    names: list[str] = page.locator("#ranking tbody tr:visible th.product a").all_inner_texts()
    return names


def test_report_sorts_and_filters_offline(browser: Any, tmp_path: Path) -> None:
    audit = audit_with_extras()
    html_path = write_reports(audit, tmp_path)[0]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    requests: list[str] = []

    def on_console(message: Any) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    def on_dialog(dialog: Any) -> None:  # an alert() from the page would land here
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on("request", lambda request: requests.append(request.url))

    page.goto(html_path.as_uri())
    assert page.title() == "Calcium + K2 label audit — 2026-11-25T09:30:00+00:00"
    assert product_names(page) == RANK_ORDER
    assert page.locator("#ranking-controls").is_visible()  # shown by the script
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    score = column_header(page, "Score")
    score.locator("button").click()
    assert score.get_attribute("aria-sort") == "ascending"
    ascending = [
        "Epsilon Plain Calcium",  # 0: numeric, not text, order
        "CalDenex <script>alert(1)</script>",
        "Delta D3 Calcium",
        "Gamma Mag Cal",
        "Beta Cal Plus",
        "Alpha Bone Complex",
        "Bone Matrix Calcium + K2",
        "K2 MK-7 100",  # no score: last
    ]
    assert product_names(page) == ascending
    score.locator("button").click()
    assert score.get_attribute("aria-sort") == "descending"
    assert product_names(page) == RANK_ORDER  # no score stays last

    ratio = column_header(page, "Ca:Mg")
    ratio.locator("button").click()
    assert product_names(page)[:3] == [
        "Gamma Mag Cal",
        "Alpha Bone Complex",
        "Bone Matrix Calcium + K2",
    ]
    assert product_names(page)[-1] == "K2 MK-7 100"
    assert score.get_attribute("aria-sort") is None

    page.locator('#ranking-controls button[data-verdict="fails"]').click()
    assert visible_names(page) == [
        "Delta D3 Calcium",
        "CalDenex <script>alert(1)</script>",
        "Epsilon Plain Calcium",
    ]
    assert page.locator("#filter-status").inner_text() == "Showing 3 of 8 products."
    assert (
        page.locator('#ranking-controls button[data-verdict="fails"]').get_attribute("aria-pressed")
        == "true"
    )
    page.locator('#ranking-controls button[data-verdict=""]').click()
    assert len(visible_names(page)) == 8
    assert page.locator("#filter-status").inner_text() == ""

    assert problems == []
    assert requests == [html_path.as_uri()]  # one file, nothing else loaded
    page.close()


def test_report_reads_in_rank_order_without_javascript(browser: Any, tmp_path: Path) -> None:
    html_path = write_reports(audit_with_extras(), tmp_path)[0]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(html_path.as_uri())
    assert visible_names(page) == RANK_ORDER
    assert not page.locator("#ranking-controls").is_visible()
    assert page.locator("#chart svg").count() == 1
    context.close()


SAMPLE_PDF = REPO / "data" / "raw" / "pdf" / "bone-matrix-calcium-k2.pdf"


def test_a_card_shows_the_crop_of_each_value_and_the_panel(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    shutil.copy(SAMPLE_PDF, tmp_path / "labels" / "bone-matrix.pdf")
    result = CliRunner().invoke(
        app,
        [
            "audit",
            str(tmp_path / "labels"),
            "--out",
            str(tmp_path / "reports"),
            "--work",
            str(tmp_path / "work"),
            "--jobs",
            "1",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((tmp_path / "reports" / "audit.html").as_uri())
    card = page.locator("article.card").first
    crop = card.locator("img.crop[alt='Line 3 on the label']")  # calcium, 500 mg
    crop.scroll_into_view_if_needed()
    assert crop.is_visible()
    size = crop.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size[0] is True and size[1] > 100 and 10 < size[2] <= 44
    row_text = crop.evaluate("img => img.closest('tr').innerText")
    assert "Calcium" in row_text and "500 mg" in row_text
    panel = card.locator("figure.evidence-panel img")
    assert panel.is_visible()
    assert panel.evaluate("img => img.naturalWidth") == 220
    assert card.locator("img.crop").count() == 4
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    page.close()
