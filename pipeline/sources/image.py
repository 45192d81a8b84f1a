"""The reader of label images (scans and photographs): pipeline.sources.ocr reads them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline import config
from pipeline.records import FileExtraction
from pipeline.sources import ocr
from pipeline.sources.registry import Member, Reader, register


def image_from_bytes(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileExtraction:
    """The labels of one label image, from its bytes (OCR; raises a LabelError). The name
    gives the format (.heic) and the fallback product name; nothing is opened by it."""
    return ocr.read_image(Path(name), source_file, data)


READER = register(Reader("image", config.IMAGE_SUFFIXES, image_from_bytes))
