"""The bundled sample labels, end to end: exact values read, normalized, scored and rejected.

One audit of a copy of data/raw (module-scoped: GX starts once) through the real CLI.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.infra.history import read_history
from pipeline.protocol import CHECKS
from tests.builders import PROTOCOL_COLUMNS, REPO

SAMPLES = REPO / "data" / "raw"

runner = CliRunner()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("samples")
    labels = root / "labels"
    shutil.copytree(SAMPLES, labels)
    result = runner.invoke(
        app,
        [
            "audit",
            str(labels),
            "--out",
            str(root / "reports"),
            "--work",
            str(root / "work"),
            "-j",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    audit = json.loads((root / "reports" / "audit.json").read_text(encoding="utf-8"))
    return {"root": root, "audit": audit, "output": result.output}


# source file, product name -> calcium, magnesium, D, K1, K2 (per serving), K2 form,
# K2 per 500 mg Ca, Ca:Mg, score, verdict
EXPECTED = {
    ("pdf/bone-matrix-calcium-k2.pdf", "Bone Matrix Calcium + K2"):
        (500.0, 250.0, 25.0, None, 120.0, "MK-7", 120.0, 2.0, 100.0, "matches"),
    ("pdf/daily-calcium-with-k2.pdf", "Daily Calcium with K2"):
        (1000.0, 500.0, 50.0, None, 124.0, "MK-7", 62.0, 2.0, 90.5, "partial"),
    ("pdf/calcium-k2-softgels.pdf", "Calcium K2 Softgels"):
        (600.0, None, 20.0, None, 150.0, "MK-7", 125.0, None, 85.0, "partial"),
    ("csv/simple-layout.csv", "Mega Daily 4 for Women"):
        (732.0, 200.0, 10.0, None, 80.0, "MK-7", 54.64, 3.66, 68.9, "partial"),
    ("json/dsld-11243-mega-daily-4-for-men.json", "Mega Daily 4 for Men"):
        (800.0, 100.0, 10.0, None, 80.0, "MK-7", 50.0, 8.0, 62.2, "partial"),
    ("pdf/beyond-tangy-tangerine-mk4.pdf", "Beyond Tangy Tangerine 2.0"):
        (50.0, 40.0, 25.0, None, 40.0, "MK-4", 400.0, 1.25, 58.8, "partial"),
    ("csv/dsld-export/DietarySupplementFacts.csv", "BDZ"):
        (210.0, 15.0, None, None, 180.0, "unspecified", 428.57, 14.0, 38.2, "fails"),
    ("pdf/nikken-bdz-and-calcium-complex.pdf", "BDZ"):
        (210.0, 15.4, None, None, 180.0, "unspecified", 428.57, 13.64, 48.2, "fails"),
    ("pdf/caldenex-k1.pdf", "CalDenex"):
        (900.0, 225.0, 22.5, 120.0, None, None, 0.0, 4.0, 24.4, "fails"),
    ("csv/dsld-export/DietarySupplementFacts.csv", "Multivitamin/Multimineral Tablet"):
        (215.0, 25.0, 16.0, None, None, None, 0.0, 8.6, 14.4, "fails"),
    ("pdf/acid-comfort-brochure.pdf", "Acid Comfort"):
        (116.0, 11.0, 3.75, None, None, None, 0.0, 10.55, 13.6, "fails"),
    ("pdf/nikken-bdz-and-calcium-complex.pdf", "Calcium Complex"):
        (400.0, None, 30.0, None, None, None, 0.0, None, 10.0, "fails"),
    ("csv/simple-layout.csv", "K2 MK-7 100"):
        (None, None, None, None, 100.0, "MK-7", None, None, None, "not_assessable"),
}  # fmt: skip

FIELDS = (*PROTOCOL_COLUMNS, "score", "verdict")


def test_every_sample_product_is_read_normalized_and_scored_exactly(
    audited: dict[str, Any],
) -> None:
    products = audited["audit"]["products"]
    got = {(p["source_file"], p["product_name"]): tuple(p[f] for f in FIELDS) for p in products}
    assert got == EXPECTED


def test_ranking_order_is_verdict_then_score(audited: dict[str, Any]) -> None:
    ranked = [(p["rank"], p["product_name"]) for p in audited["audit"]["products"]]
    assert ranked[:3] == [
        (1, "Bone Matrix Calcium + K2"),
        (2, "Daily Calcium with K2"),
        (3, "Calcium K2 Softgels"),
    ]
    assert ranked[-1] == (13, "K2 MK-7 100")


def test_bad_files_are_rejected_with_their_reason(audited: dict[str, Any]) -> None:
    assert audited["audit"]["rejected"] == [
        {
            "source_file": "bad/spring-catalogue-no-panel.pdf",
            "reason": "no Supplement Facts panel found in 1 page(s)",
        },
        {
            "source_file": "bad/truncated-download.pdf",
            "reason": "cannot open PDF: the file is damaged or is not a PDF",
        },
    ]


def test_every_file_is_accounted_for(audited: dict[str, Any]) -> None:
    summary = audited["audit"]["summary"]
    files = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.is_file()}
    with_products = {p["source_file"] for p in audited["audit"]["products"]}
    rejected = {r["source_file"] for r in audited["audit"]["rejected"]}
    companions = set(summary["companion_files"])
    assert with_products | rejected | companions == files
    assert summary["files"] == len(with_products) + len(rejected) == 12
    assert summary["products"] == 13
    assert summary["verdicts"] == {"matches": 1, "partial": 5, "fails": 6, "not_assessable": 1}
    assert companions == {"csv/dsld-export/ProductOverview.csv"}


def test_label_rows_keep_the_printed_value_beside_the_normalized_one(
    audited: dict[str, Any],
) -> None:
    product = next(
        p for p in audited["audit"]["products"] if p["product_name"] == "Mega Daily 4 for Men"
    )
    vitamin_d = next(r for r in product["label_rows"] if r["nutrient"] == "vitamin_d")
    assert (vitamin_d["amount_raw"], vitamin_d["unit_raw"]) == ("400", "IU")
    assert (vitamin_d["amount_normalized"], vitamin_d["unit_normalized"]) == (10.0, "mcg")
    k2 = next(r for r in product["label_rows"] if r["nutrient"] == "vitamin_k2")
    assert (k2["name_raw"], k2["form_raw"], k2["k2_form"]) == ("Vitamin K", "MenaQ7", "MK-7")


def test_check_reasons_name_the_measured_value_and_the_target(audited: dict[str, Any]) -> None:
    product = next(
        p for p in audited["audit"]["products"] if p["product_name"] == "Daily Calcium with K2"
    )
    checks = {c["name"]: c for c in product["checks"]}
    assert checks["k2_ratio"]["passed"] is False
    assert checks["k2_ratio"]["detail"] == (
        "62 mcg K2 per 500 mg calcium (124 mcg K2 with 1,000 mg calcium); the protocol asks 100-180"
    )
    assert checks["k2_ratio"]["points"] == 15.5  # 62/100 of 25 points
    assert checks["ca_mg_ratio"]["detail"] == (
        "calcium:magnesium 2:1 (1,000 mg : 500 mg); the protocol asks 1.5-2.5:1 (target 2:1)"
    )


def test_stage_artifacts_keep_units_in_column_names(audited: dict[str, Any]) -> None:
    work = audited["root"] / "work"
    nutrients = pd.read_parquet(work / "nutrients.parquet")
    assert {"amount_raw", "unit_raw", "amount_mcg", "amount_normalized", "unit_normalized"} <= set(
        nutrients.columns
    )
    products = pd.read_parquet(work / "products.parquet")
    assert {"calcium_mg", "magnesium_mg", "vitamin_d_mcg", "vitamin_k2_mcg"} <= set(
        products.columns
    )
    result = json.loads((work / "gx_protocol_result.json").read_text(encoding="utf-8"))
    reasons = {r["expectation_config"]["meta"]["check"] for r in result["results"]}
    assert reasons == set(CHECKS)  # every registered protocol rule has its expectations


def test_report_files_are_written(audited: dict[str, Any]) -> None:
    reports = audited["root"] / "reports"
    ranking = pd.read_csv(reports / "ranking.csv")
    assert list(ranking["rank"]) == list(range(1, 14))
    assert ranking.loc[0, "product_name"] == "Bone Matrix Calcium + K2"
    html = (reports / "audit.html").read_text(encoding="utf-8")
    assert "cannot open PDF: the file is damaged or is not a PDF" in html
    assert len(read_history(reports / "history.jsonl")) == 1


def test_a_checks_points_agree_with_its_outcome(audited: dict[str, Any]) -> None:
    """All-or-nothing checks earn their weight exactly when GX says they passed."""
    all_or_nothing = {"k2_present", "vitamin_d", "anticoagulant_caution", "fat_guidance"}
    for product in audited["audit"]["products"]:
        for check in product["checks"]:
            if check["name"] in all_or_nothing:
                earned = check["points"] == check["weight"]
                assert earned is (check["passed"] is True), (product["product_name"], check)
            if check["passed"] is True:
                assert check["credit"] == 1.0, (product["product_name"], check)
