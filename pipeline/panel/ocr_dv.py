"""An amount OCR read, checked against the %Daily Value printed beside it.

Most Supplement Facts rows print a %DV beside the amount; for a nutrient with a Daily
Value the amount gives that %DV within label rounding (`pipeline.normalize.dv_consistent`)
under the 2016 DV or the older one (`pipeline.rules.regulated.daily_values`). OCR loses
decimal points and misreads digits ("Zinc 7.5 mg 68%" read as "75mg 68%": 75 mg would be
682%), so an amount whose %DV is more than `DOUBT_FACTOR` from the printed one under both
DVs is doubted (`check_dv`; a smaller disagreement is the label's own, which the
data-quality check `dv_consistent` and the compliance rule `dv_2016` report):

- when exactly one placement of a lost decimal point in the digits read ("75" as "7.5",
  "125" as "1.25" or "12.5") agrees with a printed %DV of `MIN_REPAIR_PCT` or more
  within label rounding, the row takes that amount as a repair, named in its repairs,
  with a confidence of at most `REPAIRED_CONFIDENCE` (below `MIN_AMOUNT_CONFIDENCE`, so a
  protocol amount repaired this way does not decide the verdict);
- otherwise the amount is unreadable: a read issue says what the amount would give and
  what the label prints, never a guess.

No check when the %DV is a symbol ("*"), missing or unreadable (also one printed with a
leading zero, "00%": no label prints one, it is "100%" with a digit lost), the amount carries "<" or
">", the unit is not read or not comparable with the DV (IU converts by
`pipeline.units.IU_TO_MCG`: the unit read decides the DVs used), the name is not one
regulated nutrient (a source compound such as "Magnesium Glycinate" has no DV of its own),
or the second amount column's amount agrees with the %DV (the %DV may be that column's; an
amount in parentheses is the same amount in another unit, so it is no excuse). Only OCR
readings are checked: a text layer's characters are the label's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.normalize import dv_consistent, parse_dv
from pipeline.rules.regulated import Regulated, daily_values, regulated
from pipeline.units import IU_TO_MCG, Unit, UnitKind, lookup_unit, parse_amount
from pipeline.values import fmt_number

#: The confidence (0-100) a row repaired from its %DV carries at most: its amount is the
#: label's %DV worked back, not a reading, so it stays under the verdict's threshold.
REPAIRED_CONFIDENCE = MIN_AMOUNT_CONFIDENCE / 2
#: Nutrients whose printed %DV need not follow from the amount (protein's is corrected
#: for its digestibility, 21 CFR 101.9(c)(7)(ii)).
_UNCHECKED = frozenset({"protein"})
#: Footnote marks after a %DV ("68%*"): the %DV is the number before them.
_MARKS_RE = re.compile(r"[*†‡§¶]+$")
_DIGITS_RE = re.compile(r"^\d{2,}$")
#: The smallest printed %DV that can put a lost point back: from 10% label rounding pins
#: the amount within 10% (68% of 11 mg: 6.7 to 8.2 mg); below it within a whole point
#: (3% of 420 mg: 8.4 to 16.8 mg), too loose to tell a lost point from a misread %DV.
MIN_REPAIR_PCT = 10.0
#: How far (a factor either way) the %DV an amount gives may be from the printed one, under
#: every DV, before the amount is doubted. Real labels print a %DV off by less: the RDA or
#: a child's DV for the adult DV (vitamin D 1000 IU as 167%, 600 IU; calcium 210 mg as
#: 30%), rounding (calcium 116 mg as 10%), at most a factor 2.0 on 379 DSLD label rows;
#: a lost point or digit is a factor 10, a misread first digit mostly more than 2.5
#: (1 for 7, 3 for 8).
DOUBT_FACTOR = 2.5
#: What a row's repairs say when its amount's lost decimal point was put back from its %DV.
POINT_REPAIR = "the point OCR lost"
#: A %DV printed with a leading zero ("00%", "05%"): no label prints one, so it is a misread
#: ("100%" with its first digit lost) and checks nothing.
_LEADING_ZERO_RE = re.compile(r"^0\d")
_ALT_AMOUNT_RE = re.compile(r"^\s*(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?P<unit>.+?)\s*$")


@dataclass(frozen=True)
class DvCheck:
    """What the printed %DV says about an amount OCR read: take `amount` (the digits read
    with their lost point put back) and add `repair` to the row's repairs, or, when
    `amount` is None, the amount is unreadable for the reason `doubt`."""

    amount: str | None
    repair: str | None = None
    doubt: str | None = None


@dataclass(frozen=True)
class _Dv:
    """One Daily Value in the unit the amount was read in: `per_unit` of that unit, shown
    as `text` ("11 mg", "800 IU"), `older` for the pre-2016 one."""

    per_unit: float
    text: str
    older: bool


def _mcg_per(unit: Unit, reg: Regulated) -> list[float]:
    """Micrograms in one `unit` of `reg`: one factor for a mass, one per IU basis of the
    vitamin (vitamin E natural or synthetic) for IU, none when it cannot convert."""
    if unit.kind is UnitKind.MASS and unit.mcg_factor is not None:
        return [unit.mcg_factor]
    if unit.kind is UnitKind.IU:
        return [f for k, f in IU_TO_MCG.items() if k == reg.key or k.startswith(f"{reg.key}_")]
    return []


def _dvs(reg: Regulated, unit: Unit) -> list[_Dv]:
    """The nutrient's Daily Values in `unit` (the 2016 one first): those printed in a unit
    of its kind as they are, the others converted where a factor is known."""
    out: list[_Dv] = []
    for older, dv in enumerate(daily_values(reg)):
        dv_unit = lookup_unit(dv[1]) if dv else None
        if dv is None or dv_unit is None:
            continue
        if dv_unit.kind is unit.kind and unit.kind is not UnitKind.MASS:
            out.append(_Dv(dv[0], f"{fmt_number(dv[0])} {dv[1]}", bool(older)))
            continue
        for read in _mcg_per(unit, reg):
            for own in _mcg_per(dv_unit, reg):
                value = dv[0] * own / read
                text = f"{fmt_number(dv[0])} {dv[1]}"
                if dv_unit.kind is not unit.kind:
                    text = f"{fmt_number(value, 1)} {unit.canonical}"  # 20 mcg as 800 IU
                out.append(_Dv(value, text, bool(older)))
    return out


def _agrees(value: float, dvs: list[_Dv], printed: float, factor: float = 1.0) -> _Dv | None:
    """The first DV under which `value` gives the `printed` %DV within label rounding, or
    within `factor` of it either way."""
    for dv in dvs:
        expected = value / dv.per_unit * 100
        if dv_consistent(printed, expected, expected):
            return dv
        if (
            printed > 0
            and expected > 0
            and max(printed, expected) <= factor * min(printed, expected)
        ):
            return dv
    return None


def _pct(value: float) -> str:
    return f"{fmt_number(round(value))}%" if value >= 1 else "less than 1%"


def _point_placements(digits: str) -> list[str]:
    """The amounts `digits` reads as with one lost decimal point put back ("125" gives
    "1.25" and "12.5"); a leading 0 only before the point ("05" gives "0.5"), and none that
    ends in 0 ("1000" does not give "100.0" or "1.000", "350" not "3.50": a label prints
    100 and 3.5)."""
    if not _DIGITS_RE.match(digits) or digits.endswith("0"):
        return []
    cuts = [1] if digits[0] == "0" else range(1, len(digits))
    return [f"{digits[:i]}.{digits[i:]}" for i in cuts]


def _checkable(
    amount: str, unit: str | None, dv: str | None, name: str
) -> tuple[Regulated, Unit, float, float] | None:
    """(the nutrient, the unit read, the amount, the printed %DV) when `amount` `unit` of
    `name` can be checked against the printed %DV `dv`, else None (module docstring)."""
    dv_text = (dv or "").strip()
    printed = None if _LEADING_ZERO_RE.match(dv_text) else parse_dv(_MARKS_RE.sub("", dv_text))
    reg = regulated(name) if printed is not None else None
    read_unit = lookup_unit(unit)
    value = parse_amount(amount)
    if reg is None or reg.key in _UNCHECKED or read_unit is None or value is None:
        return None
    if value.operator is not None or printed is None:
        return None
    return reg, read_unit, value.value, printed


def check_dv(
    amount: str,
    unit: str | None,
    dv: str | None,
    name: str,
    second: tuple[str | None, str | None] = (None, None),
) -> DvCheck | None:
    """The printed %DV `dv` against the amount OCR read (`amount` `unit` on the row `name`):
    None when it agrees or there is nothing to check, else a repair or a doubt (`DvCheck`).
    `second` is the second amount column's (amount, unit): a %DV that agrees with it is
    that column's, not a sign of a misread."""
    dv_text = (dv or "").strip()
    found = _checkable(amount, unit, dv, name)
    if found is None:
        return None
    reg, read_unit, value, printed = found
    dvs = _dvs(reg, read_unit)
    if not dvs or _agrees(value, dvs, printed, DOUBT_FACTOR) is not None:
        return None
    other, other_unit = parse_amount(second[0]), lookup_unit(second[1] or unit)
    if other and other_unit and _agrees(other.value, _dvs(reg, other_unit), printed, DOUBT_FACTOR):
        return None  # the %DV is the second column's
    fits: list[tuple[str, _Dv]] = []
    for placed in _point_placements(amount.strip()) if printed >= MIN_REPAIR_PCT else ():
        agreeing = _agrees(float(placed), dvs, printed)
        if agreeing is not None:
            fits.append((placed, agreeing))
    shown_unit = (unit or "").strip()
    if len(fits) == 1:
        placed, agreeing = fits[0]
        return DvCheck(
            placed,
            repair=f"{placed} {shown_unit}: {POINT_REPAIR}, from the printed {dv_text} DV "
            f"of {agreeing.text}" + (" (the older DV)" if agreeing.older else ""),
        )
    why = _would_be(f"{amount.strip()} {shown_unit}", value, reg, dvs)
    why += f", the label prints {dv_text}: "
    if fits:
        why += " and ".join(p for p, _ in fits) + " would each agree: "
    return DvCheck(None, doubt=why + "amount or %DV misread")


def _would_be(amount: str, value: float, reg: Regulated, dvs: list[_Dv]) -> str:
    """ "125 mg of magnesium would be 30% of the 420 mg DV (31% of the older 400 mg DV)"."""
    current = dvs[0]
    display = reg.display[0].lower() + reg.display[1:]
    why = (
        f"{amount} of {display} would be {_pct(value / current.per_unit * 100)} of the "
        f"{'older ' if current.older else ''}{current.text} DV"
    )
    older = next((d for d in dvs if d.older and d.text != current.text), None)
    if older is not None and not current.older:
        why += f" ({_pct(value / older.per_unit * 100)} of the older {older.text} DV)"
    return why


def point_put_back(row_amount: str | None, repairs: str | None, other: str) -> bool:
    """Whether `row_amount` is `other` (another reading's number) with the decimal point
    the %DV put back (`repairs` names POINT_REPAIR): "7.5" from "75" beside 68% of zinc.
    The two readings then read the same digits: no disagreement."""
    if row_amount is None or POINT_REPAIR not in (repairs or "") or "." in other:
        return False
    return row_amount.replace(".", "") == other and "." in row_amount


def dv_agreement(amount: str, unit: str | None, dv: str | None, name: str) -> str | None:
    """The Daily Value ("15 mg") under which `amount` `unit` of the nutrient `name` gives
    the printed %DV `dv` within label rounding (`normalize.dv_consistent`), or None: it
    gives another, or it cannot be checked (as `check_dv`; a %DV below MIN_REPAIR_PCT
    pins an amount too loosely to confirm it)."""
    found = _checkable(amount, unit, dv, name)
    if found is None or found[3] < MIN_REPAIR_PCT:
        return None
    reg, read_unit, value, printed = found
    agreeing = _agrees(value, _dvs(reg, read_unit), printed)
    return (
        None if agreeing is None else agreeing.text + (" (the older DV)" if agreeing.older else "")
    )
