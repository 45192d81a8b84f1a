"""The %DV cross-check again, for OCR rows whose name was corrected after the panel reader.

The panel reader checks an OCR'd amount against the %DV printed beside it
(`pipeline.panel.ocr_dv.check_dv`) only for a row whose name declares a regulated
nutrient as read. A name the lexicon corrects afterwards (`pipeline.panel.ocr_names`:
"Zino (at Bac Onde)" -> "Zinc (at Bac Onde)") was not checked: "75 mg 68%" of zinc would
then be shown as 75 mg although the printed 68% says 7.5 mg. `recheck_dv` runs the same
check on such rows, with the same outcomes:

- an amount that agrees with its %DV stays as it is;
- exactly one lost decimal point put back agrees: the row takes that amount, its repairs
  name it, its confidence is at most `REPAIRED_CONFIDENCE`;
- otherwise the row loses its amount and a read issue says what the amount would give
  and what the label prints (as the reader says it), never a guess.

Rows the reader checked already (their name declared a regulated nutrient as read) are
left alone, so the check is never run twice on one row.
"""

from __future__ import annotations

import dataclasses

from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE, check_dv
from pipeline.panel.reader import unread_amount
from pipeline.records import Label, LabelRow, ReadIssue
from pipeline.rules.regulated import regulated

Parsed = tuple[list[Label], list[LabelRow], list[ReadIssue]]


def _amount_text(row: LabelRow) -> str:
    return f"{row.amount_raw} {row.unit_raw or ''}".strip()


def recheck_row(before: LabelRow, after: LabelRow) -> tuple[LabelRow, ReadIssue | None]:
    """`after` (the row `before` became when its name was corrected) with its amount
    checked against its printed %DV, and the read issue when the amount is doubted."""
    if (
        after.amount_raw is None
        or after.dv_raw is None
        or regulated(before.name_raw) is not None
        or regulated(after.name_raw) is None
    ):
        return after, None
    found = check_dv(
        after.amount_raw,
        after.unit_raw,
        after.dv_raw,
        after.name_raw,
        (after.amount_alt_raw, after.unit_alt_raw),
    )
    if found is None:
        return after, None
    if found.amount is not None:
        repairs = "; ".join(filter(None, [after.repairs, found.repair])) or None
        capped = min(
            after.confidence if after.confidence is not None else 100.0, REPAIRED_CONFIDENCE
        )
        return dataclasses.replace(
            after, amount_raw=found.amount, repairs=repairs, confidence=capped
        ), None
    where = f"page {after.page}, line {after.line_no}" if after.page else f"line {after.line_no}"
    issue = ReadIssue(
        after.source_file,
        after.label_index,
        after.page,
        after.line_no,
        unread_amount(where, f"{_amount_text(after)} ({found.doubt})", after.name_raw),
    )
    unread = dataclasses.replace(
        after, amount_raw=None, unit_raw=None, amount_alt_raw=None, unit_alt_raw=None
    )
    return unread, issue


def recheck_dv(before: Parsed, after: Parsed) -> Parsed:
    """`after` (the reading `before` with its names corrected, row for row) with each row
    whose name now declares a regulated nutrient checked against its printed %DV."""
    labels, rows, issues = after
    if len(rows) != len(before[1]):
        raise ValueError("recheck_dv: the corrected reading must keep every row, in order")
    out: list[LabelRow] = []
    found: list[ReadIssue] = []
    for was, now in zip(before[1], rows, strict=True):
        row, issue = recheck_row(was, now)
        out.append(row)
        if issue is not None:
            found.append(issue)
    return labels, out, [*issues, *found] if found else issues
