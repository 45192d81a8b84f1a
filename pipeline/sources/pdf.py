"""Read PDF label files: the text layer's positioned words, then the panel reader.

`read_pdf` returns what the file holds or raises a `LabelError` (the extract stage turns
it into a rejection): `UnreadableFile` for a damaged/non-PDF or password-protected file,
`NeedsOcr` when no page has a text layer, `NoPanel` when there is text but no
"Supplement Facts" panel.
"""

from __future__ import annotations

from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psexceptions import PSException
from pdfplumber.utils.exceptions import PdfminerException

from pipeline.errors import NeedsOcr, NoPanel, UnreadableFile
from pipeline.panel import words_to_labels
from pipeline.records import FileExtraction, Word

DAMAGED = "cannot open PDF: the file is damaged or is not a PDF"
ENCRYPTED = "cannot open PDF: it is encrypted (password-protected)"

#: Characters closer than this (points) join into one word. Small enough that table
#: cells a few points apart stay separate words; glued units ("100mcg") are split by
#: the panel reader, not here.
X_TOLERANCE = 1.5
Y_TOLERANCE = 3.0


def _unreadable(exc: BaseException, source_file: str) -> UnreadableFile:
    cause = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
        return UnreadableFile(ENCRYPTED, source_file=source_file)
    return UnreadableFile(DAMAGED, source_file=source_file)


def pdf_pages_words(path: Path) -> list[list[Word]]:
    """The positioned words of every page (pdfplumber's text layer), page by page."""
    pages: list[list[Word]] = []
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            try:
                words = page.extract_words(
                    x_tolerance=X_TOLERANCE,
                    y_tolerance=Y_TOLERANCE,
                    keep_blank_chars=False,
                    use_text_flow=False,
                )
            finally:
                page.close()
            pages.append(
                [
                    Word(
                        text=str(w["text"]),
                        x0=float(w["x0"]),
                        x1=float(w["x1"]),
                        top=float(w["top"]),
                        bottom=float(w["bottom"]),
                        page=number,
                    )
                    for w in words
                ]
            )
    return pages


def no_text_layer(pages: list[list[Word]], source_file: str) -> NeedsOcr:
    """The error for a PDF with no text on any page (a scanned or photographed label).

    This is where OCR plugs in: a reader that can OCR the pages would return their
    words here instead.
    """
    return NeedsOcr(
        f"no text layer on any of the {len(pages)} page(s) (a scanned or photographed "
        "label); needs OCR: install tesseract-ocr",
        source_file=source_file,
    )


def fallback_name(path: Path) -> str:
    """The product name used when the label prints none: the file stem, readable."""
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())


def read_pdf(path: Path, source_file: str) -> FileExtraction:
    """The labels, panel rows and read issues of one PDF (raises a LabelError)."""
    try:
        pages = pdf_pages_words(path)
    except (PdfminerException, PSException, PDFSyntaxError) as exc:
        raise _unreadable(exc, source_file) from exc
    if not any(pages):
        raise no_text_layer(pages, source_file)
    labels, rows, issues = words_to_labels(
        pages, source_file, fallback_name=fallback_name(path), source_format="pdf"
    )
    if not labels:
        raise NoPanel(
            f"no Supplement Facts panel found in {len(pages)} page(s)", source_file=source_file
        )
    return FileExtraction(
        source_file=source_file, labels=tuple(labels), rows=tuple(rows), issues=tuple(issues)
    )
