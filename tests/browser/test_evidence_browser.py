"""A product card in a real browser shows the label itself: each protocol value's crop and
the panel thumbnail load (embedded PNGs, offline) and are visible on the card."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SAMPLE = Path(__file__).parents[2] / "data" / "raw" / "pdf" / "bone-matrix-calcium-k2.pdf"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"chromium not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_card_shows_the_crop_of_each_value_and_the_panel(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    shutil.copy(SAMPLE, tmp_path / "labels" / "bone-matrix.pdf")
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
