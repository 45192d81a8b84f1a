"""A rerun on a new zip in which one member changed: only that member is read, normalized
and validated again (the others' rows are the last run's: pipeline.infra.kept_rows), and
every table and the report's products are those of a cold run on the new zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelgen.dsld_formats import to_dsld_api_json
from labelgen.products import dsld_labels
from pipeline import config, normalize_tables
from pipeline.audit import run_audit
from pipeline.infra.cache import ExtractionCache
from pipeline.protocol import load_protocol

PROTOCOL = load_protocol(None)
ZIP = "DSLD-full-database-JSON.zip"
MEMBERS = 12
CHANGED = 5  # a member in the middle: its rows go back between the kept ones
TABLES = (
    "labels",
    "label_rows",
    "read_issues",
    "rejections",
    "nutrients",
    "products",
    "outcomes",
    "data_quality",
)


def _write_zip(path: Path, changed: int | None = None) -> list[str]:
    """A zip of MEMBERS real DSLD labels; label `changed` with another name and amounts.
    Returns the members' source names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    names = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, label in enumerate(dsld_labels()[:MEMBERS]):
            document = to_dsld_api_json(label)
            if i == changed:
                document["fullName"] += " new edition"
                for row in document["ingredientRows"]:
                    for quantity in row.get("quantity") or []:
                        if isinstance(quantity.get("quantity"), int | float):
                            quantity["quantity"] = quantity["quantity"] * 2
            member = f"DSLD/{document['id']}.json"
            archive.writestr(member, json.dumps(document))
            names.append(f"{ZIP}!{member}")
    return names


def _audit(labels: Path, root: Path) -> dict[str, Any]:
    run_audit(labels, root / "out", root / "work", PROTOCOL, jobs=1, progress=False)
    meta: dict[str, Any] = json.loads((root / "work" / "run.json").read_text(encoding="utf-8"))
    return meta


def _products(root: Path) -> list[dict[str, Any]]:
    audit = json.loads((root / "out" / "audit.json").read_text(encoding="utf-8"))
    products: list[dict[str, Any]] = audit["products"]
    return products


@pytest.mark.parametrize("at_once", [True, False], ids=["changed-at-once", "batch-by-batch"])
def test_only_the_changed_member_is_read_normalized_and_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at_once: bool
) -> None:
    if not at_once:  # (more changed files than normalize_tables takes in one call)
        monkeypatch.setattr(normalize_tables, "CHANGED_AT_ONCE_FILES", 0)
    labels = tmp_path / "labels"
    names = _write_zip(labels / ZIP)
    first = _audit(labels, tmp_path / "rerun")
    assert (first["parsed"], first["cached"]) == (MEMBERS, 0)

    _write_zip(labels / ZIP, changed=CHANGED)
    normalized: list[list[str]] = []
    normalize = normalize_tables.normalize_files

    def spy(labels: pd.DataFrame, rows: pd.DataFrame) -> Any:
        normalized.append(sorted(set(labels["source_file"])))
        return normalize(labels, rows)

    monkeypatch.setattr(normalize_tables, "normalize_files", spy)
    looked_up: list[str] = []  # the cache entries looked for: the changed member's only
    for method in ("get", "verify"):
        real = getattr(ExtractionCache, method)
        monkeypatch.setattr(
            ExtractionCache,
            method,
            lambda self, key, real=real: looked_up.append(key) or real(self, key),
        )
    again = _audit(labels, tmp_path / "rerun")
    assert (again["parsed"], again["cached"]) == (1, MEMBERS - 1)
    assert normalized == [[names[CHANGED]]]
    assert len(looked_up) == 1  # (a miss: its new content was never read)
    assert again["validation"] == {
        "products_validated": 1,
        "products_reused": MEMBERS - 1,
        "label_rows_validated": again["validation"]["label_rows_validated"],
    }
    assert again["validation"]["label_rows_validated"] > 0

    monkeypatch.setattr(normalize_tables, "normalize_files", normalize)
    cold = _audit(labels, tmp_path / "cold")
    assert (cold["parsed"], cold["cached"]) == (MEMBERS, 0)
    rerun, fresh = (
        config.WorkPaths(tmp_path / "rerun" / "work"),
        config.WorkPaths(tmp_path / "cold" / "work"),
    )
    for table in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(getattr(rerun, table)), pd.read_parquet(getattr(fresh, table))
        )
    products = _products(tmp_path / "rerun")
    assert products == _products(tmp_path / "cold")
    changed = [p for p in products if p["source_file"] == names[CHANGED]]
    assert [p["product_name"].endswith("new edition") for p in changed] == [True]
