"""OCR of scanned and photographed labels (pipeline.sources.ocr), what needs no Tesseract:
repairs, the TSV words, preprocessing, rejections and "no tesseract". The real OCR path is
in tests/accuracy/test_ocr_scans.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labelgen.raster import Scan, rasterize
from pipeline import extract
from pipeline.errors import NeedsOcr, UnreadableFile
from pipeline.panel import words_to_labels
from pipeline.sources import ocr
from pipeline.sources.pdf import read_pdf
from tests.builders import OCR_FIXTURES, PDFS, mixed_pdf

FIXTURES = OCR_FIXTURES


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


def test_crossing_strokes_are_measured_only_beside_the_rules() -> None:
    import numpy as np

    from pipeline.sources.ocr_pixels import _near_rules, _runs

    ink = np.zeros((30, 200), dtype=bool)
    ink[5, 0:200] = True  # a long run in every column
    ink[10:13, 20:30] = True  # a 10 px run
    rules = np.zeros((30, 200), dtype=bool)
    rules[:, 24] = True  # one rule column, inside the 10 px run
    near = _near_rules(ink, rules, 4)
    # in the rule's column, the runs of at least 4 px exactly as measured on the whole
    # page; measured with 4 columns of context either side; nothing measured elsewhere
    assert (near[:, 24] == _runs(ink, 4)[:, 24]).all()
    assert near[10:13, 20:29].all() and near[5, 20:29].all() and not near[0:5, 20:29].any()
    assert not near[:, :20].any() and not near[:, 29:].any()
    assert not _near_rules(ink, np.zeros_like(rules), 4).any()


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


def test_scanned_page_inside_a_text_pdf_without_tesseract(
    tmp_path: Path, bone_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = mixed_pdf(tmp_path, bone_pdf)
    no_tesseract(monkeypatch)
    with pytest.raises(NeedsOcr) as info:
        read_pdf(mixed, "mixed.pdf")
    assert info.value.reason == (
        "needs OCR: install tesseract-ocr (1 page(s) of the file have no text layer)"
    )
