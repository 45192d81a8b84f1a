"""A confirmation clears the flag: a protocol amount OCR read with low confidence makes the
product not assessable; once a person confirms it (corrections.csv, `labelaudit confirm`),
the normalize stage marks the row reviewed and the verdict is decided by it."""

from __future__ import annotations

from typing import Any

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.corrections import CONFIRMED, Correction, apply_to_rows
from pipeline.normalize import nutrients_to_products, rows_to_nutrients
from pipeline.protocol import load_protocol
from pipeline.records import Label, LabelRow, ReadIssue, records_to_frame
from pipeline.score import outcomes_to_ranking
from pipeline.validate import Validator, products_to_outcomes, tables_to_findings

SOURCE = "scan.png"
LOW = MIN_AMOUNT_CONFIDENCE - 12.0


def _score(confirmations: list[Correction]) -> tuple[dict[str, Any], list[str]]:
    label = Label(
        SOURCE,
        0,
        "Scanned Bone Formula",
        serving_size="2 Capsules",
        directions="Take 2 capsules daily with a meal.",
        warnings="Caution: consult your physician before use if you take warfarin.",
        source_format="image-ocr",
        ocr_confidence=80.0,
    )
    lines = [
        ("Calcium", "500", "mg", "calcium citrate", LOW),
        ("Vitamin K2", "100", "mcg", "menaquinone-7", 91.0),
        ("Magnesium", "250", "mg", "magnesium glycinate", 90.0),
        ("Vitamin D3", "25", "mcg", "cholecalciferol", 93.0),
    ]
    rows = [
        LabelRow(SOURCE, 0, n + 1, name, amount, unit, None, form, confidence=c)
        for n, (name, amount, unit, form, c) in enumerate(lines)
    ]
    validator = Validator()
    labels = records_to_frame([label], Label)
    table = apply_to_rows(records_to_frame(rows, LabelRow), confirmations)
    nutrients = rows_to_nutrients(table, labels)
    products = nutrients_to_products(nutrients, labels)
    protocol = load_protocol()
    outcomes, _ = products_to_outcomes(products, protocol, validator)
    findings, _ = tables_to_findings(
        nutrients, products, records_to_frame([], ReadIssue), validator
    )
    ranking, _ = outcomes_to_ranking(products, outcomes, findings, protocol)
    (product,) = ranking.to_dict("records")
    return product, sorted(findings["check"].tolist())


def test_a_low_confidence_amount_blocks_until_it_is_confirmed() -> None:
    flagged, checks = _score([])
    assert flagged["verdict"] == "not_assessable"
    assert checks == ["amount_confidence"]
    confirmation = Correction(
        source_file=SOURCE,
        sha256="0" * 64,
        line=1,
        field=CONFIRMED,
        value="500",
        unit="mg",
        by="Ana Ruiz",
        date="2026-11-30",
        why="500 mg on the bottle",
    )
    confirmed, checks = _score([confirmation])
    assert checks == []
    assert (confirmed["verdict"], confirmed["score"]) == ("matches", 100.0)
