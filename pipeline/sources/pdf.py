"""Read PDF label files: the text layer's positioned words, then the panel reader.

`read_pdf` returns what the file holds or raises a `LabelError` (the extract stage turns
it into a rejection): `UnreadableFile` for a damaged/non-PDF or password-protected file,
`NeedsOcr` when no page has a text layer and Tesseract is not installed, `NoPanel`
when there is text but no "Supplement Facts" panel. Pages with no usable text layer
(a scanned label) are OCR'd by pipeline.sources.ocr.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.converter import PDFLayoutAnalyzer
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdffont import PDFFont, PDFUnicodeNotDefined
from pdfminer.pdfinterp import PDFGraphicState, PDFPageInterpreter
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psexceptions import PSException
from pdfminer.utils import Matrix, apply_matrix_pt, apply_matrix_rect
from pdfplumber.page import Page
from pdfplumber.utils.exceptions import PdfminerException
from pdfplumber.utils.text import WordExtractor

from pipeline import config
from pipeline.errors import NeedsOcr, NoPanel, UnreadableFile
from pipeline.panel import Box, words_to_labels
from pipeline.records import FileExtraction, Label, ReadIssue, Word
from pipeline.sources import check_pages, ocr
from pipeline.sources.registry import Member, Reader, read_path, register

DAMAGED = "cannot open PDF: the file is damaged or is not a PDF"
ENCRYPTED = "cannot open PDF: it is encrypted (password-protected)"
PAGE_BOX = "cannot open PDF: a page's size (its MediaBox or CropBox) is missing or malformed"

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


class _CharDevice(PDFLayoutAnalyzer):
    """A pdfminer device that keeps only each character's text, box and uprightness.

    The box is computed exactly as pdfminer's `LTChar` does, in rendering order (which
    is pdfplumber's order of `page.chars`, figures' characters in place); lines, rects,
    curves and images, which the panel reader does not use, are not built at all.
    """

    def __init__(self, rsrcmgr: Any) -> None:
        super().__init__(rsrcmgr, laparams=None)
        self.chars: list[tuple[str, float, float, float, float, bool]] = []
        self.paths: list[tuple[float, float, float, float, bool]] = []

    def render_char(
        self,
        matrix: Matrix,
        font: PDFFont,
        fontsize: float,
        scaling: float,
        rise: float,
        cid: int,
        ncs: Any,
        graphicstate: PDFGraphicState,
    ) -> float:
        try:
            text = font.to_unichr(cid)
        except PDFUnicodeNotDefined:
            text = self.handle_undefined_char(font, cid)
        adv: float = font.char_width(cid) * fontsize * scaling
        bbox: tuple[float, float, float, float]
        if font.is_vertical():
            textdisp = font.char_disp(cid)
            assert isinstance(textdisp, tuple)
            (vx, vy) = textdisp
            vx = fontsize * 0.5 if vx is None else vx * fontsize * 0.001
            vy = (1000 - vy) * fontsize * 0.001
            bbox = (-vx, vy + rise + adv, -vx + fontsize, vy + rise)
        else:
            descent = font.get_descent() * fontsize
            bbox = (0, descent + rise, adv, descent + rise + fontsize)
        (a, b, c, d, _e, _f) = matrix
        upright = a * d * scaling > 0 and b * c <= 0
        (x0, y0, x1, y1) = apply_matrix_rect(matrix, bbox)
        if x1 < x0:
            (x0, x1) = (x1, x0)
        if y1 < y0:
            (y0, y1) = (y1, y0)
        self.chars.append((text, x0, y0, x1, y1, upright))
        return adv

    def paint_path(
        self,
        gstate: PDFGraphicState,
        stroke: bool,
        fill: bool,
        evenodd: bool,
        path: Sequence[Any],
    ) -> None:
        """Keep the box of each painted subpath (pdfplumber's `lines`, `rects` and
        `curves` as boxes): (x0, y0, x1, y1, filled), a stroke widened by its width."""
        if not (stroke or fill):
            return
        start = 0
        for i in range(1, len(path) + 1):
            if i < len(path) and path[i][0] != "m":
                continue
            pts = [
                apply_matrix_pt(self.ctm, (float(seg[-2]), float(seg[-1])))
                for seg in path[start:i]
                if seg[0] != "h" and len(seg) >= 3
            ]
            start = i
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            half = 0.0 if fill else float(gstate.linewidth or 0.0) / 2
            self.paths.append(
                (min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half, fill)
            )

    def render_image(self, *args: Any, **kwargs: Any) -> None:
        return None


def page_chars(page: Page) -> list[dict[str, Any]]:
    """`page.chars` with only what word extraction uses (see `page_chars_and_graphics`)."""
    return page_chars_and_graphics(page)[0]


def page_chars_and_graphics(page: Page) -> tuple[list[dict[str, Any]], list[Box]]:
    """`page.chars` with only what word extraction uses (text, box, doctop, upright).

    The same values as pdfplumber's `Page.chars` (same order, same coordinate
    conversion), from one pass of pdfminer's interpreter over the page with
    `_CharDevice`: pdfplumber's own layout builds an object per character and line and
    converts every attribute of each (colours, fonts, matrices), which took about two
    thirds of the reading time. The graphics are the box of each stroked or filled
    subpath (pdfplumber's `lines`, `rects`, `curves`), in the same top-down coordinates.
    """
    device = _CharDevice(page.pdf.rsrcmgr)
    try:
        PDFPageInterpreter(page.pdf.rsrcmgr, device).process_page(page.page_obj)
    except MemoryError:
        raise  # out of memory is the worker's limit, not a damaged file
    except Exception as exc:  # as pdfplumber's Page.layout does
        raise PdfminerException(exc) from exc
    height, doctop = page.height, page.initial_doctop
    mb_x0, mb_top = page.mediabox[0], page.mediabox[1]
    chars: list[dict[str, Any]] = []
    for text, x0, y0, x1, y1, upright in device.chars:
        top = (height - y1) + mb_top
        chars.append(
            {
                "text": text,
                "x0": x0 + mb_x0 if mb_x0 != 0 else x0,
                "x1": x1 + mb_x0 if mb_x0 != 0 else x1,
                "top": top,
                "bottom": (height - y0) + mb_top,
                "doctop": doctop + top,
                "upright": upright,
            }
        )
    boxes = [
        Box(
            x0 + mb_x0,
            (height - y1) + mb_top,
            x1 + mb_x0,
            (height - y0) + mb_top,
            filled,
        )
        for x0, y0, x1, y1, filled in device.paths
    ]
    return chars, boxes


_WORDS = WordExtractor(
    x_tolerance=X_TOLERANCE,
    y_tolerance=Y_TOLERANCE,
    keep_blank_chars=False,
    use_text_flow=False,
)


def pdf_pages_words(source: Path | bytes, source_file: str = "") -> list[list[Word]]:
    """The positioned words of every page (pdfplumber's text layer), page by page."""
    return pdf_pages(source, source_file)[0]


def pdf_pages(
    source: Path | bytes, source_file: str = ""
) -> tuple[list[list[Word]], list[list[Box]]]:
    """The positioned words and the graphics (boxes, bars, rules) of every page, of the
    PDF file `source` or the PDF bytes `source`.

    Each page is parsed once; the words are pdfplumber's `extract_words` with
    X_TOLERANCE/Y_TOLERANCE, computed from `page_chars_and_graphics`. A PDF of more
    pages than the `max_pages` limit raises LimitExceeded before any page is parsed.
    """
    pages: list[list[Word]] = []
    graphics: list[list[Box]] = []
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
        # the stream is closed here, not by pdfplumber's close(): that makes the pages
        # again, which raises again for a page whose box is malformed
        pdf = pdfplumber.open(stream)
        try:
            all_pages = pdf.pages
        except (TypeError, IndexError, ValueError, KeyError) as exc:  # Page(): its boxes
            raise UnreadableFile(PAGE_BOX, source_file=source_file) from exc
        try:
            check_pages(len(all_pages), source_file)
            for number, page in enumerate(all_pages, start=1):
                try:
                    chars, boxes = page_chars_and_graphics(page)
                    words = _WORDS.extract_words(chars)
                finally:
                    page.close()
                graphics.append(boxes)
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
        finally:
            pdf.close()
    return pages, graphics


def no_text_layer(pages: list[list[Word]], source_file: str) -> NeedsOcr:
    """The error for a PDF with no usable text layer when Tesseract is not installed."""
    return NeedsOcr(ocr.NEEDS_TESSERACT_PDF, source_file=source_file)


def no_panel_reason(pages: Sequence[Sequence[Word]]) -> str:
    """The rejection of a PDF with no Supplement Facts panel; names a panel headed
    "Nutrition Facts" (a food's panel) where a page has one."""
    reason = f"no Supplement Facts panel found in {len(pages)} page(s)"
    for number, words in enumerate(pages, start=1):
        texts = [w.text.strip(":").lower() for w in words]
        if any(a == "nutrition" and b == "facts" for a, b in itertools.pairwise(texts)):
            return (
                f"{reason}: page {number} has a panel headed 'Nutrition Facts' (a dietary "
                "supplement's panel is headed 'Supplement Facts', 21 CFR 101.36(e))"
            )
    return reason


def no_readable_row(labels: Sequence[Label], issues: Sequence[ReadIssue]) -> str:
    """The rejection of a file whose Supplement Facts panels give no readable row."""
    pages = ", ".join(lb.pages or "?" for lb in labels)
    why = f": {issues[0].detail}" if issues else ": no ingredient line was found under it"
    more = f" (and {len(issues) - 1} more unreadable line(s))" if len(issues) > 1 else ""
    found = f"a Supplement Facts panel was found (page {pages})"
    return f"{found} but no row of it could be read{why}{more}"


def fallback_name(path: Path) -> str:
    """The product name used when the label prints none: the file stem, readable."""
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())


def pdf_from_bytes(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileExtraction:
    """The labels, panel rows and read issues of one PDF (raises a LabelError), from its
    bytes. The pages with no usable text layer are handed to OCR here, and only here."""
    path = Path(name)  # (for OCR and the fallback name: never opened, the bytes are given)
    try:
        pages, graphics = pdf_pages(data, source_file)
    except (PdfminerException, PSException, PDFSyntaxError) as exc:
        if isinstance(exc.__cause__, MemoryError) or any(
            isinstance(arg, MemoryError) for arg in exc.args
        ):
            raise MemoryError from exc  # the worker's memory limit, not a damaged file
        raise _unreadable(exc, source_file) from exc
    todo = ocr.pages_to_ocr(path, pages, data)
    unread = len(todo) if ocr.tesseract_path() is None else 0
    if unread == len(pages) > 0:
        raise no_text_layer(pages, source_file)
    if todo and not unread:
        return ocr.read_ocr_pdf(path, pages, todo, source_file, data)
    labels, rows, issues = words_to_labels(
        pages,
        source_file,
        fallback_name=fallback_name(path),
        source_format="pdf",
        graphics=graphics,
    )
    if not labels and unread:  # the panel may be on a scanned page
        raise NeedsOcr(ocr.needs_tesseract_pages(unread), source_file=source_file)
    if not labels:
        raise NoPanel(no_panel_reason(pages), source_file=source_file)
    if not any(r.amount_raw is not None or r.unit_raw is not None for r in rows) and not any(
        lb.amount_columns for lb in labels
    ):  # (amounts under headings that do not say which is per serving: not assessable)
        raise NoPanel(no_readable_row(labels, issues), source_file=source_file)
    return FileExtraction(
        source_file=source_file, labels=tuple(labels), rows=tuple(rows), issues=tuple(issues)
    )


READER = register(Reader("pdf", config.PDF_SUFFIXES, pdf_from_bytes))
#: read_pdf(path, source_file, data=None): `pdf_from_bytes` of the file at `path`.
read_pdf = partial(read_path, pdf_from_bytes)
