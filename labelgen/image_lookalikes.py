"""Look-alikes of real label pictures whose panel must be found before it is read (the
OCR's `ocr_locate`), drawn from the project's own text-PDF panels (`LOOKALIKES`):

- "boxed-wrap": a flattened bottle label: white directions text on a blue ground on the
  left ("take one capsule daily with food"), the brand in the middle, and on the right
  a small black-bordered white box holding the panel, its rows a third of the size of
  the brand;
- "logo-wrap": the boxed wrap with its brand printed as a logo seven times the size of
  the directions (the name of such a wrap: ceracare's), a band of small capitals under it;
- "light-heading": the panel on a cream ground, its "Supplement Facts" heading printed
  large in a light gold (low contrast), the rows dark;
- "faded-grey": the whole panel printed light grey on white, beside a product "photo"
  (a coloured block) and with a callout line drawn across its margin;
- "tiny-wrap" (`OPEN_LOOKALIKES`: its panel read, its product name not yet, issue 14): the
  boxed wrap drawn from the ruled panel (thin rules between its rows, heavy bars between
  its sections) at about 7 px body text, as a JPEG: a whole bottle wrap flattened into a small web
  picture, the panel a small white box on the blue ground.

Everything is seeded by its arguments only: the same label gives the same pixels. The
truth of an image is what the text PDF it came from reads as.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pdfplumber
from PIL import Image, ImageDraw

from labelgen.image_styles import _colourize, _font, _panel, render_text_pdf
from labelgen.pdf_layouts import render_pdf
from labelgen.raster import rasterize

LOOKALIKES: tuple[str, ...] = ("boxed-wrap", "light-heading", "faded-grey", "logo-wrap")
#: Look-alikes the OCR does not read right yet (their tests are expected failures).
OPEN_LOOKALIKES: tuple[str, ...] = ("tiny-wrap",)
#: The resolution each look-alike's panel is drawn at (its text size).
LOOKALIKE_DPI: dict[str, float] = {
    "boxed-wrap": 110.0,
    "logo-wrap": 110.0,
    "light-heading": 150.0,
    "faded-grey": 130.0,
    "tiny-wrap": 80.0,
}
#: Directions printed beside the panel of the boxed wrap (left column).
WRAP_DIRECTIONS: tuple[str, ...] = (
    "SUGGESTED USE: As a dietary",
    "supplement, adults take one",
    "capsule daily with food.",
    "",
    "CAUTION: Consult a physician",
    "before use if you are pregnant.",
    "",
    "STORAGE: Store in a cool,",
    "dry place.",
)

#: The brand printed in the middle of the wraps (the logo of "logo-wrap").
WRAP_BRAND = "Osteo"

Label = dict[str, Any]


def _heading_band(pdf: Path, dpi: float, panel: Image.Image, page: Image.Image) -> tuple[int, int]:
    """The rows (top, bottom) of the "Supplement Facts" heading in the cropped `panel`
    image, from the text PDF's word positions."""
    with pdfplumber.open(pdf) as doc:
        words = doc.pages[0].extract_words()
    head = next(w for w in words if w["text"].lower().startswith("supplement"))
    arr = np.asarray(page)
    first_ink = int(np.nonzero((arr < 128).any(axis=1))[0][0])
    offset = first_ink - round(dpi / 8)  # _crop_to_print's margin
    f = dpi / 72.0
    return round(head["top"] * f) - offset - 2, round(head["bottom"] * f) - offset + 2


def boxed_wrap(panel: Image.Image, logo: int = 3) -> Image.Image:
    """The panel in a black-bordered white box on the right of a blue wrap (RGB), the
    brand in the middle at `logo` times the directions' size (7: a logo, with a band of
    small capitals under it, "60 CAPSULES  DIETARY SUPPLEMENT")."""
    h = panel.height + 40
    blue = (28, 52, 110)
    left_w, mid_w = round(0.9 * panel.width), round(0.9 * panel.width)
    canvas = Image.new("RGB", (left_w + mid_w + panel.width + 60, h), blue)
    draw = ImageDraw.Draw(canvas)
    size = max(12, round(h / 28))
    y = 20
    for line in WRAP_DIRECTIONS:
        draw.text((16, y), line, font=_font(size), fill=(245, 245, 245))
        y += round(1.5 * size)
    draw.rectangle((left_w, 0, left_w + mid_w, h), fill=(236, 240, 248))
    top = round(0.4 * h) if logo <= 3 else round(0.15 * h)
    draw.text((left_w + 20, top), WRAP_BRAND, font=_font(logo * size, True), fill=blue)
    if logo > 3:
        band = f"60 CAPSULES {' ' * 8} DIETARY SUPPLEMENT"
        draw.text((left_w + 20, round(0.8 * h)), band, font=_font(size, True), fill=blue)
    x = left_w + mid_w + 30
    draw.rectangle((x - 8, 12, x + panel.width + 8, 12 + panel.height + 16), fill=(255, 255, 255))
    canvas.paste(panel.convert("RGB"), (x, 20))
    draw.rectangle(
        (x - 8, 12, x + panel.width + 8, 12 + panel.height + 16), outline=(0, 0, 0), width=3
    )
    return canvas


def light_heading(panel: Image.Image, band: tuple[int, int]) -> Image.Image:
    """The panel on cream, its heading rows in light gold, the rest dark brown (RGB)."""
    dark = _colourize(panel, (40, 30, 25), (250, 244, 230))
    gold = _colourize(panel, (214, 184, 128), (250, 244, 230))
    out = dark.copy()
    top, bottom = max(0, band[0]), min(panel.height, band[1])
    out.paste(gold.crop((0, top, panel.width, bottom)), (0, top))
    return out


def faded_grey(panel: Image.Image) -> Image.Image:
    """The panel in light grey on white, a product block beside it and a callout line
    across its right margin (RGB)."""
    grey = _colourize(panel, (168, 168, 168), (255, 255, 255))
    w, h = grey.size
    canvas = Image.new("RGB", (w + round(0.45 * w), h + 40), (255, 255, 255))
    canvas.paste(grey, (round(0.45 * w), 20))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((10, round(0.3 * h), round(0.4 * w), h), fill=(250, 200, 40))
    draw.text(
        (30, round(0.4 * h)), "PROBIOTIC", font=_font(max(14, h // 30), True), fill=(20, 90, 170)
    )
    draw.line((round(0.2 * w), 30, canvas.width - 12, 24), fill=(60, 170, 70), width=4)
    return canvas


def lookalike_pdf(label: Label, kind: str, path: Path) -> Path:
    """The text PDF the look-alike `kind` of `label` is drawn from (its truth) at `path`:
    the ruled panel for "tiny-wrap", the small-web one for the others."""
    if kind == "tiny-wrap":
        render_pdf([label], path, "ruled")
        return path
    return render_text_pdf(label, "small-web", path)


def write_lookalike(label: Label, kind: str, out: Path) -> Path:
    """`label` as a look-alike image of `kind` (one of LOOKALIKES or OPEN_LOOKALIKES) at
    `out` (PNG or JPEG by its suffix)."""
    if kind not in LOOKALIKE_DPI:
        raise ValueError(f"unknown look-alike {kind!r}; one of {', '.join(LOOKALIKE_DPI)}")
    dpi = LOOKALIKE_DPI[kind]
    with tempfile.TemporaryDirectory() as tmp:
        pdf = lookalike_pdf(label, kind, Path(tmp) / "label.pdf")
        panel = _panel(pdf, dpi)
        if kind == "light-heading":
            band = _heading_band(pdf, dpi, panel, rasterize(pdf, dpi)[0])
    if kind in ("boxed-wrap", "tiny-wrap", "logo-wrap"):
        image = boxed_wrap(panel, 7 if kind == "logo-wrap" else 3)
    elif kind == "light-heading":
        image = light_heading(panel, band)
    else:
        image = faded_grey(panel)
    if out.suffix.lower() in (".jpg", ".jpeg"):
        image.save(out, format="JPEG", quality=85)
    else:
        image.save(out, format="PNG")
    return out
