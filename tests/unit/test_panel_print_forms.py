"""Panel print forms and OCR misreads read right (hand-built positioned words, no OCR run):
a serving size set right in the value column and glued to its count, a %DV printed in
parentheses, "Includes 3g Added Sugars", footnote marks misread after a %DV or an amount,
and a B vitamin's "B" read as an "8"."""

from __future__ import annotations

import pytest

from pipeline.panel import words_to_labels
from pipeline.records import Label, LabelRow, ReadIssue, Word
from pipeline.sources.ocr_words import repair_line


def line(y: float, *cells: tuple[float, str], h: float = 8.0) -> list[Word]:
    """Words of one printed line; each cell is (x where it starts, text)."""
    out = []
    for x, text in cells:
        cx = x
        for token in text.split():
            width = len(token) * 4.4 * h / 8.0
            out.append(Word(token, cx, cx + width, y, y + h, 1, 90.0))
            cx += width + 2.2
    return out


def read(words: list[Word]) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    return words_to_labels([words], "x.png", fallback_name="x", source_format="image-ocr")


def top(serving: list[tuple[float, str]]) -> list[Word]:
    words = line(100, (50, "Supplement Facts"), h=14)
    words += line(118, *serving)
    return words + line(130, (220, "Amount Per Serving"), (300, "% DV"), h=7)


@pytest.mark.parametrize(
    ("cells", "serving"),
    [
        # the size set right, in the value column, glued to its count by OCR
        ([(50, "Serving Size:"), (240, "1Softgel")], "1 Softgel"),
        ([(50, "Serving Size:"), (240, "2 Capsules")], "2 Capsules"),
        ([(50, "Serving Size1 Capsule")], "1 Capsule"),
        ([(50, "Serving Size 2 Gummies (6g)")], "2 Gummies (6g)"),  # a weight stays glued
        # "Serving" lost to an arrow crossing it: "<word> Size <number>" under the heading
        ([(50, "ina Size 10 Drops (0.5 ml)")], "10 Drops (0.5 ml)"),
    ],
)
def test_serving_size_in_the_value_column_and_glued(
    cells: list[tuple[float, str]], serving: str
) -> None:
    words = top(cells) + line(144, (50, "Calcium"), (230, "500 mg"), (300, "38%"))
    labels, rows, issues = read(words)
    assert issues == []
    assert labels[0].serving_size == serving
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [
        ("Calcium", "500", "mg", "38%")
    ]


def test_dv_in_parentheses_and_added_sugars_in_the_name() -> None:
    words = top([(50, "Serving Size 2 Gummies")])
    words += line(144, (50, "Total Sugars"), (230, "3g"))
    words += line(156, (58, "Includes 3g Added Sugars"), (300, "6%"))
    words += line(168, (50, "Copper"), (230, "2mg"), (290, "(100% DV)"))
    words += line(180, (50, "Zinc"), (230, "10 mg (91% DV)"))
    _, rows, issues = read(words)
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows] == [
        ("Total Sugars", "3", "g", None),
        ("Added Sugars", "3", "g", "6%"),
        ("Copper", "2", "mg", "100%"),
        ("Zinc", "10", "mg", "91%"),
    ]


def test_includes_without_an_amount_is_left_as_printed() -> None:
    words = top([(50, "Serving Size 2 Gummies")])
    words += line(144, (50, "Includes Added Sugars"), (230, "3 g"), (300, "6%"))
    _, rows, _ = read(words)
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in rows] == [
        ("Includes Added Sugars", "3", "g")
    ]


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ('Total Carbohydrate 3g 1%"', ["Total", "Carbohydrate", "3g", "1%*"]),
        ('Fo-Ti Extract 10mg "*', ["Fo-Ti", "Extract", "10mg", "**"]),
        ("PABA 25 mg ’’", ["PABA", "25", "mg", "**"]),
        ("PABA 25mg **", ["PABA", "25mg", "**"]),  # as printed: no repair
        ('Zinc "* 5', ["Zinc", '"*', "5"]),  # not after an amount: kept
        ("Vitamin 812 850 mcg", ["Vitamin", "B12", "850", "mcg"]),
        ("Vitamin 86 2 mg", ["Vitamin", "B6", "2", "mg"]),
        ("Vitamin 8 2 mg", ["Vitamin", "8", "2", "mg"]),  # "8" alone: kept
        ("Serving 812", ["Serving", "812"]),  # not after "Vitamin": kept
    ],
)
def test_mark_runs_and_vitamin_b_read_as_8(printed: str, expected: list[str]) -> None:
    assert [text for text, _ in repair_line(printed.split())] == expected


def test_servings_per_container_with_its_first_word_lost() -> None:
    words = line(100, (50, "Supplement Facts"), h=14)
    words += line(118, (50, "ina Size 10 Drops (0.5 ml)"))
    words += line(128, (50, ": Per Container Approx. 30"))
    words += line(140, (220, "Amount Per Serving"), (300, "% DV"), h=7)
    words += line(154, (50, "Calcium"), (230, "500 mg"), (300, "38%"))
    labels, rows, issues = read(words)
    assert issues == []
    assert (labels[0].serving_size, labels[0].servings_per_container) == (
        "10 Drops (0.5 ml)",
        "Approx. 30",
    )
    assert [(r.name_raw, r.amount_raw) for r in rows] == [("Calcium", "500")]
