"""The k2_isomer check (pipeline/rules/protocol/k2_isomer.py): which MK-7 isomer a label
states, its credit and reason; tests/integration/test_k2_isomer_audit.py runs it end to end."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from pipeline.protocol import default_protocol
from pipeline.rules.protocol import RULES_BY_NAME, SHORT_LABELS
from pipeline.rules.protocol.k2_isomer import isomer_stated
from pipeline.score import score_products

RULE = RULES_BY_NAME["k2_isomer"]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Vitamin K2 (as all-trans menaquinone-7)"],
         ("all-trans", "Vitamin K2 (as all-trans menaquinone-7)")),
        (["Vitamin K2 (as trans-MK-7)"], ("all-trans", "Vitamin K2 (as trans-MK-7)")),
        (["Vitamin K2 (as menaquinone-7) (K2VITAL® DELTA)"],
         ("all-trans", "Vitamin K2 (as menaquinone-7) (K2VITAL® DELTA)")),
        (["MK-7, 100% trans"], ("all-trans", "MK-7, 100% trans")),
        (["Menaquinone-7, cis-free"], ("all-trans", "Menaquinone-7, cis-free")),
        (["MK-7 free of cis isomers"], ("all-trans", "MK-7 free of cis isomers")),
        (["Vitamin K (as vitamin K2 (cis form))"], ("cis", "Vitamin K (as vitamin K2 (cis form))")),
        (["Vitamin K2 (as cis-MK-7)"], ("cis", "Vitamin K2 (as cis-MK-7)")),
        (["Vitamin K2 (as MK-7, cis/trans)"], ("cis/trans", "Vitamin K2 (as MK-7, cis/trans)")),
        (["menaquinone-7 (cis and trans isomers)"],
         ("cis/trans", "menaquinone-7 (cis and trans isomers)")),
        (["Vitamin K2 (as all-trans MK-7)", "MK-7 (trans/cis)"], ("cis/trans", "MK-7 (trans/cis)")),
        (["Vitamin K2 (as menaquinone-7)", "Calcium K2 Softgels"], (None, None)),
        (["Transparent capsule", "Francis Labs MK-7"], (None, None)),
        ([], (None, None)),
    ],
)  # fmt: skip
def test_isomer_stated(texts: list[str], expected: tuple[str | None, str | None]) -> None:
    assert isomer_stated(texts) == expected


def test_long_evidence_is_cut() -> None:
    said = "Vitamin K2 (as all-trans menaquinone-7) " + "x" * 200
    isomer, evidence = isomer_stated([said])
    assert isomer == "all-trans"
    assert evidence == said[:117] + "..."


def test_derived_columns_read_the_vitamin_k_lines_and_other_ingredients() -> None:
    products = pd.DataFrame(
        {
            "product_id": ["a", "b", "c", "d"],
            "product_name": ["A", "B", "C", "D"],
            "other_ingredients": ["olive oil", "MK-7 (all-trans), olive oil", None, None],
        }
    )
    nutrients = pd.DataFrame(
        {
            "product_id": ["a", "a", "c", "d"],
            "nutrient": ["calcium", "vitamin_k2", "vitamin_k2", "calcium"],
            "name_raw": ["Calcium (cis form)", "Vitamin K2", "Vitamin K", "Calcium"],
            "form_raw": [None, "cis-MK-7", "menaquinone-7", None],
            "raw_text": ["Calcium 500 mg", "Vitamin K2 (as cis-MK-7) 100 mcg", "", ""],
        }
    )
    (derived,) = RULE.derived
    assert derived.columns == (("k2_isomer", "str"), ("k2_isomer_evidence", "str"))
    assert derived.compute(products, nutrients) == {
        "k2_isomer": ["cis", "all-trans", None, None],
        "k2_isomer_evidence": ["cis-MK-7", "MK-7 (all-trans), olive oil", None, None],
    }


def _product(isomer: str | None, evidence: str | None) -> dict[str, Any]:
    return {
        "product_id": "p",
        "product_name": "P",
        "calcium_mg": 500.0,
        "magnesium_mg": 250.0,
        "vitamin_d_mcg": 25.0,
        "vitamin_k1_mcg": None,
        "vitamin_k2_mcg": 120.0,
        "k2_form": "MK-7",
        "k2_mcg_per_500mg_ca": 120.0,
        "ca_to_mg_ratio": 2.0,
        "has_anticoagulant_caution": True,
        "anticoagulant_evidence": "consult your doctor if you take warfarin",
        "has_fat_guidance": True,
        "fat_guidance_evidence": "take with a meal",
        "k2_isomer": isomer,
        "k2_isomer_evidence": evidence,
    }


@pytest.mark.parametrize(
    ("isomer", "evidence", "passed", "credit", "detail"),
    [
        ("all-trans", "MK-7 (all-trans)", True, 1.0,
         'the label states the all-trans form of its vitamin K2: "MK-7 (all-trans)"'),
        ("cis", "cis-MK-7", False, 0.0,
         'the label states a cis form of its vitamin K2: "cis-MK-7"; cis isomers are reported '
         "as biologically inactive; the protocol asks all-trans"),
        ("cis/trans", "MK-7 cis/trans", False, 0.0,
         'the label states a cis/trans mixture of its vitamin K2: "MK-7 cis/trans"; cis isomers '
         "are reported as biologically inactive; the protocol asks all-trans"),
        (None, None, None, 0.0,
         "the label does not say whether its vitamin K2 is all-trans or cis"),
    ],
)  # fmt: skip
def test_informational_check_changes_no_score_or_verdict(
    isomer: str | None, evidence: str | None, passed: bool | None, credit: float, detail: str
) -> None:
    protocol = default_protocol()
    assert protocol.weights["k2_isomer"] == 0.0
    assert "k2_isomer" not in protocol.required_for_match
    checks = ["k2_present", "k2_form", "k2_ratio", "ca_mg_ratio", "vitamin_d"]
    checks += ["anticoagulant_caution", "fat_guidance"]
    outcomes = pd.DataFrame(
        [("p", check, True) for check in checks] + [("p", "k2_isomer", passed)],
        columns=["product_id", "check", "passed"],
    )
    findings = pd.DataFrame(columns=["product_id", "check", "detail", "blocking"])
    scored, scored_checks = score_products(
        [_product(isomer, evidence)], outcomes, findings, protocol
    )
    assert scored[["score", "verdict", "verdict_reason"]].values.tolist() == [
        [100.0, "matches", "every required protocol check passes"]
    ]
    row = scored_checks[scored_checks["check"] == "k2_isomer"].iloc[0]
    assert (row["label"], row["passed"], row["credit"], row["weight"], row["points"]) == (
        "MK-7 stated as all-trans",
        passed,
        credit,
        0.0,
        0.0,
    )
    assert row["detail"] == detail
    assert SHORT_LABELS["k2_isomer"] == "All-trans"
