"""PDF reading end to end: the committed regression PDFs of tests/pdfs (written by
labelgen.pdf_layouts.write_regression_pdfs) and the rejection reasons of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import LabelError, NeedsOcr, NoPanel, UnreadableFile
from pipeline.records import FileExtraction, LabelRow
from pipeline.sources.pdf import fallback_name, read_pdf
from tests.builders import PDFS, cells, heading, only_label, row, two_column_rows


def read(name: str) -> FileExtraction:
    return read_pdf(PDFS / f"{name}.pdf", f"{name}.pdf")


def values(r: LabelRow) -> tuple[str | None, ...]:
    return (r.amount_raw, r.unit_raw, r.form_raw, r.dv_raw)


def test_ruled_sample() -> None:
    ex = read("ruled-sample-bone-matrix")
    label = only_label(ex)
    assert heading(label) == ("Bone Matrix Calcium + K2", "Northfield Labs", "2 Capsules")
    assert label.servings_per_container == "60"
    assert label.other_ingredients == "Hypromellose, Olive Oil, Rice Flour"
    assert label.directions == "Take 2 capsules daily with a meal that contains fat."
    assert label.warnings.startswith("Caution: If you take warfarin (Coumadin)")
    assert label.warnings.endswith("Keep out of reach of children.")
    assert values(row(ex, "Calcium")) == ("500", "mg", "calcium citrate", "38%")
    assert values(row(ex, "Vitamin K2")) == ("120", "mcg", "menaquinone-7 (MenaQ7)", "100%")
    d3 = row(ex, "Vitamin D3")
    assert values(d3) == ("25", "mcg", "cholecalciferol (D3)", "125%")
    assert d3.alt_amounts_raw == "1,000 IU"
    assert [r.line_no for r in ex.rows] == [1, 2, 3, 4]


def test_whitespace_sample() -> None:
    ex = read("whitespace-daily-calcium-k2")
    assert ex.issues == ()
    assert values(row(ex, "Calcium")) == ("1,000", "mg", "calcium carbonate", "77%")
    assert values(row(ex, "Vitamin K2")) == ("124", "mcg", "menaquinone-7 from natto", "103%")
    assert ex.labels[0].product_name == "Daily Calcium with K2"


def test_wrapped_k2_name() -> None:
    ex = read("wrapped-name-k2-menaq7")
    assert ex.issues == ()
    assert len(ex.rows) == 2
    k2 = row(ex, "Vitamin K2")
    assert values(k2) == ("100", "mcg", "menaquinone-7 / MenaQ7 from natto", "83%")
    assert k2.raw_text.count("mcg") == 1 and "\n" not in k2.raw_text


def test_units_glued_less_than_grams_and_iu() -> None:
    ex = read("units-glued-less-than-grams-iu")
    assert ex.issues == ()
    got = {r.name_raw: (r.amount_raw, r.unit_raw, r.alt_amounts_raw, r.dv_raw) for r in ex.rows}
    assert got == {
        "Vitamin A": ("900", "mcg RAE", None, "100%"),
        "Vitamin D3": ("25", "mcg", "1,000 IU", "125%"),
        "Vitamin K2": ("100", "mcg", None, "83%"),  # printed "100mcg"
        "Vitamin B12": ("100", "µg", None, "4,167%"),
        "Boron": ("<1", "mg", None, "*"),
        "Inositol": ("0.5", "g", None, "*"),
    }
    assert "100mcg" in row(ex, "Vitamin K2").raw_text


def test_two_columns_per_serving_and_per_day() -> None:
    ex = read("two-column-per-day")
    assert ex.issues == ()
    assert ex.labels[0].amount_columns == "Amount Per Serving | Amount Per Day"
    assert two_column_rows(ex) == [
        ("Vitamin K2", "60", "mcg", "50%", "120", "mcg"),
        ("Calcium", "250", "mg", "19%", "500", "mg"),
        ("Magnesium", "125", "mg", "30%", "250", "mg"),
    ]


def test_two_columns_two_serving_sizes() -> None:
    ex = read("two-column-two-serving-sizes")
    assert ex.labels[0].amount_columns == "Per 2 Softgels | Per 4 Softgels"
    assert cells(ex, "Calcium", "amount_raw", "amount_alt_raw", "unit_alt_raw") == (
        "600",
        "1,200",
        "mg",
    )


@pytest.mark.parametrize("name", ["blend-members-indented", "no-dv-markers"])
def test_blend_members_have_their_parent(name: str) -> None:
    ex = read(name)
    assert ex.issues == ()
    got = [(r.name_raw, r.amount_raw, r.parent) for r in ex.rows]
    assert got == [
        ("Zinc", "15", None),
        ("Proprietary Blend", "500", None),
        ("Royal Jelly", None, "Proprietary Blend"),
        ("White Willow bark ext.", None, "Proprietary Blend"),
        ("Ginger", "50", "Proprietary Blend"),
    ]


def test_no_dv_markers() -> None:
    ex = read("no-dv-markers")
    assert [r.dv_raw for r in ex.rows] == [None, "*", None, None, "†"]


def test_panel_on_page_two_after_a_cover_page() -> None:
    ex = read("embedded-panel-page-2")
    label = only_label(ex)
    assert (label.product_name, label.brand, label.pages) == (
        "Bone Matrix Calcium + K2",
        "Northfield Labs",
        "2",
    )
    assert {r.page for r in ex.rows} == {2}
    assert values(row(ex, "Calcium")) == ("500", "mg", "calcium citrate", "38%")
    assert label.other_ingredients == "Hypromellose, Olive Oil, Rice Flour"


def test_three_panels_in_one_pdf() -> None:
    ex = read("multi-three-panels")
    assert ex.issues == ()
    assert [(lb.label_index, lb.product_name, lb.brand) for lb in ex.labels] == [
        (0, "Bone Matrix Calcium + K2", "Northfield Labs"),
        (1, "Calcium K2 Softgels", "Cedar Grove"),
        (2, "K2 MK-7 100", "Cedar Grove"),
    ]
    assert [sum(r.label_index == i for r in ex.rows) for i in range(3)] == [4, 3, 1]
    assert values(row(ex, "Calcium", 1)) == ("600", "mg", "calcium citrate", "46%")
    assert values(row(ex, "Vitamin K2", 2)) == ("100", "mcg", "menaquinone-7", "83%")
    assert ex.labels[1].directions == "Take 2 softgels daily with a meal."


def test_garbled_amount_is_a_read_issue() -> None:
    ex = read("garbled-amount-letter-o")
    assert [i.detail for i in ex.issues] == [
        "page 1, line 2: amount '1,0O0 mg' of 'Calcium' could not be read"
    ]
    calcium = row(ex, "Calcium")
    assert (calcium.amount_raw, calcium.unit_raw) == (None, None)
    assert values(row(ex, "Magnesium")) == ("500", "mg", "magnesium oxide", "119%")


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("corrupt", UnreadableFile, "cannot open PDF: the file is damaged or is not a PDF"),
        ("encrypted", UnreadableFile, "cannot open PDF: it is encrypted (password-protected)"),
        (
            "image-only",
            NeedsOcr,
            "needs OCR: install tesseract-ocr (the file has no text layer)",
        ),
        ("no-panel-brochure", NoPanel, "no Supplement Facts panel found in 1 page(s)"),
    ],
)
def test_bad_files_are_rejected_with_the_reason(
    name: str, error: type[LabelError], reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)  # as on a machine without Tesseract
    with pytest.raises(error) as info:
        read(name)
    assert info.value.reason == reason
    assert info.value.source_file == f"{name}.pdf"


def test_not_a_pdf_and_empty_file(tmp_path: Path) -> None:
    for content in (b"", b"name,amount\nCalcium,500 mg\n"):
        path = tmp_path / "label.pdf"
        path.write_bytes(content)
        with pytest.raises(UnreadableFile) as info:
            read_pdf(path, "label.pdf")
        assert info.value.reason == "cannot open PDF: the file is damaged or is not a PDF"


@pytest.mark.parametrize("box", [b"[ 0 0 ]", b"null"])
def test_a_page_whose_size_is_malformed_is_rejected_with_the_reason(
    box: bytes, tmp_path: Path
) -> None:
    """pdfplumber's Page() raised IndexError ("[ 0 0 ]") or TypeError ("null") there, a
    rejection as 'unexpected' before."""
    data = (PDFS / "blend-members-indented.pdf").read_bytes()
    assert data.count(b"/MediaBox [ 0 0 612 792 ]") == 1
    path = tmp_path / "label.pdf"
    path.write_bytes(data.replace(b"[ 0 0 612 792 ]", box.ljust(15)))
    with pytest.raises(UnreadableFile) as info:
        read_pdf(path, "label.pdf")
    assert info.value.reason == (
        "cannot open PDF: a page's size (its MediaBox or CropBox) is missing or malformed"
    )


def test_fallback_name_is_the_readable_stem() -> None:
    assert fallback_name(Path("a/bone_matrix-k2.pdf")) == "bone matrix k2"


def test_layouts_render_deterministically(tmp_path: Path) -> None:
    from labelgen.pdf_layouts import LAYOUTS, render_pdf
    from labelgen.products import sample_product

    label = sample_product("sample-bone-matrix")
    for layout in LAYOUTS:
        a, b = tmp_path / f"{layout}-a.pdf", tmp_path / f"{layout}-b.pdf"
        render_pdf([label], a, layout)
        render_pdf([label], b, layout)
        assert a.read_bytes() == b.read_bytes(), layout


def test_committed_pdfs_are_small() -> None:
    # unseen-*.pdf: labelgen.pdf_unseen's regression PDFs (tests/accuracy/test_unseen_layouts.py);
    # artwork-*.pdf: labelgen.artwork's (tests/accuracy/test_artwork.py)
    sizes = {
        p.name: p.stat().st_size
        for p in PDFS.glob("*.pdf")
        if not p.name.startswith(("unseen-", "artwork-"))
    }
    assert len(sizes) == 15
    assert max(sizes.values()) < 10_000
