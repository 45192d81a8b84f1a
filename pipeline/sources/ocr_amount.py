"""An amount RapidOCR read (`Amount`) and the units it may carry: shared by the second
reading of a panel's unread rows (`pipeline.sources.ocr_second`) and the confirmation of
a tiny panel's amounts (`pipeline.sources.ocr_tiny`)."""

from __future__ import annotations

import dataclasses

from pipeline.sources.ocr_words import UNIT_REPAIRS

#: Units an amount RapidOCR read may carry (as printed, or an OCR misread of one in
#: `ocr_words.UNIT_REPAIRS`).
UNITS = frozenset({"mcg", "µg", "μg", "mg", "g", "IU"})


@dataclasses.dataclass(frozen=True)
class Amount:
    """An amount RapidOCR read: number and unit as they go to the panel reader, where it
    is (page points), its confidence (0-100) and the repair made to read it, if any."""

    number: str
    unit: str
    x0: float
    x1: float
    top: float
    bottom: float
    confidence: float
    note: str | None = None
    #: The row's name as RapidOCR read it, to replace Tesseract's on the line
    #: (`ocr_tiny.rapid_name`): None keeps Tesseract's.
    name: str | None = None


def unit_of(text: str) -> str | None:
    """`text` as a unit ("MG" as "mg", "meg" as "mcg": `ocr_words.UNIT_REPAIRS`), or None."""
    if text in UNITS or text.lower() in {"mcg", "mg", "g"}:
        return text.lower() if text.lower() in {"mcg", "mg", "g"} else text
    return UNIT_REPAIRS.get(text)


#: Level with a line: the vertical overlap, as a share of the lower of the two heights.
MIN_LEVEL = 0.5


def level_spans(top: float, bottom: float, other_top: float, other_bottom: float) -> bool:
    """Whether two spans of a page (top, bottom) are level: they overlap by MIN_LEVEL of
    the lower one's height."""
    overlap = min(bottom, other_bottom) - max(top, other_top)
    return overlap >= MIN_LEVEL * min(bottom - top, other_bottom - other_top) > 0
