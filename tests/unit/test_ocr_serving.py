"""A serving size's unit misread by OCR is repaired to the one unit it is close to
(`pipeline.sources.ocr_serving`), only right after "Size" and a count, never on a tie."""

from __future__ import annotations

import re

from pipeline.panel.grammar import _SERVING_UNITS
from pipeline.sources.ocr_serving import (
    SERVING_UNIT_WORDS,
    edits,
    fix_serving_units,
    unit_misread,
)
from pipeline.sources.ocr_words import repair_line


def test_vocabulary_is_the_panel_grammars() -> None:
    units = re.compile(rf"(?:{_SERVING_UNITS})", re.IGNORECASE)
    for singular, plural in SERVING_UNIT_WORDS:
        assert units.fullmatch(singular), singular
        assert units.fullmatch(plural), plural


def test_edits() -> None:
    assert edits("capswte", "capsule") == 2
    assert edits("capswte", "capsules") == 3
    assert edits("tablet", "tablet") == 0
    assert edits("", "drop") == 4


def test_misread_units() -> None:
    assert unit_misread("Capswte", 1) == "Capsule"
    assert unit_misread("Capsuies", 2) == "Capsules"
    assert unit_misread("SOFTGFL", 1) == "SOFTGEL"
    assert unit_misread("tabiets", 3) == "tablets"
    assert unit_misread("Scoup", 1) == "Scoop"  # 5 letters: one edit
    assert unit_misread("Stoops", 2) == "Scoops"  # "sticks" is 3 edits away


def test_left_as_read() -> None:
    assert unit_misread("Capsule", 1) is None  # a unit already
    assert unit_misread("Capsules", 1) is None  # a unit already, even after a count of 1
    assert unit_misread("Cxpxwxe", 1) is None  # 4 edits from "capsule"
    assert unit_misread("Scxxp", 1) is None  # 5 letters, two edits
    assert unit_misread("Kapsule", 1) is None  # another first letter


def test_tie_left_as_read() -> None:
    # "pieces" and "packets" both 2 edits from "piekets": no repair
    assert edits("piekets", "pieces") == 2
    assert edits("piekets", "packets") == 2
    assert unit_misread("Piekets", 2) is None


def test_only_after_size_and_count() -> None:
    assert fix_serving_units(["Serang", "Size", "1", "Capswte"]) == [
        "Serang", "Size", "1", "Capsule",
    ]  # fmt: skip
    assert fix_serving_units(["Size:", "2", "Tabiets,"]) == ["Size:", "2", "Tablets,"]
    assert fix_serving_units(["Take", "1", "Capswte"]) == ["Take", "1", "Capswte"]
    assert fix_serving_units(["Size", "Capswte"]) == ["Size", "Capswte"]
    assert fix_serving_units(["Size", "1", "Cap5wte"]) == ["Size", "1", "Cap5wte"]


def test_recorded_as_a_repair() -> None:
    assert repair_line(["Serving", "Size", "1", "Capswte"]) == [
        ("Serving", None),
        ("Size", None),
        ("1", None),
        ("Capsule", "Capswte->Capsule"),
    ]
