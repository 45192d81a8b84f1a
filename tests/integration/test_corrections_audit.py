"""Corrections end to end: `labelaudit correct` / `confirm` append to LABELS/corrections.csv,
the next audit applies them in normalize (amounts, ratio, score and verdict follow), they stay
applied over unchanged reruns, a changed label file makes them stale, a malformed file is
reported with its line; each value's crop is on the card."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelgen.pdf_layouts import render_pdf
from labelgen.products import sample_product
from pipeline.cli import app
from pipeline.extract import CORRECTIONS_ENTRY
from pipeline.infra.history import read_history

SOURCE = "bone-matrix-misread.pdf"
NAME = "Bone Matrix Calcium + K2"


def _label(calcium_mg: float) -> dict[str, Any]:
    label = sample_product("sample-bone-matrix")
    for ing in label["ingredients"]:
        if ing["name"] == "Calcium":
            ing["quantity"] = calcium_mg
    return label


def _run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _audit(root: Path) -> dict[str, Any]:
    _run(
        "audit",
        str(root / "labels"),
        "--out",
        str(root / "reports"),
        "--work",
        str(root / "work"),
        "--jobs",
        "1",
        "--quiet",
    )
    audit: dict[str, Any] = json.loads((root / "reports" / "audit.json").read_text("utf-8"))
    return audit


def _product(audit: dict[str, Any]) -> dict[str, Any]:
    (product,) = [p for p in audit["products"] if p["source_file"] == SOURCE]
    return product


def _row(product: dict[str, Any], nutrient: str) -> dict[str, Any]:
    (row,) = [r for r in product["label_rows"] if r["nutrient"] == nutrient]
    return row


@pytest.fixture(scope="module")
def misread(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labels folder whose label prints calcium as 50 mg (the bottle says 500 mg), audited
    once."""
    root = tmp_path_factory.mktemp("misread")
    (root / "labels").mkdir()
    render_pdf([_label(50.0)], root / "labels" / SOURCE, "ruled")
    _audit(root)  # `correct` and `confirm` check against the last audit's rows
    return root


def _correct(root: Path, *extra: str) -> Any:
    return _run(
        "correct",
        SOURCE,
        "--line",
        "3",
        "--amount",
        "500",
        "--unit",
        "mg",
        "--by",
        "Ana Ruiz",
        "--why",
        "bottle reads 500 mg",
        "--labels",
        str(root / "labels"),
        "--work",
        str(root / "work"),
        "--date",
        "2026-11-30",
        *extra,
    )


def test_a_corrected_amount_changes_amounts_score_and_verdict_and_stays(misread: Path) -> None:
    before = _product(_audit(misread))
    calcium = _row(before, "calcium")
    assert calcium["line_no"] == 3
    assert (calcium["amount_raw"], calcium["unit_raw"]) == ("50", "mg")
    assert before["calcium_mg"] == 50.0
    assert before["k2_mcg_per_500mg_ca"] == 1200.0
    assert before["ca_to_mg_ratio"] == 0.2
    assert (before["score"], before["verdict"]) == (
        65.8,
        "partial",
    )  # 15 + 20 + 25 * 180/1200 + 15 * 0.2/1.5 + 10 + 10 + 5
    assert before["corrections"] == []

    said = _correct(misread).output
    assert "corrected by Ana Ruiz on 2026-11-30: bottle reads 500 mg" in said
    lines = (misread / "labels" / "corrections.csv").read_text("utf-8").splitlines()
    assert lines[0] == "source_file,sha256,line,field,value,unit,by,date,why,label"
    cells = lines[1].split(",")
    assert cells[0] == SOURCE and len(cells[1]) == 64
    assert cells[2:] == [
        "3",
        "amount",
        "500",
        "mg",
        "Ana Ruiz",
        "2026-11-30",
        "bottle reads 500 mg",
        "0",
    ]

    audit = _audit(misread)
    after = _product(audit)
    row = _row(after, "calcium")
    assert (row["amount_raw"], row["unit_raw"]) == ("500", "mg")
    assert (row["printed_amount_raw"], row["printed_unit_raw"]) == ("50", "mg")
    assert row["review"] == "corrected"
    assert after["calcium_mg"] == 500.0
    assert after["k2_mcg_per_500mg_ca"] == 120.0
    assert after["ca_to_mg_ratio"] == 2.0
    assert (after["score"], after["verdict"]) == (100.0, "matches")
    assert after["corrections"] == [
        {
            "line": 3,
            "field": "amount",
            "value": "500",
            "unit": "mg",
            "printed_amount": "50",
            "printed_unit": "mg",
            "by": "Ana Ruiz",
            "date": "2026-11-30",
            "why": "bottle reads 500 mg",
            "note": "corrected by Ana Ruiz on 2026-11-30: bottle reads 500 mg",
        }
    ]
    assert audit["stale_corrections"] == []
    assert {"source_file": "corrections.csv", "reason": CORRECTIONS_ENTRY} in audit["not_labels"]
    assert audit["summary"]["files"] == 2  # the label and corrections.csv, each once
    html = (misread / "reports" / "audit.html").read_text("utf-8")
    assert "corrected by Ana Ruiz on 2026-11-30: bottle reads 500 mg" in html
    assert "(corrected; read as 50 mg)" in html

    marker = misread / "work" / ".normalize.done"
    done = (marker.read_text("utf-8"), marker.stat().st_mtime_ns)
    again = _product(_audit(misread))  # nothing changed: still corrected
    assert (marker.read_text("utf-8"), marker.stat().st_mtime_ns) == done  # normalize reused
    assert (again["calcium_mg"], again["score"], again["verdict"]) == (500.0, 100.0, "matches")
    last = read_history(misread / "reports" / "history.jsonl")[-1]
    assert last["corrections_applied"] == [
        {
            "source_file": SOURCE,
            "label": 0,
            "line": 3,
            "field": "amount",
            "value": "500",
            "unit": "mg",
            "by": "Ana Ruiz",
            "date": "2026-11-30",
        }
    ]
    assert last["stale_corrections"] == 0
    assert (misread / "labels" / "corrections.csv").read_text("utf-8").splitlines() == lines


def test_a_changed_label_file_makes_its_correction_stale(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    render_pdf([_label(50.0)], tmp_path / "labels" / SOURCE, "ruled")
    _audit(tmp_path)
    _correct(tmp_path)
    render_pdf([_label(60.0)], tmp_path / "labels" / SOURCE, "ruled")  # a new print run
    audit = _audit(tmp_path)
    product = _product(audit)
    assert product["calcium_mg"] == 60.0
    assert product["corrections"] == []
    (stale,) = audit["stale_corrections"]
    assert (stale["source_file"], stale["line"], stale["value"]) == (SOURCE, 3, "500")
    assert stale["reason"].startswith("the label file has changed since (its sha256 is now ")
    html = (tmp_path / "reports" / "audit.html").read_text("utf-8")
    assert "Corrections not applied (1)" in html
    last = read_history(tmp_path / "reports" / "history.jsonl")[-1]
    assert (last["corrections_applied"], last["stale_corrections"]) == ([], 1)


def test_a_malformed_corrections_file_names_its_line_and_the_audit_goes_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "labels").mkdir()
    render_pdf([_label(50.0)], tmp_path / "labels" / SOURCE, "ruled")
    _audit(tmp_path)
    _correct(tmp_path)
    with open(tmp_path / "labels" / "corrections.csv", "a", encoding="utf-8") as fh:
        fh.write(f"{SOURCE},abc,three,amount,500,mg,Bo,2026-11-30,typo\n")
        fh.write(f"{SOURCE},abc,4,amount,5x0,mg,Bo,2026-11-30,typo\n")
    audit = _audit(tmp_path)
    assert audit["correction_errors"] == [
        "corrections.csv line 3: line 'three' is not a line number (1, 2, ...)",
        "corrections.csv line 4: value '5x0' is not an amount",
    ]
    product = _product(audit)  # the good line still applies
    assert (product["calcium_mg"], product["verdict"]) == (500.0, "matches")
    html = (tmp_path / "reports" / "audit.html").read_text("utf-8")
    assert "corrections.csv line 4: value &#39;5x0&#39; is not an amount" in html


def test_correct_refuses_a_line_the_last_audit_did_not_read(misread: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "correct",
            SOURCE,
            "--line",
            "40",
            "--amount",
            "5",
            "--unit",
            "mg",
            "--by",
            "Bo",
            "--why",
            "x",
            "--labels",
            str(misread / "labels"),
            "--work",
            str(misread / "work"),
        ],
    )
    assert result.exit_code == 1
    assert "the last audit read no line 40 in its label 0" in result.output


def test_each_protocol_value_has_its_crop_and_the_panel_its_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    shutil.copy(
        Path(__file__).parents[2] / "data" / "raw" / "pdf" / "bone-matrix-calcium-k2.pdf",
        tmp_path / "labels" / SOURCE,
    )
    _audit(tmp_path)
    html = (tmp_path / "reports" / "audit.html").read_text("utf-8")
    crops = re.findall(r'<img class="crop" src="data:image/png;base64,[^"]+" alt="Line (\d+)', html)
    assert crops == ["1", "2", "3", "4"]  # D3, K2, calcium, magnesium
    assert html.count('<figure class="evidence-panel">') == 1
    uris = re.findall(r'src="(data:image/png;base64,[^"]+)"', html)
    assert sum(len(u) for u in uris) <= 48_000  # the per-product budget (pipeline.crops)


def test_confirm_records_the_value_as_read(misread: Path) -> None:
    _run(
        "confirm",
        SOURCE,
        "--line",
        "2",
        "--by",
        "Bo Lind",
        "--why",
        "120 mcg on the bottle",
        "--labels",
        str(misread / "labels"),
        "--work",
        str(misread / "work"),
        "--date",
        "2026-12-01",
    )
    last = (misread / "labels" / "corrections.csv").read_text("utf-8").splitlines()[-1]
    cells = last.split(",")
    assert cells[0] == SOURCE
    assert cells[2:] == [
        "2",
        "confirmed",
        "120",
        "mcg",
        "Bo Lind",
        "2026-12-01",
        "120 mcg on the bottle",
        "0",
    ]
