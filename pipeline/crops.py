"""Evidence crops: the label itself, beside each value read from it.

For a product read from a PDF or an image, `card_evidence` draws (grayscale PNG, embedded
in the card as data: URIs, so audit.html stays one self-contained file):

- a crop of each protocol row where it was read (its bbox, with a margin), at most
  `CROP_MAX_W` x `CROP_MAX_H` pixels;
- one thumbnail of the whole panel (the box around all its rows) with the rows used for
  the protocol outlined, at most `THUMB_MAX_W` x `THUMB_MAX_H` pixels.

PDF pages are rendered with pypdfium2 at `RENDER_DPI`, images opened as the OCR reader
opens them (pipeline.sources.ocr: EXIF orientation applied, so the rows' pixel boxes
fit). Pixels are reduced to 16 grays before PNG encoding. A product's images never exceed
`PRODUCT_BUDGET_BYTES` (encoded): crops past it are left out, and the card says so. The
labels folder is the one the report stage is pointed at (`use_labels_folder`); a file that
is not there any more, or cannot be drawn, gives no images and a note, never an error.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from pipeline.evidence import has_box
from pipeline.nutrients import PROTOCOL_NUTRIENTS

log = logging.getLogger(__name__)

#: Resolution PDF pages are drawn at for crops (the row's text ~20 px high at 9 pt).
RENDER_DPI = 144.0
CROP_MAX_W, CROP_MAX_H = 420, 44
THUMB_MAX_W, THUMB_MAX_H = 220, 300
#: Margin around a row's box, as a share of its height.
MARGIN = 0.35
#: The most bytes of PNG one product's card embeds (crops and thumbnail together).
PRODUCT_BUDGET_BYTES = 48_000
#: Gray levels kept (fewer levels, smaller PNGs; text stays legible at 16).
GRAY_LEVELS = 16

_labels_root: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "labels_root", default=None
)


@contextlib.contextmanager
def use_labels_folder(root: Path | None) -> Iterator[None]:
    """Draw crops from the label files under `root` while in the block (None: no crops)."""
    token = _labels_root.set(root)
    try:
        yield
    finally:
        _labels_root.reset(token)


def _png_uri(image: Image.Image) -> str:
    step = 256 // GRAY_LEVELS
    gray = image.convert("L").point(lambda v: min(255, (v // step) * step + step // 2))
    buffer = io.BytesIO()
    gray.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _fit(image: Image.Image, max_w: int, max_h: int) -> Image.Image:
    scale = min(1.0, max_w / max(1, image.width), max_h / max(1, image.height))
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def page_image(path: Path, page: int, units: str) -> tuple[Image.Image, float]:
    """Page `page` (1-based) of the label file as a grayscale image, and the pixels per
    bbox unit ("pt": a PDF drawn at RENDER_DPI; "px": an image as it is)."""
    # Start-up time: the OCR module imports scipy (~0.9 s of every audit's start-up, even
    # one whose labels are all JSON, or an unchanged run); only a card with a crop needs it.
    from pipeline.sources.ocr import RENDER_DPI as RENDER_DPI_OCR
    from pipeline.sources.ocr import open_image, render_gray, to_gray

    if units == "pt" and path.suffix.lower() == ".pdf":
        pdf = pdfium.PdfDocument(str(path))
        try:
            pdf_page = pdf[page - 1]
            try:
                image = render_gray(pdf_page, RENDER_DPI)
            finally:
                pdf_page.close()
        finally:
            pdf.close()
        return image, RENDER_DPI / 72.0
    with open_image(path) as opened:  # as the OCR reader opened it (HEIC too)
        opened.seek(page - 1)
        frame = to_gray(opened)  # EXIF orientation applied: the rows' pixel boxes fit
    scale = 1.0 if units == "px" else RENDER_DPI_OCR / 72.0
    return frame, scale


def _box(row: Mapping[str, Any], scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, top, x1, bottom = (float(v) * scale for v in row["bbox"])
    pad = MARGIN * max(1.0, bottom - top)
    return (
        max(0, int(x0 - pad)),
        max(0, int(top - pad)),
        min(size[0], int(x1 + pad) + 1),
        min(size[1], int(bottom + pad) + 1),
    )


def evidence_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows a card shows a crop of: protocol nutrients with a position."""
    return [r for r in rows if r.get("nutrient") in PROTOCOL_NUTRIENTS and has_box(r)]


def draw_evidence(
    path: Path, rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, str], str | None, int]:
    """(line_no -> crop data URI, the panel thumbnail's data URI, bytes used) for the
    label rows `rows` of the file at `path` (every row with a position is on the panel;
    those of protocol nutrients are cropped and outlined)."""
    placed = [r for r in rows if has_box(r)]
    used = evidence_rows(placed)
    if not placed:
        return {}, None, 0
    page = int(used[0]["page"] if used else placed[0]["page"])
    units = str((used or placed)[0].get("bbox_units") or "pt")
    image, scale = page_image(path, page, units)
    on_page = [r for r in placed if int(r["page"]) == page]
    crops: dict[int, str] = {}
    spent = 0
    thumb = None
    boxes = [_box(r, scale, image.size) for r in on_page]
    if boxes:
        panel = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        outlined = image.crop(panel).convert("L")
        pen = ImageDraw.Draw(outlined)
        width = max(2, round(outlined.width / THUMB_MAX_W * 2))
        for row in used:
            if int(row["page"]) == page:
                b = _box(row, scale, image.size)
                shifted = (b[0] - panel[0], b[1] - panel[1], b[2] - panel[0], b[3] - panel[1])
                pen.rectangle(shifted, outline=0, width=width)
        thumb = _png_uri(_fit(outlined, THUMB_MAX_W, THUMB_MAX_H))
        spent += len(thumb)
    for row in used:
        if int(row["page"]) != page:
            continue
        uri = _png_uri(_fit(image.crop(_box(row, scale, image.size)), CROP_MAX_W, CROP_MAX_H))
        if spent + len(uri) > PRODUCT_BUDGET_BYTES:
            break
        crops[int(row["line_no"])] = uri
        spent += len(uri)
    image.close()
    return crops, thumb, spent


def card_evidence(product: Mapping[str, Any]) -> dict[str, Any]:
    """What a product's card shows of the label itself: {"crops": line_no -> data URI,
    "panel": the thumbnail's data URI or None, "note": why something is missing, or ""}."""
    empty: dict[str, Any] = {"crops": {}, "panel": None, "note": ""}
    root = _labels_root.get()
    rows = product.get("label_rows") or []
    if root is None or not any(has_box(r) for r in rows):
        return empty
    path = root / str(product.get("source_file"))
    if not path.is_file():
        return {**empty, "note": "the label file is not in the labels folder any more"}
    try:
        crops, panel, _ = draw_evidence(path, rows)
    except Exception as exc:  # a label that cannot be drawn loses its pictures only
        log.warning("evidence: %s: %s", product.get("source_file"), exc)
        return {**empty, "note": f"the label could not be drawn ({type(exc).__name__})"}
    wanted = {int(r["line_no"]) for r in evidence_rows(rows)}
    note = "" if wanted <= set(crops) else "some crops left out (size budget or other page)"
    return {"crops": crops, "panel": panel, "note": note}


def row_crop(entry: Mapping[str, Any]) -> str | None:
    """The crop of one row named by a review entry (source_file, page, bbox,
    bbox_units), or None."""
    root = _labels_root.get()
    if root is None or not has_box(entry):
        return None
    path = root / str(entry.get("source_file"))
    try:
        image, scale = page_image(path, int(entry["page"]), str(entry.get("bbox_units") or "pt"))
        crop = image.crop(_box(entry, scale, image.size))
        return _png_uri(_fit(crop, CROP_MAX_W, CROP_MAX_H))
    except Exception as exc:  # no picture, never a lost report
        log.warning("evidence: %s: %s", entry.get("source_file"), exc)
        return None
