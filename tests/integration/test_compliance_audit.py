"""The compliance rule pack in runs: the findings stay right for unchanged products across
incremental validations, an audit reports them apart and --fail-on compliance trips on
them, and scanned labels give the same findings as their text. (The rules themselves:
tests/unit/test_compliance.py.)"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelgen.compliance_cases import CASES, CLEAN, render_case
from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from labelgen.raster import Scan, write_image
from pipeline import compliance, config
from pipeline.errors import EXIT_FINDINGS
from pipeline.protocol import load_protocol
from pipeline.sources.ocr import read_image
from pipeline.validate import ValidationJob, Validator, validate_work
from tests.builders import audit_cli, label_tables, write_work

UNITS_FINDING = (
    "line 2, page 1 'Vitamin D': 1,000 IU: expected Vitamin D in mcg (IU only in "
    "parentheses after it; IU alone is the pre-2016 unit)"
)


def test_incremental_runs_keep_the_findings_of_unchanged_products(
    validator: Validator, tmp_path: Path
) -> None:
    labels, rows = records_of(dsld_labels()[:20])
    protocol = load_protocol()

    def job(work: config.WorkPaths, full: bool = False) -> ValidationJob:
        return ValidationJob(str(work.root), protocol, salt="s", full=full)

    work = write_work(tmp_path / "inc", labels, rows)
    validate_work(job(work), validator)
    first = pd.read_parquet(work.compliance)
    assert len(first) > 0
    gx_file = json.loads(work.gx_compliance_result.read_text(encoding="utf-8"))
    assert gx_file["labelaudit"]["validated_products"] == 20
    assert [(run["chunk"], run["products"]) for run in gx_file["runs"]] == [(1, 20), (1, 20)]
    assert len(gx_file["results"]) == len(compliance.RULES)  # one expectation per rule
    # One label gets vitamin D in IU, nothing else changes.
    changed = labels[0].source_file
    new_rows = [
        dataclasses.replace(r, name_raw="Vitamin D", amount_raw="400", unit_raw="IU", dv_raw="")
        if r.source_file == changed and r.line_no == 1
        else r
        for r in rows
    ]
    work = write_work(tmp_path / "inc", labels, new_rows)
    counts = validate_work(job(work), validator)
    assert (counts["products_validated"], counts["products_reused"]) == (1, 19)
    second = pd.read_parquet(work.compliance)
    full = write_work(tmp_path / "full", labels, new_rows)
    validate_work(job(full, full=True), validator)
    assert second.equals(pd.read_parquet(full.compliance))
    unchanged = second[second["source_file"] != changed].reset_index(drop=True)
    assert unchanged.equals(first[first["source_file"] != changed].reset_index(drop=True))
    assert "line 1 'Vitamin D': 400 IU: expected Vitamin D in mcg" in " ".join(
        second.loc[second["source_file"] == changed, "detail"]
    )


def _audit_folder(tmp: Path, labels: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = tmp / "out"
    result = audit_cli(labels, out, tmp / "work", *extra)
    audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    return result.exit_code, audit, (out / "audit.html").read_text(encoding="utf-8")


def test_an_audit_reports_compliance_apart_and_fails_on_it_when_asked(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    render_case(CLEAN, labels / "clean.pdf")
    render_case(CASES["zero"], labels / "zero.pdf")
    code, audit, html = _audit_folder(tmp_path, labels)
    assert code == 0
    assert audit["compliance"] == [
        {
            "source_file": "zero.pdf",
            "product_id": next(
                p["product_id"] for p in audit["products"] if p["source_file"] == "zero.pdf"
            ),
            "rule": "zero",
            "citation": "21 CFR 101.36(b)(2)(i)",
            "severity": "error",
            "detail": "line 6, page 1 'Zinc' is declared at zero (0 mg): expected it left off "
            "the panel",
        }
    ]
    assert audit["summary"]["compliance_findings"] == 1
    rules = [r["rule"] for r in audit["methodology"]["compliance_rules"]]
    assert rules == [r.name for r in compliance.RULES]
    assert '<section id="compliance"' in html
    assert "is declared at zero (0 mg)" in html
    # The same work folder again, now failing on compliance: nothing is validated again.
    code, again, _ = _audit_folder(tmp_path, labels, "--fail-on", "compliance")
    assert code == EXIT_FINDINGS
    assert again["compliance"] == audit["compliance"]


@pytest.mark.ocr
def test_scans_of_the_clean_and_the_iu_label_give_only_the_unit_finding(
    validator: Validator, tmp_path: Path
) -> None:
    found = {}
    for name, label in (("clean", CLEAN), ("units", CASES["units"])):
        image = write_image(
            render_case(label, tmp_path / f"{name}.pdf"),
            tmp_path / f"{name}.png",
            Scan(dpi=200, angle=1.5, noise=8, seed=1),
        )
        extraction = read_image(image, image.name)
        _, nutrients, products = label_tables(extraction.labels, extraction.rows)
        ruled = compliance.tables_to_compliance(nutrients, products, validator)
        found[name] = ruled[["rule", "detail"]].values.tolist()
    assert found == {"clean": [], "units": [["units", UNITS_FINDING]]}
