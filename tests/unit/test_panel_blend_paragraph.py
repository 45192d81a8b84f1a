"""A blend's members printed as a comma-separated paragraph under the blend's total (text
PDFs from labelgen.pdf_layouts with `members="paragraph"` / "paragraph-indented", and
hand-built words the way OCR gives them): one member row each, parent the blend, no
amount; and what reads the same as before (a blend name that wraps, a form continued on
the next line, members with their own amounts, the statements and footnotes after)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from labelgen.artwork import artwork_label, look_for, render_artwork_pdf
from labelgen.blend_paragraph import MEMBER_STYLES, panel_items
from labelgen.pdf_layouts import _test_label, printed_labels, render_pdf
from labelgen.products import ingredient, sample_product
from pipeline.panel import words_to_labels
from pipeline.records import FileExtraction, LabelRow, Word
from pipeline.sources.pdf import read_pdf
from tests.unit.test_panel import AMOUNT_X, DV_X, line, panel_words

BLEND = "Proprietary Blend"
MEMBERS = [
    "Guggul (Resin)",
    "Bitter Melon (Fruit)",
    "Licorice (Root)",
    "Cinnamon (Bark)",
    "Gymnema",
    "Alpha Lipoic Acid",
    "Banaba (Leaf)",
    "Yarrow (Flowers)",
    "Juniper (Berry)",
    "White Mulberry (Leaf)",
    "Cayenne (Fruit)",
]


def blend_label(blend: str = BLEND) -> dict[str, Any]:
    ings = [
        ingredient(1, "Biotin", "Biotin", 300, "mcg", 1000),
        ingredient(2, blend, "Blend", 415, "mg", None),
    ]
    ings += [ingredient(3 + k, m, m, 0, "NP", None, nested_in=blend) for k, m in enumerate(MEMBERS)]
    ings += [
        ingredient(20, "Green Tea", "Green Tea", 0, "NP", None, ["leaf extract"], nested_in=blend),
        ingredient(21, "Ginger", "Ginger", 50, "mg", None, nested_in=blend),
        ingredient(22, "Chromium", "Chromium", 76, "mcg", 217, ["chromium picolinate"]),
    ]
    return _test_label("test-blend-paragraph", "Glucose Support Formula", ings)


Got = tuple[str, str | None, str | None, str | None, str | None]


def got(rows: tuple[LabelRow, ...] | list[LabelRow]) -> list[Got]:
    return [(r.name_raw, r.amount_raw, r.unit_raw, r.form_raw, r.parent) for r in rows]


def expected(blend: str = BLEND) -> list[Got]:
    return [
        ("Biotin", "300", "mcg", None, None),
        (blend, "415", "mg", None, None),
        *[(m, None, None, None, blend) for m in MEMBERS],
        ("Green Tea", None, None, "leaf extract", blend),
        ("Ginger", "50", "mg", None, blend),
        ("Chromium", "76", "mcg", "chromium picolinate", None),
    ]


def render_and_read(
    tmp_path: Path, label: dict[str, Any], layout: str, members: str
) -> tuple[FileExtraction, list[str]]:
    path = tmp_path / f"{layout}-{members}.pdf"
    render_pdf([label], path, layout, members=members)
    with pdfplumber.open(path) as pdf:
        lines = pdf.pages[0].extract_text().splitlines()
    return read_pdf(path, path.name), lines


def test_paragraph_style_joins_runs_of_members_without_amounts() -> None:
    (printed,) = printed_labels([blend_label()], "ruled")
    items = panel_items(printed.rows, "paragraph")
    assert [type(i).__name__ for i in items] == [
        "PrintedRow",
        "PrintedRow",
        "MemberParagraph",
        "PrintedRow",
        "PrintedRow",
    ]
    assert items[2].text.startswith("Guggul (Resin), Bitter Melon (Fruit), ")  # type: ignore[union-attr]
    assert items[2].text.endswith(", Cayenne (Fruit), Green Tea (as leaf extract)")  # type: ignore[union-attr]
    assert panel_items(printed.rows, "rows") == printed.rows
    assert MEMBER_STYLES == ("rows", "paragraph", "paragraph-indented")
    with pytest.raises(ValueError, match="unknown members style 'inline'"):
        panel_items(printed.rows, "inline")


#: (layout, members style) -> how the lines after the paragraph's first start, as printed:
#: the ruled, wrapped and no-dv layouts set them closer than the rows (as real labels do),
#: the whitespace layout at the rows' pitch. Members wrap mid-name ("White" / "Mulberry
#: (Leaf)", "Cinnamon" / "(Bark)", "Yarrow" / "(Flowers)", "Green Tea" / "(as leaf
#: extract)"); "Ginger 50 mg" is the member with its own amount, after the paragraph.
PARAGRAPHS = {
    ("ruled", "paragraph"): ["Alpha Lipoic", "Mulberry (Leaf),", "Ginger 50"],
    ("ruled", "paragraph-indented"): ["Gymnema, Alpha", "White Mulberry", "Ginger 50"],
    ("whitespace", "paragraph"): ["Banaba (Leaf),", "leaf extract)", "Ginger 50"],
    ("whitespace", "paragraph-indented"): ["Banaba (Leaf),", "(as leaf", "Ginger 50"],
    ("wrapped", "paragraph"): ["(Bark), Gymnema,", "(Flowers), Juniper", "Green Tea"],
    ("wrapped", "paragraph-indented"): ["(Bark), Gymnema,", "(Flowers), Juniper", "Green Tea"],
    ("no-dv", "paragraph"): ["(Bark), Gymnema,", "(Flowers), Juniper", "Green Tea"],
}


@pytest.mark.parametrize(("layout", "members"), list(PARAGRAPHS))
def test_members_paragraph_under_the_blend_total_are_member_rows(
    tmp_path: Path, layout: str, members: str
) -> None:
    ex, lines = render_and_read(tmp_path, blend_label(), layout, members)
    after = lines[lines.index(next(t for t in lines if t.startswith(BLEND))) + 2 :]
    starts = PARAGRAPHS[(layout, members)]
    assert [
        " ".join(t.split()[: len(s.split())]) for t, s in zip(after, starts, strict=False)
    ] == starts
    assert ex.issues == ()
    assert got(ex.rows) == expected()
    if layout == "wrapped":  # the form wraps: "Chromium (as chromium" / "picolinate)"
        assert "Chromium (as chromium" in lines
    label = ex.labels[0]
    assert label.other_ingredients == "Cellulose, Stearic Acid"  # after the panel: no members
    if layout != "no-dv":
        assert label.footnotes == "* Daily Value not established."


def test_a_blend_name_that_wraps_keeps_its_second_line_before_the_paragraph(
    tmp_path: Path,
) -> None:
    blend = "Proprietary Blend of Herbs and Spices"
    ex, lines = render_and_read(tmp_path, blend_label(blend), "wrapped", "paragraph")
    assert "Proprietary Blend of Herbs and" in lines
    assert any(t.startswith("Spices 415 mg") for t in lines)
    assert ex.issues == ()
    assert got(ex.rows) == expected(blend)


def test_members_one_a_row_read_as_before(tmp_path: Path) -> None:
    ex, _ = render_and_read(tmp_path, blend_label(), "ruled", "rows")
    assert ex.issues == ()
    assert got(ex.rows) == expected()


# --- hand-built words, as OCR gives them ------------------------------------------------


def read_words(rows: list[list[tuple[float, str]]], pitch: float = 12.0) -> list[Got]:
    words = panel_words(rows, pitch=pitch)
    _, rows_read, issues = words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr"
    )
    assert issues == []
    return got(rows_read)


def ocr_panel(paragraph: list[tuple[float, float, str]], after: list[list[Word]]) -> list[Word]:
    """Rows at a 12 pt pitch, the blend's total, its paragraph's lines (offset under the
    total, x, text), then the `after` lines."""
    words = panel_words(
        [
            [(50, "Biotin"), (AMOUNT_X, "300 mcg"), (DV_X, "1000%")],
            [(50, "Magnesium"), (AMOUNT_X, "125 mg"), (DV_X, "30%")],
            [(50, "Chromium"), (AMOUNT_X, "76 mcg"), (DV_X, "217%")],
            [(50, BLEND), (AMOUNT_X, "415 mg"), (DV_X, "*")],
        ]
    )
    y = words[-1].top
    for dy, x, text in paragraph:
        words += line(y + dy, (x, text))
    return words + [w for ws in after for w in ws]


HEAD = [
    ("Biotin", "300", "mcg", None, None),
    ("Magnesium", "125", "mg", None, None),
    ("Chromium", "76", "mcg", None, None),
    (BLEND, "415", "mg", None, None),
]


@pytest.mark.parametrize("x", [50.0, 52.0, 60.0])
def test_ocr_paragraph_close_under_the_total_with_members_wrapped_mid_name(x: float) -> None:
    """An OCR'd paragraph set closer than the rows (8.5 pt under a 12 pt pitch), flush,
    a little or well indented: "Cinnamon" at one line's end and "(Bark)" at the next
    one's start, "White" / "Mulberry (Leaf)" on the last line."""
    words = ocr_panel(
        [
            (8.5, x, "Guggul (Resin), Bitter Melon (Fruit), Cinnamon"),
            (17.0, x, "(Bark), Gymnema, White"),
            (25.5, x, "Mulberry (Leaf)"),
        ],
        [],
    )
    y = max(w.top for w in words)
    words += line(y + 12, (50, "Zinc"), (AMOUNT_X, "7.5 mg"), (DV_X, "68%"))
    _, rows, issues = words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr"
    )
    assert issues == []
    assert got(rows) == [
        *HEAD,
        ("Guggul (Resin)", None, None, None, BLEND),
        ("Bitter Melon (Fruit)", None, None, None, BLEND),
        ("Cinnamon (Bark)", None, None, None, BLEND),
        ("Gymnema", None, None, None, BLEND),
        ("White Mulberry (Leaf)", None, None, None, BLEND),
        ("Zinc", "7.5", "mg", None, None),
    ]


def test_ocr_paragraph_then_rows_whose_amount_is_on_their_next_line() -> None:
    """After a flush paragraph, at the rows' pitch: "Vitamin C" / "(as ascorbic acid) 50
    mg" and a second blend "Energy Blend" / "300 mg" are rows of their own, not members."""
    words = ocr_panel([(8.5, 50, "Guggul (Resin), Gymnema, Kelp")], [])
    y = max(w.top for w in words)
    words += line(y + 12, (50, "Vitamin C"))
    words += line(y + 24, (50, "(as ascorbic acid)"), (AMOUNT_X, "50 mg"), (DV_X, "56%"))
    words += line(y + 36, (50, "Energy Blend"))
    words += line(y + 48, (AMOUNT_X, "300 mg"), (DV_X, "*"))
    _, rows, issues = words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr"
    )
    assert issues == []
    assert got(rows) == [
        *HEAD,
        ("Guggul (Resin)", None, None, None, BLEND),
        ("Gymnema", None, None, None, BLEND),
        ("Kelp", None, None, None, BLEND),
        ("Vitamin C", "50", "mg", "ascorbic acid", None),
        ("Energy Blend", "300", "mg", None, None),
    ]


def test_ocr_paragraph_with_a_closing_parenthesis_lost() -> None:
    """ ")" read as nothing: "Banaba (Leaf (Lagerstroemia speciosa), Yarrow": the "(" opened
    inside the unclosed one closes it, the members after it are still parted."""
    assert read_words(
        [
            [(50, "Proprietary Blend"), (AMOUNT_X, "415 mg"), (DV_X, "*")],
            [(60, "Gymnema, Banaba (Leaf (Lagerstroemia speciosa), Yarrow (Flowers)")],
        ]
    ) == [
        (BLEND, "415", "mg", None, None),
        ("Gymnema", None, None, None, BLEND),
        ("Banaba (Leaf (Lagerstroemia speciosa)", None, None, None, BLEND),
        ("Yarrow (Flowers)", None, None, None, BLEND),
    ]


def test_a_blend_name_going_on_after_its_amount_is_not_a_member_list() -> None:
    """ "Energy Blend 300 mg" / "of Teas, Roots and Berries" (close under it): the name."""
    words = panel_words([[(50, "Energy Blend"), (AMOUNT_X, "300 mg"), (DV_X, "*")]])
    y = words[-1].top
    words += line(y + 8.5, (52, "of Teas, Roots and Berries"))
    words += line(y + 20, (50, "Zinc"), (AMOUNT_X, "7.5 mg"), (DV_X, "68%"))
    _, rows, issues = words_to_labels(
        [words], "x.png", fallback_name="x", source_format="image-ocr"
    )
    assert issues == []
    assert got(rows) == [
        ("Energy Blend of Teas, Roots and Berries", "300", "mg", None, None),
        ("Zinc", "7.5", "mg", None, None),
    ]


def test_a_paragraph_ending_in_a_period_ends_the_members() -> None:
    """After "Kelp." the next line, aligned with the paragraph, is a member of its own, not
    the end of Kelp's name."""
    assert read_words(
        [
            [(50, "Bone Blend"), (AMOUNT_X, "150 mg"), (DV_X, "*")],
            [(60, "Horsetail, Kelp.")],
            [(60, "Royal Jelly")],
            [(50, "Zinc"), (AMOUNT_X, "7.5 mg"), (DV_X, "68%")],
        ]
    ) == [
        ("Bone Blend", "150", "mg", None, None),
        ("Horsetail", None, None, None, "Bone Blend"),
        ("Kelp", None, None, None, "Bone Blend"),
        ("Royal Jelly", None, None, None, "Bone Blend"),
        ("Zinc", "7.5", "mg", None, None),
    ]


@pytest.mark.parametrize(("seed", "flush"), [("paragraph", False), ("flush-paragraph", True)])
def test_artwork_blend_running_text_under_the_row(tmp_path: Path, seed: str, flush: bool) -> None:
    """labelgen.artwork "blend-running-text" under the blend's row: indented (heading form
    1), or flush with the names and closer than the rows (form 2)."""
    look = look_for(seed, "blend-running-text")
    assert look.heading_form == (2 if flush else 1)
    label = artwork_label(sample_product("sample-daily-calcium-k2"), "blend-running-text")
    path = render_artwork_pdf(label, tmp_path / "blend.pdf", "blend-running-text", seed)
    with pdfplumber.open(path) as pdf:
        lines = pdf.pages[0].extract_text().splitlines()
    paragraph = "Horsetail (stem), Boron Citrate, Bamboo Extract, Hops (flower), Kelp"
    assert paragraph + ("" if flush else ".") in " ".join(lines)
    assert (paragraph in lines) == flush  # indented, it wraps before "Kelp."
    ex = read_pdf(path, path.name)
    assert ex.issues == ()
    members = ["Horsetail (stem)", "Boron Citrate", "Bamboo Extract", "Hops (flower)", "Kelp"]
    assert got(ex.rows)[-6:] == [
        ("Bone Health Blend", "150", "mg", None, None),
        *[(m, None, None, None, "Bone Health Blend") for m in members],
    ]
