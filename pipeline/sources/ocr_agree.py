"""A row the kept OCR reading left unread, read alike by the image's other readings.

An image whose reading leaves rows unread is read again at other text sizes and the best
reading is kept whole (`pipeline.sources.ocr_readings`). A row that reading could not read
(its amount read at 0%, a digit of it lost: a read issue on its line) may have been read
by the others: Tesseract reads one font at one scale and not at another ("Calories" with
its "16" lost at 26 px, "Calories 16" at 97% at 32 px). Such a row takes that amount only
when it is a reading, never a guess: at least `MIN_AGREEING` other readings read the row
(same label, same name, that name once in the label), every one of them with the same
amount and unit, each row's every word read with `ocr_glyphs.CONFIRM_CONFIDENCE` (80%) or
more, and the kept reading's own text of the row shows no other number ("Sugars 24", a
'2g' misread or not, stays unread beside another reading's "2 g"). The row then carries
the lowest of their confidences and says where its amount came from in its repairs; its
read issue is dropped. Rows the other readings disagree on stay unread, with their issue
(and an amount the kept reading did take is compared with the others by
`withhold_disagreements`).
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Sequence

from pipeline.nutrients import clean_name
from pipeline.records import FileExtraction, LabelRow
from pipeline.sources.ocr_count import extraction_with_counts
from pipeline.sources.ocr_glyphs import CONFIRM_CONFIDENCE
from pipeline.sources.ocr_readings import amount_key
from pipeline.units import parse_amount

#: Other readings that must read an unread row alike for it to take their amount.
MIN_AGREEING = 1
#: A number standing alone in a row's text (not inside a name such as "B12"), its
#: parentheses' contents left out.
_NUMBER_RE = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?")
_PARENS_RE = re.compile(r"\([^()]*\)")

_Key = tuple[int, str]


def _key_of(row: LabelRow) -> tuple[float | str, str] | None:
    return amount_key(row.amount_raw, row.unit_raw)


def _by_name(rows: Sequence[LabelRow]) -> dict[_Key, LabelRow]:
    """The rows of a reading by (label, clean name), names printed once in their label only."""
    counts = collections.Counter((r.label_index, clean_name(r.name_raw)) for r in rows)
    return {
        (r.label_index, clean_name(r.name_raw)): r
        for r in rows
        if counts[(r.label_index, clean_name(r.name_raw))] == 1
    }


def own_numbers(row: LabelRow) -> set[float]:
    """The numbers the kept reading read in a row's text, outside parentheses."""
    found = _NUMBER_RE.findall(_PARENS_RE.sub(" ", row.raw_text))
    return {float(n.replace(",", "")) for n in found}


def agreed_amount(row: LabelRow, others: Sequence[LabelRow | None]) -> LabelRow | None:
    """`row` (unread) with the amount the other readings' rows for it read alike, or None
    when fewer than MIN_AGREEING of them read it, they differ, one of them was read
    below CONFIRM_CONFIDENCE, or `row`'s own text shows numbers, none of them that one."""
    read = [o for o in others if o is not None and _key_of(o) is not None]
    if len(read) < MIN_AGREEING or len({_key_of(o) for o in read}) != 1:
        return None
    confidences = [o.confidence for o in read]
    if any(c is None or c < CONFIRM_CONFIDENCE for c in confidences):
        return None
    first = read[0]
    value = parse_amount(first.amount_raw or "")
    mine = own_numbers(row)
    if value is None or (mine and value.value not in mine):
        return None
    text = f"{first.amount_raw} {first.unit_raw or ''}".strip()
    note = f"amount '{text}' read alike by {len(read)} other readings"
    return dataclasses.replace(
        row,
        amount_raw=first.amount_raw,
        unit_raw=first.unit_raw,
        confidence=min(c for c in confidences if c is not None),
        repairs="; ".join(p for p in (row.repairs, note) if p),
    )


def fill_agreed(kept: FileExtraction, others: Sequence[FileExtraction | None]) -> FileExtraction:
    """`kept` with each row it left unread (no amount, a read issue on its line) given the
    amount its other readings read alike (`agreed_amount`), that row's read issues
    dropped, and a serving size's count it lost that another read
    (`ocr_count.extraction_with_counts`)."""
    return extraction_with_counts(_fill_rows(kept, others), others)


def _fill_rows(kept: FileExtraction, others: Sequence[FileExtraction | None]) -> FileExtraction:
    unread = {(i.label_index, i.line_no) for i in kept.issues}
    readings = [_by_name(o.rows) for o in others if o is not None]
    rows: list[LabelRow] = []
    filled: set[tuple[int, int]] = set()
    for row in kept.rows:
        key = (row.label_index, clean_name(row.name_raw))
        new = None
        if row.amount_raw is None and (row.label_index, row.line_no) in unread:
            new = agreed_amount(row, [r.get(key) for r in readings])
        if new is not None:
            filled.add((row.label_index, row.line_no))
        rows.append(new or row)
    if not filled:
        return kept
    issues = tuple(i for i in kept.issues if (i.label_index, i.line_no) not in filled)
    return dataclasses.replace(kept, rows=tuple(rows), issues=issues)
