"""The amounts of a tiny panel's unread rows, read by RapidOCR and confirmed before they fill.

A panel whose body text measures below `config.TINY_TEXT_PX` (a whole bottle wrap
flattened into a small web picture: ~6 px letters) is read badly by both engines, each in
its own way. Tesseract reads its amounts as letters ("Somg" for 50 mg, "img" for 1 mg,
"tSmg" for 15 mg); RapidOCR (`pipeline.sources.ocr_second`, its text upscaled) reads the
digits, but below `config.SECOND_READING_CONFIDENCE` ("15mg" at 59%) or with the unit
mangled ("50.mB"), or a 1 as an I ("Img"). Measured on such a panel at 2.5x to 4x, with
LANCZOS and with bicubic resampling: the same misreads at every scale (4x read "5mg" for
15 mg), so a larger scale is no cure; what cures is a check independent of the reading.

On such a panel the second reading is made when any row is unread (`tiny`), and each
amount RapidOCR read level with an unread row (`candidates`: its confidence
`TINY_CONFIDENCE_FLOOR` or more, a number or a lone I/l/| before a unit or before two
or three letters starting as a unit does) fills the row only when one of these holds
(`confirm`), else the row stays unread with its read issue:

- it is read surely: SECOND_READING_CONFIDENCE or more, and its unit is one
  (`ocr_second`'s own rule for every panel);
- Tesseract read the same amount: its text under RapidOCR's, each letter a digit looks
  like read as that digit (`LOOKALIKE_DIGITS`: "Somg" as 50 mg, "img" as 1 mg), is
  exactly the number and its unit (a mangled unit of RapidOCR's, "mB", is taken from
  Tesseract only when its first letter is the unit's);
- a %DV printed on the row (as either engine read it) agrees with the amount within
  label rounding under the Daily Value of the nutrient the row names (as either engine
  read the name; both names, where both resolve, the same nutrient):
  `pipeline.panel.ocr_dv.dv_agreement`. "15 mg" of vitamin E beside "100%" is read;
  "5 mg" beside it (33%) is not. The %DV pins an amount within label rounding, not its
  last digit, so such a row carries at most `ocr_dv.REPAIRED_CONFIDENCE` (25): below
  `config.MIN_AMOUNT_CONFIDENCE`, a protocol amount filled this way decides no verdict.

A row whose name as Tesseract read it names no regulated nutrient ("onwm") takes RapidOCR's
name of the line (`rapid_name`: "Chromium(asChromium AminoAcid Chelate)", the text left of
the amount, also inside one glued line) when that name names one, and a %DV printed on the
row agrees with the amount under that nutrient's Daily Value (76 mcg of chromium beside
"217%"); the row then carries at most `REPAIRED_CONFIDENCE`, and its repairs say whose name
it is and what Tesseract read.

Every fill still passes `ocr_second`'s digit check (Tesseract's digits among RapidOCR's)
and afterwards the panel reader's own checks of OCR amounts (the %DV cross-check of
`pipeline.panel.ocr_dv`), and its row names in its repairs what confirmed it. RapidOCR's
confidence stays the amount's otherwise: agreement is not a surer reading of its glyphs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from pipeline import config
from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE, dv_agreement
from pipeline.records import LabelRow, Word
from pipeline.rules.regulated import regulated
from pipeline.sources.ocr_amount import UNITS, Amount, level_spans, unit_of
from pipeline.sources.ocr_rapid import RapidLine
from pipeline.sources.ocr_words import CONFUSABLE_DIGITS

#: The lowest confidence (0-100) of an amount RapidOCR read that a confirmation can fill a
#: row with: below it the reading is noise ("Senl", "Amhetret" at 51-67%).
TINY_CONFIDENCE_FLOOR = 55.0
#: Letters OCR reads for the digits they look like, as Tesseract misreads small type: the
#: panel repairs' `ocr_words.CONFUSABLE_DIGITS` and the looser ones only a second engine's
#: digits may confirm (never repaired on their own).
LOOKALIKE_DIGITS: dict[str, str] = {
    **CONFUSABLE_DIGITS,
    "Q": "0",
    "i": "1",
    "!": "1",
    "Z": "2",
    "z": "2",
    "S": "5",
    "s": "5",
    "G": "6",
    "b": "6",
    "B": "8",
    "g": "9",
    "q": "9",
}
#: A lone letter RapidOCR reads for the digit 1 before a unit ("Img").
_ONE = "Il|"
#: An amount in RapidOCR's text, its unit as read (a unit, or letters that may be one).
_CANDIDATE_RE = re.compile(
    rf"(?<![\w.,])(?P<num>\d+(?:\.\d+)?|[{re.escape(_ONE)}])(?P<point>\.)?"
    r"\s?(?P<unit>[A-Za-zµμ]{1,4})(?![A-Za-zµμ])"
)
_LOOKALIKE = re.escape("".join(LOOKALIKE_DIGITS))
#: Tesseract's text of an amount: digits and look-alike letters, then a unit.
_TESSERACT_RE = re.compile(
    rf"^(?P<num>[\d{_LOOKALIKE}]+(?:[.,][\d{_LOOKALIKE}]+)?)(?P<unit>[A-Za-zµμ]{{1,4}})$"
)
_PCT_RE = re.compile(r"(?<![\d.])(?P<num>\d{1,4}(?:\.\d+)?)\s?%")
#: The first letters of the units an amount may carry.
_UNIT_INITIALS = frozenset(u[0].lower() for u in UNITS)


def tiny(text_px: float | None) -> bool:
    """Whether a panel's measured body text (`text_px`, pixels) is below TINY_TEXT_PX."""
    return text_px is not None and text_px < config.TINY_TEXT_PX


@dataclasses.dataclass(frozen=True)
class Line:
    """One RapidOCR text line in page points: its box, text and confidence (0-100)."""

    x0: float
    x1: float
    top: float
    bottom: float
    text: str
    confidence: float

    def x_of(self, index: int) -> float:
        """Where the character at `index` of the text starts (by its share of the width)."""
        return self.x0 + (self.x1 - self.x0) * index / max(1, len(self.text))


def in_points(lines: Sequence[RapidLine], dpi: float) -> list[Line]:
    """RapidOCR's `lines` (boxes in the page's pixels at `dpi`) in page points."""
    to_pt = 72.0 / dpi
    out: list[Line] = []
    for box, text, score in lines:
        xs = [float(p[0]) * to_pt for p in box]
        ys = [float(p[1]) * to_pt for p in box]
        out.append(Line(min(xs), max(xs), min(ys), max(ys), text, round(100.0 * score, 2)))
    return out


def candidates(lines: Sequence[Line]) -> list[Amount]:
    """The amounts in RapidOCR's `lines` at TINY_CONFIDENCE_FLOOR or more: a number (or a
    lone I, l or | for 1, a unit after it) and a unit, or letters that start as one
    does (the unit then "", the letters in the note: confirmed from Tesseract's text)."""
    found: list[Amount] = []
    for line in lines:
        if line.confidence < TINY_CONFIDENCE_FLOOR:
            continue
        for m in _CANDIDATE_RE.finditer(line.text):
            raw, read = m.group("unit"), m.group("num")
            unit = unit_of(raw)
            if read in _ONE and unit is None:
                continue
            number = "1" if read in _ONE else read
            if unit is None and (raw[0].lower() not in _UNIT_INITIALS or len(raw) > 3):
                continue
            note = None
            if unit is None or m.group("point") or unit != raw or read in _ONE:
                note = f"'{m.group(0)}'" + (f" read as {number} {unit}" if unit else "")
            found.append(
                Amount(
                    number,
                    unit or "",
                    round(line.x_of(m.start()), 2),
                    round(line.x_of(m.end()), 2),
                    round(line.top, 2),
                    round(line.bottom, 2),
                    line.confidence,
                    note,
                )
            )
    return found


def _level(line: Line, amount: Amount) -> bool:
    return level_spans(line.top, line.bottom, amount.top, amount.bottom)


def as_tesseract_read(text: str) -> tuple[str, str] | None:
    """Tesseract's text of an amount ("Somg") as the number and unit its letters look like
    ("50", "mg"); None when it is not digits or look-alikes and then a unit."""
    m = _TESSERACT_RE.match(text)
    unit = unit_of(m.group("unit")) if m else None
    if m is None or unit is None:
        return None
    number = "".join(LOOKALIKE_DIGITS.get(c, c) for c in m.group("num")).replace(",", ".")
    return number, unit


def _names(row: LabelRow, lines: Sequence[Line], amount: Amount) -> list[str]:
    """The row's name as Tesseract read it, and the text RapidOCR read level with the
    amount and left of it."""
    left = [li.text for li in lines if _level(li, amount) and li.x1 <= amount.x0 + 1.0]
    return [row.name_raw, *left]


def _printed_dvs(row: LabelRow, lines: Sequence[Line], amount: Amount) -> list[str]:
    """The row's %DV as Tesseract read it, and each one RapidOCR read level with the
    amount and right of it."""
    found = [row.dv_raw] if row.dv_raw else []
    for li in lines:
        if not _level(li, amount):
            continue
        for m in _PCT_RE.finditer(li.text):
            if li.x_of(m.start()) >= amount.x1 - 1.0:
                found.append(f"{m.group('num')}%")
    return found


def _left_texts(lines: Sequence[Line], amount: Amount) -> list[str]:
    """What RapidOCR read level with `amount` and left of it: whole lines ending before it,
    and the start of a line that runs on into it ("Chromium(...)76mcg")."""
    found: list[str] = []
    for li in lines:
        if not _level(li, amount):
            continue
        if li.x1 <= amount.x0 + 1.0:
            found.append(li.text)
        elif li.x0 < amount.x0 < li.x1:
            cut = round((amount.x0 - li.x0) / (li.x1 - li.x0) * len(li.text))
            found.append(li.text[:cut])
    return [t.strip() for t in found if t.strip()]


def rapid_name(row: LabelRow, lines: Sequence[Line], amount: Amount) -> str | None:
    """RapidOCR's name of `row`'s line, to take in place of Tesseract's (module docstring),
    or None: Tesseract's names a regulated nutrient, RapidOCR's names none or several, or
    no printed %DV agrees with `amount` under the nutrient it names."""
    if regulated(row.name_raw) is not None:
        return None
    named = [(t, r.key) for t in _left_texts(lines, amount) if (r := regulated(t)) is not None]
    if len({key for _, key in named}) != 1:
        return None
    name = named[0][0]
    # the %DVs printed on the line: RapidOCR's, and Tesseract's in the line as read
    as_read = [f"{m.group('num')}%" for m in _PCT_RE.finditer(row.raw_text)]
    for dv in [*_printed_dvs(row, lines, amount), *as_read]:
        if dv_agreement(amount.number, amount.unit, dv, name) is not None:
            return name
    return None


def _with_name(row: LabelRow, lines: Sequence[Line], amount: Amount) -> Amount:
    """`amount` with RapidOCR's name of the row when it is taken (`rapid_name`), its
    confidence then at most REPAIRED_CONFIDENCE."""
    name = rapid_name(row, lines, amount)
    if name is None:
        return amount
    capped = min(amount.confidence, REPAIRED_CONFIDENCE)
    return dataclasses.replace(amount, name=name, confidence=capped)


def named_words(
    line: Sequence[Word], under: Sequence[Word], amount: Amount
) -> tuple[list[Word], list[Word]]:
    """(Tesseract's name words on `line`: left of `amount` and not `under` it, the words of
    `amount.name` set over the same span in their place), both empty without a name."""
    old = [w for w in line if w not in under and w.x1 <= amount.x0 + 1.0]
    texts = (amount.name or "").split()
    if not old or not texts:
        return [], []
    x0, x1 = old[0].x0, max(w.x1 for w in old)
    top, bottom = min(w.top for w in line), max(w.bottom for w in line)
    step = (x1 - x0) / sum(len(t) + 1 for t in texts)
    new: list[Word] = []
    at = x0
    for text in texts:
        end = at + step * len(text)
        new.append(
            Word(text, round(at, 2), round(end, 2), top, bottom, old[0].page, amount.confidence)
        )
        at = end + step
    return old, new


def _dv_confirmation(row: LabelRow, lines: Sequence[Line], amount: Amount) -> str | None:
    names = _names(row, lines, amount)
    nutrients = {r.key for r in map(regulated, names) if r is not None}
    if len(nutrients) != 1:
        return None
    name = next(n for n in names if regulated(n) is not None)
    for dv in _printed_dvs(row, lines, amount):
        agreeing = dv_agreement(amount.number, amount.unit, dv, name)
        if agreeing is not None:
            return f"confirmed by the printed {dv} DV of {agreeing}"
    return None


def confirm(
    row: LabelRow, lines: Sequence[Line], amount: Amount, under: Sequence[Word]
) -> Amount | None:
    """`amount` (RapidOCR's, level with an unread line of `row`; `under`: Tesseract's
    words under it; `lines`: RapidOCR's lines) as it fills the row, its note saying what
    confirmed it, or None: it is not read surely and neither Tesseract's reading nor
    the printed %DV confirms it."""
    read = "".join(w.text for w in under)
    theirs = as_tesseract_read(read)
    unit = amount.unit
    if not unit:
        m = _CANDIDATE_RE.search((amount.note or "").strip("'"))
        raw = m.group("unit") if m else ""  # the letters RapidOCR read for the unit
        if theirs is None or not raw or theirs[1][0].lower() != raw[0].lower():
            return None
        unit = theirs[1]
    if amount.confidence >= config.SECOND_READING_CONFIDENCE and amount.unit:
        return _with_name(row, lines, amount)
    quoted = (amount.note or "").split(" read as ")[0] or f"{amount.number} {unit}"
    shown = f"RapidOCR read {quoted} at {amount.confidence:.0f}%"
    candidate = dataclasses.replace(amount, unit=unit)
    if theirs is not None and theirs == (amount.number, unit):
        why = f"{shown}, Tesseract '{read}': read alike"
    else:
        dv = _dv_confirmation(row, lines, candidate)
        if dv is None:
            return None
        why = f"{shown}, {dv}"
        # the %DV pins the amount within label rounding, not its last digit (120 or 125 mg
        # of magnesium are both 30%): it stays under the verdict's threshold
        candidate = dataclasses.replace(
            candidate, confidence=min(candidate.confidence, REPAIRED_CONFIDENCE)
        )
    return _with_name(
        row, lines, dataclasses.replace(candidate, note=f"{amount.number} {unit}: {why}")
    )
