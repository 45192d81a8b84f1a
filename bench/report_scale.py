"""The report at catalog scale: write it for N synthetic products and use it in Chromium.

    python -m bench.report_scale --n 40000 [--keep DIR] [--no-browser]

Builds an audit document of N products (bench.synthetic_audit: the report stage alone,
no extraction), writes the reports twice (cold, then again with the report pieces kept
from the first run, as a nightly run with nothing changed), prints each write's time, the
peak memory (this process's max RSS) and the sizes, then opens audit.html from file://
in headless Chromium (Playwright, the system /usr/bin/chromium) and checks, with timings,
that it shows its summary, draws the ranking, sorts it by score, filters it by verdict,
finds a product by a part of its id and opens that product's card page. Exits 1 if a
check fails. Not part of `make test`: `make bench-report N=40000`.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.synthetic_audit import synthetic_audit
from pipeline.config import REPORT_TABLE_ROWS
from pipeline.report import write_reports

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def write(audit: dict[str, Any], reports: Path, work: Path) -> float:
    keys = {p: f"synthetic {p}" for p in audit["products"].column("product_id")}
    started = time.monotonic()
    write_reports(
        audit,
        reports,
        chart_cache=work / "chart.json",
        pieces_cache=work / "report_pieces.sqlite",
        product_keys=keys,
    )
    return time.monotonic() - started


def _check(ok: bool, what: str, failures: list[str]) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


def _wait_text(locator: Any, pattern: re.Pattern[str], timeout: float) -> None:
    """Wait until `locator` shows text matching `pattern` (the page's CSP forbids eval, so
    no wait_for_function)."""
    locator.page.locator(f"#{locator.get_attribute('id')}", has_text=pattern).wait_for(
        timeout=timeout
    )


def _scores(products: Any) -> list[Any]:
    """Every product's score: a ProductDocs' column, or a list of products' "score"."""
    if hasattr(products, "column"):
        return list(products.column("score"))
    return [p.get("score") for p in products]


def browse(audit: dict[str, Any], html: Path) -> list[str]:
    """Use the page in Chromium; return the failed checks."""
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    products = audit["products"]
    total = len(products)
    fails = audit["summary"]["verdicts"]["fails"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # bypass_csp: only so that the bench may read the page's performance timings
        page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto("about:blank")  # the browser started, before the clock does
        started = time.monotonic()
        page.goto(html.as_uri(), wait_until="commit")
        page.locator("#summary .tiles").wait_for(state="visible", timeout=60_000)
        summary = time.monotonic() - started
        status = page.locator("#ranking-status")
        _wait_text(status, re.compile(r"^Products 1–"), 120_000)
        table = time.monotonic() - started
        paint = page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
        )
        drawn = page.evaluate("() => performance.now()")
        print(
            f"  summary shown after {summary:.2f} s (first contentful paint at "
            f"{(paint or 0) / 1000:.2f} s), ranking drawn after {table:.2f} s "
            f"(page clock {drawn / 1000:.2f} s)"
        )
        _check(summary < 3.0, f"summary in under 3 s ({summary:.2f} s)", failures)
        rows = page.locator("#ranking-rows tr")
        _check(rows.count() == REPORT_TABLE_ROWS, f"{REPORT_TABLE_ROWS} rows drawn", failures)
        _check(f"of {total}." in status.inner_text(), "the status counts all products", failures)

        started = time.monotonic()
        page.locator("#ranking thead button.sort", has_text="Score").click()
        page.locator("#ranking thead button.sort", has_text="Score").click()  # descending
        scores = page.locator("#ranking-rows tr td:nth-child(5)").all_inner_texts()
        print(f"  sorted by score (twice) in {time.monotonic() - started:.2f} s")
        best = max((p for p in _scores(products) if p is not None), default=None)
        numbers = [float(s) for s in scores if s != "—"]
        _check(
            numbers == sorted(numbers, reverse=True) and numbers[0] == round(best or 0, 2),
            f"sorted by score, best first ({numbers[:3]})",
            failures,
        )

        started = time.monotonic()
        page.locator("#catalog-controls button.filter[data-verdict='fails']").click()
        shown = page.locator("#ranking-rows tr").count()
        others = page.locator("#ranking-rows tr:not([data-verdict='fails'])").count()
        print(f"  filtered to fails in {time.monotonic() - started:.2f} s")
        _check(shown > 0 and others == 0, "only fails shown", failures)
        _check(f"of {fails} (of {total})" in status.inner_text(), f"{fails} fails", failures)
        page.locator("#catalog-controls button.filter[data-verdict='']").click()

        target = products[total // 2]
        needle = target["product_id"][-8:]
        started = time.monotonic()
        page.fill("#ranking-search", needle)
        _wait_text(status, re.compile(rf"of 1 \(of {total}\)\.$"), 30_000)
        print(f"  searched {needle!r} in {time.monotonic() - started:.2f} s")
        link = page.locator("#ranking-rows th.product a")
        _check(link.inner_text() == target["product_name"], "search finds the product", failures)

        started = time.monotonic()
        link.click()
        page.wait_for_load_state("load")
        card = page.locator(".card:target h3")
        opened = time.monotonic() - started
        _check(
            card.inner_text() == f"#{target['rank']} {target['product_name']}",
            f"its card opens ({opened:.2f} s): {page.url.rsplit('/', 2)[-2:]}",
            failures,
        )
        _check(not errors, f"no page errors {errors[:3]}", failures)
        browser.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--keep", type=Path, help="write into this folder and keep it")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--once", action="store_true", help="write once (no rerun)")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="labelaudit-report-scale-"))
    reports, work = root / "reports", root / "work"
    for folder in (reports, work):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    try:
        started = time.monotonic()
        audit = synthetic_audit(args.n)
        print(f"N = {args.n}: synthetic audit built in {time.monotonic() - started:.1f} s")
        cold = write(audit, reports, work)
        warm = write(audit, reports, work) if not args.once else float("nan")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cards = reports / "products"
        print(
            f"  write cold {cold:.1f} s, again (pieces kept) {warm:.1f} s, peak RSS {peak:.0f} MB"
        )
        print(
            f"  audit.html {_mb(_size(reports / 'audit.html'))}, "
            f"products/ {_mb(_size(cards))} in {len(list(cards.glob('*.html')))} pages, "
            f"audit.json {_mb(_size(reports / 'audit.json'))}, "
            f"ranking.csv {_mb(_size(reports / 'ranking.csv'))}, "
            f"report_pieces.sqlite {_mb(_size(work / 'report_pieces.sqlite'))}"
        )
        if args.no_browser:
            return 0
        if not CHROMIUM.exists():
            print(f"  no Chromium at {CHROMIUM}: browser checks skipped")
            return 0
        failures = browse(audit, reports / "audit.html")
        return 1 if failures else 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
