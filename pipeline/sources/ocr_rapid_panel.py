"""A tiny panel read whole by RapidOCR, kept where it reads more than Tesseract's reading.

On a panel whose body text is tiny (`ocr_tiny.tiny`: below `config.TINY_TEXT_PX`),
Tesseract merges rows into the lines beside them and mangles names ("vm (a3 um te}" for
magnesium), where RapidOCR (its text upscaled, `ocr_second.rapid_lines`) reads every name
and amount of a ruled panel, its words glued ("VitaminD3(ascholecalcilerol(D3))",
"Container60", "250mg"). `unglued` splits such a line's text where the panel reader needs
words apart (a letter and a capital, letters and digits, a number and its unit, before a
bracket, after a colon or comma); the lines go through the same word repairs as
Tesseract's (`ocr_words.ocr_words_to_words`: the lexicon corrects "Magneslum").

`whole_reading` replaces the panel body's words of a reading by RapidOCR's and reads the
page again (the words outside the body kept). It is kept only when
`ocr_readings.reading_score` says it reads more than the reading it would replace; then
each amount Tesseract read on a row level with one RapidOCR read otherwise is withheld, a
read issue naming both (`ocr_readings.withheld`), never picked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.records import LabelRow, ReadIssue, Word
from pipeline.sources.ocr_amount import unit_of
from pipeline.sources.ocr_rapid import RapidLine, line_words
from pipeline.sources.ocr_readings import amount_key, reading_score, withheld
from pipeline.sources.ocr_words import ocr_words_to_words

Parsed = tuple[list[Any], list[LabelRow], list[ReadIssue]]

_SPLITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=[a-z]{2})(?=[A-Z])"), " "),  # "VitaminD3", "PerServing"
    (re.compile(r"(?<=[a-z]{2})(?=\d)"), " "),  # "Container60"
    (re.compile(r"(?<=\S)(?=\()"), " "),  # "D3(as"
    (re.compile(r"(?<=\(as)(?=[a-z]{3})"), " "),  # "(ascholecalciferol"
    (re.compile(r"(?<=[:,;])(?=[A-Za-z])"), " "),  # "ingredients:Hypromellose"
    (re.compile(r"(?<=\))(?=\w)"), " "),
    # "1.0001U": IU with its I read as a 1 (no unit is a lone U), glued to the number
    (re.compile(r"(?<=\d)1U(?![A-Za-z])"), " IU"),
)
#: A number glued to the letters after it ("250mg", "120mog"): split where they are a unit.
_NUMBER_UNIT_RE = re.compile(
    r"(?<![\w.,])(\d+(?:\.\d+)?)([A-Za-zµμ][A-Za-zµμ0]{0,3})(?![A-Za-zµμ0])"
)


def _split_amount(m: re.Match[str]) -> str:
    # a 0 among a unit's letters is the o it looks like ("25m0g": "25 mog", the lexicon's mcg)
    unit = m.group(2).replace("0", "o")
    return f"{m.group(1)} {unit}" if unit_of(unit) else m.group(0)


def unglued(text: str) -> str:
    """RapidOCR's glued line `text` with spaces where the panel reader needs words apart:
    "VitaminD3(ascholecalcilerol(D3))" -> "Vitamin D3 (as cholecalcilerol (D3))",
    "250mg" -> "250 mg", "25m0g" -> "25 mog" (a number and letters that are a unit
    only), "1.0001U" -> "1.000 IU"."""
    for pattern, gap in _SPLITS:
        text = pattern.sub(gap, text)
    text = _NUMBER_UNIT_RE.sub(_split_amount, text)
    return re.sub(r" {2,}", " ", text).strip()


def rapid_panel_words(
    lines: Sequence[RapidLine], dpi: float, page: int
) -> tuple[list[Word], dict[Word, str]]:
    """RapidOCR's `lines` (boxes in the page's pixels at `dpi`), unglued and repaired as
    Tesseract's words are, in page points."""
    found = []
    for number, (box, text, score) in enumerate(lines, start=1):
        found.extend(line_words(unglued(text), box, score, number))
    return ocr_words_to_words(found, dpi, (0.0, 0.0), page)


def _level(a: LabelRow, b: LabelRow) -> bool:
    """Whether rows `a` and `b` start level: their tops within half the shorter one's
    height (a row Tesseract merged with the lines below it starts at its first)."""
    if None in (a.bbox_top, a.bbox_bottom, b.bbox_top, b.bbox_bottom):
        return False
    at, ab = a.bbox_top or 0.0, a.bbox_bottom or 0.0
    bt, bb = b.bbox_top or 0.0, b.bbox_bottom or 0.0
    return abs(at - bt) < 0.5 * min(ab - at, bb - bt)


def tesseract_disagreements(
    rows: Sequence[LabelRow], issues: Sequence[ReadIssue], theirs: Sequence[LabelRow]
) -> tuple[list[LabelRow], list[ReadIssue]]:
    """`rows` (RapidOCR's reading) with each amount withheld that Tesseract's reading
    (`theirs`) read otherwise on the one row starting level with it: a read issue naming
    both."""
    out: list[LabelRow] = []
    found = list(issues)
    for row in rows:
        key = amount_key(row.amount_raw, row.unit_raw)
        level = [t for t in theirs if t.amount_raw is not None and _level(row, t)]
        other = level[0] if len(level) == 1 else None
        if key is None or other is None or amount_key(other.amount_raw, other.unit_raw) == key:
            out.append(row)
            continue
        text = f"{other.amount_raw} {other.unit_raw or ''}".strip()
        row, issue = withheld(row, f"by RapidOCR and as {text} by Tesseract")
        out.append(row)
        found.append(issue)
    return out, found


def whole_reading(
    done: Any,
    lines: Sequence[RapidLine],
    inside: Callable[[Word], bool],
    dpi: float,
    parse: Callable[..., Parsed],
    source_file: str,
    fallback_name: str,
) -> Any:
    """`done` (a page's reading, `ocr.PageRead`, parsed) with the words `inside` the panel
    body replaced by RapidOCR's `lines` of it, when that reads more (`reading_score`);
    Tesseract's differing amounts withheld. `done` itself otherwise."""
    if done.parsed is None or not lines:
        return done
    page = done.words[0].page if done.words else 1
    theirs, fixes = rapid_panel_words(lines, dpi, page)
    words = [w for w in done.words if not inside(w)] + theirs
    repairs = {w: n for w, n in done.repairs.items() if not inside(w)} | fixes
    labels, rows, issues = parse([words], repairs, source_file, fallback_name, [done.panels])
    if not labels:
        return done
    rows, issues = tesseract_disagreements(rows, issues, done.parsed[1])
    if reading_score(rows, issues) <= reading_score(done.parsed[1], done.parsed[2]):
        return done
    return dataclasses.replace(done, words=words, repairs=repairs, parsed=(labels, rows, issues))
