"""OCR of scanned and photographed labels with the real Tesseract (pipeline.sources.ocr):
the committed scan, a scanned page inside a text PDF, and the protocol fields of the
project's own panels scanned. (Repairs, preprocessing and rejections: tests/unit/test_ocr.py.)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from labelgen.pdf_layouts import render_pdf
from labelgen.products import product_label
from labelgen.raster import Scan, write_image, write_image_pdf
from pipeline.errors import NoPanel
from pipeline.sources import ocr
from pipeline.sources.pdf import read_pdf
from tests.builders import (
    OCR_FIXTURES,
    PDFS,
    PROTOCOL_FIELDS,
    heading,
    mixed_pdf,
    products_of,
    same_value,
)

FIXTURES = OCR_FIXTURES


@pytest.mark.ocr
def test_image_without_text_or_without_a_panel(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (600, 400), 255).save(blank)
    with pytest.raises(NoPanel) as info:
        ocr.read_image(blank, "blank.png")
    assert info.value.reason == "no text found by OCR"

    brochure = tmp_path / "brochure.png"
    write_image(PDFS / "no-panel-brochure.pdf", brochure, Scan(dpi=200.0, angle=1.0, seed=2))
    with pytest.raises(NoPanel) as info:
        ocr.read_image(brochure, "brochure.png")
    assert re.fullmatch(
        r"no Supplement Facts panel found by OCR \(mean confidence (\d+)%\)", info.value.reason
    )
    assert int(info.value.reason.split()[-1].rstrip("%)")) >= 80


# --- the real OCR path ---------------------------------------------------------------


@pytest.mark.ocr
def test_committed_scan_reads_like_its_text_pdf() -> None:
    ex = ocr.read_image(FIXTURES / "scan-bone-matrix.jpg", "scan-bone-matrix.jpg")
    label = ex.labels[0]
    assert heading(label) == ("Bone Matrix Calcium + K2", "Northfield Labs", "2 Capsules")
    assert label.source_format == "image-ocr"
    assert label.directions == "Take 2 capsules daily with a meal that contains fat."
    assert "warfarin (Coumadin)" in label.warnings
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.form_raw, r.dv_raw) for r in ex.rows] == [
        ("Vitamin D3", "25", "mcg", "cholecalciferol (D3)", "125%"),
        ("Vitamin K2", "120", "mcg", "menaquinone-7 (MenaQ7)", "100%"),
        ("Calcium", "500", "mg", "calcium citrate", "38%"),
        ("Magnesium", "250", "mg", "magnesium glycinate", "60%"),
    ]
    assert label.ocr_confidence is not None and 80.0 <= label.ocr_confidence <= 100.0
    for row in ex.rows:
        assert row.confidence is not None and 0.0 <= row.confidence <= label.ocr_confidence + 10


@pytest.mark.ocr
def test_scanned_page_inside_a_text_pdf_is_ocrd_alone(tmp_path: Path, bone_pdf: Path) -> None:
    ex = read_pdf(mixed_pdf(tmp_path, bone_pdf), "mixed.pdf")
    assert (ex.labels[0].source_format, ex.labels[0].pages) == ("pdf-ocr", "2")
    assert ex.labels[0].product_name == "Bone Matrix Calcium + K2"
    calcium = next(r for r in ex.rows if r.name_raw == "Calcium")
    assert (calcium.amount_raw, calcium.unit_raw, calcium.page) == ("500", "mg", 2)


# Accuracy over the project's own panels, scanned: ~10 images, several layouts, real
# DSLD labels with calcium/K, 150-300 dpi, turned 1-3 degrees, with noise.


@dataclass(frozen=True)
class Case:
    label: str  # a sample product id or a DSLD id
    layout: str
    scan: Scan
    kind: str  # png | jpg | tif | pdf (image-only)


CASES = (
    Case("sample-bone-matrix", "ruled", Scan(300, 2.0, 12, 0.002, seed=1), "png"),
    Case("sample-daily-calcium-k2", "whitespace", Scan(200, -1.5, 10, seed=2), "pdf"),
    Case("sample-k2-calcium-softgel", "two-column", Scan(300, 1.0, 8, seed=3), "jpg"),
    Case("277758", "wrapped", Scan(150, -2.5, 6, seed=4), "png"),
    Case("322125", "no-dv", Scan(300, 3.0, 10, seed=5), "pdf"),
    Case("11249", "embedded", Scan(200, 1.5, 10, seed=6), "pdf"),
    Case("220964", "ruled", Scan(250, -1.0, 10, gradient=0.4, seed=7), "png"),
    Case("sample-daily-calcium-k2", "ruled", Scan(300, -3.0, 14, 0.002, seed=12), "jpg"),
    Case("11243", "no-dv", Scan(200, -1.0, 10, seed=17), "tif"),
    Case("200743", "wrapped", Scan(300, 2.0, 10, blur=0.8, seed=18), "png"),
)


@pytest.mark.ocr
def test_protocol_fields_of_scanned_labels(tmp_path: Path) -> None:
    right = total = 0
    wrong: list[str] = []
    seconds = 0.0
    for n, case in enumerate(CASES):
        text_pdf = tmp_path / f"{n}-{case.layout}.pdf"
        render_pdf([product_label(case.label)], text_pdf, case.layout)
        truth = products_of(read_pdf(text_pdf, text_pdf.name))
        scanned = tmp_path / f"{n}-{case.layout}-scan.{case.kind}"
        start = time.perf_counter()
        if case.kind == "pdf":
            write_image_pdf(text_pdf, scanned, case.scan)
            start = time.perf_counter()
            ex = read_pdf(scanned, scanned.name)
            assert {lb.source_format for lb in ex.labels} == {"pdf-ocr"}
        else:
            page = 2 if case.layout == "embedded" else 1
            write_image(text_pdf, scanned, case.scan, page=page)
            start = time.perf_counter()
            ex = ocr.read_image(scanned, scanned.name)
            assert {lb.source_format for lb in ex.labels} == {"image-ocr"}
        seconds += time.perf_counter() - start
        assert all(lb.ocr_confidence is not None for lb in ex.labels)
        assert all(r.confidence is not None for r in ex.rows)
        got = products_of(ex)
        assert len(got) == len(truth) == 1
        for field in PROTOCOL_FIELDS:
            total += 1
            a, b = truth[field].iloc[0], got[field].iloc[0]
            if same_value(a, b):
                right += 1
            else:
                wrong.append(f"{case.label} {case.layout} {field}: {a!r} read as {b!r}")
    accuracy = right / total
    print(
        f"OCR protocol-field accuracy: {accuracy:.4f} ({right}/{total}) over {len(CASES)} "
        f"scanned labels; OCR time {seconds:.1f} s ({seconds / len(CASES):.2f} s a label)"
    )
    assert total == len(CASES) * len(PROTOCOL_FIELDS)
    assert accuracy >= 0.95, wrong
