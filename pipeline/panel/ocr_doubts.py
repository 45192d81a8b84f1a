"""Amounts an OCR reading may have got wrong in a way no repair can settle: the panel reader
reports them as unreadable (a read issue), never takes them. Text layers are not checked
(their characters are the label's own)."""

from __future__ import annotations

import re

#: "5.000": a point before exactly three digits, after a number that is not 0, is how OCR
#: reads a thousands comma ("5,000") as often as a label prints three decimals.
_POINT_THOUSANDS_RE = re.compile(r"^[<>]?[1-9]\d{0,2}\.\d{3}$")
#: Rows whose amount is a bare number on a label (energy): a bare number elsewhere has
#: lost its unit, or its unit was read as a digit ("2g" read as "29").
_BARE_NUMBER_ROW_RE = re.compile(r"^(?:calories|energy|kcal)\b", re.IGNORECASE)


def ocr_doubt(amount: str, unit: str | None, name: str) -> str | None:
    """Why an amount OCR read (`amount`, `unit`, on the row `name`) cannot be taken as
    read, or None when nothing speaks against it."""
    if _POINT_THOUSANDS_RE.match(amount.strip()):
        whole, _, rest = amount.strip().partition(".")
        return f"a point where a thousands comma may be: {amount} could be {whole},{rest}"
    if unit is None and not _BARE_NUMBER_ROW_RE.match(name.strip()):
        return "no unit: OCR may have read the unit as a digit ('2g' as '29')"
    return None
