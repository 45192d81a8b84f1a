"""Missing values and numbers for people: the one definition the stages share.

A value read from a table is missing when it is None, NaN or pandas' NA (Parquet gives
any of them); `number` is a finite float or None; `fmt_number` writes a number as a reader
wants it (62 not 62.0, 2.5 stays 2.5, thousands separated unless asked otherwise).
"""

from __future__ import annotations

import math
import sys
from typing import Any


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA / NaT: a table cell with nothing in it. (pandas is not
    imported for it: the CLI starts without pandas, and without it no NA exists.)"""
    if value is None:
        return True
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return True
    try:
        return bool(value != value)  # NaN, of any float type, is not equal to itself
    except (TypeError, ValueError):  # an array is a value
        return False


def present(value: Any) -> bool:
    """Not missing (`is_missing`)."""
    return not is_missing(value)


def number(value: Any) -> float | None:
    """A finite float, or None for a missing / non-numeric / infinite value (a bool is no
    number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def text(value: Any) -> str:
    """A text cell as a string, stripped: anything but text (missing) is ""."""
    return value.strip() if isinstance(value, str) else ""


def fmt_number(
    value: Any, digits: int = 2, *, thousands: bool = True, missing: str = "none"
) -> str:
    """A number for people, rounded to `digits`: 62.0 -> "62", 1000.0 -> "1,000" ("1000"
    with thousands=False), 2.50 -> "2.5"; `missing` for a missing or non-finite value; a
    value that is not a number is shown as it is."""
    if is_missing(value) or isinstance(value, bool):
        return missing
    try:
        rounded = round(float(value), digits)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(rounded):
        return missing
    comma = "," if thousands else ""
    if rounded == int(rounded):
        shown = f"{int(rounded):{comma}}"
    else:
        shown = f"{rounded:{comma}.{digits}f}".rstrip("0").rstrip(".")
    return "0" if shown == "-0" else shown
