"""The protocol rule registry (pipeline/rules/protocol): one object per check, from which
the suite, the GX table, the score, the report's columns and the methodology are built."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.protocol import CHECKS, default_protocol
from pipeline.rules.base import band_credit
from pipeline.rules.protocol import (
    PROTOCOL_RULES,
    SCORE_INPUTS,
    SHORT_LABELS,
    expectations,
    protocol_table,
)
from pipeline.values import fmt_number, is_missing, number

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample_audit.json"


def test_checks_in_report_order_with_their_labels() -> None:
    assert CHECKS == {
        "k2_present": "Vitamin K2 present",
        "k2_form": "K2 form is MK-7",
        "k2_ratio": "K2 per 500 mg calcium",
        "ca_mg_ratio": "Calcium : magnesium near 2:1",
        "vitamin_d": "Vitamin D present",
        "anticoagulant_caution": "Anticoagulant (warfarin) caution",
        "fat_guidance": "Take with a meal containing fat",
        "k2_isomer": "MK-7 stated as all-trans",
    }
    assert list(SHORT_LABELS.values()) == [
        "Has K2", "MK-7", "K2 dose", "Ca:Mg band", "Vit. D", "Warfarin caution", "With fat",
        "All-trans",
    ]  # fmt: skip


def test_every_expectation_reads_a_column_of_the_gx_table() -> None:
    products = pd.DataFrame({column: [None] for column in {"product_id", *SCORE_INPUTS}}).astype(
        object
    )
    table = protocol_table(products)
    found = [(check, e.kind, e.column) for check, e in expectations(default_protocol())]
    assert found == [
        ("k2_present", "not_null", "vitamin_k2_mcg"),
        ("k2_form", "in_set", "k2_form_checked"),
        ("k2_ratio", "between", "k2_mcg_per_500mg_ca"),
        ("ca_mg_ratio", "not_null", "magnesium_mg"),
        ("ca_mg_ratio", "between", "ca_to_mg_ratio"),
        ("vitamin_d", "between", "vitamin_d_mcg"),
        ("vitamin_d", "not_null", "vitamin_d_mcg"),
        ("anticoagulant_caution", "in_set", "has_anticoagulant_caution"),
        ("fat_guidance", "in_set", "has_fat_guidance"),
        ("k2_isomer", "in_set", "k2_isomer"),
    ]
    assert {column for *_, column in found} <= set(table.columns)
    assert table["k2_form_checked"].tolist() == ["none"]


def test_the_methodology_sentences_follow_the_protocol_file() -> None:
    statements = {c["name"]: c["statement"] for c in default_protocol().to_dict()["checks"]}
    assert list(statements) == [rule.name for rule in PROTOCOL_RULES]
    assert statements["k2_form"] == (
        "K2 as MK-7; credit by the form the label names: MK-7 100%, mixed 75%, MK-4 50%, "
        "not stated 50%; K1 only 0."
    )
    assert statements["ca_mg_ratio"] == (
        "Calcium : magnesium about 2:1 by weight (accepted band 1.5-2.5 : 1); outside it the "
        "credit falls as for the K2 ratio; no magnesium 0."
    )


def test_in_the_sample_audit_a_passed_check_earns_its_full_credit() -> None:
    """Pass/fail (GX) and the credit (the rule) come from the same rule object: a passed
    check earns full credit (the K2 form: its form's credit), a failed one less."""
    protocol = default_protocol()
    full = {name: 1.0 for name in CHECKS} | {
        "k2_form": protocol.k2_form_credit[protocol.accepted_k2_form]
    }
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    checks = [
        c for p in golden["products"] if p["verdict"] != "not_assessable" for c in p["checks"]
    ]
    assert len(checks) == 84
    for check in checks:
        if check["passed"] is True:
            assert check["credit"] == full[check["name"]], check
        elif check["passed"] is False:
            assert check["credit"] < full[check["name"]], check


def test_band_credit() -> None:
    assert [band_credit(v, 100, 180) for v in (None, 0.0, 50.0, 100.0, 180.0, 360.0)] == [
        0.0, 0.0, 0.5, 1.0, 1.0, 0.5,
    ]  # fmt: skip
    assert band_credit(float("nan"), 100, 180) == 0.0


def test_values_missing_and_numbers() -> None:
    assert [is_missing(v) for v in (None, float("nan"), pd.NA, pd.NaT, 0, "", [1])] == [
        True, True, True, True, False, False, False,
    ]  # fmt: skip
    assert [number(v) for v in ("2.5", True, float("inf"), None, "x")] == [
        2.5,
        None,
        None,
        None,
        None,
    ]
    assert [fmt_number(v) for v in (1000.0, 62.0, 2.499, 54.64, None, -0.001)] == [
        "1,000", "62", "2.5", "54.64", "none", "0",
    ]  # fmt: skip
    assert fmt_number(1000.0, thousands=False, missing="—") == "1000"
    assert fmt_number(None, missing="—") == "—"
    assert fmt_number(1234.56, 1) == "1,234.6"
