"""Page geometry: graphics (`Box`), lines, dot leaders, side columns, panel regions and
page blocks (steps 0 and 1 of the reader)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.panel.grammar import _GLUED_LEADER_RE, _HEADER_KEY_RE, _RULE_WORD_RE, _SERVING_SIZE_RE
from pipeline.panel.settings import _LINE_OVERLAP, _S, SETTINGS, ReaderSettings
from pipeline.records import Word


@dataclass(frozen=True)
class Box:
    """A graphic of the page in the words' coordinates (points from the top-left): a
    stroked rectangle (a panel's box), a filled bar or a hairline rule. OCR may pass
    the rules it detects the same way."""

    x0: float
    top: float
    x1: float
    bottom: float
    filled: bool = False

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.bottom - self.top


# --- lines ------------------------------------------------------------------------


@dataclass
class _Line:
    words: list[Word]
    page: int
    region: int | None = None  # the panel region (box or bars) the line is in
    boxed: bool = False  # that region is a box: it bounds the panel, not gaps or widths

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def height(self) -> float:
        return statistics.median(w.bottom - w.top for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _height(word: Word) -> float:
    return max(word.bottom - word.top, 0.1)


def group_lines(words: Sequence[Word]) -> list[list[Word]]:
    """Words of one page grouped into lines (top to bottom), each sorted left to right."""
    lines: list[list[Word]] = []
    spans: list[tuple[float, float]] = []
    for word in sorted(words, key=lambda w: ((w.top + w.bottom) / 2, w.x0)):
        placed = False
        for i in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            top, bottom = spans[i]
            overlap = min(bottom, word.bottom) - max(top, word.top)
            shorter = min(bottom - top, _height(word))
            if overlap >= _LINE_OVERLAP * shorter:
                lines[i].append(word)
                spans[i] = (min(top, word.top), max(bottom, word.bottom))
                placed = True
                break
        if not placed:
            lines.append([word])
            spans.append((word.top, word.bottom))
    order = sorted(range(len(lines)), key=lambda i: spans[i][0])
    return [sorted(lines[i], key=lambda w: w.x0) for i in order]


def drop_leaders(words: Sequence[Word]) -> list[Word]:
    """The words without blanks, dot leaders and typed rules.

    A word that is only a run of leader or rule characters ("........", "------",
    "_____") is dropped, so that the gap it fills reads as a gap; a run of 3 or more
    leader dots glued to words ("Calcium.........", "Calcium.....500mg") is cut out
    (the word is split there, its box in proportion to the characters).
    """
    out: list[Word] = []
    for word in words:
        text = word.text.strip()
        if not text or _RULE_WORD_RE.fullmatch(text):
            continue
        if not _GLUED_LEADER_RE.search(text):
            out.append(word)
            continue
        per_char = (word.x1 - word.x0) / len(text)
        start = 0
        for m in itertools.chain(_GLUED_LEADER_RE.finditer(text), [None]):
            end = m.start() if m else len(text)
            if end > start:
                out.append(
                    dataclasses.replace(
                        word,
                        text=text[start:end],
                        x0=word.x0 + per_char * start,
                        x1=word.x0 + per_char * end,
                    )
                )
            start = m.end() if m else end
    return out


def _heading_words(words: Sequence[Word]) -> list[Word]:
    """The first word of every "Supplement Facts" heading among the words of a page."""
    out: list[Word] = []
    norms = [re.sub(r"[^a-z]", "", w.text.lower()) for w in words]
    facts = [v for v, n in zip(words, norms, strict=True) if n == "facts"]
    for w, norm in zip(words, norms, strict=True):
        if norm == "supplementfacts":
            out.append(w)
        elif norm == "supplement":
            h = _height(w)
            if any(
                abs(v.top - w.top) < _S.heading_pair_dy * h
                and 0 <= v.x0 - w.x1 < _S.heading_pair_gap * h
                for v in facts
            ):
                out.append(w)
    return out


_VALUE_START_RE = re.compile(r"[<>≤≥]?\s*\d|[*†‡%]")


def _side_column(rest: Sequence[Word], head: Word, edge: float, panel_right: bool) -> list[Word]:
    """The panel's words when a gutter at x = `edge` parts the panel headed by `head`
    from other text beside it (empty when it does not)."""
    h = _height(head)
    below = sorted((w for w in rest if w.top >= head.top - 0.3 * h), key=lambda w: w.top)
    end = next((w.top for w in below if w.x0 < edge < w.x1 - 0.5), float("inf"))
    region = [w for w in below if w.top < end]
    left = [w for w in region if w.x1 <= edge]
    right = [w for w in region if w.x0 >= edge]
    panel, other = (right, left) if panel_right else (left, right)
    if not other or len(panel) < 3:
        return []
    body_h = statistics.median(_height(w) for w in panel)
    if min(w.x0 for w in right) - max(w.x1 for w in left) < body_h:
        return []  # no gutter
    panel_lines, other_lines = group_lines(panel), group_lines(other)
    if panel_right:
        starts = [ln for ln in panel_lines[1:] if abs(ln[0].x0 - head.x0) <= body_h]
    else:
        # the other column is text, left-aligned at the gutter, not panel values
        margin = min(w.x0 for w in other)
        starts = [ln for ln in other_lines if abs(ln[0].x0 - margin) <= body_h]
        values = [ln for ln in other_lines if _VALUE_START_RE.match(ln[0].text)]
        head_rest = " ".join(w.text for w in other_lines[0])
        if (
            2 * len(values) >= len(other_lines)
            or _HEADER_KEY_RE.search(head_rest)
            or _SERVING_SIZE_RE.match(head_rest)
        ):
            return []
    if len(starts) < 2:
        return []

    def beside(line: Sequence[Word]) -> bool:
        top, bottom = min(w.top for w in line), max(w.bottom for w in line)
        return any(min(bottom, w.bottom) - max(top, w.top) > 0 for w in other)

    head_line = next(ln for ln in panel_lines if head in ln)
    if not beside(head_line) and 2 * sum(map(beside, panel_lines)) < len(panel_lines):
        return []
    return panel


def split_side_column(words: Sequence[Word]) -> list[list[Word]]:
    """The words of a page in reading blocks: a panel set in a column beside other text
    (marketing copy, another panel) is cut out as a block of its own, read after the rest.

    A panel is in a side column when a gutter (at least a text height wide, crossed by
    no word) parts it from other words: left of its heading, or right of it after a
    wide gap on the heading's own line. The other text must be beside the heading or
    beside most of the panel's lines; the panel's lines (for a panel on the right) or
    the other text (for a panel on the left: text, not amounts) must start at a common
    left edge on at least two lines. The column runs from the heading down to the first
    word that crosses the gutter. Without such a heading the page is one block.
    """
    rest = list(words)
    heads = _heading_words(words)
    columns: list[tuple[list[Word], bool]] = []  # (words, is left of the rest)
    for head in heads:
        if not any(w is head for w in rest):
            continue
        panel = _side_column(rest, head, head.x0 - 0.5, panel_right=True)
        on_left = False
        if not panel:
            h = _height(head)
            line = sorted(
                (
                    w
                    for w in rest
                    if w.x0 > head.x1
                    and min(head.bottom, w.bottom) - max(head.top, w.top) > 0.3 * h
                ),
                key=lambda w: w.x0,
            )
            prev_x1 = head.x1
            for w in line:
                if w.x0 - prev_x1 >= 2.0 * h:
                    panel = _side_column(rest, head, w.x0 - 0.5, panel_right=False)
                    on_left = True
                    break
                prev_x1 = w.x1
        if panel:
            taken = set(map(id, panel))
            rest = [w for w in rest if id(w) not in taken]
            columns.append((panel, on_left))
    # a panel left of another panel is read first; a panel beside text after the text
    # (the product name is looked for above a panel)
    panel_in_rest = any(any(w is h for h in heads) for w in rest)
    first = [c for c, on_left in columns if on_left and panel_in_rest]
    after = [c for c, on_left in columns if not (on_left and panel_in_rest)]
    return [*first, rest, *after]


# --- panel regions ------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """Where a panel stands on its page: inside its box."""

    x0: float
    top: float
    x1: float
    bottom: float
    boxed: bool  # bounded by a box on all four sides

    def holds(self, word: Word) -> bool:
        cx, cy = (word.x0 + word.x1) / 2, (word.top + word.bottom) / 2
        return self.x0 <= cx <= self.x1 and self.top <= cy <= self.bottom


def _box_around(head: Word, boxes: Sequence[Box], s: ReaderSettings) -> Box | None:
    """The smallest box (a stroked or filled rectangle) whose top part holds the heading."""
    h = _height(head)
    m = s.box_margin * h
    found = [
        b
        for b in boxes
        if b.width >= s.box_min_width * h
        and b.height >= s.box_min_height * h
        and b.x0 - m <= head.x0
        and head.x1 <= b.x1 + m
        and b.top - m <= head.top
        and head.bottom <= b.bottom + m
        and head.top - b.top <= s.box_reach * h
    ]
    return min(found, key=lambda b: b.width * b.height, default=None)


def panel_regions(
    words: Sequence[Word], boxes: Sequence[Box], settings: ReaderSettings = SETTINGS
) -> list[Region]:
    """The region of each "Supplement Facts" panel on a page that its box bounds: the
    smallest box (a stroked or filled rectangle) holding the heading near its top. A
    heading without a box gives no region: the reader then bounds the panel by the
    alignment of its text (`split_side_column`) and ends it at a wide gap, which a bar
    or a rule in the gap does not count as (`_Reader._bar_between`)."""
    out: list[Region] = []
    for head in _heading_words(words):
        if any(r.holds(head) for r in out):
            continue
        m = settings.box_margin * _height(head)
        box = _box_around(head, boxes, settings)
        if box is not None:
            out.append(Region(box.x0 - m, box.top - m, box.x1 + m, box.bottom + m, True))
    return out


def _reading_order(regions: Sequence[Region]) -> list[Region]:
    """Regions top to bottom; regions level with each other (side by side) left to right."""
    out: list[Region] = []
    for r in sorted(regions, key=lambda r: r.top):
        if out and min(out[-1].bottom, r.bottom) - max(out[-1].top, r.top) > 0:
            level = [q for q in out if min(q.bottom, r.bottom) - max(q.top, r.top) > 0]
            first = out.index(level[0])
            out = out[:first] + sorted([*level, r], key=lambda q: q.x0)
        else:
            out.append(r)
    return out


def text_columns(words: Sequence[Word], settings: ReaderSettings = SETTINGS) -> list[list[Word]]:
    """Words parted into page columns, left to right, at x gaps (`side_gutter` text
    heights wide) that no word crosses."""
    if not words:
        return []
    h = statistics.median(_height(w) for w in words)
    ordered = sorted(words, key=lambda w: w.x0)
    columns: list[list[Word]] = [[ordered[0]]]
    reach = ordered[0].x1
    for w in ordered[1:]:
        if w.x0 - reach >= settings.side_gutter * h:
            columns.append([])
        columns[-1].append(w)
        reach = max(reach, w.x1)
    return columns


def page_blocks(
    words: Sequence[Word], boxes: Sequence[Box] = (), settings: ReaderSettings = SETTINGS
) -> list[tuple[list[Word], Region | None]]:
    """The words of a page in reading blocks. Each panel region's words are a block.
    The other words, when they stand in page columns (a wrap: copy, statements), are a
    block per column, placed before the first region whose bottom is below the
    column's top; else each word is placed before the first region it is above or
    beside. Without a region the page is cut by `split_side_column` (a panel in a side
    column beside other text)."""
    regions = _reading_order(panel_regions(words, boxes, settings))
    if not regions:
        return [(b, None) for b in split_side_column(words) if b]
    inside: list[list[Word]] = [[] for _ in regions]
    rest: list[Word] = []
    for w in words:
        k = next((i for i, r in enumerate(regions) if r.holds(w)), None)
        if k is None:
            rest.append(w)
        else:
            inside[k].append(w)
    before: list[list[list[Word]]] = [[] for _ in range(len(regions) + 1)]
    columns = text_columns(rest, settings)
    if len(columns) > 1:
        for col in columns:
            top = min(w.top for w in col)
            k = next((i for i, r in enumerate(regions) if top < r.bottom), len(regions))
            before[k].append(col)
    else:
        chunks: list[list[Word]] = [[] for _ in range(len(regions) + 1)]
        for w in rest:
            cy = (w.top + w.bottom) / 2
            k = next((i for i, r in enumerate(regions) if cy < r.bottom), len(regions))
            chunks[k].append(w)
        before = [[c] for c in chunks]
    blocks: list[tuple[list[Word], Region | None]] = []
    for k, chunk in enumerate(before):
        for col in chunk:
            blocks += [(b, None) for b in split_side_column(col) if b]
        if k < len(regions) and inside[k]:
            blocks.append((inside[k], regions[k]))
    return blocks
