"""Cells and columns: amounts and %DVs in a line's value words, the column headings, the
value columns' layout and the column groups (step 3 of the reader)."""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.panel.geometry import _VALUE_START_RE, _height, _Line
from pipeline.panel.grammar import (
    _ALT_RE,
    _AMOUNT_RE,
    _HEADER_KEY_RE,
    _MARK_RE,
    _PCT_PAREN_RE,
    _PCT_RE,
    _SERVING_UNITS,
)
from pipeline.panel.settings import _CELL_GAP, _S, SETTINGS, ReaderSettings
from pipeline.records import Word

# --- value cells ------------------------------------------------------------------


@dataclass
class _Item:
    kind: str  # "amount" | "dv"
    x: float  # centre of its cell
    amount: str | None = None
    unit: str | None = None
    alt: str | None = None
    dv: str | None = None


def _parse_cell(text: str, x: float) -> list[_Item] | None:
    """A value cell as amounts and %DVs, or None when it cannot be read."""
    items: list[_Item] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _PCT_RE.match(text, pos)
        if m and (m.end() == len(text) or text[m.end()].isspace()):
            items.append(_Item("dv", x, dv=re.sub(r"\s+", "", m.group(0))))
            pos = m.end()
            continue
        m = _PCT_PAREN_RE.match(text, pos)
        if m and (m.end() == len(text) or text[m.end()].isspace()):
            dv = re.sub(r"\s+", "", m.group("pct")) + (m.group("mark") or "")
            items.append(_Item("dv", x, dv=dv))
            pos = m.end()
            continue
        m = _AMOUNT_RE.match(text, pos)
        if m and (m.end() == len(text) or text[m.end()].isspace()):
            alt = m.group("alt")
            paren = text.rfind("(", pos, m.start("alt")) if alt is not None else -1
            if alt is not None and _PCT_PAREN_RE.match(text, paren):
                # "2 mg (100% DV)": the amount, then its %DV in parentheses
                m = _AMOUNT_RE.match(text[:paren].rstrip(), pos) or m
                alt = None
            if alt is not None and not _ALT_RE.fullmatch(alt.strip()):
                return None
            op = re.sub(r"\s+", "", m.group("op") or "")
            unit = re.sub(r"\s+", " ", m.group("unit")) if m.group("unit") else None
            items.append(
                _Item(
                    "amount",
                    x,
                    amount=op + m.group("num"),
                    unit=unit,
                    alt=alt.strip() if alt else None,
                )
            )
            if m.group("mark"):
                items.append(_Item("dv", x, dv=m.group("mark")))
            pos = m.end()
            continue
        m = _MARK_RE.match(text, pos)
        if m and (m.end() == len(text) or text[m.end()].isspace()):
            items.append(_Item("dv", x, dv=m.group(0)))
            pos = m.end()
            continue
        return None
    return items


def _cells(words: Sequence[Word]) -> list[list[Word]]:
    """Words split into cells at gaps wider than a space."""
    cells: list[list[Word]] = []
    for word in words:
        if cells and word.x0 - cells[-1][-1].x1 < _CELL_GAP * _height(word):
            cells[-1].append(word)
        else:
            cells.append([word])
    return cells


def _cell_text(cell: Sequence[Word]) -> str:
    return " ".join(w.text for w in cell)


def _cell_x(cell: Sequence[Word]) -> float:
    return (cell[0].x0 + cell[-1].x1) / 2


def _trailing_amount_start(words: Sequence[Word]) -> int | None:
    """Index of the first value word when the line ends, after a wide gap, in values
    that include an amount with a unit (used to measure where the value columns are)."""
    for i in range(1, len(words)):
        gap = words[i].x0 - words[i - 1].x1
        if gap < _CELL_GAP * _height(words[i]):
            continue
        items: list[_Item] = []
        for cell in _cells(words[i:]):
            parsed = _parse_cell(_cell_text(cell), _cell_x(cell))
            if parsed is None:
                items = []
                break
            items.extend(parsed)
        if items and items[0].kind == "amount" and items[0].unit is not None:
            return i
    return None


# --- column layout ----------------------------------------------------------------


@dataclass
class _Column:
    kind: str  # "amount" | "dv"
    x0: float
    x1: float
    text: str

    @property
    def unit(self) -> str | None:
        """A unit printed only in the heading ("mg/serving", "Amount (mg)")."""
        m = _HEADING_UNIT_RE.search(self.text)
        return next(g for g in m.groups() if g) if m else None

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


def _is_dv_word(text: str) -> bool:
    low = text.lower()
    return "%" in low or "daily" in low or re.sub(r"[^a-z]", "", low) in ("dv", "nrv")


def _starts_dv(text: str) -> bool:
    """A word that starts a % Daily Value heading ("%", "%DV", "DV", "NRV"): a new
    column even when it stands close to the amount heading ("mg/serving DV (%)")."""
    low = text.lower()
    return low.startswith("%") or re.sub(r"[^a-z]", "", low) in ("dv", "nrv")


def _header_columns(lines: Sequence[_Line]) -> list[_Column]:
    """Column headings (x ranges) from the header lines of a panel."""
    groups: list[list[Word]] = []
    for line in lines:
        line_groups: list[list[Word]] = []
        for word in line.words:
            if line_groups and word.x0 - line_groups[-1][-1].x1 < 1.0 * _height(word):
                if _starts_dv(word.text) and not any(_is_dv_word(w.text) for w in line_groups[-1]):
                    line_groups.append([word])
                else:
                    line_groups[-1].append(word)
            else:
                line_groups.append([word])
        for lg in line_groups:
            x0, x1 = lg[0].x0, max(w.x1 for w in lg)
            for g in groups:
                gx0, gx1 = g[0].x0, max(w.x1 for w in g)
                if min(x1, gx1) - max(x0, gx0) > 0:
                    g.extend(lg)
                    break
            else:
                groups.append(list(lg))
    columns = []
    for g in groups:
        text = " ".join(w.text for w in g)
        if not any(c.isalnum() or c == "%" for c in text):
            continue  # a speck or a rule's remains read as "=" or "«": no heading
        low = text.lower().replace(" ", "")
        kind = "dv" if ("%" in low or "dailyvalue" in low or low == "dv") else "amount"
        columns.append(_Column(kind, min(w.x0 for w in g), max(w.x1 for w in g), text))
    return sorted(columns, key=lambda c: c.x0)


def _under_dv(item: _Item, columns: Sequence[_Column]) -> bool:
    """The item's cell stands under a %DV column heading (its centre within the heading's
    width) and is nearer that heading's centre than any other's."""
    nearest = min(columns, key=lambda c: abs(c.centre - item.x), default=None)
    if nearest is None or nearest.kind != "dv":
        return False
    slack = 0.1 * (nearest.x1 - nearest.x0)
    return nearest.x0 - slack <= item.x <= nearest.x1 + slack


@dataclass
class _Layout:
    columns: list[_Column]
    value_left: float | None  # x where the value columns start

    @property
    def amount_cols(self) -> list[_Column]:
        return [c for c in self.columns if c.kind == "amount"]

    @property
    def dv_cols(self) -> list[_Column]:
        return [c for c in self.columns if c.kind == "dv"]


_HEADING_UNIT_RE = re.compile(
    r"\((mg|mcg|µg|μg|g)\)|\b(mg|mcg|µg|μg|g)\s*/\s*serving\b|\b(mg|mcg|µg|μg)\s+per\s+serving\b",
    re.IGNORECASE,
)
_PER_SERVING_RE = re.compile(
    r"\bper\s+serving\b|^\s*amount\s*(?:\(\w+\))?\s*$|/\s*serving\b|^\s*\w+\s*/\s*serving|"
    r"\bper\s+daily\s+dose\b",
    re.IGNORECASE,
)
_PER_COUNT_RE = re.compile(
    rf"\bper\s+(?:daily\s+dose\s*\(\s*)?(?:(\d+(?:[.,]\d+)?)\s+)?({_SERVING_UNITS})\b",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(rf"(\d+(?:[.,]\d+)?)\s*({_SERVING_UNITS})\b", re.IGNORECASE)


def _unit_stem(unit: str) -> str:
    u = unit.lower()
    if u.endswith("ies"):
        return u[:-3] + "y"
    return u[:-1] if u.endswith("s") and len(u) > 2 else u


def _count(text: str | None) -> tuple[float, str] | None:
    """(quantity, unit) of a serving size: "2 Tablets" -> (2, "tablet"); "11g (1 scoop)"
    -> (11, "g")."""
    m = _COUNT_RE.search(text or "")
    return (float(m.group(1).replace(",", ".")), _unit_stem(m.group(2))) if m else None


def serving_column(headings: Sequence[str], serving_size: str | None) -> int | None:
    """Which of two or more amount column headings is per serving, or None when the
    headings do not say (the amounts are then not taken: a wrong column presented as
    right is the worst outcome).

    A heading that names a quantity of units ("Per Tablet", "Per 2 Capsules", "Amount
    Per 3 Tablets", "Per daily dose (2 capsules)") is per serving when it is the serving
    size's quantity; "Amount Per Serving", "Per Serving", "mg/serving" are per serving;
    "Per Day" and "Per 100 g" are not, unless they are the serving size.
    """
    serving = _count(serving_size)
    matches: list[int] = []
    explicit: list[int] = []
    for k, text in enumerate(headings):
        m = _PER_COUNT_RE.search(text)
        if m and _unit_stem(m.group(2)) != "serving":
            q = float(m.group(1).replace(",", ".")) if m.group(1) else 1.0
            if serving is not None and serving == (q, _unit_stem(m.group(2))):
                matches.append(k)
        elif _PER_SERVING_RE.search(text) or (m and m.group(1) is None):
            explicit.append(k)
    found = matches or explicit
    return found[0] if len(found) == 1 else None


def column_gutters(
    lines: Sequence[Sequence[Word]],
    rules: Sequence[float] = (),
    settings: ReaderSettings = SETTINGS,
) -> list[float]:
    """The x of each gutter that parts a panel's rows into column groups: an x gap
    (`group_gutter` text heights) or a vertical rule (x in `rules`) crossed by no word
    of the rows, with words on each side on enough lines, the lines right of it
    starting with a name (not a value), and amounts left of it."""
    words = [w for ln in lines for w in ln]
    if len(lines) < 2 or not words:
        return []
    h = statistics.median(_height(w) for w in words)
    spans = sorted((w.x0, w.x1) for w in words)
    gaps: list[float] = []
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= settings.group_gutter * h:
            gaps.append((reach + x0) / 2)
        reach = max(reach, x1)
    gaps += [x for x in rules if not any(x0 < x < x1 for x0, x1 in spans)]
    out: list[float] = []
    for g in sorted(set(gaps)):
        if parts_groups(lines, g, out[-1] if out else -1e9, settings):
            out.append(g)
    return out


def parts_groups(
    lines: Sequence[Sequence[Word]],
    g: float,
    lo: float = -1e9,
    settings: ReaderSettings = SETTINGS,
) -> bool:
    """Whether the gutter at x `g` (with the group before it starting at `lo`) parts
    `lines` into two column groups: words on each side on enough lines, the lines right
    of it starting with a name (not a value), and amounts left of it. (That no word
    crosses it is the caller's to check.)"""
    starts_name = right_lines = 0
    lefts: list[list[Word]] = []
    for ln in lines:
        left = [w for w in ln if lo < w.x0 and w.x1 < g]
        right = [w for w in ln if w.x0 > g]
        if right:
            right_lines += 1
            starts_name += not _VALUE_START_RE.match(right[0].text)
        if left:
            lefts.append(left)
    # each side on enough lines (the two groups' rows need not be level: OCR'd
    # groups whose names wrap on one side only give lines with one side alone)
    return bool(
        min(len(lefts), right_lines) >= settings.group_min_lines * len(lines)
        and right_lines
        and starts_name >= settings.group_names * right_lines
        and any(_trailing_amount_start(left) is not None for left in lefts)
    )


def _split_line(line: _Line, lo: float, hi: float) -> _Line | None:
    words = [w for w in line.words if lo <= (w.x0 + w.x1) / 2 < hi]
    return dataclasses.replace(line, words=words) if words else None


# --- rows -------------------------------------------------------------------------


@dataclass
class _LineRead:
    line: _Line
    name_words: list[Word]
    items: list[_Item]
    bad: str | None  # a value cell that could not be read
    indent: float = 0.0

    @property
    def name(self) -> str:
        return " ".join(w.text for w in self.name_words)

    @property
    def has_amount(self) -> bool:
        return any(i.kind == "amount" for i in self.items) or self.bad is not None


@dataclass
class _Entry:
    reads: list[_LineRead] = field(default_factory=list)
    parent: str | None = None
    indent: float = 0.0
    layout: _Layout | None = None  # the column group's layout

    @property
    def name_text(self) -> str:
        text = ""
        for read in self.reads:
            part = read.name
            if not part:
                continue
            if text.endswith("-") and text[-2:-1].isalpha():
                text += part
            else:
                text = f"{text} {part}" if text else part
        return text

    @property
    def items(self) -> list[_Item]:
        return [i for r in self.reads for i in r.items]

    @property
    def bad(self) -> str | None:
        return next((r.bad for r in self.reads if r.bad is not None), None)

    @property
    def has_amount(self) -> bool:
        return any(r.has_amount for r in self.reads)

    @property
    def open_paren(self) -> bool:
        text = self.name_text
        return text.count("(") > text.count(")")


def _row_pitch(diffs: Sequence[float]) -> float:
    """The top-to-top distance of one-line rows: the largest spacing that recurs
    (lines of a wrapped name are set closer than rows); 0 when unknown."""
    counts: dict[float, int] = {}
    for d in diffs:
        key = round(d * 2) / 2
        counts[key] = counts.get(key, 0) + 1
    common = [k for k, n in counts.items() if n >= max(2, 0.15 * len(diffs))]
    return max(common) if common else 0.0


def _layout(headers: Sequence[_Line], lines: Sequence[_Line]) -> _Layout:
    columns = _header_columns(headers)
    starts: list[float] = []
    for line in lines:
        i = _trailing_amount_start(line.words)
        if i is not None:
            starts.append(line.words[i].x0)
    value_left: float | None = min(starts) if starts else None
    if value_left is None and columns and lines:
        # a heading right of the names (not "Amount Per Serving" over the names)
        left = min(ln.x0 for ln in lines)
        h = statistics.median(ln.height for ln in lines)
        value_left = next(
            (c.x0 for c in columns if c.x0 > left + _S.wrapped_header_indent * h), None
        )
    if value_left is not None:
        # the names' own heading ("Main Ingredients") is no value column
        columns = [
            c
            for c in columns
            if c.x1 >= value_left or _HEADER_KEY_RE.search(c.text) or c.unit is not None
        ]
    return _Layout(columns, value_left)


def _place_amounts(
    amounts: list[_Item], columns: list[_Column]
) -> tuple[_Item | None, _Item | None]:
    if not amounts:
        return None, None
    if len(columns) >= 2:
        slots: list[_Item | None] = [None, None]
        for item in amounts:
            best = min(range(len(columns)), key=lambda k: abs(columns[k].centre - item.x))
            best = min(best, 1)
            if slots[best] is None:
                slots[best] = item
            elif best == 0 and slots[1] is None:
                slots[1] = item
        return slots[0], slots[1]
    return amounts[0], (amounts[1] if len(amounts) > 1 else None)


def _place_dv(
    dvs: list[_Item], dv_cols: list[_Column], amount_cols: list[_Column], k: int = 0
) -> str | None:
    """The %DV of amount column `k` (the per-serving one): the %DV column after it."""
    if not dvs:
        return None
    if len(amount_cols) >= 2 and len(dv_cols) >= 2:
        limit = (dv_cols[0].x1 + amount_cols[1].x0) / 2
        mine = [d for d in dvs if (d.x <= limit) == (k == 0)]
        return mine[0].dv if mine else None
    return dvs[0].dv
