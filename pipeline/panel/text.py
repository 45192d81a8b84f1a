"""The text around the rows: the panel record, headings, footnotes, the serving lines,
statements and the product title (steps 2 and 5 of the reader)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.panel.cells import _Layout
from pipeline.panel.geometry import _Line
from pipeline.panel.grammar import (
    _BASE_UNIT,
    _DIRECTIONS_RE,
    _FOOTNOTE_RE,
    _GLUED_COUNT_RE,
    _HAS_DIGIT,
    _HEADER_KEY_RE,
    _NUM,
    _OTHER_RE,
    _SERVING_SIZE_RE,
    _SERVINGS_PER_RE,
    _STATEMENT_RE,
    _WARNING_KEEP_RE,
    _WARNING_PREFIX_RE,
)
from pipeline.panel.settings import _S, _TITLE_RATIO
from pipeline.panel.title import credible, title_text
from pipeline.records import Word

# --- the reader -------------------------------------------------------------------


@dataclass
class _Panel:
    index: int
    lines: list[_Line]  # heading and preamble excluded
    pre: list[_Line]  # preamble (serving size, column headings)
    heading_pos: int  # position of the heading line in the document
    end_pos: int  # position after the last panel line
    pages: list[int] = field(default_factory=list)
    headers: list[_Line] = field(default_factory=list)  # column heading lines (in `pre`)
    cut_at: _Line | None = None  # a panel-like line that ended the panel by running past it
    side_notes: list[_Line] = field(default_factory=list)  # footnotes under one column group


_AMOUNT_IN_TEXT = re.compile(rf"(?:{_NUM})\s*(?:{_BASE_UNIT})\b")


def _is_heading(line: _Line) -> tuple[bool, bool]:
    """(is a "Supplement Facts" heading, is a "(continued)" heading)."""
    words = [re.sub(r"[^a-z]", "", w.text.lower()) for w in line.words]
    if len(words) >= 2 and words[0] == "supplement" and words[1] == "facts":
        rest = " ".join(w.text for w in line.words[2:]).lower()
        if len(line.words) > 6 and "serving" not in rest:
            return False, False
        return True, "cont" in rest
    if words and words[0] == "supplementfacts":
        return True, "cont" in " ".join(w.text for w in line.words[1:]).lower()
    return False, False


def stray_words(words: Sequence[Word]) -> bool:
    """At most two short words without digits, read with low confidence: a speck or a mark
    OCR read as letters ("to" at 16% for a "**"), not text of the panel."""
    return 0 < len(words) <= 2 and all(
        len(w.text) <= 3
        and not _HAS_DIGIT.search(w.text)
        and w.confidence is not None
        and w.confidence < _S.stray_confidence
        for w in words
    )


def _row_like(line: _Line, left: float, right: float, body_height: float) -> bool:
    """A line taller than the panel's rows that is one of them: at most `taller_row` times
    their height (a row whose ink took in a rule's remains under it, not a heading), from
    the panel's left edge to within its right edge, with an amount and its unit."""
    tol = _S.panel_edge * body_height
    return (
        line.height <= _S.taller_row * body_height
        and abs(line.x0 - left) <= tol
        and line.x1 <= right + tol
        and bool(_AMOUNT_IN_TEXT.search(line.text))
    )


def _is_header_line(line: _Line) -> bool:
    return bool(_HEADER_KEY_RE.search(line.text)) and not _SERVING_SIZE_RE.match(line.text)


def _is_footnote(line: _Line) -> bool:
    first = line.words[0].text
    text = line.text
    if first[0] in "*†‡" and any(c.isalpha() for c in text):
        return True
    return bool(_FOOTNOTE_RE.search(text))


def beside_group(line: _Line, nxt: _Line | None, left: float) -> bool:
    """Whether a footnote `line` stands under a column group on the right while the
    group on the left goes on beside it (`nxt`, the next line, starts at the panel's
    `left` edge and ends before the footnote starts): it ends that group, not the panel."""
    if nxt is None or _STATEMENT_RE.match(nxt.text) or _is_footnote(nxt):
        return False
    tol = _S.panel_edge * line.height
    return line.x0 > left + tol and abs(nxt.x0 - left) <= tol and nxt.x1 < line.x0


def _footnotes(tail: list[_Line]) -> str:
    """The panel's footnotes: the lines after it, from its first footnote line up to the
    first statement ("Other ingredients: ...")."""
    kept: list[str] = []
    for line in tail:
        if _STATEMENT_RE.match(line.text):
            break
        if kept or _is_footnote(line):
            kept.append(line.text)
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


def _before_values(words: list[Word], value_left: float | None) -> list[Word]:
    """The words of a serving line before the value columns: up to the first word that
    reaches past `value_left` after a cell gap (running text set tight, "2 Gummies (6g)",
    stays whole even where it runs over the column's edge); all of them when none does."""
    if value_left is None:
        return words
    for i in range(1, len(words)):
        w = words[i]
        if w.x1 > value_left and w.x0 - words[i - 1].x1 >= _S.cell_gap * (w.bottom - w.top):
            return words[:i]
    return words


def _serving(panel: _Panel, layout: _Layout) -> tuple[str | None, str | None]:
    """(serving size, servings per container) from the panel's preamble."""
    serving_size = None
    servings = None
    for line in panel.pre:
        value_words = _before_values(line.words, layout.value_left)
        text = " ".join(w.text for w in value_words)
        if _SERVING_SIZE_RE.match(line.text) and (
            not _SERVING_SIZE_RE.match(text)
            or _SERVINGS_PER_RE.search(line.text)
            or not _SERVING_SIZE_RE.sub("", text).strip(" |;,")
        ):
            # the serving line runs over the value columns, or its size is printed in
            # them, set right ("Serving Size: ........ 1 Softgel")
            text = line.text
        m = _SERVINGS_PER_RE.search(text)
        if _SERVING_SIZE_RE.match(text):
            rest = _SERVING_SIZE_RE.sub("", text)
            if m:
                m2 = _SERVINGS_PER_RE.search(rest)
                if m2:
                    servings = rest[m2.end() :].strip() or None
                    rest = rest[: m2.start()]
            serving_size = _GLUED_COUNT_RE.sub(r"\1 \2", rest.strip(" |;,")) or None
        elif m:
            servings = text[m.end() :].strip() or None
    return serving_size, servings


def _statements(lines: list[_Line]) -> tuple[dict[str, list[str]], list[_Line]]:
    """Statement texts by kind, and the lines that are not statements or footnotes
    (after the last statement: the head of the next label)."""
    out: dict[str, list[str]] = {"other": [], "directions": [], "warnings": []}
    blocks: list[list[_Line]] = []
    free_after: list[_Line] = []
    current: list[_Line] | None = None
    for line in lines:
        if _STATEMENT_RE.match(line.text):
            current = [line]
            blocks.append(current)
            free_after = []
            continue
        if current is not None:
            last = current[-1]
            if (
                last.page == line.page
                and line.top - last.bottom <= 1.2 * last.height
                and abs(line.height - last.height) <= 0.2 * last.height
                and line.x0 >= current[0].x0 - last.height
            ):
                current.append(line)
                continue
            current = None
        if not blocks and _is_footnote(line):
            continue
        free_after.append(line)
    for block in blocks:
        text = " ".join(ln.text for ln in block)
        text = re.sub(r"\s+", " ", text).strip()
        if _OTHER_RE.match(text):
            out["other"].append(_OTHER_RE.sub("", text, count=1))
        elif _DIRECTIONS_RE.match(text):
            out["directions"].append(_DIRECTIONS_RE.sub("", text, count=1))
        elif _WARNING_KEEP_RE.match(text):
            out["warnings"].append(text)
        elif _WARNING_PREFIX_RE.match(text):
            out["warnings"].append(_WARNING_PREFIX_RE.sub("", text, count=1))
    return out, free_after


def _title(head: list[_Line], body_height: float) -> tuple[str | None, str | None]:
    candidates = [ln for ln in head if not _is_heading(ln)[0] and credible(ln.words)]
    if not candidates:
        return None, None
    tallest = max(ln.height for ln in candidates)
    if tallest < _TITLE_RATIO * body_height:
        return None, None
    idx = next(i for i, ln in enumerate(candidates) if ln.height >= 0.95 * tallest)
    end = idx + 1
    while (
        end < len(candidates)
        and abs(candidates[end].height - tallest) <= 0.05 * tallest
        and candidates[end].page == candidates[end - 1].page
        and candidates[end].top - candidates[end - 1].bottom <= 0.8 * tallest
    ):
        end += 1
    title = " ".join(title_text(ln.words) for ln in candidates[idx:end])
    brand = None
    if idx > 0:
        above = candidates[idx - 1]
        if (
            above.page == candidates[idx].page
            and above.height < tallest
            and len(above.words) <= 8
            and not above.text.rstrip().endswith(".")
            and candidates[idx].top - above.bottom <= 2.5 * tallest
        ):
            brand = title_text(above.words)
    if brand is None and end < len(candidates):
        below = candidates[end]
        if below.text.lower().startswith("by ") and len(below.words) <= 8:
            brand = below.text[3:].strip()
    return title, brand
