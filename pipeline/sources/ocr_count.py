"""A serving size's count that one OCR reading of an image lost and another read.

An image is read more than once (the whole page and the panel cut out alone,
`pipeline.sources.ocr.read_page`; the page at other text sizes, `ocr.read_image`), and
the reading kept is the one that reads more rows (`ocr_readings.reading_score`), not the
one that read every header field. In tiny type Tesseract loses a lone "1" before a
capital ("Serving Size Capsule" in the panel read alone, "Serving Size 1 Capsule" in the
whole page's reading of the same pixels). The kept reading's serving size takes the count
another reading read (`counted`) only when that reading's serving size is the kept one's
words exactly (case and spacing aside) after a count, and every other reading that read
a count there read the same one: never a count one reading alone guessed between.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from pipeline.records import FileExtraction, Label
from pipeline.sources.ocr_readings import NO_PANEL, Score, reading_score

#: A serving size that starts with its count: "1 Capsule", "1/2 Scoop", "2.5 g".
_COUNTED_RE = re.compile(r"^(?P<count>\d+(?:[./]\d+)?)\s+(?P<rest>\S.*)$")


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def counted(kept: str | None, others: Sequence[str | None]) -> str | None:
    """`kept`, a serving size as read, or the one of `others` that is it with a count
    before it ("Capsule" and "1 Capsule": "1 Capsule"); `kept` itself when it has a
    count, no other reading adds one, or they add different ones."""
    if not kept or _COUNTED_RE.match(kept.strip()):
        return kept
    found: dict[str, str] = {}
    for other in others:
        m = _COUNTED_RE.match((other or "").strip())
        if m and _words(m.group("rest")) == _words(kept):
            found.setdefault(m.group("count"), " ".join((other or "").split()))
    return next(iter(found.values())) if len(found) == 1 else kept


def _serving_sizes(labels: Sequence[Label]) -> dict[int, str | None]:
    return {label.label_index: label.serving_size for label in labels}


def with_counts(labels: Sequence[Label], others: Sequence[Sequence[Label]]) -> list[Label]:
    """`labels` with each serving size `counted` against the same label's (by index) in
    the `others` readings."""
    theirs = [_serving_sizes(o) for o in others]
    out: list[Label] = []
    for label in labels:
        size = counted(label.serving_size, [t.get(label.label_index) for t in theirs])
        out.append(
            label if size == label.serving_size else dataclasses.replace(label, serving_size=size)
        )
    return out


def extraction_with_counts(
    kept: FileExtraction, others: Sequence[FileExtraction | None]
) -> FileExtraction:
    """`kept` (an image's reading) with its labels' serving sizes `counted` against the
    image's `others` readings."""
    labels = with_counts(kept.labels, [o.labels for o in others if o is not None])
    if labels == list(kept.labels):
        return kept
    return dataclasses.replace(kept, labels=tuple(labels))


class _Read(Protocol):
    @property
    def parsed(self) -> Any: ...


P = TypeVar("P", bound=_Read)


def page_score(done: _Read) -> Score:
    """`ocr_readings.reading_score` of a page's reading; NO_PANEL when it found none."""
    labels, rows, issues = done.parsed or ([], [], [])
    return reading_score(rows, issues) if labels else NO_PANEL


def better_of(first: P, second: P) -> P:
    """`first` (a page's reading, `ocr.PageRead`) when it scores higher (`page_score`)
    than `second`, else `second`; the kept one's serving sizes `counted` against the
    other's."""
    kept, other = (first, second) if page_score(first) > page_score(second) else (second, first)
    if kept.parsed is None or other.parsed is None:
        return kept
    labels, rows, issues = kept.parsed
    fixed = with_counts(labels, [other.parsed[0]])
    if fixed == list(labels):
        return kept
    return dataclasses.replace(kept, parsed=(fixed, rows, issues))  # type: ignore[type-var]
