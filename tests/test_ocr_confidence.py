"""Confidence protects the verdict: an OCR'd protocol amount read with low confidence
makes the product not assessable; one read after a repair is flagged with its
confidence (a warning, the verdict stands). No OCR engine needed: the label rows carry
the confidence and repairs the OCR source gives them."""

from __future__ import annotations

from typing import Any

import pytest
from stages_path import run_stages

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.records import Label, LabelRow
from pipeline.validate import Validator

SOURCE = "scan.png"
WARFARIN = "Caution: consult your physician before use if you take warfarin."


def _rows(index: int, calcium_conf: float, repairs: str | None) -> list[LabelRow]:
    lines = [
        ("Calcium", "500", "mg", "38%", "calcium citrate", calcium_conf, repairs),
        ("Vitamin K2", "100", "mcg", "83%", "menaquinone-7", 91.0, None),
        ("Magnesium", "250", "mg", "60%", "magnesium glycinate", 90.0, None),
        ("Vitamin D3", "25", "mcg", "125%", "cholecalciferol", 93.0, None),
    ]
    return [
        LabelRow(SOURCE, index, n + 1, name, amount, unit, dv, form, confidence=c, repairs=r)
        for n, (name, amount, unit, dv, form, c, r) in enumerate(lines)
    ]


CASES = {
    "Confident": (92.0, None),
    "Low": (MIN_AMOUNT_CONFIDENCE - 12.0, None),
    "Repaired": (88.0, "5OO->500"),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    validator = Validator()
    labels = [
        Label(
            SOURCE,
            i,
            name,
            serving_size="2 Capsules",
            directions="Take 2 capsules daily with a meal.",
            warnings=WARFARIN,
            source_format="image-ocr",
            ocr_confidence=90.0,
        )
        for i, name in enumerate(CASES)
    ]
    rows = [r for i, (c, rep) in enumerate(CASES.values()) for r in _rows(i, c, rep)]
    staged = run_stages(tmp_path_factory.mktemp("ocr"), labels, rows, validator=validator)
    products = staged.products
    ids = dict(zip(products["product_name"], products["product_id"], strict=True))
    return {"ranking": staged.ranking, "findings": staged.findings, "ids": ids}


def _of(scored: dict[str, Any], name: str, table: str) -> list[dict[str, Any]]:
    frame = scored[table]
    return frame[frame["product_id"] == scored["ids"][name]].to_dict("records")


def test_confident_amounts_decide_the_verdict(scored: dict[str, Any]) -> None:
    (product,) = _of(scored, "Confident", "ranking")
    assert product["verdict"] == "matches"
    assert [f["check"] for f in _of(scored, "Confident", "findings")] == []


def test_low_confidence_amount_makes_the_product_not_assessable(scored: dict[str, Any]) -> None:
    (product,) = _of(scored, "Low", "ranking")
    assert product["verdict"] == "not_assessable"
    detail = "line 1: 'Calcium' 500 mg: amount read with low confidence (38%): check the label"
    assert product["verdict_reason"] == ("a protocol value could not be read reliably: " + detail)
    assert [
        (f["check"], f["severity"], f["detail"], f["blocking"])
        for f in _of(scored, "Low", "findings")
    ] == [("amount_confidence", "error", detail, True)]


def test_repaired_amount_is_flagged_with_its_confidence(scored: dict[str, Any]) -> None:
    (product,) = _of(scored, "Repaired", "ranking")
    assert product["verdict"] == "matches"
    assert [
        (f["check"], f["severity"], f["detail"], f["blocking"])
        for f in _of(scored, "Repaired", "findings")
    ] == [
        (
            "amount_repaired",
            "warning",
            "line 1: 'Calcium' 500 mg: amount read by OCR after a repair (5OO->500), "
            "confidence 88%",
            False,
        )
    ]
