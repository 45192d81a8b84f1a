"""Read scanned and photographed labels: Tesseract OCR into the panel reader.

Images (png, jpg, jpeg, tif, tiff; every frame of a multi-page TIFF) and PDF pages with
no usable text layer are OCR'd page by page, one `tesseract` call per page:

1. Load: EXIF orientation applied, transparency flattened on white, grayscale. PDF
   pages are rendered at 300 dpi (pypdfium2).
2. Preprocess (`ocr_prep.preprocess`, pixel steps in `ocr_pixels`): polarity and
   lighting normalized; text size measured from letter-shaped components and scaled
   to the size Tesseract reads best; skew measured by a projection-profile search over
   -5..5 degrees and undone; noise removed (median filter); binarized (Otsu); table
   rules, boxes and pictures removed (letters crossing a rule kept); cropped to the ink.
3. OCR: the `tesseract` command line (TSV output, `--psm 4`, one call per page, one
   thread: files are read in parallel processes already) gives positioned words with
   confidences. Pixels are scaled to points (72 per inch of the page as rendered or
   as the image's dpi says, 300 dpi when it says nothing), so the panel reader's
   tolerances (all relative to word heights) fit as for a text PDF; each word gets
   the height of its line, as a text layer's font box.
4. Repairs (`ocr_words`): typical misreads of panel values are repaired where they are safe and
   visible (tables `UNIT_REPAIRS`, `CONFUSABLE_DIGITS`, `PERCENT_REPAIRS`,
   `MARK_REPAIRS`, `KEYWORDS`): a unit only right after a number ("500 rng"), a
   digit only inside a token that is otherwise a number right before a unit
   ("1O0 mg"), a "%" or "*" artefact only after an amount, a panel keyword only one
   letter off ("Serming" -> "Serving"). A token that stays ambiguous is left as
   read, so the panel reader reports the amount as unreadable: never a guessed
   number. Each repair is recorded in the row's `LabelRow.repairs` ("meg->mcg").
   Rule remains ("|") and low-confidence punctuation specks are dropped.
5. `pipeline.panel.words_to_labels(..., source_format="image-ocr" | "pdf-ocr")`, names
   corrected against the ingredient lexicon (`pipeline.panel.ocr_names`), a corrected
   nutrient's amount checked against its %DV (`pipeline.panel.ocr_recheck`); the
   panel reader sets `LabelRow.confidence` (lowest word confidence on the line) and
   `Label.ocr_confidence` (mean word confidence of the panel).

The CLI is called directly (no Python binding): it is the only thing pytesseract
would run, and calling it keeps the dependency list, the timeout and the "is it
installed" check in one place. Without it, an image is rejected with
`NEEDS_TESSERACT_IMAGE` and a PDF without text with `NEEDS_TESSERACT_PDF`.

Modules: this one runs the engines and reads files; `ocr_load` (opening files), `ocr_words`
(TSV, repairs, words), `ocr_prep`/`ocr_pixels` (preprocessing), `ocr_locate` (the panel found),
`ocr_readings` (which reading is kept), `ocr_rapid` (RapidOCR), `ocr_second` (its re-read of
unread panel rows), `ocr_name` (a name printed as a logo). `repair_line`, ... import from here.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
from PIL import Image

from pipeline import config
from pipeline.errors import LabelError, NeedsOcr, NoPanel, UnreadableFile
from pipeline.panel import Box, panel_regions, words_to_labels
from pipeline.panel.ocr_names import correct_names
from pipeline.panel.ocr_recheck import recheck_dv
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue, Word, bbox_in_pixels
from pipeline.sources import check_render_pixels, read_bytes
from pipeline.sources.ocr_agree import fill_agreed
from pipeline.sources.ocr_columns import read_by_groups
from pipeline.sources.ocr_count import better_of
from pipeline.sources.ocr_lines import read_again
from pipeline.sources.ocr_load import DAMAGED_IMAGE as DAMAGED_IMAGE
from pipeline.sources.ocr_load import RENDER_DPI as RENDER_DPI
from pipeline.sources.ocr_load import image_frames
from pipeline.sources.ocr_load import open_image as open_image
from pipeline.sources.ocr_locate import holds, level_with, region_of
from pipeline.sources.ocr_name import with_big_name
from pipeline.sources.ocr_pixels import _ink as _ink
from pipeline.sources.ocr_pixels import estimate_skew as estimate_skew
from pipeline.sources.ocr_pixels import remove_rules as remove_rules
from pipeline.sources.ocr_pixels import to_gray as to_gray
from pipeline.sources.ocr_prep import (
    MIN_READABLE_PX,
    RETRY_TEXT_PX,
    TARGET_TEXT_PX,
    Analysis,
    Prepared,
    analyse,
    preprocess,
)
from pipeline.sources.ocr_rapid import NEEDS_RAPIDOCR, available, run_rapidocr
from pipeline.sources.ocr_readings import extraction_score, part_of, whole_picture_body
from pipeline.sources.ocr_readings import withhold_disagreements as withhold_disagreements
from pipeline.sources.ocr_second import second_reading
from pipeline.sources.ocr_words import (
    OcrWord,
    _headings,
    ocr_words_to_words,
    panel_words,
    parse_tsv,
)
from pipeline.sources.ocr_words import repair_line as repair_line
from pipeline.sources.ocr_words import unglue_line as unglue_line

NEEDS_TESSERACT_IMAGE = "needs OCR: install tesseract-ocr"
NEEDS_TESSERACT_PDF = "needs OCR: install tesseract-ocr (the file has no text layer)"
NO_TEXT = "no text found by OCR"
CANNOT_RENDER = "cannot render the PDF's pages for OCR: the file is damaged"

#: Tesseract page segmentation mode 4 (one column of text of varying sizes). Measured
#: against 6 (one uniform block) on the scanned test panels: the same fields right after
#: rule removal, but 4 also finds table lines itself, where 6 misread ruled rows.
PSM = 4
#: The page segmentation mode a panel read on its own is read with: 6, one uniform block
#: of text (it is one: cut out of the picture). Mode 4 on a panel set beside other text
#: split and merged its rows ("Icium" for "Calcium", two rows on one line).
PANEL_PSM = 6
#: The page is binarized dark on light already (`ocr_prep`): Tesseract need not try each
#: line inverted as well (about a tenth of its time on the dev set's pages).
NO_INVERT = ("-c", "tessedit_do_invert=0")
#: Seconds one page may take before OCR gives up on the file.
OCR_TIMEOUT = 180.0
#: A PDF page with fewer text-layer characters than this has no usable text layer.
MIN_TEXT_CHARS = 20


# --- tesseract ----------------------------------------------------------------------


def needs_tesseract_pages(pages: int) -> str:
    """The rejection of a text PDF with no panel in its text and `pages` scanned pages
    left unread for want of Tesseract."""
    return f"needs OCR: install tesseract-ocr ({pages} page(s) of the file have no text layer)"


def tesseract_path() -> str | None:
    """The tesseract executable, or None when it is not installed."""
    return shutil.which("tesseract")


def run_tesseract(image: Image.Image, dpi: float, *, exe: str, psm: int = PSM) -> list[OcrWord]:
    """Tesseract's words (TSV) for one preprocessed page image, read with page
    segmentation mode `psm`."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    cmd = [exe, "stdin", "stdout", "--psm", str(psm), "--dpi", str(round(dpi)), "-l", "eng"]
    cmd += [*NO_INVERT, "tsv"]
    try:
        done = subprocess.run(
            cmd,
            input=buf.getvalue(),
            capture_output=True,
            timeout=OCR_TIMEOUT,
            check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # files are read in parallel already
        )
    except subprocess.TimeoutExpired as exc:
        raise UnreadableFile(f"OCR gave up after {OCR_TIMEOUT:.0f} s on one page") from exc
    except OSError as exc:  # not executable, vanished
        raise NeedsOcr(NEEDS_TESSERACT_IMAGE) from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UnreadableFile(f"OCR failed: {err[-1] if err else f'exit {done.returncode}'}")
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


#: What the panel reader made of a reading: its labels, panel rows and read issues.
Parsed = tuple[list[Label], list[LabelRow], list[ReadIssue]]


@dataclass(frozen=True)
class PageRead:
    """One OCR'd page: its words in points (repaired), the repairs, and what the
    measuring pass found (for a rejection a person can act on)."""

    words: list[Word]
    repairs: dict[Word, str]
    text_px: float | None  # median letter height in the page image's own pixels
    width: int  # the page image's width in pixels
    panels: tuple[Box, ...] = ()  # the panel regions read on their own (points)
    parsed: Parsed | None = None  # the panel reader's reading of this page alone, if made


def _tesseract_words(
    gray: Image.Image,
    dpi: float,
    page: int,
    *,
    exe: str,
    target: float,
    faint: bool,
    psm: int = PSM,
    origin: tuple[int, int] = (0, 0),
    measured: Analysis | None = None,
    prepared: Prepared | None = None,
    keep: dict[bool, Prepared] | None = None,
) -> tuple[list[Word], dict[Word, str], float | None]:
    """One Tesseract reading of `gray` (a page image, or a part of one starting at
    `origin` pixels of the page; `measured`: its analysis, `prepared`: its preparation,
    if made already; `keep`: where its preparation is kept, by `faint`): words in the
    page's points, repairs, text height."""
    prepared = prepared or preprocess(gray, dpi, target, faint, measured)
    try:
        found = run_tesseract(prepared.image, prepared.dpi, exe=exe, psm=psm)
        again = functools.partial(run_tesseract, dpi=prepared.dpi, exe=exe, psm=psm)
        found = read_by_groups(prepared.image, found, target, again)
        found = read_again(prepared.image, found, again)
    finally:
        if keep is None:
            prepared.image.close()
        else:
            keep[faint] = prepared
    scale = prepared.dpi / dpi
    offset = (prepared.offset[0] + origin[0] * scale, prepared.offset[1] + origin[1] * scale)
    words, repairs = ocr_words_to_words(found, prepared.dpi, offset, page)
    return words, repairs, prepared.text_px


@dataclass
class PageMemo:
    """What the readings of one page (at each text size) share: its analyses, by whether
    faint print was darkened (they do not depend on the text size a reading scales to),
    and whether its heading was found only with faint print darkened (later readings
    start there)."""

    analyses: dict[bool, Analysis] = field(default_factory=dict)
    prepared: dict[bool, Prepared] = field(default_factory=dict)  # the last whole page's
    faint: bool = False

    def measured(self, gray: Image.Image, faint: bool) -> Analysis:
        """`analyse(gray, faint)`, made once."""
        if faint not in self.analyses:
            self.analyses[faint] = analyse(gray, faint)
        return self.analyses[faint]


def read_page(
    gray: Image.Image,
    dpi: float,
    page: int,
    *,
    exe: str | None,
    engine: str,
    target: float = TARGET_TEXT_PX,
    memo: PageMemo | None = None,
    source_file: str = "",
    fallback_name: str = "",
) -> PageRead:
    """OCR one page image at `dpi` with `engine` ("tesseract": preprocessed here with its
    text scaled to `target` px, then the tesseract command `exe`; "rapidocr": the image as
    it is, see ocr_rapid). `memo`: what the readings of this page share (`PageMemo`);
    `source_file` and `fallback_name`: for the panel reader's reading of the page
    (`PageRead.parsed`, made when the panel was also read alone, to choose)."""
    memo = memo if memo is not None else PageMemo()
    if engine == "rapidocr":
        measured = memo.measured(gray, False)
        words, repairs = ocr_words_to_words(run_rapidocr(gray), dpi, (0.0, 0.0), page)
        return PageRead(panel_words(words), repairs, measured.text_px, gray.width)
    if exe is None:
        raise NeedsOcr(NEEDS_TESSERACT_IMAGE)
    faint = memo.faint
    measured = memo.measured(gray, faint)
    words, repairs, text_px = _tesseract_words(
        gray, dpi, page, exe=exe, target=target, faint=faint, measured=measured, keep=memo.prepared
    )
    if words and not faint and not _headings(words):
        # text but no heading: look again with faint print (a light heading) darkened
        darker = memo.measured(gray, True)
        again = _tesseract_words(
            gray, dpi, page, exe=exe, target=target, faint=True, measured=darker, keep=memo.prepared
        )
        if _headings(again[0]):
            (words, repairs, text_px), faint, measured = again, True, darker
            memo.faint = True
    whole = PageRead(panel_words(words), repairs, text_px, gray.width)
    shape = (gray.height, gray.width)
    located = region_of(measured, words, dpi, shape)
    located = located or whole_picture_body(words, dpi, shape, text_px)
    if located is None:
        return whole
    # the panel below its heading read on its own, at the size of its own text, as one
    # block of text (a heading three times the size of the rows is left out: mode 6
    # drops it); the heading and the rest of the image keep the first reading's words
    region, body = located
    crop = gray.crop((body.x0, body.top, body.x1, body.bottom))
    try:
        inside, fixed, inside_px = _tesseract_words(
            crop,
            dpi,
            page,
            exe=exe,
            target=target,
            faint=faint,
            psm=PANEL_PSM,
            origin=(body.x0, body.top),
            prepared=part_of(memo.prepared.get(faint), located, target, dpi, shape, crop, faint),
        )
    finally:
        crop.close()
    if not inside:
        return whole
    to_px = dpi / 72.0
    rest = [w for w in words if not holds(body, w, to_px)]
    kept = {w: n for w, n in repairs.items() if not holds(body, w, to_px)}
    box = Box(region.x0 / to_px, region.top / to_px, region.x1 / to_px, region.bottom / to_px)
    panels: tuple[Box, ...] = (box,)
    if not panel_regions(rest + inside, panels):
        # not the panel's box to the panel reader: the words beside its body are left out
        rest = [w for w in rest if not level_with(body, w, to_px)]
        panels = ()
    left = set(rest)
    kept = {w: n for w, n in kept.items() if w in left}
    alone = PageRead(rest + inside, {**kept, **fixed}, inside_px, gray.width, panels)
    # the panel read alone is kept when it reads better (`ocr_readings.reading_score`)
    # than the whole page did; the winner's reading by the panel reader is kept with it
    whole, alone = (
        dataclasses.replace(
            done,
            parsed=_parse([done.words], done.repairs, source_file, fallback_name, [done.panels]),
        )
        for done in (whole, alone)
    )
    alone = second_reading(alone, gray, body, dpi, _parse, source_file, fallback_name)
    return better_of(alone, whole)  # and a serving size's count the other read (`ocr_count`)


def _parse(
    pages: Sequence[Sequence[Word]],
    repairs: dict[Word, str],
    source_file: str,
    fallback_name: str,
    graphics: Sequence[Sequence[Box]] | None,
    source_format: str = "image-ocr",
) -> Parsed:
    parsed = words_to_labels(
        pages,
        source_file,
        fallback_name=fallback_name,
        source_format=source_format,
        repairs=repairs,
        graphics=graphics,
    )
    # misread ingredient names (pipeline.panel.ocr_names), then the %DV check on those now named
    return recheck_dv(parsed, correct_names(parsed, pages))


def page_words(
    gray: Image.Image, dpi: float, page: int, *, exe: str
) -> tuple[list[Word], dict[Word, str]]:
    """OCR one page image at `dpi` with Tesseract: its words in points (repaired) and
    the repairs."""
    done = read_page(gray, dpi, page, exe=exe, engine="tesseract")
    return done.words, done.repairs


def engine_ready(engine: str) -> tuple[str | None, str | None]:
    """(tesseract path or None, the rejection reason when `engine` cannot run here)."""
    if engine == "rapidocr":
        return None, None if available() else NEEDS_RAPIDOCR
    exe = tesseract_path()
    return exe, None if exe is not None else NEEDS_TESSERACT_IMAGE


def _mean_confidence(pages: Sequence[Sequence[Word]]) -> float | None:
    values = [w.confidence for page in pages for w in page if w.confidence is not None]
    return statistics.mean(values) if values else None


def _has_heading(pages: Sequence[Sequence[Word]]) -> bool:
    """Whether any page holds "Supplement" followed by "Facts" (a heading)."""
    return any(_headings(page) for page in pages)


def _no_panel_detail(pages: Sequence[Sequence[Word]], where: str) -> str:
    mean = _mean_confidence(pages)
    if mean is None:
        return f"{NO_TEXT}{where}"
    if not _has_heading(pages):
        n = sum(len(page) for page in pages)
        return (
            f"text found but no Supplement Facts heading{where} "
            f"({n} words, mean confidence {mean:.0f}%)"
        )
    return f"no Supplement Facts panel found by OCR{where} (mean confidence {mean:.0f}%)"


def _fallback_name(path: Path) -> str:
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())


def _extraction(
    pages: list[list[Word]],
    repairs: dict[Word, str],
    source_file: str,
    path: Path,
    source_format: str,
    graphics: Sequence[Sequence[Box]] | None = None,
    parsed: Parsed | None = None,
) -> FileExtraction | None:
    """The panel reader's reading of a file's pages (`parsed`, when made already)."""
    if parsed is None:
        parsed = _parse(pages, repairs, source_file, _fallback_name(path), graphics, source_format)
    labels, rows, issues = parsed
    if not labels:
        return None
    return FileExtraction(
        source_file=source_file, labels=tuple(labels), rows=tuple(rows), issues=tuple(issues)
    )


def too_small(width: int, text_px: float | None) -> str | None:
    """The rejection of an image whose text is too small to read, or None."""
    if text_px is None or text_px >= MIN_READABLE_PX:
        return None
    return f"image {width} px wide: panel text {text_px:.0f} px high, too small to read"


def _read_frames(
    path: Path,
    source_file: str,
    data: bytes,
    engine: str,
    target: float,
    memos: dict[int, PageMemo],
) -> tuple[FileExtraction | None, list[list[Word]], str | None]:
    """One reading of every frame of an image with its text scaled to `target` px: the
    extraction (None without a panel), the words of each page and the too-small reason.
    `memos`: what each frame's readings share, kept between the readings of one file."""
    exe, missing = engine_ready(engine)
    pages: list[list[Word]] = []
    panels: list[list[Box]] = []
    repairs: dict[Word, str] = {}
    small: str | None = None
    dpis: dict[int, float] = {}
    parsed: Parsed | None = None
    for number, (gray, dpi) in enumerate(image_frames(path, source_file, data), start=1):
        if missing is not None:
            raise NeedsOcr(missing, source_file=source_file)
        try:
            done = read_page(
                gray,
                dpi,
                number,
                exe=exe,
                engine=engine,
                target=target,
                memo=memos.setdefault(number, PageMemo()),
                source_file=source_file,
                fallback_name=_fallback_name(path),
            )
        except LabelError as exc:
            exc.source_file = source_file
            raise
        pages.append(done.words)
        panels.append(list(done.panels))
        repairs.update(done.repairs)
        small = small or too_small(done.width, done.text_px)
        dpis[number] = dpi
        parsed = done.parsed if number == 1 else None  # one page: its reading is the file's
    extraction = _extraction(pages, repairs, source_file, path, "image-ocr", panels, parsed)
    if extraction is not None:
        # each row's bbox in the image's own pixels (the panel reader works in points)
        rows = tuple(bbox_in_pixels(r, dpis.get(r.page or 1, RENDER_DPI)) for r in extraction.rows)
        extraction = dataclasses.replace(extraction, rows=rows)
    return extraction, pages, small


def read_image(path: Path, source_file: str, data: bytes | None = None) -> FileExtraction:
    """The labels of a scanned or photographed label image (raises a LabelError); `data`:
    the file's bytes as read by the extract stage (default: read from `path`).

    With Tesseract, an image whose panel reading leaves rows unread (a read issue) is
    read again with its text at each size of RETRY_TEXT_PX in turn (until a
    reading has no read issue), and the best reading (`ocr_readings.reading_score`) is
    kept: the earlier one on a tie."""
    if data is None:
        data = read_bytes(path, source_file)
    if not data:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file)
    engine = config.ocr_engine()
    memos: dict[int, PageMemo] = {}
    extraction, pages, small = _read_frames(path, source_file, data, engine, TARGET_TEXT_PX, memos)
    readings = [extraction]
    for target in RETRY_TEXT_PX if engine == "tesseract" else ():
        if small is not None or extraction is None or not extraction.issues:
            break  # an image with no panel found stays as read: other sizes found none
        again = _read_frames(path, source_file, data, engine, target, memos)
        readings.append(again[0])
        if extraction_score(again[0]) > extraction_score(extraction):
            extraction, pages, small = again
    if extraction is None:
        raise NoPanel(small or _no_panel_detail(pages, ""), source_file=source_file)
    others = [r for r in readings if r is not extraction]
    kept = withhold_disagreements(fill_agreed(extraction, others), others)
    return with_big_name(kept, pages, path, data, _fallback_name(path), engine, run_tesseract)


# --- PDFs ---------------------------------------------------------------------------


def pages_to_ocr(
    path: Path, pages: Sequence[Sequence[Word]], data: bytes | None = None
) -> list[int]:
    """0-based pages of a PDF to OCR: all of them when no page has a usable text layer
    (fewer than MIN_TEXT_CHARS characters in all), else the pages with almost no text
    that carry an image (a scanned page in a text PDF)."""
    chars = [sum(len(w.text) for w in page) for page in pages]
    if sum(chars) < MIN_TEXT_CHARS:
        return list(range(len(pages)))
    low = [i for i, n in enumerate(chars) if n < MIN_TEXT_CHARS]
    if not low:
        return []
    with pdfplumber.open(path if data is None else io.BytesIO(data)) as pdf:
        return [i for i in low if pdf.pages[i].images]


def render_gray(page: pdfium.PdfPage, dpi: float) -> Image.Image:
    """A PDF page drawn at `dpi` as a grayscale ("L") image."""
    bitmap = page.render(scale=dpi / 72.0, grayscale=True)
    try:
        return bitmap.to_pil().convert("L")
    finally:
        bitmap.close()


def ocr_pdf_pages(
    path: Path,
    pages: list[list[Word]],
    todo: Sequence[int],
    source_file: str,
    data: bytes | None = None,
) -> tuple[list[list[Word]], dict[Word, str]]:
    """`pages` with the pages in `todo` (0-based) replaced by their OCR'd words.

    Raises NeedsOcr when tesseract is not installed.
    """
    engine = config.ocr_engine()
    exe, missing = engine_ready(engine)
    if missing is not None:
        reason = NEEDS_TESSERACT_PDF if engine == "tesseract" else missing
        raise NeedsOcr(reason, source_file=source_file)
    out = [list(p) for p in pages]
    repairs: dict[Word, str] = {}
    try:
        pdf = pdfium.PdfDocument(str(path) if data is None else data)
    except pdfium.PdfiumError as exc:
        raise UnreadableFile(CANNOT_RENDER, source_file=source_file) from exc
    try:
        for index in todo:
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise UnreadableFile(CANNOT_RENDER, source_file=source_file) from exc
            try:
                width, height = page.get_size()
                check_render_pixels(index + 1, width, height, RENDER_DPI, source_file)
                gray = render_gray(page, RENDER_DPI)
            finally:
                page.close()
            try:
                done = read_page(gray, RENDER_DPI, index + 1, exe=exe, engine=engine)
                words, fixed = done.words, done.repairs
            except LabelError as exc:
                exc.source_file = source_file
                exc.page = index + 1
                raise
            finally:
                gray.close()
            out[index] = words
            repairs.update(fixed)
    finally:
        pdf.close()
    return out, repairs


def read_ocr_pdf(
    path: Path,
    pages: list[list[Word]],
    todo: Sequence[int],
    source_file: str,
    data: bytes | None = None,
) -> FileExtraction:
    """A PDF whose pages in `todo` have no usable text layer: OCR them, then read the
    whole document (text-layer pages as they are)."""
    ocr_pages, repairs = ocr_pdf_pages(path, pages, todo, source_file, data)
    extraction = _extraction(ocr_pages, repairs, source_file, path, "pdf-ocr")
    if extraction is None:
        ocr_only = [ocr_pages[i] for i in todo]
        where = f" in {len(todo)} page(s)"
        raise NoPanel(_no_panel_detail(ocr_only, where), source_file=source_file)
    return extraction
