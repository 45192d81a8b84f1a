"""Each row read from a PDF or an image keeps where it was read: its page and bbox, inside
the page and around the row's words; crops are drawn from that box (pipeline.crops)."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import pdfplumber
import pytest
from PIL import Image

from labelgen.pdf_layouts import render_pdf
from labelgen.products import sample_product
from labelgen.raster import Scan, write_image
from pipeline.crops import CROP_MAX_H, CROP_MAX_W, draw_evidence
from pipeline.evidence import row_document
from pipeline.extract import read_label_file
from pipeline.records import LabelRow

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract-ocr is not installed"
)


@pytest.fixture(scope="module")
def label_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("boxes") / "bone-matrix.pdf"
    render_pdf([sample_product("sample-bone-matrix")], path, "ruled")
    return path


def _by_name(rows: tuple[LabelRow, ...]) -> dict[str, LabelRow]:
    return {r.name_raw: r for r in rows}


def test_pdf_rows_have_a_box_around_their_words_inside_the_page(label_pdf: Path) -> None:
    rows = _by_name(read_label_file(label_pdf, label_pdf.name).rows)
    calcium = rows["Calcium"]
    assert (calcium.page, calcium.bbox_units) == (1, "pt")
    with pdfplumber.open(label_pdf) as pdf:
        page = pdf.pages[0]
        width, height = float(page.width), float(page.height)
        words = page.extract_words()
    assert calcium.bbox_x0 is not None and calcium.bbox_x1 is not None
    assert calcium.bbox_top is not None and calcium.bbox_bottom is not None
    assert 0 <= calcium.bbox_x0 < calcium.bbox_x1 <= width
    assert 0 <= calcium.bbox_top < calcium.bbox_bottom <= height
    # the words of the printed line ("Calcium (as calcium citrate) 500 mg 38%") are inside,
    # the lines above and below are not
    line = [w for w in words if abs(w["top"] - calcium.bbox_top) < 1.0]
    assert [w["text"] for w in line] == [
        "Calcium",
        "(as",
        "calcium",
        "citrate)",
        "500",
        "mg",
        "38%",
    ]
    for w in line:
        assert calcium.bbox_x0 - 0.01 <= w["x0"] and w["x1"] <= calcium.bbox_x1 + 0.01
        assert calcium.bbox_top - 0.01 <= w["top"] and w["bottom"] <= calcium.bbox_bottom + 0.01
    k2 = rows["Vitamin K2"]
    assert k2.bbox_bottom is not None and k2.bbox_bottom <= calcium.bbox_top
    assert row_document({"bbox_x0": 1.0, "bbox_top": 2.0, "bbox_x1": 3.0, "bbox_bottom": 4.0})[
        "bbox"
    ] == [1.0, 2.0, 3.0, 4.0]


@needs_tesseract
def test_image_rows_have_a_pixel_box_where_the_pdf_printed_them(
    label_pdf: Path, tmp_path: Path
) -> None:
    image = write_image(label_pdf, tmp_path / "bone-matrix.png", Scan(dpi=300.0, crop=False))
    rows = _by_name(read_label_file(image, image.name).rows)
    printed = _by_name(read_label_file(label_pdf, label_pdf.name).rows)
    with Image.open(image) as opened:
        size = opened.size
    for name in ("Calcium", "Vitamin K2", "Magnesium"):
        row, pdf_row = rows[name], printed[name]
        assert (row.page, row.bbox_units) == (1, "px")
        box = (row.bbox_x0, row.bbox_top, row.bbox_x1, row.bbox_bottom)
        assert all(v is not None for v in box)
        x0, top, x1, bottom = (float(v or 0.0) for v in box)
        assert 0 <= x0 < x1 <= size[0] and 0 <= top < bottom <= size[1]
        # the same place as the text PDF's words, at 300 px per 72 pt (within 3 pt)
        f = 300.0 / 72.0
        pdf_box = (pdf_row.bbox_x0, pdf_row.bbox_top, pdf_row.bbox_x1, pdf_row.bbox_bottom)
        for px, pt in zip((x0, top, x1, bottom), pdf_box, strict=True):
            assert abs(px / f - float(pt or 0.0)) < 3.0, (name, px / f, pt)
    # the crops of an image's rows, drawn from those boxes
    docs = [
        {**row_document(vars(r)), "nutrient": n}
        for r, n in ((rows["Calcium"], "calcium"), (rows["Magnesium"], "magnesium"))
    ]
    crops, panel, spent = draw_evidence(image, docs)
    assert sorted(crops) == [rows["Calcium"].line_no, rows["Magnesium"].line_no]
    assert panel is not None and spent == sum(len(u) for u in crops.values()) + len(panel)
    crop = Image.open(io.BytesIO(base64.b64decode(crops[rows["Calcium"].line_no].split(",")[1])))
    assert crop.mode == "L" and crop.width <= CROP_MAX_W and crop.height <= CROP_MAX_H
    assert crop.getextrema()[0] < 64  # ink: the printed line is in it


def test_a_pdf_rows_crop_is_grayscale_and_holds_the_line(label_pdf: Path) -> None:
    rows = read_label_file(label_pdf, label_pdf.name).rows
    docs = [
        {**row_document(vars(r)), "nutrient": "calcium"} for r in rows if r.name_raw == "Calcium"
    ]
    crops, panel, _ = draw_evidence(label_pdf, docs)
    (uri,) = crops.values()
    crop = Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1])))
    assert crop.mode == "L" and crop.height <= CROP_MAX_H
    low, high = crop.getextrema()
    assert low < 64 and high > 200  # text on paper
    assert panel is not None
