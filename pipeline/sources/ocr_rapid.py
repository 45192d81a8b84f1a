"""RapidOCR (PP-OCR models on onnxruntime's CPU build) as a second OCR engine.

A default dependency (the `rapidocr_onnxruntime` wheel ships its detection, direction
and recognition models, so nothing is downloaded at run time): `labelaudit audit
--ocr-engine rapidocr` reads whole pages with it, and `pipeline.sources.ocr_second` reads
the rows Tesseract left unread in a located panel with it. Measured against Tesseract on the real
label dev set and the generated image styles (README, "Scanned and photographed
labels"): it reads white-on-dark and busy composites well, but drops the spaces between
English words ("ServingSize:2Gummies") and takes 2-11 s per image on one core.

RapidOCR gives one box per text line, not per word. `line_words` splits a line's text at
its spaces into words whose x positions are proportional to their characters, so the
panel reader gets positioned words as from Tesseract.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from pipeline.errors import NeedsOcr
from pipeline.sources.ocr_words import OcrWord

NEEDS_RAPIDOCR = "needs OCR: install rapidocr_onnxruntime (pip install rapidocr_onnxruntime)"


def available() -> bool:
    """Whether the rapidocr_onnxruntime package can be imported."""
    # imported here so the package runs without it (an install that left it out)
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=2)
def _engine(as_is: bool = False) -> Any:
    # the package again (see available)
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise NeedsOcr(NEEDS_RAPIDOCR) from exc
    # one thread: files are read in parallel processes already
    if as_is:  # detection at the image's own size (not its short side raised to 736 px)
        return RapidOCR(
            intra_op_num_threads=1,
            inter_op_num_threads=1,
            det_limit_type="max",
            det_limit_side_len=2000,
            use_cls=False,
        )
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def line_words(
    text: str, box: Sequence[Sequence[float]], confidence: float, line: int
) -> list[OcrWord]:
    """The words of one detected text line (`box`: its four corners), each placed by
    its characters' share of the line's width."""
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    left, right = min(xs), max(xs)
    top, bottom = min(ys), max(ys)
    n = max(1, len(text))
    per_char = (right - left) / n
    words: list[OcrWord] = []
    start = 0
    for token in text.split(" "):
        if token:
            words.append(
                OcrWord(
                    text=token,
                    left=round(left + start * per_char),
                    top=round(top),
                    width=max(1, round(len(token) * per_char)),
                    height=max(1, round(bottom - top)),
                    confidence=round(100.0 * confidence, 2),
                    line_key=(1, 1, line),
                )
            )
        start += len(token) + 1
    return words


#: One text line RapidOCR detected: its box's four corners (pixels), text, confidence (0-1).
RapidLine = tuple[Sequence[Sequence[float]], str, float]


def detect_lines(image: Image.Image, *, as_is: bool = False) -> list[RapidLine]:
    """RapidOCR's text lines for one image (grayscale or colour); one engine a process
    for each kind. `as_is`: text detected at the image's own size and never turned (a
    panel's crop, upscaled for it already), about a third less CPU than the default."""
    result, _ = _engine(as_is)(np.asarray(image.convert("RGB")))
    return [(box, str(text), float(score)) for box, text, score in result or []]


def run_rapidocr(image: Image.Image) -> list[OcrWord]:
    """RapidOCR's words for one page image (grayscale or colour)."""
    words: list[OcrWord] = []
    for number, (box, text, score) in enumerate(detect_lines(image), start=1):
        words.extend(line_words(text, box, score, number))
    return words
