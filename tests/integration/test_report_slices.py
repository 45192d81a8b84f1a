"""The report step holds its products' checks and label rows a slice of the ranking at a
time (pipeline.document_slices): whatever the slice size, the run writes the same reports,
and leaves no slice on disk once the audit document is dropped."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from bench.catalog import ZIP_NAME, write_catalog
from pipeline import config, report_tables
from tests.builders import at_catalog_scale, audit_cli

PRODUCTS = 5


def _reports(root: Path, slice_size: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(config, "REPORT_SLICE_PRODUCTS", slice_size)
    monkeypatch.setattr(report_tables, "RANKING_CSV_ROWS", slice_size)  # (ranking.csv too)
    labels, out, work = root / "labels", root / "out", root / "work"
    write_catalog(labels / ZIP_NAME, PRODUCTS)
    result = audit_cli(labels, out, work)
    assert result.exit_code == 0, result.output
    gc.collect()
    assert list(work.glob(".report-slices-*")) == []
    stamp = json.loads((out / "audit.json").read_text(encoding="utf-8"))["generated_at"]
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        .replace(stamp, "<time>")
        .replace(str(labels), "<labels>")
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in (".html", ".json", ".csv")
    }


@pytest.mark.parametrize("scale", ["one page", "catalog"])
def test_slices_of_two_products_write_the_reports_one_slice_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scale: str
) -> None:
    at_catalog_scale(monkeypatch, scale, cards_per_page=2)
    whole = _reports(tmp_path / "one", 2048, monkeypatch)
    sliced = _reports(tmp_path / "two", 2, monkeypatch)
    assert sorted(sliced) == sorted(whole)
    expected_files = ["audit.html", "audit.json", "ranking.csv"]
    if scale == "catalog":
        expected_files += [f"products/cards-0000{n}.html" for n in (1, 2, 3)]
    assert sorted(whole) == sorted(expected_files)
    for name in whole:
        assert sliced[name] == whole[name], name
    products = [
        json.loads(line.strip().rstrip(","))
        for line in whole["audit.json"].splitlines()
        if line.strip().startswith('{"rank"')
    ]
    assert [p["rank"] for p in products] == [1, 2, 3, 4, 5]
    assert all(p["label_rows"] and len(p["checks"]) == 8 for p in products)
    assert whole["ranking.csv"].count("\n") == PRODUCTS + 1
