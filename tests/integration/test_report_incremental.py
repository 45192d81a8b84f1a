"""A rerun in which one product changed writes the reports a cold run writes, and the report
step scores, builds and renders only that product (pipeline.report_scores,
pipeline.report_pieces): the others' scores, cards and audit.json lines are kept ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.catalog import ZIP_NAME, write_catalog
from tests.builders import at_catalog_scale, audit_cli

PRODUCTS = 8
CHANGED = 3  # the serial of the label that changes


def _audit(labels: Path, out: Path, work: Path) -> str:
    result = audit_cli(labels, out, work)
    assert result.exit_code == 0, result.output
    return result.output


def _document(out: Path) -> dict[str, Any]:
    audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    del audit["generated_at"], audit["changes"]
    return audit


def _said(output: str, pattern: str) -> list[tuple[int, ...]]:
    return [tuple(int(n) for n in m) for m in re.findall(pattern, output)]


SCORED = r"report: (\d+) products scored, (\d+) kept"
BUILT = r"report: (\d+) product documents built, (\d+) cards and (\d+) audit.json lines reused"


@pytest.mark.parametrize("scale", ["one page", "catalog"])
def test_a_rerun_with_one_product_changed_rebuilds_only_that_product(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: str
) -> None:
    at_catalog_scale(monkeypatch, scale, cards_per_page=3)
    labels, out, work = tmp_path / "labels", tmp_path / "out", tmp_path / "work"
    write_catalog(labels / ZIP_NAME, PRODUCTS)
    said = _audit(labels, out, work)
    assert _said(said, SCORED) == [(PRODUCTS, 0)]
    assert _said(said, BUILT) == [(PRODUCTS, 0, 0)]  # each document built once, cold

    write_catalog(labels / ZIP_NAME, PRODUCTS, frozenset({CHANGED}))
    said = _audit(labels, out, work)
    assert _said(said, SCORED) == [(1, PRODUCTS - 1)]
    assert _said(said, BUILT) == [(1, PRODUCTS - 1, PRODUCTS - 1)]
    rerun = _document(out)
    names = [p["product_name"] for p in rerun["products"]]
    assert sum(name.endswith(f"lot {CHANGED} ed 1") for name in names) == 1

    cold_out = tmp_path / "cold-out"
    _audit(labels, cold_out, tmp_path / "cold-work")
    assert rerun == _document(cold_out)
    assert (out / "ranking.csv").read_bytes() == (cold_out / "ranking.csv").read_bytes()
    if scale == "catalog":
        pages = sorted(p.name for p in (out / "products").glob("*.html"))
        assert pages == sorted(p.name for p in (cold_out / "products").glob("*.html"))
        assert len(pages) == 3
        for page in pages:
            stamp = re.compile(r"\d{4}-\d\d-\d\dT[\d:+]+")
            kept = stamp.sub("", (out / "products" / page).read_text(encoding="utf-8"))
            cold = stamp.sub("", (cold_out / "products" / page).read_text(encoding="utf-8"))
            assert kept == cold
