"""Readers: one module per kind of label file, each turning a file into a FileExtraction.

Each reader is handed the bytes the extract stage read (and hashed) once, so that what is
read is what the cache is keyed by; the per-file limits the readers check (pages, pixels,
rows) are `LIMITS`, which the extract stage's workers set to the run's.
"""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.errors import LimitExceeded, UnreadableFile

#: The per-file limits of this run (a worker process of the extract stage sets them).
LIMITS: config.FileLimits = config.FILE_LIMITS


def set_limits(limits: config.FileLimits) -> None:
    global LIMITS
    LIMITS = limits


def read_bytes(path: Path, source_file: str) -> bytes:
    """The file's bytes; a file that cannot be opened is rejected with the OS's reason,
    a file over the size limit without reading it."""
    try:
        size = path.stat().st_size
        check_size(size, source_file)
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(
            f"the file could not be opened: {exc.strerror or exc}", source_file=source_file
        ) from exc


def _over_limit(option: str, what: str, source_file: str) -> LimitExceeded:
    """The rejection of a file over the per-file limit `option` (a FileLimits field):
    `what` was found, and the command-line option that raises the limit."""
    return LimitExceeded(f"{what} (limit {config.limit_option(option)})", source_file=source_file)


def check_size(size: int, source_file: str) -> None:
    """LimitExceeded if a file of `size` bytes is over `max_file_mb`."""
    limit = LIMITS.max_file_mb
    if size > limit * 1024 * 1024:
        what = f"the file is {size / 1024 / 1024:.1f} MB: more than {limit} MB"
        raise _over_limit("max_file_mb", what, source_file)


def check_pages(pages: int, source_file: str) -> None:
    """LimitExceeded if a file of `pages` pages (or frames) is over `max_pages`."""
    limit = LIMITS.max_pages
    if pages > limit:
        raise _over_limit("max_pages", f"{pages} pages: more than {limit} pages", source_file)


def check_image_pixels(width: int, height: int, source_file: str) -> None:
    """LimitExceeded if an image of `width` x `height` pixels is over `max_pixels`."""
    limit = LIMITS.max_pixels
    if width * height > limit:
        what = f"the image is {width} x {height} pixels: more than {limit:,} pixels"
        raise _over_limit("max_pixels", what, source_file)


def check_render_pixels(
    page: int, width_pt: float, height_pt: float, dpi: float, source_file: str
) -> None:
    """LimitExceeded if rendering a `width_pt` x `height_pt` page at `dpi` would take more
    than `max_pixels` (checked before rendering: the bitmap is never made)."""
    limit = LIMITS.max_pixels
    pixels = round(width_pt * dpi / 72.0) * round(height_pt * dpi / 72.0)
    if pixels > limit:
        what = (
            f"page {page} is {width_pt:.0f} x {height_pt:.0f} pt: rendering it at {dpi:.0f} dpi "
            f"would take {pixels:,} pixels, more than {limit:,}"
        )
        raise _over_limit("max_pixels", what, source_file)


def check_rows(rows: int, source_file: str) -> None:
    """LimitExceeded once a CSV has more than `max_rows` data rows."""
    limit = LIMITS.max_rows
    if rows > limit:
        raise _over_limit("max_rows", f"more than {limit:,} rows", source_file)
