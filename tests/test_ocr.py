"""OCR of scanned and photographed labels (pipeline.sources.ocr).

Tests marked `ocr` run the real Tesseract; they are skipped with a reason when it is not
installed, except in CI (env CI set), where they run and fail without it. The rest
(repairs, rejections, "no tesseract") run everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from labelgen.pdf_layouts import render_pdf
from labelgen.products import dsld_label, sample_product
from labelgen.raster import Scan, rasterize, write_image, write_image_pdf
from pipeline import extract
from pipeline.errors import NeedsOcr, NoPanel, UnreadableFile
from pipeline.normalize import nutrients_to_products, rows_to_nutrients
from pipeline.panel import words_to_labels
from pipeline.records import FileExtraction, Label, LabelRow, records_to_frame
from pipeline.sources import ocr
from pipeline.sources.pdf import read_pdf

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "ocr"
PDFS = HERE / "pdfs"

ocr_needed = pytest.mark.skipif(
    shutil.which("tesseract") is None and not os.environ.get("CI"),
    reason="tesseract-ocr is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)",
)


def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, *a, **k: None if name == "tesseract" else real(name)
    )


# --- repairs (no tesseract needed) ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Vitamin D3 25 meg (1,000 !U) 125%",
            [None, None, None, "meg->mcg", None, "!U)->IU)", None],
        ),
        ("Calcium 5OO rng 38°/o", [None, "5OO->500", "rng->mg", "38°/o->38%"]),
        ("Vitamin K2 1O0meg", [None, None, "1O0meg->100mcg"]),
        ("Vitamin B12 2.5 pg", [None, None, None, "pg->µg"]),
        ("Lutein 750 mcg’", [None, None, "mcg’->mcg*"]),
        ("Boron 1 mg .", [None, None, None, ".->*"]),
        ("Boswellic Acid 42mg °", [None, None, None, "°->*"]),
        ("Serming Size 2 Tablets", ["Serming->Serving", None, None, None]),
        ("Caicium (as calcium citrate)", ["Caicium->Calcium", None, None, None]),
    ],
)
def test_repairs_are_recorded_word_by_word(line: str, expected: list[str | None]) -> None:
    assert [note for _, note in ocr.repair_line(line.split())] == expected


@pytest.mark.parametrize(
    "line",
    [
        "Zinc S0O mg",  # S for 5 is not in the table: the amount stays unreadable
        "Calcium lO mg",  # no real digit in the token: no guess
        "Folic Acid img",  # "1mg" or "img": ambiguous, left as read
        "Vitamins 100 mg",  # not a one-letter misread of a keyword
        "meg 500",  # a unit is repaired only after a number
        "Menaquinone-7 1O0",  # a number is repaired only before a unit
        "Calcium 500 mg 38%",  # nothing to repair
    ],
)
def test_ambiguous_or_clean_tokens_are_left_as_read(line: str) -> None:
    assert ocr.repair_line(line.split()) == [(t, None) for t in line.split()]


def test_a_token_left_ambiguous_becomes_a_read_issue_not_a_number() -> None:
    tsv = _tsv(
        [
            (1, "Supplement Facts", 100, 100, 60),
            (2, "Serving Size 1 Tablet", 170, 100, 30),
            (3, "Calcium", 240, 100, 30),
            (3, "S0O mg", 240, 900, 30),
            (4, "Magnesium", 290, 100, 30),
            (4, "25O rng", 290, 900, 30),
        ]
    )
    words, repairs = ocr.ocr_words_to_words(ocr.parse_tsv(tsv), 300.0, (0.0, 0.0), 1)
    labels, rows, issues = words_to_labels(
        [words], "scan.png", fallback_name="scan", source_format="image-ocr", repairs=repairs
    )
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.repairs) for r in rows] == [
        ("Calcium", None, None, None),
        ("Magnesium", "250", "mg", "25O->250; rng->mg"),
    ]
    assert [i.detail for i in issues] == [
        "page 1, line 1: amount 'S0O mg' of 'Calcium' could not be read"
    ]
    assert rows[1].confidence == 80.0  # the lowest word confidence on the line
    assert labels[0].ocr_confidence is not None
    assert round(labels[0].ocr_confidence, 2) == round((4 * 90 + 2 * 80) / 6, 2)  # row words


def _tsv(lines: list[tuple[int, str, int, int, int]]) -> str:
    """Tesseract TSV for words: (line number, text, top px, left px, height px); the
    confidence is 90, or 80 for a word with a letter O."""
    head = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
        "height\tconf\ttext"
    )
    out = [head]
    seen: set[int] = set()
    for line_no, text, top, left, height in lines:
        if line_no not in seen:
            seen.add(line_no)
            out.append(f"4\t1\t1\t1\t{line_no}\t0\t{left}\t{top}\t1500\t{height}\t-1\t")
        x = left
        for n, token in enumerate(text.split(), start=1):
            width = 18 * len(token)
            conf = 80 if "O" in token else 90
            cells = [5, 1, 1, 1, line_no, n, x, top + 2, width, height - 4, conf, token]
            out.append("\t".join(str(c) for c in cells))
            x += width + 12
    return "\n".join(out) + "\n"


def test_tsv_words_take_their_line_height_and_become_points() -> None:
    tsv = _tsv([(1, "Calcium 500 mg", 300, 150, 40)])
    found = ocr.parse_tsv(tsv)
    assert [(w.text, w.left, w.top, w.width, w.height) for w in found] == [
        ("Calcium", 150, 300, 126, 40),
        ("500", 288, 300, 54, 40),
        ("mg", 354, 300, 36, 40),
    ]
    words, repairs = ocr.ocr_words_to_words(found, 300.0, (50.0, 100.0), 2)
    assert [(w.text, w.x0, w.x1, w.top, w.bottom, w.page) for w in words] == [
        ("Calcium", 48.0, 78.24, 96.0, 105.6, 2),
        ("500", 81.12, 94.08, 96.0, 105.6, 2),
        ("mg", 96.96, 105.6, 96.0, 105.6, 2),
    ]
    assert repairs == {}


def test_rule_remains_and_low_confidence_specks_are_dropped() -> None:
    tsv = "\n".join(
        [
            "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
            "height\tconf\ttext",
            "5\t1\t1\t1\t1\t1\t10\t10\t5\t30\t97\t|",
            "5\t1\t1\t1\t1\t2\t20\t10\t5\t30\t18\t;",
            "5\t1\t1\t1\t1\t3\t30\t10\t50\t30\t96\tServing",
            "5\t1\t1\t1\t1\t4\t90\t10\t5\t30\t93\t*",
            "5\t1\t1\t1\t1\t5\t100\t10\t5\t30\t60\t  ",
        ]
    )
    words, _ = ocr.ocr_words_to_words(ocr.parse_tsv(tsv), 300.0, (0.0, 0.0), 1)
    assert [w.text for w in words] == ["Serving", "*"]


# --- preprocessing (no tesseract needed) ---------------------------------------------


@pytest.fixture(scope="module")
def bone_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ocr") / "ruled-bone-matrix.pdf"
    render_pdf([sample_product("sample-bone-matrix")], path, "ruled")
    return path


@pytest.mark.parametrize("angle", [2.5, -3.0, 0.0])
def test_skew_is_measured_within_a_fifth_of_a_degree(bone_pdf: Path, angle: float) -> None:
    from labelgen.raster import degrade

    page = rasterize(bone_pdf, 100.0)[0]
    scanned = degrade(page, Scan(dpi=100.0, angle=angle, noise=8.0, seed=3))
    skew, height = ocr.estimate_skew(ocr._ink(scanned))
    assert skew == pytest.approx(angle, abs=0.2)
    assert height is not None and 9 <= height <= 14  # 8 pt lines at 100 dpi: 11 px


def test_rules_are_removed_and_text_kept() -> None:
    import numpy as np

    ink = np.zeros((60, 400), dtype=bool)
    ink[30:32, 10:390] = True  # a thin rule
    ink[5:25, 50:53] = True  # a letter stroke
    ink[40:46, 10:200:20] = True  # a row of short vertical strokes (letters): no rule
    ink[20:40, 120:123] = True  # a descender crossing the rule
    out = ocr.remove_rules(ink, 20.0)
    assert not out[30:32, 10:119].any() and not out[30:32, 124:390].any()
    assert out[5:25, 50:53].all()
    assert out[20:40, 120:123].all()
    assert out[40:46, 10:200:20].all()


# --- rejections ----------------------------------------------------------------------


def test_no_tesseract_image_and_pdf_are_rejected_and_the_rest_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_tesseract(monkeypatch)
    folder = tmp_path / "labels"
    folder.mkdir()
    shutil.copy(FIXTURES / "scan-bone-matrix.jpg", folder / "scan.jpg")
    shutil.copy(PDFS / "image-only.pdf", folder / "image-only.pdf")
    shutil.copy(PDFS / "whitespace-daily-calcium-k2.pdf", folder / "text.pdf")
    results = {
        p.name: extract.extract_file(extract.FileTask(p, p.name)) for p in sorted(folder.iterdir())
    }
    assert {k: (v.rejection.reason if v.rejection else None) for k, v in results.items()} == {
        "image-only.pdf": "needs OCR: install tesseract-ocr (the file has no text layer)",
        "scan.jpg": "needs OCR: install tesseract-ocr",
        "text.pdf": None,
    }
    assert results["text.pdf"].labels[0].source_format == "pdf"
    with pytest.raises(NeedsOcr):
        ocr.read_image(folder / "scan.jpg", "scan.jpg")


@pytest.mark.parametrize(
    "content",
    [b"", b"name,amount\nCalcium,500 mg\n", "damaged.png", "truncated"],
)
def test_unreadable_image_is_rejected(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "label.png"
    if content == "damaged.png":
        shutil.copy(FIXTURES / "damaged.png", path)
    elif content == "truncated":
        path = tmp_path / "label.jpg"
        path.write_bytes((FIXTURES / "scan-bone-matrix.jpg").read_bytes()[:5000])
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(UnreadableFile) as info:
        ocr.read_image(path, "label.png")
    assert info.value.reason == "cannot open image: the file is damaged or is not an image"


@ocr_needed
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


@ocr_needed
@pytest.mark.ocr
def test_committed_scan_reads_like_its_text_pdf() -> None:
    ex = ocr.read_image(FIXTURES / "scan-bone-matrix.jpg", "scan-bone-matrix.jpg")
    label = ex.labels[0]
    assert (label.product_name, label.brand, label.serving_size, label.source_format) == (
        "Bone Matrix Calcium + K2",
        "Northfield Labs",
        "2 Capsules",
        "image-ocr",
    )
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


def _mixed_pdf(tmp_path: Path, bone_pdf: Path) -> Path:
    """Page 1: text (no panel); page 2: the bone-matrix panel, scanned (an image)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen.canvas import Canvas

    scan = write_image(bone_pdf, tmp_path / "page.png", Scan(dpi=200.0, angle=-1.5, seed=4))
    mixed = tmp_path / "mixed.pdf"
    c = Canvas(str(mixed), pagesize=letter, invariant=1)
    c.setFont("Helvetica", 11)
    c.drawString(72, 700, "Northfield Labs product brochure: the label is scanned on page 2.")
    c.showPage()
    with Image.open(scan) as im:
        w, h = im.size
    c.drawImage(str(scan), 36, 792 - 36 - h * 72 / 200, width=w * 72 / 200, height=h * 72 / 200)
    c.showPage()
    c.save()
    return mixed


def test_scanned_page_inside_a_text_pdf_without_tesseract(
    tmp_path: Path, bone_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = _mixed_pdf(tmp_path, bone_pdf)
    no_tesseract(monkeypatch)
    with pytest.raises(NeedsOcr) as info:
        read_pdf(mixed, "mixed.pdf")
    assert info.value.reason == (
        "needs OCR: install tesseract-ocr (1 page(s) of the file have no text layer)"
    )


@ocr_needed
@pytest.mark.ocr
def test_scanned_page_inside_a_text_pdf_is_ocrd_alone(tmp_path: Path, bone_pdf: Path) -> None:
    ex = read_pdf(_mixed_pdf(tmp_path, bone_pdf), "mixed.pdf")
    assert (ex.labels[0].source_format, ex.labels[0].pages) == ("pdf-ocr", "2")
    assert ex.labels[0].product_name == "Bone Matrix Calcium + K2"
    calcium = next(r for r in ex.rows if r.name_raw == "Calcium")
    assert (calcium.amount_raw, calcium.unit_raw, calcium.page) == ("500", "mg", 2)


# Accuracy over the project's own panels, scanned: ~10 images, several layouts, real
# DSLD labels with calcium/K, 150-300 dpi, turned 1-3 degrees, with noise.

PROTOCOL_FIELDS = (
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
    "k2_form",
)


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


def _label(label_id: str) -> dict[str, Any]:
    return sample_product(label_id) if label_id.startswith("sample-") else dsld_label(label_id)


def _products(ex: FileExtraction) -> pd.DataFrame:
    labels = records_to_frame(ex.labels, Label)
    rows = records_to_frame(ex.rows, LabelRow)
    return nutrients_to_products(rows_to_nutrients(rows, labels), labels)


def _same(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and pd.isna(a)):
        return b is None or (isinstance(b, float) and pd.isna(b))
    return bool(a == b)


@ocr_needed
@pytest.mark.ocr
def test_protocol_fields_of_scanned_labels(tmp_path: Path) -> None:
    right = total = 0
    wrong: list[str] = []
    seconds = 0.0
    for n, case in enumerate(CASES):
        text_pdf = tmp_path / f"{n}-{case.layout}.pdf"
        render_pdf([_label(case.label)], text_pdf, case.layout)
        truth = _products(read_pdf(text_pdf, text_pdf.name))
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
        got = _products(ex)
        assert len(got) == len(truth) == 1
        for field in PROTOCOL_FIELDS:
            total += 1
            a, b = truth[field].iloc[0], got[field].iloc[0]
            if _same(a, b):
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
