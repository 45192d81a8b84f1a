"""The %Daily-Value cross-check of amounts OCR read (pipeline.panel.ocr_dv): a lost decimal
point put back from the printed %DV, an amount that disagrees withheld with the reason, and
the panel reader applying it to OCR readings only (hand-built words, no OCR engine)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.panel import words_to_labels
from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE, DvCheck, check_dv
from pipeline.records import Label, LabelRow, Word
from pipeline.validate import Validator
from pipeline.values import fmt_number
from tests.builders import score_records

DSLD = Path(__file__).resolve().parent.parent / "data" / "dsld" / "labels.json"
ZINC = "Zinc (as Zinc Oxide)"
MAGNESIUM = "Magnesium (as Magnesium Oxide)"
MAGNESIUM_3 = (
    "125 mg of magnesium would be 30% of the 420 mg DV (31% of the older 400 mg DV), "
    "the label prints 3%: amount or %DV misread"
)


def test_a_lost_point_is_put_back_from_the_printed_dv() -> None:
    # a real wrap: "Zinc (as Zinc Oxide) 7.5 mg 68%", read by two engines as "75mg 68%"
    assert check_dv("75", "mg", "68%", ZINC) == DvCheck(
        "7.5", repair="7.5 mg: the point OCR lost, from the printed 68% DV of 11 mg"
    )


def test_amounts_that_agree_with_their_dv_are_kept() -> None:
    assert check_dv("125", "mg", "30%", MAGNESIUM) is None
    assert check_dv("300", "mcg", "1000%", "Biotin") is None  # DV 30 mcg
    assert check_dv("50", "mg", "56%", "Vitamin C (Ascorbic Acid)") is None  # DV 90 mg
    assert check_dv("400", "mg", "100%", "Magnesium") is None  # the older DV, 400 mg
    assert check_dv("5", "mg", "<1%", "Calcium") is None


def test_an_amount_far_from_its_dv_is_withheld_with_the_reason() -> None:
    # 12.5 mg would give 3%, but a 3% pins the amount only within 8.4 to 16.8 mg: a "30%"
    # read as "3%" is as likely as a lost point
    assert check_dv("125", "mg", "3%", MAGNESIUM) == DvCheck(None, doubt=MAGNESIUM_3)


def test_two_placements_that_agree_are_no_repair() -> None:
    # biotin's DVs are 30 and 300 mcg: 3.55 mcg gives 12% of 30, 35.5 mcg 12% of 300
    assert check_dv("355", "mcg", "12%", "Biotin") == DvCheck(
        None,
        doubt="355 mcg of biotin would be 1,183% of the 30 mcg DV (118% of the older 300 mcg "
        "DV), the label prints 12%: 3.55 and 35.5 would each agree: amount or %DV misread",
    )


def test_no_point_is_put_before_a_trailing_zero() -> None:
    # 3.50 mcg would give 12% of 30 mcg, but a label prints 3.5: "350" lost no point
    assert check_dv("350", "mcg", "12%", "Biotin") == DvCheck(
        None,
        doubt="350 mcg of biotin would be 1,167% of the 30 mcg DV (117% of the older 300 mcg "
        "DV), the label prints 12%: amount or %DV misread",
    )


def test_the_unit_read_decides_the_dv_used() -> None:
    assert check_dv("25", "mcg", "125%", "Vitamin D3") is None  # 20 mcg
    assert check_dv("1000", "IU", "125%", "Vitamin D3") is None  # 800 IU
    assert check_dv("1000", "IU", "250%", "Vitamin D3") is None  # the older 400 IU
    assert check_dv("25", "IU", "125%", "Vitamin D3") == DvCheck(
        None,
        doubt="25 IU of vitamin D would be 3% of the 800 IU DV (6% of the older 400 IU DV), "
        "the label prints 125%: amount or %DV misread",
    )
    assert check_dv("225", "IU", "75%", "Vitamin E") == DvCheck(
        "22.5",
        repair="22.5 IU: the point OCR lost, from the printed 75% DV of 30 IU (the older DV)",
    )


def test_a_label_off_by_less_than_the_doubt_factor_is_its_own_finding() -> None:
    # a real label: 1000 IU printed as 167% (the 600 IU RDA); dv_consistent reports it
    assert check_dv("1000", "IU", "167%", "Vitamin D3") is None


def test_no_check_without_a_printed_dv_unit_or_daily_value() -> None:
    assert check_dv("75", "mg", "*", ZINC) is None
    assert check_dv("75", "mg", "**", ZINC) is None
    assert check_dv("75", "mg", None, ZINC) is None
    assert check_dv("75", "mg", "6B%", ZINC) is None
    assert check_dv("75", "mg", "less than 1%", ZINC) is None
    assert check_dv("75", None, "68%", ZINC) is None
    assert check_dv("750", "mg", "68%", "Magnesium Glycinate") is None  # no DV of its own
    assert check_dv("<75", "mg", "68%", ZINC) is None


def test_a_mark_after_the_dv_is_read_past() -> None:
    assert check_dv("75", "mg", "68%*", ZINC) == DvCheck(
        "7.5", repair="7.5 mg: the point OCR lost, from the printed 68%* DV of 11 mg"
    )


def test_a_dv_of_the_second_amount_column_is_no_doubt() -> None:
    assert check_dv("250", "mg", "119%", "Magnesium", ("500", "mg")) is None
    assert check_dv("250", "mg", "119%", "Magnesium", ("500", None)) is None
    assert check_dv("25", "mg", "119%", "Magnesium", ("55", "mg")) == DvCheck(
        None,
        doubt="25 mg of magnesium would be 6% of the 420 mg DV (6% of the older 400 mg DV), "
        "the label prints 119%: amount or %DV misread",
    )


def _dsld_rows() -> list[tuple[str, str, str, str, str]]:
    labels = json.loads(DSLD.read_text(encoding="utf-8"))
    return [
        (
            label["dsld_id"],
            i["name"],
            fmt_number(i["quantity"], 6, thousands=False),
            i["unit"],
            f"{fmt_number(i['daily_value_percent'], 6, thousands=False)}%",
        )
        for label in labels
        for i in label["ingredients"]
        if i.get("daily_value_percent") and i.get("quantity") is not None and i.get("unit")
    ]


def test_real_label_rows_read_right_are_not_doubted() -> None:
    """The false-positive risk on 382 real label rows with a %DV (DSLD): the check doubts
    only the 4 whose DSLD record is itself wrong (a %DV cut to 3 digits, mcg for mg)."""
    rows = _dsld_rows()
    doubted = [r[:4] for r in rows if check_dv(r[2], r[3], r[4], r[1]) is not None]
    assert len(rows) == 382
    assert doubted == [
        ("81209", "Vitamin B12", "5000", "mcg"),  # 208,333% recorded as 333%
        ("209214", "Potassium", "87.5", "mcg"),  # 87.5 mg: 2%
        ("271802", "Zinc", "11", "ng"),  # 11 mg: 100%
        ("276060", "Vitamin B12", "10000", "mcg"),  # 416,667% recorded as 417%
    ]


# --- the panel reader ---


def _line(y: float, cells: list[tuple[float, str]]) -> list[Word]:
    return [Word(text, x, x + 4.4 * len(text), y, y + 8.0, 1, 95.0) for x, text in cells]


def _panel(*rows: tuple[str, str, str]) -> list[Word]:
    words = [
        *_line(10, [(10, "Supplement"), (60, "Facts")]),
        *_line(22, [(10, "Serving"), (45, "Size"), (68, "1"), (75, "Capsule")]),
        *_line(34, [(120, "Amount"), (160, "%DV")]),
    ]
    for n, (name, amount, dv) in enumerate(rows):
        words += _line(46 + 12 * n, [(10, name), (120, amount), (160, dv)])
    return words


def _read(source_format: str, *rows: tuple[str, str, str]) -> tuple[list[LabelRow], list[str]]:
    _, read, issues = words_to_labels(
        [_panel(*rows)], "x.png", fallback_name="x", source_format=source_format
    )
    return read, [i.detail for i in issues]


def test_the_reader_repairs_an_ocr_amount_and_lowers_its_confidence() -> None:
    rows, issues = _read("image-ocr", ("Zinc", "75mg", "68%"), ("Biotin", "300mcg", "1000%"))
    zinc, biotin = rows
    assert (zinc.amount_raw, zinc.unit_raw, zinc.confidence, zinc.repairs) == (
        "7.5",
        "mg",
        REPAIRED_CONFIDENCE,
        "7.5 mg: the point OCR lost, from the printed 68% DV of 11 mg",
    )
    assert (biotin.amount_raw, biotin.confidence, biotin.repairs) == ("300", 95.0, None)
    assert issues == []


def test_the_reader_withholds_an_ocr_amount_its_dv_contradicts() -> None:
    rows, issues = _read("pdf-ocr", ("Magnesium", "125mg", "3%"))
    assert (rows[0].amount_raw, rows[0].unit_raw, rows[0].dv_raw) == (None, None, "3%")
    assert issues == [
        f"page 1, line 1: amount '125 mg ({MAGNESIUM_3})' of 'Magnesium' could not be read"
    ]


def test_a_text_layer_is_not_checked() -> None:
    rows, issues = _read("pdf", ("Zinc", "75mg", "68%"), ("Magnesium", "125mg", "3%"))
    assert [(r.amount_raw, r.unit_raw, r.repairs) for r in rows] == [
        ("75", "mg", None),
        ("125", "mg", None),
    ]
    assert issues == []


@pytest.fixture(scope="module")
def scored(validator: Validator) -> dict[str, Any]:
    """A vitamin D amount the reader repaired ("12.5 mcg (500 IU) 63%" read as "125mcg"),
    scored with the default protocol."""
    rows, issues = _read(
        "image-ocr",
        ("Calcium", "500mg", "38%"),
        ("Vitamin D3", "125mcg", "63%"),
        ("Magnesium", "250mg", "60%"),
        ("Vitamin K2", "100mcg", "83%"),
    )
    assert issues == []
    label = Label(
        "x.png",
        0,
        "Repaired D",
        serving_size="1 Capsule",
        directions="Take 1 capsule daily with a meal.",
        warnings="Consult your physician before use if you take warfarin.",
        source_format="image-ocr",
        ocr_confidence=90.0,
    )
    rows = [
        dataclasses.replace(r, form_raw="menaquinone-7") if "K2" in r.name_raw else r for r in rows
    ]
    return score_records([label], rows, validator)


def test_a_protocol_amount_repaired_from_its_dv_does_not_decide_the_verdict(
    scored: dict[str, Any],
) -> None:
    (product,) = scored["ranking"].to_dict("records")
    detail = (
        "line 2, page 1: 'Vitamin D3' 12.5 mcg: amount read with low confidence (25% after a "
        "repair (12.5 mcg: the point OCR lost, from the printed 63% DV of 20 mcg)): check the label"
    )
    assert (product["verdict"], product["verdict_reason"]) == (
        "not_assessable",
        "a protocol value could not be read reliably: " + detail,
    )
