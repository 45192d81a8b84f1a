"""OCR readings compared and heading units repaired (pure functions, no OCR run)."""

from __future__ import annotations

import pytest

from pipeline.records import FileExtraction, LabelRow, ReadIssue
from pipeline.sources import ocr
from pipeline.sources.ocr_words import repair_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Main Ingredients ma/serving DV", ["Main", "Ingredients", "mg/serving", "DV"]),
        ("Amount mq/serving %DV", ["Amount", "mg/serving", "%DV"]),
        ("Amount meg/day", ["Amount", "mcg/day"]),
        ("Amount mg/serving", ["Amount", "mg/serving"]),
        ("Amount ab/serving", ["Amount", "ab/serving"]),  # not a unit misread: kept
        ("ma 50", ["ma", "50"]),  # not a heading: kept
        ("Vitamin Bé 5mg", ["Vitamin", "B6", "5mg"]),
        ("Vitamin Bl2 6mcg", ["Vitamin", "B12", "6mcg"]),
        ("Bé 5mg", ["Bé", "5mg"]),  # not after "Vitamin": kept
    ],
)
def test_heading_unit_and_vitamin_b_repair(line: str, expected: list[str]) -> None:
    assert [text for text, _ in repair_line(line.split())] == expected


def _row(name: str, amount: str | None, unit: str | None) -> LabelRow:
    return LabelRow("x.png", 0, 1, name, amount, unit)


def _extraction(rows: list[LabelRow], issues: int) -> FileExtraction:
    found = tuple(ReadIssue("x.png", 0, 1, i, f"issue {i}") for i in range(issues))
    return FileExtraction(source_file="x.png", labels=(), rows=tuple(rows), issues=found)


def test_reading_score_counts_rows_with_amount_and_unit_minus_issues() -> None:
    rows = [_row("Calcium", "500", "mg"), _row("Zinc", "10", None), _row("Boron", None, None)]
    assert ocr.reading_score(None) == (0, 0)
    assert ocr.reading_score(_extraction(rows, 0)) == (1, 1)
    assert ocr.reading_score(_extraction(rows, 2)) == (1, -1)
    # any panel beats none, even one with more issues than rows
    assert ocr.reading_score(_extraction([], 3)) > ocr.reading_score(None)
