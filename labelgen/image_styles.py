"""Label images in the styles real label pictures come in, for the OCR tests and bench.

Each style starts from one of the project's own text-PDF panels (real DSLD labels,
labelgen.pdf_layouts / pdf_unseen, their fonts and sizes) rendered to pixels, then made
to look like what people hold (`STYLES`):

- "boxed-fda": the FDA-style panel with heavy bars and a box, as a PNG;
- "white-on-dark": the panel printed light on a dark coloured ground (PNG);
- "whole-wrap": a bottle's whole wrap (JPEG): a dark marketing block with white text on
  the left, a light title block, and the panel on the right;
- "two-column-groups": the two-column panel layout (PNG);
- "bottle-photo": a photo of a bottle (JPEG): the panel bent round a cylinder, seen in
  perspective, turned up to 5 degrees, blurred, noisy, with glare away from the panel;
- "small-web": a small product-page image (WebP, about 650 px wide);
- "scanned-pdf": an image-only PDF of a scan (noise, a small turn).

Everything is seeded: the same arguments give the same pixels. The truth of an image is
what the text PDF it came from reads as (the tests compare the two).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from labelgen.raster import Scan, _crop_to_print, rasterize, write_image_pdf

STYLES: tuple[str, ...] = (
    "boxed-fda",
    "white-on-dark",
    "whole-wrap",
    "two-column-groups",
    "bottle-photo",
    "small-web",
    "scanned-pdf",
)
#: The file suffix each style is written as.
SUFFIX: dict[str, str] = {
    "boxed-fda": ".png",
    "white-on-dark": ".png",
    "whole-wrap": ".jpg",
    "two-column-groups": ".png",
    "bottle-photo": ".jpg",
    "small-web": ".webp",
    "scanned-pdf": ".pdf",
}

Label = dict[str, Any]


def render_text_pdf(label: Label, style: str, path: Path) -> Path:
    """The text PDF an image of `style` is made from (its truth)."""
    if style == "boxed-fda":
        from labelgen.pdf_unseen import render_unseen_pdf

        return render_unseen_pdf(label, path, "fda-bars")
    from labelgen.pdf_layouts import render_pdf

    layout = "two-column" if style == "two-column-groups" else "ruled"
    if style in ("whole-wrap", "small-web"):
        layout = "whitespace"
    render_pdf([label], path, layout)
    return path


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's data (a dependency), else Pillow's default."""
    try:
        import matplotlib

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
        return ImageFont.truetype(str(path), size)
    except (ImportError, OSError):  # pragma: no cover - matplotlib is a dependency
        return ImageFont.load_default()


def _panel(pdf: Path, dpi: float) -> Image.Image:
    page = rasterize(pdf, dpi)[0]
    return _crop_to_print(page, margin=round(dpi / 8))


def _colourize(
    gray: Image.Image, ink: tuple[int, int, int], ground: tuple[int, int, int]
) -> Image.Image:
    """A grayscale page as ink on a coloured ground (RGB)."""
    t = np.asarray(gray, dtype=np.float64)[..., None] / 255.0  # 1 = ground
    rgb = np.array(ink, dtype=np.float64) * (1 - t) + np.array(ground, dtype=np.float64) * t
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def white_on_dark(panel: Image.Image, rng: np.random.Generator) -> Image.Image:
    grounds = [(18, 32, 71), (20, 20, 20), (60, 20, 70), (10, 60, 45)]
    ground = grounds[int(rng.integers(len(grounds)))]
    out = _colourize(panel, (250, 250, 245), ground)
    pad = round(0.05 * panel.width)
    canvas = Image.new("RGB", (out.width + 2 * pad, out.height + 2 * pad), ground)
    canvas.paste(out, (pad, pad))
    return canvas


def whole_wrap(panel: Image.Image, label: Label, rng: np.random.Generator) -> Image.Image:
    """Marketing block (white on dark), title block, then the panel, side by side."""
    h = panel.height
    side = round(0.55 * panel.width)
    ground = (25, 40, 90) if rng.random() < 0.5 else (90, 25, 30)
    left = Image.new("RGB", (side, h), ground)
    draw = ImageDraw.Draw(left)
    size = max(14, round(h / 40))
    lines = [
        "PREMIUM FORMULA",
        "Supports healthy bones*",
        "Made with care",
        "Non-GMO  Gluten free",
    ]
    y = round(0.1 * h)
    for text in lines:
        draw.text((round(0.08 * side), y), text, font=_font(size, bold=True), fill=(245, 245, 240))
        y += round(2.2 * size)
    middle = Image.new("RGB", (side, h), (250, 247, 240))
    draw = ImageDraw.Draw(middle)
    name = str(label.get("fullName") or label.get("product_name") or "Calcium")[:22]
    draw.text(
        (round(0.06 * side), round(0.4 * h)),
        name,
        font=_font(round(1.6 * size), True),
        fill=(30, 30, 30),
    )
    draw.text(
        (round(0.06 * side), round(0.5 * h)),
        "DIETARY SUPPLEMENT",
        font=_font(size),
        fill=(80, 80, 80),
    )
    right = panel.convert("RGB")
    canvas = Image.new("RGB", (2 * side + right.width, h), (255, 255, 255))
    canvas.paste(left, (0, 0))
    canvas.paste(middle, (side, 0))
    canvas.paste(right, (2 * side, 0))
    return canvas


def bottle_photo(panel: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The panel on a cylinder (gentle horizontal compression towards the edges), in
    perspective, turned, with glare on the far side, blur, noise; RGB."""
    w, h = panel.size
    pad = round(0.12 * w)
    label = Image.new("L", (w + 2 * pad, h + 2 * pad), 255)
    label.paste(panel, (pad, pad))
    arr = np.asarray(label, dtype=np.float64)
    lh, lw = arr.shape
    # cylinder: output x in [-1, 1] maps back to the label's arc position asin(x)/asin(r)
    reach = 0.75  # the share of the half-circumference the label spans
    xs = np.linspace(-1, 1, lw)
    src = np.arcsin(np.clip(xs * math.sin(reach * math.pi / 2), -1, 1)) / (reach * math.pi / 2)
    cols = np.clip(np.round((src + 1) / 2 * (lw - 1)).astype(np.int64), 0, lw - 1)
    bent = arr[:, cols]
    shade = 0.78 + 0.22 * np.cos(xs * reach * math.pi / 2)  # darker towards the edges
    bent = bent * shade[None, :]
    # glare: a bright vertical band near the edge away from the panel's text column
    gx = int(0.93 * lw)
    band = np.exp(-(((np.arange(lw) - gx) / (0.02 * lw)) ** 2))
    bent = np.minimum(255.0, bent + 90.0 * band[None, :])
    img = Image.fromarray(np.clip(bent, 0, 255).astype(np.uint8))
    # perspective: the top edge a little narrower than the bottom
    k = float(rng.uniform(0.02, 0.05)) * lw
    coeffs = _perspective_coeffs(
        [(k, 0), (lw - k, 0), (lw, lh), (0, lh)], [(0, 0), (lw, 0), (lw, lh), (0, lh)]
    )
    img = img.transform(
        (lw, lh), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=235
    )
    angle = float(rng.uniform(-4.0, 4.0))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=235)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.6, 1.1))))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 5.0, (img.height, img.width))
    gray = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return _colourize(gray, (20, 20, 25), (250, 246, 236))


def _perspective_coeffs(
    src: list[tuple[float, float]], dst: list[tuple[float, float]]
) -> tuple[float, ...]:
    """PIL's PERSPECTIVE coefficients mapping output points `dst` to input `src`."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    solved = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in solved)


def write_style_image(label: Label, style: str, out: Path, seed: int = 0) -> Path:
    """`label` as an image of `style` at `out` (its suffix: SUFFIX[style])."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = render_text_pdf(label, style, Path(tmp) / "label.pdf")
        if style == "scanned-pdf":
            return write_image_pdf(
                pdf, out, Scan(dpi=200, angle=float(rng.uniform(-2, 2)), noise=8.0, seed=seed)
            )
        dpi = {"small-web": 110.0, "whole-wrap": 150.0, "bottle-photo": 200.0}.get(style, 170.0)
        panel = _panel(pdf, dpi)
    if style == "white-on-dark":
        image = white_on_dark(panel, rng)
    elif style == "whole-wrap":
        image = whole_wrap(panel, label, rng)
    elif style == "bottle-photo":
        image = bottle_photo(panel, rng)
    else:
        image = panel.convert("RGB")
    suffix = out.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        image.save(out, format="JPEG", quality=int(rng.integers(60, 80)))
    elif suffix == ".webp":
        image.save(out, format="WEBP", quality=80)
    else:
        image.save(out, format=Image.registered_extensions().get(suffix, "PNG"))
    return out
