"""The PDF reader on label artwork (labelgen.artwork): whole wraps with the panel among
marketing copy, two column groups in one box, two amount columns in both orders, the
unit only in the heading, FDA bars without a box, blends as running text, EU panels.

Truth: the same label written as DSLD JSON (as tests/accuracy/test_unseen_layouts.py does).
Regression PDFs tests/pdfs/artwork-<case>.pdf (written by `python -m labelgen.artwork
tests/pdfs regression`) pin each step with exact values, and the unreadable cases pin
what a user sees: a read issue and a not_assessable product, or a rejection.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelgen.artwork import REGRESSION_CASES, STYLES, artwork_labels, score_artwork
from labelgen.pdf_unseen import StyleScore
from pipeline.cli import app
from pipeline.errors import NoPanel
from pipeline.panel import (
    column_gutters,
    drop_leaders,
    group_lines,
    page_blocks,
    panel_regions,
)
from pipeline.records import FileExtraction
from pipeline.sources.pdf import pdf_pages, read_pdf
from tests.builders import PDFS, only_label


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StyleScore]:
    return score_artwork(artwork_labels(), tmp_path_factory.mktemp("artwork"))


def test_protocol_field_accuracy_on_label_artwork(scores: dict[str, StyleScore]) -> None:
    for style, s in scores.items():
        print(f"{style:22s} {s.accuracy:.4f} ({s.matched}/{s.fields}, {s.products} products)")
    assert list(scores) == list(STYLES) and len(STYLES) == 10
    assert {s.products for s in scores.values()} == {33}
    # 93 protocol fields are printed per style; more would be values read from nowhere
    assert {s.fields for s in scores.values()} == {93}
    low = {style: s.mismatches[:5] for style, s in scores.items() if s.accuracy < 0.99}
    assert low == {}


def read(case: str) -> FileExtraction:
    name = f"artwork-{case}.pdf"
    return read_pdf(PDFS / name, name)


Row = tuple[str, str | None, str | None, str | None, str | None, str | None, str | None]


def rows(ex: FileExtraction) -> list[Row]:
    return [
        (r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw, r.amount_alt_raw, r.unit_alt_raw, r.parent)
        for r in ex.rows
    ]


def test_committed_regression_pdfs_are_current_and_small(tmp_path: Path) -> None:
    from labelgen.artwork import write_regression_pdfs

    written = write_regression_pdfs(tmp_path)
    assert sorted(written) == sorted(REGRESSION_CASES)
    for case, path in written.items():
        committed = PDFS / f"artwork-{case}.pdf"
        assert path.read_bytes() == committed.read_bytes(), case
        assert committed.stat().st_size < 10_000
    assert len(list(PDFS.glob("artwork-*.pdf"))) == len(REGRESSION_CASES) == 14


# --- step: panel regions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "bounds"),
    [
        ("wrap-left", (28.2, 57.6, 277.8, 174.4)),
        ("wrap-middle", (279.9, 70.6, 504.7, 191.9)),
        ("wrap-right", (511.1, 65.2, 774.5, 263.0)),
        ("two-groups", (43.1, 94.0, 552.0, 213.8)),
    ],
)
def test_panel_region_is_its_box(case: str, bounds: tuple[float, ...]) -> None:
    (words,), (graphics,) = pdf_pages(PDFS / f"artwork-{case}.pdf")
    (region,) = panel_regions(words, graphics)
    assert (round(region.x0, 1), round(region.top, 1), round(region.x1, 1)) == bounds[:3]
    assert (round(region.bottom, 1), region.boxed) == (bounds[3], True)


def test_fda_panel_without_a_box_has_no_region_and_its_bars_end_nothing() -> None:
    (words,), (graphics,) = pdf_pages(PDFS / "artwork-fda-heavy-bars.pdf")
    assert panel_regions(words, graphics) == []
    # a hairline under the heading, the heavy bar under the serving lines, medium bars
    # under the column headings and after the rows, hairlines between the rows
    heights = sorted(round(b.height, 2) for b in graphics if b.filled)
    assert heights == [0.3, 0.3, 0.3, 0.6, 2.92, 2.92, 5.85]
    ex = read("fda-heavy-bars")
    assert ex.issues == ()
    assert rows(ex) == [
        ("Vitamin D3", "20", "mcg", "100%", None, None, None),
        ("Vitamin K2", "150", "mcg", "125%", None, None, None),
        ("Calcium", "600", "mg", "46%", None, None, None),
    ]


def test_wrap_blocks_read_the_other_columns_before_the_panel() -> None:
    (words,), (graphics,) = pdf_pages(PDFS / "artwork-wrap-middle.pdf")
    blocks = page_blocks(drop_leaders(words), graphics)
    firsts = [
        (" ".join(w.text for w in sorted(b, key=lambda w: (w.top, w.x0))[:2]), r is not None)
        for b, r in blocks
    ]
    assert firsts == [
        ("Suggested Use:", False),
        ("HARBOR WELLNESS", False),
        ("Supplement Facts", True),
    ]


@pytest.mark.parametrize(
    ("case", "name", "brand", "directions", "other"),
    [
        (
            "wrap-left",
            "Bone Matrix Calcium + K2",
            "NORTHFIELD LABS",
            "Take 2 capsules daily with a meal that contains fat.",
            "Hypromellose, Olive Oil, Rice Flour",
        ),
        (
            "wrap-middle",
            "Daily Calcium with K2",
            "HARBOR WELLNESS",
            "Take 2 tablets daily with food.",
            "Microcrystalline Cellulose, Croscarmellose Sodium",
        ),
        (
            "wrap-right",
            "Bone Support with K1 & MK-4",
            "LAKESIDE NUTRITION",
            "Take 3 tablets daily with a meal.",
            "Cellulose, Stearic Acid",
        ),
    ],
)
def test_wrap_statements_and_name_are_found_in_other_columns(
    case: str, name: str, brand: str, directions: str, other: str
) -> None:
    ex = read(case)
    label = only_label(ex)
    assert (label.product_name, label.brand, label.directions, label.other_ingredients) == (
        name,
        brand,
        directions,
        other,
    )


def test_wrap_rows_are_read_inside_the_box_only() -> None:
    ex = read("wrap-middle")
    assert rows(ex) == [
        ("Vitamin D3", "50", "mcg", "250%", None, None, None),
        ("Vitamin K2", "124", "mcg", "103%", None, None, None),
        ("Calcium", "1,000", "mg", "77%", None, None, None),
        ("Magnesium", "500", "mg", "119%", None, None, None),
    ]
    assert ex.labels[0].warnings.startswith("Consult your doctor before use if you are taking")


# --- step: column groups ---------------------------------------------------------------


def test_two_column_groups_are_parted_at_the_gutter_and_read_in_order() -> None:
    (words,), (graphics,) = pdf_pages(PDFS / "artwork-two-groups.pdf")
    panel = next(b for b, r in page_blocks(drop_leaders(words), graphics) if r is not None)
    body = [ln for ln in group_lines(panel) if 150 < ln[0].top < 189]
    assert round(column_gutters(body)[0], 2) == 297.54
    assert column_gutters(body[:1]) == []  # one line: no groups
    ex = read("two-groups")
    assert ex.issues == ()
    assert [(r.line_no, r.name_raw, r.form_raw, r.amount_raw, r.unit_raw) for r in ex.rows] == [
        (1, "Vitamin D3", "cholecalciferol (D3)", "25", "mcg"),
        (2, "Vitamin K2", "menaquinone-7 (MenaQ7)", "120", "mcg"),
        (3, "Calcium", "calcium citrate", "500", "mg"),
        (4, "Magnesium", "magnesium glycinate", "250", "mg"),
    ]
    (label,) = ex.labels
    assert (label.serving_size, label.servings_per_container) == ("2 capsules", "60")


# --- step: the per-serving column --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "columns", "serving", "expected"),
    [
        # the per-serving column second, the per-tablet one first: kept as the alt amount
        (
            "dual-unit-first",
            "Per Tablet | Amount Per 2 Tablets",
            ("2 Tablets", "45"),
            [
                ("Vitamin D3", "50", "mcg", "250%", "25", "mcg", None),
                ("Vitamin K2", "124", "mcg", "103%", "62", "mcg", None),
                ("Calcium", "1,000", "mg", "77%", "500", "mg", None),
                ("Magnesium", "500", "mg", "119%", "250", "mg", None),
            ],
        ),
        # an EU panel: per capsule, per daily dose, NRV and decimal commas
        (
            "eu-nrv",
            "Per capsule | Per daily dose (2 capsules)",
            ("2 capsules", "60"),
            [
                ("Vitamin D3", "25", "µg", "125%", "12", "µg", None),
                ("Vitamin K2", "120", "µg", "100%", "60", "µg", None),
                ("Calcium", "500", "mg", "38%", "250", "mg", None),
                ("Magnesium", "250", "mg", "60%", "125", "mg", None),
            ],
        ),
        # the unit printed only in the heading applies to the bare numbers
        (
            "unit-in-heading",
            None,
            ("2 Capsules", "60"),
            [
                ("Vitamin D3", "25", "mcg", "125%", None, None, None),
                ("Vitamin K2", "120", "mcg", "100%", None, None, None),
                ("Calcium", "500", "mg", "38%", None, None, None),
                ("Magnesium", "250", "mg", "60%", None, None, None),
            ],
        ),
    ],
)
def test_amount_columns_and_rows(
    case: str, columns: str | None, serving: tuple[str, str], expected: list[Row]
) -> None:
    ex = read(case)
    label = only_label(ex)
    assert label.amount_columns == columns
    assert (label.serving_size, label.servings_per_container) == serving
    assert rows(ex) == expected


def test_per_serving_column_first_per_tablet_second_kept_as_alt() -> None:
    ex = read("dual-serving-first")
    assert ex.issues == ()
    assert ex.labels[0].amount_columns == "Amount Per 3 Tablets | Per Tablet"
    assert rows(ex)[:4] == [
        ("Vitamin D3", "2,000", "IU", "250%", "667", "IU", None),
        ("Vitamin K1", "90", "mcg", "75%", "30", "mcg", None),
        ("Vitamin K2", "45", "mcg", "38%", "15", "mcg", None),
        ("Calcium", "1,200", "mg", "92%", "400", "mg", None),
    ]
    assert rows(ex)[6] == ("Boron", "3", "mg", "*", "1", "mg", "Bone Matrix Blend")


def test_blend_members_as_running_text_are_members_without_amounts() -> None:
    ex = read("blend-running-text")
    assert ex.issues == ()
    members = ["Horsetail (stem)", "Boron Citrate", "Bamboo Extract", "Hops (flower)", "Kelp"]
    assert rows(ex)[4:] == [
        ("Bone Health Blend", "150", "mg", None, None, None, None),
        *[(m, None, None, None, None, None, "Bone Health Blend") for m in members],
    ]


# --- what the reader must not read as right -------------------------------------------


SILENT = (
    "page 1: two amount columns (Children | Adults) and the headings do not say which is "
    "per serving (serving size 2 Tablets): their amounts were not taken"
)
AMBIGUOUS_COMMA = (
    "page 1, line 3: amount '1,000 mg (decimal commas elsewhere on the panel: 1,250 could "
    "be 1.25 or 1250)' of 'Calcium' could not be read"
)
GARBLED = (
    "a Supplement Facts panel was found (page 1) "
    "but no row of it could be read: page 1, line 1: amount '25 rncg' of 'Vitamin D3' "
    "could not be read (and 3 more unreadable line(s))"
)


def test_amount_columns_whose_headings_do_not_say_take_no_amount() -> None:
    ex = read("unreadable-silent-dual")
    assert [i.detail for i in ex.issues] == [SILENT]
    assert ex.labels[0].amount_columns == "Children | Adults"
    assert {(r.amount_raw, r.unit_raw, r.dv_raw, r.amount_alt_raw) for r in ex.rows} == {
        (None, None, None, None)
    }
    assert [r.name_raw for r in ex.rows] == ["Vitamin D3", "Vitamin K2", "Calcium", "Magnesium"]


def test_thousands_comma_among_decimal_commas_is_unreadable() -> None:
    ex = read("unreadable-eu-grouped")
    assert [i.detail for i in ex.issues] == [AMBIGUOUS_COMMA]
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in ex.rows] == [
        ("Vitamin D3", "12,5", "µg"),
        ("Vitamin K2", "75", "µg"),
        ("Calcium", None, None),
    ]


def test_panel_with_no_readable_row_is_rejected_with_its_reason() -> None:
    with pytest.raises(NoPanel) as err:
        read("unreadable-garbled-amounts")
    assert err.value.reason == GARBLED


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("unreadable")
    labels = root / "labels"
    labels.mkdir()
    for case in ("unreadable-silent-dual", "unreadable-eu-grouped", "unreadable-garbled-amounts"):
        shutil.copy(PDFS / f"artwork-{case}.pdf", labels)
    result = CliRunner().invoke(
        app,
        ["audit", str(labels), "--out", str(root / "out"), "--work", str(root / "w"), "-j", "1"],
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads((root / "out" / "audit.json").read_text(encoding="utf-8")))


def test_unreadable_cases_end_not_assessable_or_rejected(audited: dict[str, Any]) -> None:
    got = {p["source_file"]: (p["verdict"], p["calcium_mg"]) for p in audited["products"]}
    assert got == {
        "artwork-unreadable-silent-dual.pdf": ("not_assessable", None),
        "artwork-unreadable-eu-grouped.pdf": ("not_assessable", None),
    }
    reasons = {p["source_file"]: p["verdict_reason"] for p in audited["products"]}
    assert "'Calcium' has no readable amount" in reasons["artwork-unreadable-silent-dual.pdf"]
    # the verdict's reason names the columns that were not taken, and why
    assert SILENT in reasons["artwork-unreadable-silent-dual.pdf"]
    assert "'Calcium' has no readable amount" in reasons["artwork-unreadable-eu-grouped.pdf"]
    read = {f["detail"]: f["severity"] for f in audited["data_quality"] if f["check"] == "read"}
    assert {SILENT, AMBIGUOUS_COMMA} <= set(read)
    assert audited["rejected"] == [
        {"source_file": "artwork-unreadable-garbled-amounts.pdf", "reason": GARBLED}
    ]


def test_serving_line_forms_one_panel_a_page() -> None:
    pages, _ = pdf_pages(PDFS / "artwork-serving-lines.pdf")
    printed = []
    for words in pages:
        lines = [" ".join(w.text for w in ln) for ln in group_lines(words)]
        at = lines.index("Supplement Facts")
        printed.append(lines[at + 1 : at + 3])
    assert printed == [
        ["Serving Size: 2 Softgels", "Servings Per Container: 30"],
        ["Serving Size 2 Softgels | Servings Per Container: 30", "Amount"],
        ["Serving Size 2 softgels Servings per Container 30", "Amount"],
        ["Serving Size - 2 Softgels", "Servings Per Container: About 30"],
        ["Serving Size 2 Softgels", "Servings Per Container 30"],
    ]  # ("Amount": the column heading "Amount" / "Per Serving", wrapped)
    ex = read("serving-lines")
    assert ex.issues == ()
    assert [(lb.pages, lb.serving_size, lb.servings_per_container) for lb in ex.labels] == [
        ("1", "2 Softgels", "30"),
        ("2", "2 Softgels", "30"),
        ("3", "2 softgels", "30"),
        ("4", "2 Softgels", "About 30"),
        ("5", "2 Softgels", "30"),
    ]
    calcium = [
        (r.label_index, r.amount_raw, r.unit_raw) for r in ex.rows if r.name_raw == "Calcium"
    ]
    assert calcium == [(k, "600", "mg") for k in range(5)]
