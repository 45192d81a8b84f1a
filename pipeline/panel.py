"""Read Supplement Facts panels from positioned words (a PDF text layer or OCR).

The reader never sees a whole page as one string: it works from word positions.

0. Regions (label artwork). The page's graphics (`Box`: the boxes, bars and rules
   pdf.py keeps; OCR may pass none) bound each panel: the smallest box holding a
   "Supplement Facts" heading near its top is the panel's region (`panel_regions`). Its
   words are read as one block; the other words, when they stand in page columns
   (`text_columns`: a wrap's copy and statements), a block per column, before the panel
   (`page_blocks`). Inside a box, the box ends the panel, not a gap or a wider line; a
   bar or rule in a gap is a separator, never the panel's end.
1. Lines. Dot leaders and typed rules ("......", "-----") are dropped (`drop_leaders`).
   Without a box, a panel set in a column beside other text (marketing copy, another
   panel) is cut out of the page first (`split_side_column`). The words are grouped
   into lines by vertical overlap and each line is sorted left to right.
2. Panels. A line that starts with "Supplement Facts" opens a panel (a new `Label`,
   except "Supplement Facts (continued)"). The panel's preamble gives "Serving Size",
   "Servings Per Container" and the column headings ("Amount Per Serving", "Per Day",
   "% Daily Value", "%DV"; a heading wrapped onto a second line joins it). The panel's
   left edge is the heading's or, under a centred heading, the preamble's. The panel
   ends at a footnote ("* Daily Value not
   established"), at a statement ("Other ingredients:", "Suggested use:", "Warning:",
   ...), at a line wider than the panel or taller than its text, at a wide vertical
   gap, or at the next heading. A panel that reaches the end of a page goes on at the
   top of the next page.
3. Columns. The left edge of the value columns is measured from the lines whose
   trailing words, after a wide gap, read as an amount with a unit (and from the
   column headings). Words right of it are values, words left of it the name.
   Values are split into cells at wide gaps and each cell is read as an amount
   ("1,000 mg", "<1 mg", "100mcg", "25 mcg (1,000 IU)", "2 mcg RAE") or a %DV
   ("38%", "<1%", "*", "†"). Cells go to the nearest heading; with two amount
   columns the second one fills `amount_alt_raw`/`unit_alt_raw`.
   Column groups: rows continued in a second name / amount / %DV group (an x gap or a
   vertical rule crossed by no row word, names right of it, amounts left of it:
   `column_gutters`) are read group by group, in order. Which of two amount columns is
   per serving comes from the headings and the serving size (`serving_column`); when
   they do not say, no amount is taken and a read issue says why. A unit printed only
   in a heading ("mg/serving", "Amount (mg)") applies to the bare numbers under it. On
   a panel with decimal commas ("4,80 mg"), "1,250 mg" is unreadable, never guessed.
4. Rows. A line continues the row above when that row has an open parenthesis or
   ends with a joining word ("/", "and", "as", "from", ...), when it brings the
   amount to a name printed without one, or when it is set tighter than the row
   pitch. A line indented under a row is a member of that row (a blend); lines
   without amounts under a "... Blend"/"Complex"/"Formula" total are its members too
   (a comma-separated member paragraph gives one row per member), and so do the
   members run on after a total ("Proprietary Blend 415 mg: Guggul, Bitter Melon").
5. Text after the panel: "Other ingredients", directions ("Suggested use",
   "Directions", "Recommended use") and warnings ("Warning", "Caution", "Keep out of
   reach ...") go to the label.

Product name and brand (convention): among the lines above a panel (after the previous
panel's statements; for the first panel, every line before it, including earlier
pages), the product name is the tallest line (word height, bottom - top; a title
wrapped over consecutive lines of the same height is joined), if it is at least 1.2
times as tall as the panel's rows; the brand is the short line (at most 8 words, not
a sentence) right above that title, else a line right below it that starts with "by".
Without such a title the caller's `fallback_name` is used and the brand is None.

Every tolerance is a field of `ReaderSettings` (`SETTINGS`), in text heights.

A panel line whose amount cannot be read is kept (amount_raw None) and reported as a
`ReadIssue`; so is a name with no amount that is neither a blend member nor a blend
total.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.records import Label, LabelRow, ReadIssue, Word, bbox_fields
from pipeline.units import ambiguous_among_decimal_commas, shows_decimal_comma

# --- value grammar ---------------------------------------------------------------

_NUM = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+,\d{1,2}(?![\d,])|\d+,\d{4,}(?![\d,])|"
    r"\d+(?:\.\d+)?|\.\d+"
)
_BASE_UNIT = (
    r"mcg|µg|μg|ug|mg|kg|ng|g|gm|grams?|milligrams?|micrograms?|IU|I\.U\.|kcal|"
    r"Calories|Calorie|Cal|mL|ml|L|mEq|(?:billion|million)\s+CFU|CFU"
)
_UNIT_SUFFIX = r"RAE|DFE|NE|AT|α-TE|TE|GAE"
_UNIT = rf"(?:{_BASE_UNIT})(?:\s+(?:{_UNIT_SUFFIX}))?(?![A-Za-z0-9])"
_MARKS = r"[*†‡]+"
_AMOUNT_RE = re.compile(
    rf"(?P<op>(?:<|>|≤|≥)\s*)?(?P<num>{_NUM})(?![\d,.])\s*(?P<unit>{_UNIT})?"
    rf"(?:\s*\((?P<alt>[^()]+)\))?(?P<mark>{_MARKS})?",
    re.IGNORECASE,
)
_PCT_RE = re.compile(rf"(?:(?:<|>)\s*)?(?:{_NUM})\s*%\s*(?:{_MARKS})?")
_MARK_RE = re.compile(rf"{_MARKS}|[—–]")
_ALT_RE = re.compile(rf"(?:{_NUM})\s*(?:{_UNIT})", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"\d")
_LEADER = r"[.·…_]"
_RULE_WORD_RE = re.compile(r"[.·…_\-–—=~]{3,}")
_GLUED_LEADER_RE = re.compile(rf"{_LEADER}{{3,}}(?=[^.·…_])|(?<=[^.·…_]){_LEADER}{{3,}}")

# --- line vocabulary --------------------------------------------------------------

_STATEMENT_RE = re.compile(
    r"^(?:other\s+ingredients?|ingredients\s*(?:\([^)]*\)\s*)?:|suggested\s+use|suggested\s+usage|"
    r"directions|recommended\s+use|recommended\s+dose|dosage\s*:|warnings?\b|caution\b|"
    r"keep\s+out\s+of\s+(?:the\s+)?reach|contains\s*:|store\b|storage\b|"
    r"these\s+statements|manufactured\s+(?:by|for)|distributed\s+by)",
    re.IGNORECASE,
)
_OTHER_RE = re.compile(
    r"^(?:other\s+ingredients?|ingredients)\s*(?:\([^)]*\)\s*)?[:.]?\s*", re.IGNORECASE
)
_DIRECTIONS_RE = re.compile(
    r"^(?:suggested\s+use|suggested\s+usage|directions(?:\s+for\s+use)?|recommended\s+use|"
    r"recommended\s+dose|dosage)\s*[:.]?\s*",
    re.IGNORECASE,
)
_WARNING_PREFIX_RE = re.compile(r"^warnings?\s*[:.]?\s*", re.IGNORECASE)
_WARNING_KEEP_RE = re.compile(r"^(?:caution\b|keep\s+out\s+of)", re.IGNORECASE)
_FOOTNOTE_RE = re.compile(
    r"daily\s+values?\s+(?:not|are|is|has)|not\s+established|percent\s+daily\s+values?|"
    r"based\s+on\s+a\s+2,?000",
    re.IGNORECASE,
)
_SERVING_SIZE_RE = re.compile(r"^serving\s+size\s*[:.\-–—]?\s*", re.IGNORECASE)
_SERVINGS_PER_RE = re.compile(
    r"servings?\s+per\s+(?:container|package|bottle|pack|jar|tube|box)\s*[:.\-–—]?\s*",
    re.IGNORECASE,
)
_SERVING_UNITS = (
    r"tablets?|capsules?|caps|softgels?|gel\s*caps?|vegcaps?|gumm(?:y|ies)|lozenges?|chewables?|"
    r"scoops?|drops?|packets?|sachets?|sticks?|pieces?|servings?|wafers?|chews?|pills?|"
    r"teaspoons?|tablespoons?|ml|g"
)
_HEADER_KEY_RE = re.compile(
    r"\bamount\b|daily\s+value|%\s*dv\b|\bper\s+day\b|\bper\s+serving\b|"
    r"\bper\s+\d[\d.,]*\s+\w+|%\s*nrv\b|\bnrv\b|\bper\s+daily\s+dose\b|/\s*serving\b|"
    rf"\bper\s+(?:{_SERVING_UNITS})\b",
    re.IGNORECASE,
)
_BLEND_RE = re.compile(
    r"\b(?:blend|complex|formula|matrix|proprietary|mix|mixture|technology|system)\b",
    re.IGNORECASE,
)
_CONNECTOR_END_RE = re.compile(r"(?:[/,&(+-]|\b(?:and|or|as|from|with|of|in|plus))$", re.I)
_SOURCE_PAREN_RE = re.compile(r"^(?:as|from)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class ReaderSettings:
    """Every tolerance of the panel reader, in text heights (a word's or a line's height,
    bottom - top) unless it says otherwise, so one reader serves a 6 pt PDF and a 2,000 px
    photo alike."""

    line_overlap: float = 0.5  # share of the shorter height two words overlap to share a line
    cell_gap: float = 0.75  # x gap that separates table cells
    indent: float = 0.6  # x offset that counts as an indent
    end_gap: float = 2.6  # vertical gap (in line heights) that ends an unboxed panel
    title_ratio: float = 1.2  # a product name is this much taller than the panel's rows
    heading_pair_gap: float = 1.5  # most x gap between "Supplement" and "Facts"
    heading_pair_dy: float = 0.3  # most top offset between "Supplement" and "Facts"
    side_gutter: float = 2.0  # x gap on the heading's line that may part two page columns
    header_word_gap: float = 1.0  # x gap that parts two column headings on one line
    wrapped_header_indent: float = 2.0  # a wrapped heading line starts this far right
    wrapped_header_gap: float = 0.8  # most vertical gap to the heading line it continues
    taller_line: float = 1.3  # a line this much taller than the rows ends an unboxed panel
    stray_confidence: float = 50.0  # a lone short word below this (OCR %) is a rule or speck
    panel_edge: float = 2.0  # a line this far outside the panel's x range ends it
    value_left_slack: float = 0.3  # a value word may start this far left of its column
    statement_gap: float = 1.2  # most vertical gap between lines of one statement
    statement_height: float = 0.2  # most relative height change within one statement
    box_min_height: float = 4.0  # a panel box is at least this tall (heading heights)
    box_min_width: float = 8.0  # and this wide (heading heights)
    box_margin: float = 0.3  # words this far outside a box's edge still count as inside
    box_reach: float = 3.0  # a panel's heading is at most this far below its box's top
    group_gutter: float = 1.0  # an x gap crossed by no body word that may part column groups
    group_min_lines: float = 0.3  # share of body lines with words on both sides of the gutter
    group_names: float = 0.6  # share of the right side's lines that start with a name
    rule_width: float = 0.5  # a vertical rule is at most this wide (page's median text height)


SETTINGS = ReaderSettings()
_S = SETTINGS
_LINE_OVERLAP = _S.line_overlap
_CELL_GAP = _S.cell_gap
_INDENT = _S.indent
_END_GAP = _S.end_gap
_TITLE_RATIO = _S.title_ratio


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
        m = _AMOUNT_RE.match(text, pos)
        if m and (m.end() == len(text) or text[m.end()].isspace()):
            alt = m.group("alt")
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
    of the rows, with words on both sides on enough lines, the lines right of it
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
        lo = out[-1] if out else -1e9
        both = starts_name = right_lines = 0
        lefts: list[list[Word]] = []
        for ln in lines:
            left = [w for w in ln if lo < w.x0 and w.x1 < g]
            right = [w for w in ln if w.x0 > g]
            if right:
                right_lines += 1
                starts_name += not _VALUE_START_RE.match(right[0].text)
            both += bool(left and right)
            if left:
                lefts.append(left)
        if (
            both >= settings.group_min_lines * len(lines)
            and right_lines
            and starts_name >= settings.group_names * right_lines
            and any(_trailing_amount_start(left) is not None for left in lefts)
        ):
            out.append(g)
    return out


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


def split_name(text: str) -> tuple[str, str | None, str | None]:
    """(name, form, marker) from a printed ingredient name.

    "(as ...)"/"(from ...)" parentheses give the form; other parentheses stay in the
    name; a trailing footnote marker ("Royal Jelly†") is returned separately.
    """
    marker = None
    m = re.search(rf"\s*({_MARKS})$", text)
    if m:
        marker = m.group(1)
        text = text[: m.start()]
    name_parts: list[str] = []
    forms: list[str] = []
    depth = 0
    start = 0
    buf = ""
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
                name_parts.append(buf)
                buf = ""
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : i].strip()
                if _SOURCE_PAREN_RE.match(inner):
                    forms.append(_SOURCE_PAREN_RE.sub("", inner).strip())
                else:
                    name_parts.append(text[start : i + 1])
            continue
        if depth == 0:
            buf += ch
    if depth > 0:  # an unclosed parenthesis: keep it as printed
        buf += text[start:]
    name_parts.append(buf)
    name = re.sub(r"\s+", " ", "".join(name_parts)).strip()
    name = re.sub(r"\s+([,.;:])", r"\1", name).strip(" ,;:")
    form = ", ".join(f for f in forms if f) or None
    return name, form, marker


def _split_members(text: str) -> list[str]:
    """A comma-separated member list split at commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    buf = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip().rstrip("."))
    return [p for p in parts if p]


_INLINE_BLEND_RE = re.compile(
    rf"^(?P<name>[^:]*?[A-Za-z)][^:]*?)\s+"
    rf"(?P<amount>(?:<\s*)?(?:{_NUM})\s*(?:{_UNIT}))\s*:\s*(?P<members>.+)$",
    re.IGNORECASE,
)
_NO_AMOUNT_RE = re.compile(r"^(?:NP|N/?A|not\s+present|[—–-])$", re.IGNORECASE)


def _running_text(name_words: Sequence[Word], value_words: Sequence[Word], h: float) -> bool:
    """Words in the value columns that continue running text (a blend's members set over
    the panel's width): no digit, no %DV mark, set a space after the name words."""
    text = " ".join(w.text for w in value_words)
    if _NO_AMOUNT_RE.match(text) or not re.search(r"[A-Za-z]{2}", text):
        return False
    if any(
        _HAS_DIGIT.search(w.text) or "%" in w.text or _MARK_RE.fullmatch(w.text)
        for w in value_words
    ):
        return False
    return not name_words or value_words[0].x0 - name_words[-1].x1 < _CELL_GAP * h


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


def _is_stray_mark(line: _Line) -> bool:
    """Short words without digits, read with low confidence: not text of the panel."""
    return len(line.words) <= 2 and all(
        len(w.text) <= 3
        and not _HAS_DIGIT.search(w.text)
        and w.confidence is not None
        and w.confidence < _S.stray_confidence
        for w in line.words
    )


def _is_header_line(line: _Line) -> bool:
    return bool(_HEADER_KEY_RE.search(line.text)) and not _SERVING_SIZE_RE.match(line.text)


def _is_footnote(line: _Line) -> bool:
    first = line.words[0].text
    text = line.text
    if first[0] in "*†‡" and any(c.isalpha() for c in text):
        return True
    return bool(_FOOTNOTE_RE.search(text))


class _Reader:
    def __init__(
        self,
        pages: Sequence[Sequence[Word]],
        source_file: str,
        fallback_name: str,
        source_format: str,
        graphics: Sequence[Sequence[Box]] | None = None,
    ) -> None:
        self.source_file = source_file
        self.fallback_name = fallback_name
        self.source_format = source_format
        self.repairs: Mapping[Word, str] = {}  # OCR repairs by word (pipeline.sources.ocr)
        self.lines: list[_Line] = []
        self.bars: dict[int, list[Box]] = {}  # flat graphics by page: separators, not gaps
        self.vrules: dict[int, list[Box]] = {}  # vertical rules by page: may part column groups
        region_id = 0
        for page_no, words in enumerate(pages, start=1):
            boxes = graphics[page_no - 1] if graphics and page_no <= len(graphics) else ()
            self.bars[page_no] = [b for b in boxes if b.height < b.width]
            page_h = statistics.median(_height(w) for w in words) if words else 1.0
            self.vrules[page_no] = [
                b for b in boxes if b.width < _S.rule_width * page_h and b.height > b.width
            ]
            for block, region in page_blocks(drop_leaders(words), boxes):
                region_id += region is not None
                for ws in group_lines(block):
                    self.lines.append(
                        _Line(
                            ws,
                            ws[0].page if ws[0].page else page_no,
                            region_id if region is not None else None,
                            bool(region and region.boxed),
                        )
                    )
        self.labels: list[Label] = []
        self.rows: list[LabelRow] = []
        self.issues: list[ReadIssue] = []

    # -- panels --

    def _find_panels(self) -> list[_Panel]:
        panels: list[_Panel] = []
        pos = 0
        n = len(self.lines)
        while pos < n:
            is_head, continued = _is_heading(self.lines[pos])
            if not is_head:
                pos += 1
                continue
            heading = self.lines[pos]
            if continued and panels:
                panel = panels[-1]
            else:
                panel = _Panel(len(panels), [], [], pos, pos + 1)
                panels.append(panel)
            if heading.page not in panel.pages:
                panel.pages.append(heading.page)
            pos = self._read_panel_lines(panel, pos + 1, heading)
        return panels

    def _read_panel_lines(self, panel: _Panel, pos: int, heading: _Line) -> int:
        n = len(self.lines)
        left = heading.x0
        right = heading.x1
        in_pre = not panel.lines
        body_heights: list[float] = []
        prev: _Line | None = heading
        region = heading.region
        while pos < n:
            line = self.lines[pos]
            if _is_heading(line)[0] or line.region != region:
                break
            text = line.text
            nxt = self.lines[pos + 1] if pos + 1 < n else None
            if (
                in_pre
                and nxt is not None
                and nxt.region == region
                and _is_header_line(nxt)
                and _is_stray_mark(line)
            ):
                pos += 1  # a rule or a speck read as a short word above the column headings
                continue
            if in_pre and _is_header_line(line):
                panel.headers.append(line)
            elif (
                in_pre
                and nxt is not None
                and nxt.region == region
                and _is_header_line(nxt)
                and not _AMOUNT_IN_TEXT.search(text)
                and not _SERVING_SIZE_RE.match(text)
                and not _SERVINGS_PER_RE.match(text)
                and line.x0 > left + _S.wrapped_header_indent * line.height
                and nxt.top - line.bottom <= _S.wrapped_header_gap * line.height
            ):
                panel.headers.append(line)  # the first line of a heading wrapped: "Per 2"
            elif (
                in_pre
                and panel.headers
                and prev is panel.headers[-1]
                and not _HAS_DIGIT.search(text)
                and line.x0 > left + 2.0 * line.height
                and line.top - prev.bottom <= 0.8 * line.height
            ):
                panel.headers.append(line)  # a column heading wrapped: "Amount Per" "Serving"
            if in_pre and (
                _SERVING_SIZE_RE.match(text)
                or _SERVINGS_PER_RE.match(text)
                or (panel.headers and panel.headers[-1] is line)
            ):
                panel.pre.append(line)
                right = max(right, line.x1)
                left = min(left, line.x0)  # under a centred heading
                prev = line
                pos += 1
                continue
            if _STATEMENT_RE.match(text) or _is_footnote(line):
                break
            ref_h = statistics.median(body_heights) if body_heights else heading.height * 0.8
            if (
                not line.boxed
                and prev is not None
                and line.page == prev.page
                and line.top - prev.bottom > _END_GAP * max(ref_h, line.height)
                and not self._bar_between(line.page, prev.bottom, line.top)
            ):
                break
            if not line.boxed and body_heights and line.height > _S.taller_line * ref_h:
                break
            tol = _S.panel_edge * line.height
            if not line.boxed and (
                line.x0 < left - tol or (line.x1 > right + tol and body_heights)
            ):
                if abs(line.x0 - left) <= tol and _AMOUNT_IN_TEXT.search(line.text):
                    panel.cut_at = line  # starts like a panel row: text beside the panel?
                break
            in_pre = False
            panel.lines.append(line)
            body_heights.append(line.height)
            right = max(right, line.x1)
            if line.page not in panel.pages:
                panel.pages.append(line.page)
            prev = line
            pos += 1
        panel.end_pos = pos
        return pos

    def _bar_between(self, page: int, top: float, bottom: float) -> bool:
        """A bar or rule lies in the vertical gap from `top` to `bottom` (a separator)."""
        return any(top - 1 <= b.top and b.bottom <= bottom + 1 for b in self.bars.get(page, []))

    # -- columns --

    def _layout(self, headers: Sequence[_Line], lines: Sequence[_Line]) -> _Layout:
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

    def _read_line(self, line: _Line, layout: _Layout, name_left: float) -> _LineRead:
        words = line.words
        h = line.height
        if layout.value_left is not None:
            left = layout.value_left - _S.value_left_slack * h
            split = next((i for i, w in enumerate(words) if w.x0 >= left), len(words))
        else:
            start = _trailing_amount_start(words)
            split = start if start is not None else len(words)
        name_words, value_words = list(words[:split]), list(words[split:])
        if value_words and _running_text(name_words, value_words, h):
            name_words, value_words = name_words + value_words, []  # blend members as text
        if value_words and _parse_cell(_cell_text(_cells(value_words)[0]), 0.0) is None:
            # a garbled amount may start left of the column (right-aligned, wider)
            while (
                len(name_words) > 1
                and _HAS_DIGIT.search(name_words[-1].text)
                and value_words[0].x0 - name_words[-1].x1 < _CELL_GAP * h
            ):
                value_words.insert(0, name_words.pop())
        alone = (
            _parse_cell(" ".join(w.text for w in name_words), name_words[0].x0)
            if name_words
            else None
        )
        if alone and any(i.kind == "amount" and i.unit for i in alone):
            # a line that is only an amount ("9240mg †" under a blend's name), left of
            # the value column: values, not a name
            name_words, value_words = [], name_words + value_words
        items: list[_Item] = []
        bad: str | None = None
        for cell in _cells(value_words):
            text = _cell_text(cell)
            parsed = _parse_cell(text, _cell_x(cell))
            if parsed is None:
                if bad is None:
                    bad = text
                continue
            items.extend(parsed)
        no_amount = not any(i.kind == "amount" for i in items)
        if bad is None and layout.value_left is None and not items and name_words:
            # no column layout: a garbled amount at the end of the line
            last = name_words[-1]
            if _HAS_DIGIT.search(last.text) and re.search(rf"(?:{_BASE_UNIT})$", last.text, re.I):
                bad = last.text
                name_words = name_words[:-1]
        if bad is None and no_amount and name_words:
            cells = _cells(name_words)
            if len(cells) >= 2 and _HAS_DIGIT.search(_cell_text(cells[1])):
                # values after a wide gap, left of the first value column: amounts, or
                # a garbled amount when they read as nothing
                trailing = [_parse_cell(_cell_text(c), _cell_x(c)) for c in cells[1:]]
                if all(t is not None for t in trailing):
                    items = [i for t in trailing if t for i in t] + items
                else:
                    bad = " ".join(_cell_text(c) for c in cells[1:])
                name_words = list(cells[0])
        indent = (name_words[0].x0 - name_left) if name_words else 0.0
        return _LineRead(line, name_words, items, bad, indent)

    # -- rows --

    def _group_entries(self, reads: list[_LineRead]) -> list[_Entry]:
        pitches = [
            b.line.top - a.line.top
            for a, b in itertools.pairwise(reads)
            if a.line.page == b.line.page and b.line.top > a.line.top
        ]
        pitch = _row_pitch(pitches)
        entries: list[_Entry] = []
        flat_list = False  # after a blend total: a list of members without amounts
        for read in reads:
            h = read.line.height
            tol = _INDENT * h
            prev = entries[-1] if entries else None
            if prev is not None and not read.name_words:
                # a line of values only (an amount set between two name lines)
                target = prev if not prev.has_amount else None
                if target is not None:
                    target.reads.append(read)
                    if (
                        read.has_amount
                        and target.reads[0].indent <= tol
                        and _BLEND_RE.search(target.name_text)
                    ):
                        flat_list = True  # a blend total: its members follow unindented
                    continue
            if prev is not None:
                last = prev.reads[-1]
                same_page = last.line.page == read.line.page
                tight = same_page and pitch > 0 and read.line.top - last.line.top < 0.8 * pitch
                prev_first = prev.reads[0]
                aligned_or_hanging = read.indent >= prev_first.indent - tol
                cont = False
                starts_paren = bool(read.name_words) and read.name_words[0].text[:1] in "()"
                if (
                    prev.open_paren
                    or _CONNECTOR_END_RE.search(prev.name_text)
                    or starts_paren
                    or (tight and aligned_or_hanging)
                ):
                    cont = True
                elif not prev.has_amount and read.has_amount:
                    # a name printed without an amount, its amount on the next line:
                    # only for a top-level name (not a blend member or a blend total)
                    cont = (
                        abs(read.indent - prev_first.indent) <= tol
                        and prev_first.indent <= tol
                        and not flat_list
                        and not _BLEND_RE.search(prev.name_text)
                    )
                elif (
                    prev.has_amount
                    and not read.has_amount
                    and abs(read.indent - prev_first.indent) <= tol
                    and not _BLEND_RE.search(prev.name_text)
                ):
                    first = read.name_words[0].text
                    cont = first[:1].islower() or first.startswith(")")
                if (
                    not cont
                    and not read.has_amount
                    and _INLINE_BLEND_RE.match(prev.name_text)
                    and not prev.name_text.rstrip().endswith(".")
                ):
                    cont = True  # the members of "Blend 415 mg: A, B," run on
                if cont and read.has_amount and prev.has_amount:
                    cont = False
                if cont:
                    prev.reads.append(read)
                    continue
            entries.append(_Entry([read], indent=read.indent))
            if read.has_amount or read.indent > tol:
                flat_list = (
                    read.has_amount and read.indent <= tol and bool(_BLEND_RE.search(read.name))
                ) or (flat_list and read.indent > tol)
        return entries

    def _assign_parents(self, entries: list[_Entry]) -> list[tuple[_Entry, str | None, bool, bool]]:
        """(entry, parent, is a blend total, is a member of a non-indented list) in order."""
        out: list[tuple[_Entry, str | None, bool, bool]] = []
        stack: list[tuple[float, str, int]] = []  # (indent, name, index in out)
        flat_blend: str | None = None  # a blend total whose members are not indented
        for entry in entries:
            name, _, _ = split_name(entry.name_text)
            h = entry.reads[0].line.height
            while stack and stack[-1][0] >= entry.indent - _INDENT * h:
                stack.pop()
            parent = stack[-1][1] if stack else None
            flat = False
            if parent is not None:
                idx = stack[-1][2]
                prev_entry, prev_parent, _, prev_flat = out[idx]
                out[idx] = (prev_entry, prev_parent, True, prev_flat)
            if parent is None and not entry.has_amount and flat_blend is not None:
                parent = flat_blend
                flat = True
            if parent is None and entry.has_amount:
                flat_blend = name if _BLEND_RE.search(name) else None
            out.append((entry, parent, False, flat))
            stack.append((entry.indent, name, len(out) - 1))
        return out

    def _groups(self, panel: _Panel) -> list[tuple[list[_Line], list[_Line]]]:
        """The panel's column groups, left to right: (heading lines, row lines) of each."""
        rules = []
        if panel.lines:
            top, bottom = panel.lines[0].top, panel.lines[-1].bottom
            rules = [
                (b.x0 + b.x1) / 2
                for b in self.vrules.get(panel.lines[0].page, [])
                if b.top <= top + panel.lines[0].height
                and b.bottom >= bottom - panel.lines[-1].height
            ]
        edges = [-1e9, *column_gutters([ln.words for ln in panel.lines], rules), 1e9]
        if len(edges) == 2:
            return [(panel.headers, panel.lines)]
        out = []
        for lo, hi in itertools.pairwise(edges):
            headers = [p for ln in panel.headers if (p := _split_line(ln, lo, hi))]
            parts = [p for ln in panel.lines if (p := _split_line(ln, lo, hi))]
            if not parts:
                continue
            # the group's own lines: rows of two groups need not be level with each other
            first = parts[0]
            lines = [
                dataclasses.replace(first, words=ws, page=page)
                for page in sorted({p.page for p in parts})
                for ws in group_lines([w for p in parts if p.page == page for w in p.words])
            ]
            out.append((headers, lines))
        return out

    def _read_panel(self, panel: _Panel) -> None:
        groups = self._groups(panel)
        entries: list[_Entry] = []
        layouts: list[_Layout] = []
        for headers, lines in groups:
            layout = self._layout(headers, lines)
            name_left = min(
                (ln.x0 for ln in lines if ln.x0 < (layout.value_left or 1e9)),
                default=0.0,
            )
            reads = [self._read_line(ln, layout, name_left) for ln in lines]
            for entry in self._group_entries(reads):
                entry.layout = layout
                entries.append(entry)
            layouts.append(layout)
        layout = layouts[0] if layouts else _Layout([], None)
        amount_cols = layout.amount_cols
        serving_size, servings = self._serving(panel, layout)
        label_index = len(self.labels)
        heads = [c.text for c in amount_cols]
        per_serving = 0 if len(heads) < 2 else serving_column(heads, serving_size)
        if per_serving is None:
            self._issue(
                label_index,
                panel.pages[0] if panel.pages else None,
                None,
                f"page {panel.pages[0] if panel.pages else '?'}: two amount columns "
                f"({' | '.join(heads)}) and the headings do not say which is per serving "
                f"(serving size {serving_size or 'not printed'}): their amounts were not taken",
                blocks_verdict=True,
            )
        comma_panel = any(
            shows_decimal_comma(i.amount) for e in entries for i in e.items if i.amount
        )
        line_no = 0
        confidences: list[float] = []
        for entry, parent, is_total, flat in self._assign_parents(entries):
            e_layout = entry.layout or layout
            amount_cols = e_layout.amount_cols
            dv_cols = e_layout.dv_cols
            raw = " ".join(r.line.text for r in entry.reads)
            page = entry.reads[0].line.page
            box = bbox_fields(w for r in entry.reads for w in r.line.words if w.page == page)
            conf_values = [
                w.confidence for r in entry.reads for w in r.line.words if w.confidence is not None
            ]
            confidences.extend(conf_values)
            confidence = min(conf_values) if conf_values else None
            fixes = [
                self.repairs[w] for r in entry.reads for w in r.line.words if w in self.repairs
            ]
            name, form, marker = split_name(entry.name_text)
            amounts = [i for i in entry.items if i.kind == "amount"]
            inline = None if amounts else _INLINE_BLEND_RE.match(entry.name_text)
            if inline is not None:
                # "Proprietary Blend 415 mg: Guggul, Bitter Melon": the total, then
                # members without amounts
                parsed = _parse_cell(inline.group("amount"), 0.0) or []
                blend = split_name(inline.group("name"))[0]
                total = next((i for i in parsed if i.kind == "amount"), None)
                for k, member in enumerate(["", *_split_members(inline.group("members"))]):
                    line_no += 1
                    m_name, m_form, m_marker = split_name(member) if k else (blend, None, None)
                    self.rows.append(
                        LabelRow(
                            source_file=self.source_file,
                            label_index=label_index,
                            line_no=line_no,
                            name_raw=m_name,
                            amount_raw=total.amount if total and not k else None,
                            unit_raw=total.unit if total and not k else None,
                            dv_raw=m_marker,
                            form_raw=m_form,
                            parent=blend if k else parent,
                            page=page,
                            raw_text=raw,
                            confidence=confidence,
                            repairs="; ".join(fixes) or None,
                            **box,
                        )
                    )
                continue
            dvs = [i for i in entry.items if i.kind == "dv"]
            under_dv = [i for i in amounts if i.unit is None and _under_dv(i, e_layout.columns)]
            if under_dv:
                # a bare number under the % Daily Value heading is a %DV, not an amount
                amounts = [i for i in amounts if i not in under_dv]
                dvs = [*dvs, *(_Item("dv", i.x, dv=f"{i.amount}%") for i in under_dv)]
                dvs.sort(key=lambda i: i.x)
            first, second = self._place_amounts(amounts, amount_cols)
            dv = self._place_dv(dvs, dv_cols, amount_cols, per_serving or 0)
            if per_serving == 1:
                first, second = second, first
            elif per_serving is None:
                first = second = None
                dv = None
            if dv is None and marker is not None:
                dv = marker
            bad = entry.bad
            for item, col in ((first, 0), (second, 1)):
                if item is not None and item.unit is None and len(amount_cols) > col:
                    slot = col if per_serving != 1 else 1 - col
                    item.unit = amount_cols[min(slot, len(amount_cols) - 1)].unit
            if (
                bad is None
                and comma_panel
                and first is not None
                and first.amount
                and ambiguous_among_decimal_commas(first.amount)
            ):
                bad = f"{first.amount} {first.unit or ''}".strip()
                bad += " (decimal commas elsewhere on the panel: 1,250 could be 1.25 or 1250)"
                first = None
            members = [name]
            if (flat or (parent is not None and first is None and second is None)) and (
                "," in name and form is None
            ):
                members = _split_members(entry.name_text)
            for member in members:
                line_no += 1
                m_name, m_form, m_marker = (
                    (name, form, marker) if len(members) == 1 else split_name(member)
                )
                self.rows.append(
                    LabelRow(
                        source_file=self.source_file,
                        label_index=label_index,
                        line_no=line_no,
                        name_raw=m_name,
                        amount_raw=first.amount if first else None,
                        unit_raw=first.unit if first else None,
                        dv_raw=dv if len(members) == 1 else m_marker,
                        form_raw=m_form,
                        parent=parent,
                        amount_alt_raw=second.amount if second else None,
                        unit_alt_raw=second.unit if second else None,
                        alt_amounts_raw=first.alt if first else None,
                        page=page,
                        raw_text=raw,
                        confidence=confidence,
                        repairs="; ".join(fixes) or None,
                        **box,
                    )
                )
            where = f"page {page}, line {line_no}"
            if bad is not None:
                self._issue(
                    label_index,
                    page,
                    line_no,
                    f"{where}: amount '{bad}' of '{name}' could not be read",
                )
            elif per_serving is None:
                pass
            elif first is None and second is None and parent is None and not is_total:
                self._issue(
                    label_index,
                    page,
                    line_no,
                    f"{where}: no amount found for '{name}' (read as '{raw}')",
                )
        if panel.cut_at is not None:
            cut = panel.cut_at
            self._issue(
                label_index,
                cut.page,
                line_no + 1,
                f"page {cut.page}: the panel stops at '{cut.text}', which runs past the panel's "
                "right edge: lines after it were not read (a panel continued in a second column, "
                "or text printed beside the panel?)",
            )
        panel_conf = statistics.mean(confidences) if confidences else None
        self._make_label(panel, layout.amount_cols, serving_size, servings, panel_conf)

    @staticmethod
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

    @staticmethod
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

    # -- label text --

    def _serving(self, panel: _Panel, layout: _Layout) -> tuple[str | None, str | None]:
        """(serving size, servings per container) from the panel's preamble."""
        serving_size = None
        servings = None
        for line in panel.pre:
            value_words = line.words
            if layout.value_left is not None:
                value_words = [w for w in line.words if w.x1 <= layout.value_left] or line.words
            text = " ".join(w.text for w in value_words)
            if _SERVING_SIZE_RE.match(line.text) and (
                not _SERVING_SIZE_RE.match(text) or _SERVINGS_PER_RE.search(line.text)
            ):
                text = line.text  # the serving line runs over the value columns
            m = _SERVINGS_PER_RE.search(text)
            if _SERVING_SIZE_RE.match(text):
                rest = _SERVING_SIZE_RE.sub("", text)
                if m:
                    m2 = _SERVINGS_PER_RE.search(rest)
                    if m2:
                        servings = rest[m2.end() :].strip() or None
                        rest = rest[: m2.start()]
                serving_size = rest.strip(" |;,") or None
            elif m:
                servings = text[m.end() :].strip() or None
        return serving_size, servings

    def _make_label(
        self,
        panel: _Panel,
        amount_cols: list[_Column],
        serving_size: str | None,
        servings: str | None,
        confidence: float | None,
    ) -> None:
        headings = None
        if len(amount_cols) >= 2:
            headings = " | ".join(c.text for c in amount_cols)
        pages = sorted(set(panel.pages))
        pages_text = str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"
        self.labels.append(
            Label(
                source_file=self.source_file,
                label_index=len(self.labels),
                product_name="",
                serving_size=serving_size,
                servings_per_container=servings,
                source_format=self.source_format,
                pages=pages_text,
                amount_columns=headings,
                ocr_confidence=confidence,
            )
        )

    def _statements(self, lines: list[_Line]) -> tuple[dict[str, list[str]], list[_Line]]:
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

    def _title(self, head: list[_Line], body_height: float) -> tuple[str | None, str | None]:
        candidates = [ln for ln in head if not _is_heading(ln)[0]]
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
        title = " ".join(ln.text for ln in candidates[idx:end])
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
                brand = above.text
        if brand is None and end < len(candidates):
            below = candidates[end]
            if below.text.lower().startswith("by ") and len(below.words) <= 8:
                brand = below.text[3:].strip()
        return title, brand

    def read(self) -> None:
        panels = self._find_panels()
        for panel in panels:
            self._read_panel(panel)
        for i, panel in enumerate(panels):
            next_start = panels[i + 1].heading_pos if i + 1 < len(panels) else len(self.lines)
            tail = self.lines[panel.end_pos : next_start]
            statements, _ = self._statements(tail)
            if len(panels) == 1:
                # one product: its statements are wherever they stand (a wrap prints
                # directions and warnings in another column, before or after the panel)
                before, _ = self._statements(self.lines[: panel.heading_pos])
                for kind, texts in before.items():
                    statements[kind] = [t for t in texts if t not in statements[kind]] + statements[
                        kind
                    ]
            if i == 0:
                head = self.lines[: panel.heading_pos]
            else:
                prev = panels[i - 1]
                prev_tail = self.lines[prev.end_pos : panel.heading_pos]
                _, head = self._statements(prev_tail)
            heights = [ln.height for ln in panel.lines] or [1.0]
            title, brand = self._title(head, statistics.median(heights))
            label = self.labels[i]
            self.labels[i] = Label(
                **{
                    **label.__dict__,
                    "product_name": title or self.fallback_name,
                    "brand": brand if title else None,
                    "other_ingredients": " ".join(statements["other"]),
                    "directions": " ".join(statements["directions"]),
                    "warnings": " ".join(statements["warnings"]),
                    "footnotes": _footnotes(tail),
                }
            )

    def _issue(
        self,
        label_index: int,
        page: int | None,
        line_no: int | None,
        detail: str,
        *,
        blocks_verdict: bool = False,
    ) -> None:
        self.issues.append(
            ReadIssue(self.source_file, label_index, page, line_no, detail, blocks_verdict)
        )


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


def words_to_labels(
    pages: Sequence[Sequence[Word]],
    source_file: str,
    *,
    fallback_name: str,
    source_format: str,
    repairs: Mapping[Word, str] | None = None,
    graphics: Sequence[Sequence[Box]] | None = None,
) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    """The labels, panel rows and read issues in the positioned words of a document.

    `pages` holds the words of each page in page order. No "Supplement Facts" heading
    gives three empty lists (the caller decides what that means). `repairs` maps a
    word to the OCR repair made to it ("meg->mcg"): a row's `repairs` lists those of
    its words, joined with "; ". `graphics` holds the boxes, bars and rules of each page
    (`Box`, in the words' coordinates; none when omitted): they bound the panels and
    separate rows, never end a panel early.
    """
    reader = _Reader(pages, source_file, fallback_name, source_format, graphics)
    reader.repairs = repairs or {}
    reader.read()
    return reader.labels, reader.rows, reader.issues
