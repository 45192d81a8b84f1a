"""OCR words: Tesseract's TSV parsed (`OcrWord`), glued or split words mended, misreads of
panel values repaired where safe (`repair_line`, the repair tables), pixels turned into
the panel reader's positioned words (`ocr_words_to_words`), and the text beside a panel
left out (`panel_words`). No OCR engine or image is involved here."""

from __future__ import annotations

import csv
import io
import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.records import Word
from pipeline.sources.ocr_serving import fix_serving_units

# --- repairs (data) -----------------------------------------------------------------

#: OCR misreads of a unit printed right after a number -> the unit.
UNIT_REPAIRS: dict[str, str] = {
    "meg": "mcg",
    "mcq": "mcg",
    "meq": "mcg",
    "rncg": "mcg",
    "rneg": "mcg",
    "rncq": "mcg",
    "mcy": "mcg",
    "mog": "mcg",
    "pg": "µg",
    "yg": "µg",
    "jig": "µg",
    "µq": "µg",
    "rng": "mg",
    "mq": "mg",
    "rnq": "mg",
    "lU": "IU",
    "1U": "IU",
    "!U": "IU",
    "IlU": "IU",
    "iV": "IU",
    "IV": "IU",
    "lV": "IU",
    "iU": "IU",
}
#: Letters read for digits inside a token that is otherwise a number next to a unit.
CONFUSABLE_DIGITS: dict[str, str] = {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1"}
#: A lone letter read for the digit 0 glued to a mass unit ("Og", "Omg": a nutrition
#: row's zero, the commonest amount of "Total Fat" and its kind): repaired to "0".
ZERO_MISREADS: frozenset[str] = frozenset({"O", "o"})
ZERO_UNITS: frozenset[str] = frozenset({"g", "mg", "mcg"})
#: Misreads of "%" after a %DV number.
PERCENT_REPAIRS: tuple[str, ...] = ("°/o", "º/o", "o/o", "0/0", "%o", "°%", "Yo")
#: Misreads of a footnote mark ("*") printed after an amount ("25 mcg*" or in the %DV
#: column): a lone glyph after "number unit", or the tail of the unit.
MARK_REPAIRS: dict[str, str] = {
    "°": "*",
    "•": "*",
    "·": "*",
    ".": "*",
    "'": "*",
    "’": "*",
    "‘": "*",
    '"': "*",
    "”": "*",
    "“": "*",
    "x": "*",
}
#: Misreads of a dagger ("†": Daily Value not established) or of the arrow some panels
#: print in its place, as a lone token right after "number unit": repaired to "†".
DAGGER_REPAIRS: frozenset[str] = frozenset({"t", "T", "Tt", "tT", "TT", "+", "¢", "f", "ft"})
#: Panel words whose misreads (same length, one letter off; two for long words) are
#: repaired: the words the panel reader keys on, and the protocol nutrients.
KEYWORDS: tuple[str, ...] = (
    "Supplement",
    "Facts",
    "Serving",
    "Servings",
    "Container",
    "Amount",
    "Daily",
    "Value",
    "Calcium",
    "Magnesium",
    "Vitamin",
    "Menaquinone",
    "Phylloquinone",
    "Cholecalciferol",
    "Ingredients",
    "Suggested",
    "Directions",
    "Warnings",
)

#: A lower-case word ending in "!": Tesseract's misread of a final "l" (a panel prints
#: no exclamation marks).
_BANG_L_RE = re.compile(r"^[a-z]{3,}!$")
_WRAP_RE = re.compile(r"^(?P<pre>[(\[{]*)(?P<core>.*?)(?P<post>[)\]},;:]*)$")
_NUMBER_RE = re.compile(r"^[<>]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)$")
_UNIT_RE = re.compile(r"^(?:mcg|µg|μg|ug|mg|g|IU|kcal|mL|mEq|CFU)$", re.IGNORECASE)
_CONFUSABLE = re.escape("".join(CONFUSABLE_DIGITS))
_NUMERIC_ISH_RE = re.compile(rf"^[<>]?[\d{_CONFUSABLE},.]+$")
_DV_RE = re.compile(
    r"^(?P<num>[<>]?\d+(?:\.\d+)?)(?P<pct>"
    + "|".join(re.escape(p) for p in PERCENT_REPAIRS)
    + r")$"
)
_MARK_TAIL = "".join(k for k in MARK_REPAIRS if len(k) == 1 and not k.isalnum() and k != ".")
#: A %DV with its footnote marks misread ("1%\"" for "1%*"): the marks, each a misread of
#: "*" (MARK_REPAIRS) or a "*" as printed, one to three of them.
_DV_MARKS_RE = re.compile(
    r"^(?P<dv>[<>]?\d+(?:\.\d+)?%)(?P<marks>[" + re.escape(_MARK_TAIL + "*") + r"]{1,3})$"
)
#: A run of footnote marks of which some are misread ("\"*" for "**").
_MARK_RUN_RE = re.compile(r"^[" + re.escape(_MARK_TAIL + "*") + r"]{2,3}$")
#: Words that are the remains of a table rule or box edge, not text: dropped; so are
#: words of punctuation only read with less than NOISE_CONFIDENCE (specks).
_RULE_GLYPHS_RE = re.compile(r"^[|¦_]+$")
_PUNCT_ONLY_RE = re.compile(r"^[^\w%*†‡<>]+$")
NOISE_CONFIDENCE = 50.0
#: A line box taller than this many times its words' ink is clipped to the ink.
LINE_CLIP = 1.15
#: A line less tall than this share of the page's median line is specks, not text.
MIN_LINE_SHARE = 0.45


def _split_wrap(text: str) -> tuple[str, str, str]:
    m = _WRAP_RE.match(text)
    assert m is not None  # the pattern matches any text
    return m.group("pre"), m.group("core"), m.group("post")


def _is_number(text: str) -> bool:
    return bool(_NUMBER_RE.match(_split_wrap(text)[1]))


def _fix_number(core: str) -> str | None:
    """`core` with confusable letters read as digits, when that makes a clean number
    and the token holds at least one real digit; else None (left as read)."""
    if not _NUMERIC_ISH_RE.match(core) or not any(c.isdigit() for c in core):
        return None
    fixed = "".join(CONFUSABLE_DIGITS.get(c, c) for c in core)
    return fixed if fixed != core and _NUMBER_RE.match(fixed) else None


def _fix_unit(core: str) -> tuple[str, str] | None:
    """(unit, footnote mark) for a unit as read ("meg", "mcg’"), or None when `core`
    is no unit. The mark is "" when there is none."""
    mark = ""
    if len(core) > 1 and core[-1] in _MARK_TAIL:
        mark = MARK_REPAIRS[core[-1]]
        core = core[:-1]
    if _UNIT_RE.match(core):
        return core, mark
    if core in UNIT_REPAIRS:
        return UNIT_REPAIRS[core], mark
    return None


def _fix_glued(core: str) -> str | None:
    """A number glued to its unit ("1O0meg"), repaired ("100mcg"); None when `core`
    is not one (or is one as printed)."""
    for k in range(len(core) - 1, 0, -1):
        num, unit = core[:k], core[k:]
        if any(c.isdigit() for c in unit):
            continue
        fixed_unit = _fix_unit(unit)
        fixed_num = num if _NUMBER_RE.match(num) else _fix_number(num)
        if num in ZERO_MISREADS and fixed_unit is not None and fixed_unit[0] in ZERO_UNITS:
            fixed_num = "0"  # "Og", "Omg": a nutrition row's zero
        if fixed_unit is not None and fixed_num is not None:
            fixed = fixed_num + fixed_unit[0] + fixed_unit[1]
            return fixed if fixed != core else None
    return None


def _is_glued(text: str) -> bool:
    core = _split_wrap(text)[1]
    return _fix_glued(core) is not None or any(
        _NUMBER_RE.match(core[:k]) and _fix_unit(core[k:]) for k in range(1, len(core))
    )


def _is_numberish(text: str) -> bool:
    core = _split_wrap(text)[1]
    return bool(_NUMBER_RE.match(core)) or _fix_number(core) is not None


def _fix_keyword(core: str) -> str | None:
    """The keyword `core` is a misread of (same length, letters off by at most one,
    two from eight letters on), in `core`'s case; None when it is none or is one."""
    if len(core) < 5 or not core.isalpha():
        return None
    low = core.lower()
    for word in KEYWORDS:
        key = word.lower()
        if len(key) != len(low) or key == low:
            continue
        off = sum(a != b for a, b in zip(key, low, strict=True))
        if off <= (2 if len(key) >= 8 else 1) and key[0] == low[0]:
            if core.isupper():
                return word.upper()
            return word if core[0].isupper() else key
    return None


#: A column heading's unit ("mg/serving", "mcg per serving"): the unit misread by one
#: letter ("ma/serving", "mq/serving") is repaired (a heading's unit applies to the bare
#: numbers under it). "m?" is repaired only to "mg" when its second letter is one
#: Tesseract reads for a "g" (never to "mcg").
_HEADING_UNIT_TOKEN_RE = re.compile(r"^(?P<unit>[a-zA-Z]{2,4})(?P<rest>/serving|/day)$")
HEADING_UNIT_REPAIRS: dict[str, str] = {"ma": "mg", "mq": "mg", "rng": "mg", "meg": "mcg"}


#: Misreads of a B vitamin's number right after "Vitamin" ("Vitamin Bé" for B6).
VITAMIN_B_REPAIRS: dict[str, str] = {
    "Bé": "B6",
    "Bb": "B6",
    "BG": "B6",
    "Bl": "B1",
    "BI": "B1",
    "Bl2": "B12",
    "BI2": "B12",
    "B1Z": "B12",
    # a "B" read as an "8": there is no vitamin 8, 81, 812
    "81": "B1",
    "82": "B2",
    "83": "B3",
    "85": "B5",
    "86": "B6",
    "87": "B7",
    "89": "B9",
    "812": "B12",
}


#: Misreads of a whole word of an ingredient's name: hydrochloride's "HCl" with its "l"
#: read as "I", "i" or "1" (no name holds those words).
NAME_REPAIRS: dict[str, str] = {"HCI": "HCl", "HCi": "HCl", "HC1": "HCl"}


def _fix_heading_unit(core: str) -> str | None:
    """`core` ("ma/serving") with its unit repaired, or None."""
    m = _HEADING_UNIT_TOKEN_RE.match(core)
    if m is None:
        return None
    unit = HEADING_UNIT_REPAIRS.get(m.group("unit"))
    return unit + m.group("rest") if unit else None


def repair_line(texts: Sequence[str]) -> list[tuple[str, str | None]]:
    """The words of one OCR line with safe repairs: (text, "old->new" or None) each.

    A unit is repaired only right after a number, a number only right before a unit
    (or glued to one: "1O0meg" -> "100mcg"), a "%" artefact or a footnote mark only
    after digits or "number unit", a panel keyword only by one letter (`KEYWORDS`).
    What stays ambiguous is left as read.
    """
    read, texts = texts, fix_serving_units(texts)
    out = list(texts)

    def unit_at(i: int) -> bool:
        return 0 <= i < len(out) and _fix_unit(_split_wrap(out[i])[1]) is not None

    for i, text in enumerate(texts):
        pre, core, post = _split_wrap(text)
        m = _DV_RE.match(core)
        marks = _DV_MARKS_RE.match(core)
        if m:
            core = m.group("num") + "%"
        elif marks and any(c != "*" for c in marks.group("marks")):
            core = marks.group("dv") + "*" * len(marks.group("marks"))
        elif _fix_glued(core) is not None:
            core = _fix_glued(core) or core
        elif i > 0 and _is_numberish(texts[i - 1]) and _fix_unit(core) is not None:
            unit, mark = _fix_unit(core) or ("", "")
            core = unit + mark
        elif unit_at(i + 1) and _fix_number(core) is not None:
            core = _fix_number(core) or core
        elif (
            (core in MARK_REPAIRS or core in DAGGER_REPAIRS or _MARK_RUN_RE.match(core))
            and not pre
            and not post
            and i >= 1
            and (
                (unit_at(i - 1) and i >= 2 and _is_numberish(texts[i - 2]))
                or _is_glued(texts[i - 1])
            )
        ):
            core = "*" * len(core) if _MARK_RUN_RE.match(core) else MARK_REPAIRS.get(core, "†")
        elif core in VITAMIN_B_REPAIRS and i > 0 and _split_wrap(texts[i - 1])[1] == "Vitamin":
            core = VITAMIN_B_REPAIRS[core]
        elif core in NAME_REPAIRS and i > 0:
            core = NAME_REPAIRS[core]
        elif _fix_heading_unit(core) is not None:
            core = _fix_heading_unit(core) or core
        elif _BANG_L_RE.match(core):
            core = core[:-1] + "l"  # "cholecalcifero!": a final "l" read as "!"
        else:
            core = _fix_keyword(core) or core
        out[i] = pre + core + post
    return [
        (new, None if new == old else f"{old}->{new}") for old, new in zip(read, out, strict=True)
    ]


@dataclass(frozen=True)
class OcrWord:
    """One word as Tesseract read it, in page pixels. `top` and `height` are those of
    its line (ascender to descender), as a text layer's font box is: a word's own ink
    box is taller or shorter with its letters ("mcg" vs "500") and the panel reader
    compares line heights."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    line_key: tuple[int, int, int]  # (block, paragraph, line)
    ink: tuple[int, int] | None = None  # the word's own (top, bottom), when known


def parse_tsv(tsv: str) -> list[OcrWord]:
    """The words (level 5 rows with text) of Tesseract's TSV output, each with the
    vertical extent of its line (level 4 row)."""
    words: list[OcrWord] = []
    lines: dict[tuple[int, int, int], tuple[int, int]] = {}
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        level = row.get("level")
        if level not in ("4", "5"):
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        top, height = int(row["top"]), int(row["height"])
        if level == "4":
            lines[key] = (top, height)
            continue
        text = (row.get("text") or "").strip()
        if not text:
            continue
        own = (top, top + height)
        top, height = lines.get(key, (top, height))
        words.append(
            OcrWord(
                text=text,
                left=int(row["left"]),
                top=top,
                width=int(row["width"]),
                height=height,
                confidence=max(0.0, float(row["conf"])),
                line_key=key,
                ink=own,
            )
        )
    return words


#: Words OCR glues together when the space between them is narrow (a tight heading):
#: split apart again, each part with its share of the box.
_GLUED_HEADING_RE = re.compile(r"^(supplement)(facts\W*)$", re.IGNORECASE)
#: A quote mark glued to the first word of a line is the remains of a box edge.
_EDGE_QUOTES = "'‘’\"“”`"


def split_word(w: OcrWord, parts: Sequence[str]) -> list[OcrWord]:
    """`w` split into `parts` (which join to its text), each with a share of its width
    proportional to its characters: positioned words from a glued token (or from a
    line of text an engine gives as one box)."""
    total = max(1, sum(len(p) for p in parts))
    out: list[OcrWord] = []
    start = 0
    for part in parts:
        left = w.left + round(w.width * start / total)
        right = w.left + round(w.width * (start + len(part)) / total)
        out.append(
            OcrWord(
                part, left, w.top, max(1, right - left), w.height, w.confidence, w.line_key, w.ink
            )
        )
        start += len(part)
    return out


def astuple_rest(w: OcrWord) -> tuple[Any, ...]:
    """An OcrWord's fields after its text (to rebuild it with another text)."""
    return (w.left, w.top, w.width, w.height, w.confidence, w.line_key, w.ink)


def unglue_line(line: Sequence[OcrWord]) -> list[OcrWord]:
    """A line's words with a box-edge quote dropped from its first word and a glued
    "SupplementFacts" heading split in two."""
    out: list[OcrWord] = []
    for i, w in enumerate(line):
        if w.text.strip("_") != w.text and w.text.strip("_"):
            # a rule's remains touching the word ("mg_"): a panel prints no underscore
            w = OcrWord(w.text.strip("_"), *astuple_rest(w))
        text = w.text
        if i == 0 and len(text) > 2 and text[0] in _EDGE_QUOTES and text[1].isalpha():
            cut = len(text) - len(text.lstrip(_EDGE_QUOTES))
            w = split_word(w, [text[:cut], text[cut:]])[1]
            text = w.text
        m = _GLUED_HEADING_RE.match(text)
        out.extend(split_word(w, [m.group(1), m.group(2)]) if m else [w])
    return _join_split_keywords(out)


def _join_split_keywords(line: list[OcrWord]) -> list[OcrWord]:
    """Two neighbouring words that together spell a panel keyword ("Su" "pplement"),
    joined into one (the box spanning both; the lower confidence)."""
    keys = {k.lower() for k in KEYWORDS}
    out: list[OcrWord] = []
    for w in line:
        prev = out[-1] if out else None
        if prev is not None and (prev.text + w.text).lower() in keys:
            out[-1] = OcrWord(
                prev.text + w.text,
                prev.left,
                min(prev.top, w.top),
                w.left + w.width - prev.left,
                max(prev.height, w.height),
                min(prev.confidence, w.confidence),
                prev.line_key,
                None
                if prev.ink is None or w.ink is None
                else (min(prev.ink[0], w.ink[0]), max(prev.ink[1], w.ink[1])),
            )
        else:
            out.append(w)
    return out


#: A word of at least this many letters or digits is text; shorter ones may be marks.
BOX_WORD_CHARS = 3


def _box_words(line: Sequence[OcrWord]) -> list[OcrWord]:
    """The words whose ink sets a line's extent: those of BOX_WORD_CHARS letters or digits
    or more when the line has any (a dagger printed taller than the text, read as "Tt",
    or a speck does not make its line taller than its words), else all of them."""
    text = [w for w in line if sum(c.isalnum() for c in w.text) >= BOX_WORD_CHARS]
    return text or list(line)


#: A Tesseract line is read as parts at gaps wider than this many of its words' ink
#: heights (a column gutter)...
PART_GAP = 4.0
#: ...when one part's text is this many times as tall as another's (page-wide text
#: beside a large heading: Tesseract gives both the heading's line box).
PART_RATIO = 1.6


def _ink_height(w: OcrWord) -> int:
    return (w.ink[1] - w.ink[0]) if w.ink is not None else w.height


def line_parts(line: Sequence[OcrWord]) -> list[list[OcrWord]]:
    """A Tesseract line (sorted left to right) as the parts it joins across gutters when
    their text sizes differ by PART_RATIO or more ("SUGGESTED USE: As a dietary ..."
    beside a "Supplement Facts" three times its size), else as one part."""
    if len(line) < 2:
        return [list(line)]
    body = statistics.median(_ink_height(w) for w in _box_words(line))
    parts: list[list[OcrWord]] = [[line[0]]]
    for prev, w in itertools.pairwise(line):
        if w.left - (prev.left + prev.width) > PART_GAP * body:
            parts.append([w])
        else:
            parts[-1].append(w)
    if len(parts) < 2:
        return parts
    sizes = [statistics.median(_ink_height(w) for w in _box_words(p)) for p in parts]
    return parts if max(sizes) >= PART_RATIO * max(1, min(sizes)) else [list(line)]


def line_extent(line: Sequence[OcrWord]) -> tuple[int, int]:
    """A line's (top, bottom) in pixels: Tesseract's line box, clipped to its words' own
    ink where the box is much taller (a speck or a rule's remains counted in the line)."""
    top, bottom = line[0].top, line[0].top + line[0].height
    boxed = _box_words(line)
    inks = [w.ink for w in boxed if w.ink is not None]
    if not inks or len(inks) != len(boxed):
        return top, bottom
    ink_top, ink_bottom = min(i[0] for i in inks), max(i[1] for i in inks)
    if ink_bottom > ink_top and bottom - top > LINE_CLIP * (ink_bottom - ink_top):
        top, bottom = max(top, ink_top), min(bottom, ink_bottom)
    return top, bottom


def ocr_words_to_words(
    found: Sequence[OcrWord], dpi: float, offset: tuple[float, float], page: int
) -> tuple[list[Word], dict[Word, str]]:
    """Tesseract's words as panel-reader words: noise dropped (rule remains, low
    confidence punctuation), repaired line by line (`repair_line`), pixels of an image
    at `dpi` starting at `offset` turned into points. Returns the words and the
    repair made to each repaired word ("meg->mcg")."""
    to_pt = 72.0 / dpi
    ox, oy = offset
    words: list[Word] = []
    repairs: dict[Word, str] = {}
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    body = statistics.median([w.height for w in found]) if found else 0.0
    for w in found:
        if _RULE_GLYPHS_RE.match(w.text) or (
            _PUNCT_ONLY_RE.match(w.text) and w.confidence < NOISE_CONFIDENCE
        ):
            continue
        if w.height < MIN_LINE_SHARE * body:  # a line of specks (a box corner), not text
            continue
        lines.setdefault(w.line_key, []).append(w)
    for line in lines.values():
        line.sort(key=lambda w: w.left)
        line = unglue_line(line)
        spans = [(part, line_extent(part)) for part in line_parts(line)]
        extent = {id(w): span for part, span in spans for w in part}
        for w, (text, note) in zip(line, repair_line([w.text for w in line]), strict=True):
            top, bottom = extent[id(w)]
            word = Word(
                text=text,
                x0=round((w.left + ox) * to_pt, 2),
                x1=round((w.left + w.width + ox) * to_pt, 2),
                top=round((top + oy) * to_pt, 2),
                bottom=round((bottom + oy) * to_pt, 2),
                page=page,
                confidence=w.confidence,
            )
            words.append(word)
            if note is not None:
                repairs[word] = note
    return words, repairs


def _headings(words: Sequence[Word]) -> list[Word]:
    """The "Supplement" words followed by "Facts" on the same line (OCR'd headings)."""
    out = []
    for w in words:
        if _split_wrap(w.text)[1].lower() != "supplement":
            continue
        h = w.bottom - w.top
        if any(
            _split_wrap(v.text)[1].lower().startswith("facts")
            and abs(v.top - w.top) < 0.5 * h
            and 0 <= v.x0 - w.x1 < 2 * h
            for v in words
        ):
            out.append(w)
    return out


def panel_words(words: Sequence[Word]) -> list[Word]:
    """The words of a page with the text beside a panel left out: when a page holds
    one "Supplement Facts" heading and text left of it (a wrap's marketing block, its
    directions column), the words that end left of the heading's left edge, from the
    heading's line down, are dropped when a gutter parts them from the panel; the panel
    reader then sees the panel alone.
    Words above the heading (the product's name) and pages with no heading or several
    (several panels) are kept whole."""
    heads = _headings(words)
    if len(heads) != 1:
        return list(words)
    head = heads[0]
    h = head.bottom - head.top
    edge = head.x0 - 0.5 * h
    below = [w for w in words if w.bottom > head.top]
    beside = [w for w in below if w.x1 < edge]
    panel = [w for w in below if w.x1 >= edge]
    if len(beside) < 3 or not panel:
        return list(words)
    # only across a gutter: a centred heading has its panel's rows start left of it
    gutter = min(w.x0 for w in panel) - max(w.x1 for w in beside)
    if gutter < 1.5 * h:
        return list(words)
    return [w for w in words if not (w.x1 < edge and w.bottom > head.top)]
