"""The one table of label units and how each converts.

Every mass is normalized to micrograms (`amount_mcg`); stage tables and products then
show minerals in mg and vitamins D and K in mcg, with the unit in the column name.
International Units convert per nutrient (and, for vitamins A and E, per form); where the
conversion is disputed (beta-carotene IU) the value is kept and flagged, never guessed.
Source of every factor: docs/domain-notes.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    MASS = "mass"  # converts to mcg by a fixed factor
    IU = "iu"  # International Units: the factor depends on the nutrient and its form
    NOT_PROVIDED = "not_provided"  # "NP", "Not Present": the label gives no amount
    ENERGY = "energy"  # Calories: not a nutrient amount the audit uses
    OTHER = "other"  # known, but not a mass (e.g. "CFU", "%")


@dataclass(frozen=True)
class Unit:
    canonical: str  # how the report writes it
    kind: UnitKind
    mcg_factor: float | None = None  # micrograms per 1 of this unit (mass units)
    basis: str | None = None  # activity basis of a qualified mass: RAE, DFE, NE, AT


def _mass(canonical: str, factor: float, basis: str | None = None) -> Unit:
    return Unit(canonical, UnitKind.MASS, factor, basis)


_MCG = _mass("mcg", 1.0)
_MG = _mass("mg", 1000.0)
_G = _mass("g", 1_000_000.0)

#: Unit as printed (after `unit_key`) -> Unit. One table: add a spelling here, nowhere else.
UNITS: dict[str, Unit] = {
    "mcg": _MCG,
    "ug": _MCG,
    "µg": _MCG,  # micro sign U+00B5
    "μg": _MCG,  # Greek mu U+03BC
    "microgram": _MCG,
    "micrograms": _MCG,
    "mg": _MG,
    "milligram": _MG,
    "milligrams": _MG,
    "g": _G,
    "gram": _G,
    "grams": _G,
    "gm": _G,
    "ng": _mass("ng", 0.001),
    "mcg rae": _mass("mcg RAE", 1.0, "RAE"),
    "mcg dfe": _mass("mcg DFE", 1.0, "DFE"),
    "mg ne": _mass("mg NE", 1000.0, "NE"),
    "mg at": _mass("mg AT", 1000.0, "AT"),
    "mg ate": _mass("mg AT", 1000.0, "AT"),
    "iu": Unit("IU", UnitKind.IU),
    "i.u": Unit("IU", UnitKind.IU),
    "np": Unit("NP", UnitKind.NOT_PROVIDED),
    "not present": Unit("NP", UnitKind.NOT_PROVIDED),
    "calorie": Unit("Calories", UnitKind.ENERGY),
    "calories": Unit("Calories", UnitKind.ENERGY),
    "{calories}": Unit("Calories", UnitKind.ENERGY),
    "kcal": Unit("Calories", UnitKind.ENERGY),
    "cfu": Unit("CFU", UnitKind.OTHER),
    "billion cfu": Unit("billion CFU", UnitKind.OTHER),
}

#: Micrograms per IU, by the IU basis `pipeline.nutrients.iu_basis` names. Vitamin A as
#: retinol converts to mcg RAE; vitamin E to mg alpha-tocopherol. Beta-carotene IU is
#: deliberately absent: its factor is disputed (0.15 or 0.3 mcg RAE per IU).
IU_TO_MCG: dict[str, float] = {
    "vitamin_d": 0.025,  # 1 mcg = 40 IU
    "vitamin_a_retinol": 0.3,  # 1 IU retinol = 0.3 mcg RAE
    "vitamin_e_natural": 670.0,  # 1 IU d-alpha-tocopherol = 0.67 mg
    "vitamin_e_synthetic": 450.0,  # 1 IU dl-alpha-tocopherol = 0.45 mg
}

_SPACES = re.compile(r"\s+")


def unit_key(unit_raw: str) -> str:
    """Lower-case, single-spaced, without "(s)" plurals or a trailing dot: "Gram(s)" -> "gram"."""
    key = _SPACES.sub(" ", unit_raw.strip().lower()).replace("(s)", "")
    return key.rstrip(".").strip()


def lookup_unit(unit_raw: str | None) -> Unit | None:
    """The Unit for a printed unit, or None when the table does not know it."""
    if unit_raw is None or not unit_raw.strip():
        return None
    return UNITS.get(unit_key(unit_raw))


_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")  # "1,000", not "0,500"
_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$|^0,\d+$")  # "0,5", "12,25", "0,500"
_NUMBER = re.compile(r"^\d+(\.\d+)?$|^\.\d+$")


_DECIMAL_COMMA_EVIDENCE = re.compile(r"^[<>]?(?:\d+,\d{1,2}|\d{4,},\d+|0,\d+|\d+,\d{4,})$")
_GROUPED = re.compile(r"^[<>]?[1-9]\d{0,2}(?:[,.]\d{3})+$")  # "1,250" or "1.250"


def shows_decimal_comma(amount_raw: str) -> bool:
    """An amount that can only be read with a decimal comma: "4,80", "1500,00", "0,5"."""
    return bool(_DECIMAL_COMMA_EVIDENCE.match(amount_raw.strip().replace(" ", "")))


def ambiguous_among_decimal_commas(amount_raw: str) -> bool:
    """An amount that a panel printed with decimal commas makes ambiguous: "1,250" (1.25 or
    1250?) and "1.250" (a dot grouping thousands?). Such an amount is unreadable, never
    guessed; elsewhere "1,250" is 1250 (a thousands comma has 3 digits after it)."""
    return bool(_GROUPED.match(amount_raw.strip().replace(" ", "")))


@dataclass(frozen=True)
class ParsedAmount:
    value: float
    operator: str | None = None  # "<" for "<1", ">" for ">5"


def parse_amount(amount_raw: str | None) -> ParsedAmount | None:
    """A printed amount as a number: "1,000" -> 1000, "0,5" -> 0.5, "<1" -> 1 with "<".

    A leading minus ("-5", or U+2212) is kept as a negative number, so the data-quality
    check on negative amounts can name it. Returns None when the text is not a number
    (the caller reports it, never guesses).
    """
    if amount_raw is None:
        return None
    text = amount_raw.strip().replace("\u00a0", "").replace(" ", "").replace("\u2212", "-")
    operator = None
    if text[:1] and text[:1] in "<>":
        operator, text = text[0], text[1:]
    sign = 1.0
    if text[:1] == "-":
        sign, text = -1.0, text[1:]
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    if not _NUMBER.match(text):
        return None
    return ParsedAmount(sign * float(text), operator)
