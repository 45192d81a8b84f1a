"""The fast word reader (pipeline.sources.pdf.page_chars) gives pdfplumber's own words.

`pdf_pages_words` builds characters with a lighter pdfminer device than pdfplumber's
`page.chars`; this pins that the words are identical to `page.extract_words` with the same
tolerances on every committed PDF (regression cases, unseen layouts, the samples).
"""

from __future__ import annotations

from pathlib import Path

import pdfplumber
import pytest

from pipeline.sources.pdf import X_TOLERANCE, Y_TOLERANCE, pdf_pages_words
from tests.builders import REPO

PDFS = sorted(
    p
    for p in [*(REPO / "tests" / "pdfs").glob("*.pdf"), *(REPO / "data" / "raw").rglob("*.pdf")]
    if p.stem not in {"corrupt", "encrypted", "empty", "not-a-pdf", "truncated-download"}
)


def _plumber_words(path: Path) -> list[list[tuple[str, float, float, float, float]]]:
    with pdfplumber.open(path) as pdf:
        return [
            [
                (w["text"], w["x0"], w["x1"], w["top"], w["bottom"])
                for w in page.extract_words(x_tolerance=X_TOLERANCE, y_tolerance=Y_TOLERANCE)
            ]
            for page in pdf.pages
        ]


@pytest.mark.parametrize("path", PDFS, ids=lambda p: p.name)
def test_words_equal_pdfplumbers_extract_words(path: Path) -> None:
    ours = [[(w.text, w.x0, w.x1, w.top, w.bottom) for w in page] for page in pdf_pages_words(path)]
    assert ours == _plumber_words(path)


def test_the_comparison_covers_many_pdfs() -> None:
    assert len(PDFS) >= 25
