"""Label image files opened for OCR: every format Pillow (and pillow-heif) reads, each
frame of a multi-page TIFF, EXIF orientation applied, transparency flattened on white,
grayscale, and the resolution the file gives (RENDER_DPI when it gives none)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from pipeline.errors import UnreadableFile
from pipeline.sources import check_image_pixels, check_pages
from pipeline.sources.ocr_pixels import to_gray

DAMAGED_IMAGE = "cannot open image: the file is damaged or is not an image"
#: Resolution PDF pages are rendered at, and assumed for an image that gives none.
RENDER_DPI = 300.0


def _image_dpi(image: Image.Image) -> float:
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else float(dpi) if dpi else 0.0
    except (TypeError, ValueError):
        value = 0.0
    return value if 100.0 <= value <= 1200.0 else RENDER_DPI


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF phone photos (pillow-heif), once per process."""
    try:  # only when an image is opened: a run of PDFs and CSVs never loads the plugin
        import pillow_heif
    except ImportError:  # pragma: no cover - a dependency; without it HEIC is "damaged"
        return
    pillow_heif.register_heif_opener()


def open_image(path: Path, data: bytes | None = None) -> Image.Image:
    """The image file opened by Pillow (any format it or pillow-heif reads), from `data`
    (the file's bytes) if given."""
    if path.suffix.lower() in (".heic", ".heif"):
        _register_heif()
    return Image.open(path if data is None else io.BytesIO(data))


def image_frames(
    path: Path, source_file: str, data: bytes | None = None
) -> Iterator[tuple[Image.Image, float]]:
    """Each frame of an image file (grayscale) and its dpi, from `data` (the file's bytes)
    if given; raises UnreadableFile, or LimitExceeded for an image over the pixel limit."""
    Image.MAX_IMAGE_PIXELS = None  # the pixel limit is checked here, frame by frame
    try:
        with open_image(path, data) as image:
            check_pages(getattr(image, "n_frames", 1), source_file)
            for frame in ImageSequence.Iterator(image):
                check_image_pixels(frame.width, frame.height, source_file)
                frame.load()
                gray = to_gray(frame)
                try:
                    yield gray, _image_dpi(image)
                finally:
                    gray.close()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file) from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file) from exc
