"""Scanned and photographed labels for the OCR tests: the project's own PDF panels as
images (PNG, JPEG, TIFF) or image-only PDFs, rotated a little and with noise.

`rasterize` renders the pages of a (text) PDF with pypdfium2 and `degrade` makes them
look scanned: a small rotation (white fill), Gaussian noise, salt-and-pepper specks, an
optional lighting gradient (a photo's shadow) and an optional blur. Everything is
seeded, so the same arguments always give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Scan:
    """How a page is scanned."""

    dpi: float = 300.0
    angle: float = 0.0  # degrees, counter-clockwise
    noise: float = 0.0  # standard deviation of Gaussian noise (0-255 scale)
    specks: float = 0.0  # share of pixels turned black or white (salt and pepper)
    gradient: float = 0.0  # darkening from left to right edge (0-1): uneven lighting
    blur: float = 0.0  # Gaussian blur radius in pixels
    crop: bool = True  # crop to the printed area (plus a margin), as a photo would be
    seed: int = 0


def rasterize(pdf_path: Path, dpi: float = 300.0) -> list[Image.Image]:
    """Every page of a PDF as a grayscale image at `dpi`."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(pdf_path))
    images: list[Image.Image] = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                bitmap = page.render(scale=dpi / 72.0, grayscale=True)
                images.append(bitmap.to_pil().convert("L"))
                bitmap.close()
            finally:
                page.close()
    finally:
        pdf.close()
    return images


def _crop_to_print(image: Image.Image, margin: int) -> Image.Image:
    arr = np.asarray(image)
    rows = np.nonzero((arr < 128).any(axis=1))[0]
    cols = np.nonzero((arr < 128).any(axis=0))[0]
    if not rows.size:
        return image
    box = (
        max(0, int(cols[0]) - margin),
        max(0, int(rows[0]) - margin),
        min(image.width, int(cols[-1]) + margin),
        min(image.height, int(rows[-1]) + margin),
    )
    return image.crop(box)


def degrade(image: Image.Image, scan: Scan) -> Image.Image:
    """`image` (grayscale) as if scanned with `scan`'s defects (a new image)."""
    out = image.convert("L")
    if scan.crop:
        out = _crop_to_print(out, margin=round(scan.dpi / 4))
    if scan.angle:
        out = out.rotate(scan.angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    if scan.blur:
        out = out.filter(ImageFilter.GaussianBlur(scan.blur))
    rng = np.random.default_rng(scan.seed)
    arr = np.asarray(out, dtype=np.float64)
    if scan.gradient:
        ramp = np.linspace(1.0, 1.0 - scan.gradient, arr.shape[1])
        arr = arr * ramp[np.newaxis, :]
    if scan.noise:
        arr = arr + rng.normal(0.0, scan.noise, arr.shape)
    if scan.specks:
        hit = rng.random(arr.shape)
        arr = np.where(hit < scan.specks / 2, 0.0, arr)
        arr = np.where(hit > 1.0 - scan.specks / 2, 255.0, arr)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def scanned_pages(pdf_path: Path, scan: Scan) -> list[Image.Image]:
    """The pages of a PDF, rendered at `scan.dpi` and degraded."""
    pages = rasterize(pdf_path, scan.dpi)
    out = []
    for n, page in enumerate(pages):
        out.append(degrade(page, Scan(**{**scan.__dict__, "seed": scan.seed + n})))
        page.close()
    return out


def write_image(pdf_path: Path, out: Path, scan: Scan, page: int = 1) -> Path:
    """One page (1-based) of a PDF as an image file; the format follows `out`'s suffix
    (.png, .jpg/.jpeg at quality 85, .tif/.tiff). The image records its dpi."""
    pages = scanned_pages(pdf_path, scan)
    image = pages[page - 1]
    dpi = (round(scan.dpi), round(scan.dpi))
    suffix = out.suffix.lower()
    if suffix in {".jpg", ".jpeg"}:
        image.save(out, format="JPEG", quality=85, dpi=dpi)
    elif suffix in {".tif", ".tiff"}:
        image.save(out, format="TIFF", compression="tiff_deflate", dpi=dpi)
    else:
        image.save(out, format="PNG", dpi=dpi, optimize=True)
    for p in pages:
        p.close()
    return out


def write_image_pdf(pdf_path: Path, out: Path, scan: Scan) -> Path:
    """Every page of a PDF as an image-only PDF (no text layer), page size kept."""
    pages = scanned_pages(pdf_path, Scan(**{**scan.__dict__, "crop": False}))
    first, rest = pages[0], pages[1:]
    first.save(out, format="PDF", resolution=scan.dpi, save_all=True, append_images=rest)
    for p in pages:
        p.close()
    return out


def write_ocr_fixtures(out_dir: Path) -> dict[str, Path]:
    """Write the small committed OCR fixtures of tests/ocr (deterministic) and return them:
    a scanned panel (JPEG, 200 dpi, turned 2 degrees, light noise) and a damaged PNG."""
    import tempfile

    from labelgen.pdf_layouts import render_pdf
    from labelgen.products import sample_product

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "bone-matrix.pdf"
        render_pdf([sample_product("sample-bone-matrix")], pdf, "ruled")
        scan = write_image(
            pdf, out_dir / "scan-bone-matrix.jpg", Scan(dpi=200, angle=2.0, noise=5.0, seed=7)
        )
    damaged = out_dir / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"not really an image" * 4)
    return {"scan-bone-matrix": scan, "damaged": damaged}


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/ocr")
    for name, path in write_ocr_fixtures(target).items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")
