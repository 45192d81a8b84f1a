"""The dietary ingredients 21 CFR 101.36(b)(2) regulates: how their names read, their
order, required units and Daily Values (the 2016 rule's and the older ones, 21 CFR
101.9(c)(8)(iv) and (c)(9)); those of the protocol nutrients are pipeline.nutrients'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline import nutrients as nt


@dataclass(frozen=True)
class Regulated:
    """A (b)(2)-dietary ingredient: how its name reads, its place, unit and Daily Values.

    `dv`/`dv_older` are (amount, unit); None when the nutrient's DV lives in
    pipeline.nutrients (`protocol_key`) or it has none. `order` is its place among the
    vitamins and minerals (None for the others).
    """

    key: str
    display: str
    pattern: str
    order: int | None = None
    dv: tuple[float, str] | None = None
    dv_older: tuple[float, str] | None = None
    units: tuple[str, ...] = ()  # the units the 2016 rule allows (canonical spellings)
    protocol_key: str | None = None  # the pipeline.nutrients key whose DV it uses


def _vm(
    order: int,
    key: str,
    display: str,
    pattern: str,
    dv: tuple[float, str] | None,
    dv_older: tuple[float, str] | None,
    units: tuple[str, ...] = (),
    protocol_key: str | None = None,
) -> Regulated:
    return Regulated(key, display, pattern, order, dv, dv_older, units, protocol_key)


#: Vitamins and minerals in the order of 21 CFR 101.36(b)(2)(i)(B), with their Daily Values
#: (2016 rule; older RDI) and required units; then the (b)(2) ingredients that are not
#: vitamins or minerals (macronutrients; calories and sugars have no DV).
REGULATED: tuple[Regulated, ...] = (
    _vm(1, "vitamin_a", "Vitamin A", r"vitamin a|retinol|retinyl \w+|beta[- ]?carotene",
        (900, "mcg RAE"), (5000, "IU"), ("mcg RAE",)),
    _vm(2, "vitamin_c", "Vitamin C", r"vitamin c|ascorbic acid", (90, "mg"), (60, "mg")),
    _vm(3, "vitamin_d", "Vitamin D", r"vitamin d( ?-? ?[23])?|d ?-? ?[23]|cholecalciferol|"
        r"ergocalciferol", None, None, ("mcg",), nt.VITAMIN_D),
    _vm(4, "vitamin_e", "Vitamin E", r"vitamin e|(d|dl)-alpha[- ]tocopher\w*", (15, "mg"),
        (30, "IU"), ("mg", "mg AT")),
    _vm(5, "vitamin_k", "Vitamin K", r"(vitamin )?k ?-? ?[12]( ?-? ?7)?|vitamin k|"
        r"phylloquinone|phytonadione|menaquinone( ?-? ?[47])?|mk ?-? ?[47]|menatetrenone",
        None, None, ("mcg",), nt.VITAMIN_K2),
    _vm(6, "thiamin", "Thiamin", r"thiamine?|vitamin b ?-? ?1", (1.2, "mg"), (1.5, "mg")),
    _vm(7, "riboflavin", "Riboflavin", r"riboflavin|vitamin b ?-? ?2", (1.3, "mg"),
        (1.7, "mg")),
    _vm(8, "niacin", "Niacin", r"niacin(amide)?|vitamin b ?-? ?3", (16, "mg"), (20, "mg")),
    _vm(9, "vitamin_b6", "Vitamin B6", r"vitamin b ?-? ?6|pyridoxine( hcl| hydrochloride)?",
        (1.7, "mg"), (2.0, "mg")),
    _vm(10, "folate", "Folate",
        r"folate|folic acid|folacin|vitamin b ?-? ?9|[\w-]*methyl ?folate", (400, "mcg DFE"),
        (400, "mcg"), ("mcg DFE",)),
    _vm(11, "vitamin_b12", "Vitamin B12", r"vitamin b ?-? ?12|(cyano|methyl)?cobalamin",
        (2.4, "mcg"), (6.0, "mcg")),
    _vm(12, "biotin", "Biotin", r"biotin", (30, "mcg"), (300, "mcg")),
    _vm(13, "pantothenic_acid", "Pantothenic acid",
        r"pantothenic acid|vitamin b ?-? ?5|(d-)?calcium pantothenate", (5, "mg"), (10, "mg")),
    _vm(14, "choline", "Choline", r"choline", (550, "mg"), None),
    _vm(15, "calcium", "Calcium", r"(elemental )?calcium", None, None, (), nt.CALCIUM),
    _vm(16, "iron", "Iron", r"iron", (18, "mg"), (18, "mg")),
    _vm(17, "phosphorus", "Phosphorus", r"phosphorous?|phosphorus", (1250, "mg"), (1000, "mg")),
    _vm(18, "iodine", "Iodine", r"iodine", (150, "mcg"), (150, "mcg")),
    _vm(19, "magnesium", "Magnesium", r"(elemental )?magnesium", None, None, (), nt.MAGNESIUM),
    _vm(20, "zinc", "Zinc", r"zinc", (11, "mg"), (15, "mg")),
    _vm(21, "selenium", "Selenium", r"selenium", (55, "mcg"), (70, "mcg")),
    _vm(22, "copper", "Copper", r"copper", (0.9, "mg"), (2.0, "mg")),
    _vm(23, "manganese", "Manganese", r"manganese", (2.3, "mg"), (2.0, "mg")),
    _vm(24, "chromium", "Chromium", r"chromium", (35, "mcg"), (120, "mcg")),
    _vm(25, "molybdenum", "Molybdenum", r"molybdenum", (45, "mcg"), (75, "mcg")),
    _vm(26, "chloride", "Chloride", r"chloride", (2300, "mg"), (3400, "mg")),
    _vm(27, "sodium", "Sodium", r"sodium", (2300, "mg"), (2400, "mg")),
    _vm(28, "potassium", "Potassium", r"potassium", (4700, "mg"), (3500, "mg")),
    Regulated("total_fat", "Total fat", r"(total )?fat", dv=(78, "g"), dv_older=(65, "g")),
    Regulated("saturated_fat", "Saturated fat", r"saturated fat", dv=(20, "g"),
              dv_older=(20, "g")),
    Regulated("cholesterol", "Cholesterol", r"cholesterol", dv=(300, "mg"),
              dv_older=(300, "mg")),
    Regulated("total_carbohydrate", "Total carbohydrate", r"(total )?carbohydrates?",
              dv=(275, "g"), dv_older=(300, "g")),
    Regulated("dietary_fiber", "Dietary fiber", r"(dietary )?fib(er|re)", dv=(28, "g"),
              dv_older=(25, "g")),
    Regulated("protein", "Protein", r"protein", dv=(50, "g"), dv_older=(50, "g")),
    Regulated("added_sugars", "Added sugars", r"(includes \d+ ?g )?added sugars?",
              dv=(50, "g")),
    # (b)(2) ingredients without a Daily Value: no %DV, and no "not established" symbol
    Regulated("calories", "Calories", r"calories( from fat)?|total calories"),
    Regulated("no_dv_b2", "(b)(2) ingredient without a DV",
              r"(total )?sugars?|trans fat|(poly|mono)unsaturated fat|sugar alcohols?|"
              r"(soluble|insoluble) fib(er|re)|other carbohydrate"),
)  # fmt: skip

_BY_KEY: dict[str, Regulated] = {r.key: r for r in REGULATED}
_PATTERNS: tuple[tuple[re.Pattern[str], Regulated], ...] = tuple(
    (re.compile(rf"^(?:{r.pattern})$"), r) for r in REGULATED
)
#: The nutrients whose %DV, when given, needs the 2,000 calorie footnote.
CALORIE_FOOTNOTE_KEYS = frozenset(
    {"total_fat", "saturated_fat", "total_carbohydrate", "dietary_fiber", "protein"}
)
ORDER_TEXT = ", ".join(r.display.lower() for r in REGULATED if r.order is not None)

_PAREN = re.compile(r"\([^()]*\)")
_AS = re.compile(r"\b(as|from)\b.*$")
_SPACES = re.compile(r"\s+")


def base_name(name_raw: str) -> str:
    """The printed name without marks, parentheticals or its "as ..." source, lower case."""
    base = nt.clean_name(name_raw or "")
    while _PAREN.search(base):
        base = _PAREN.sub(" ", base)
    base = _AS.sub("", base)
    return _SPACES.sub(" ", base).strip(" ,;:-")


@lru_cache(maxsize=4096)  # labels repeat names; bounded, so memory stays flat
def regulated(name_raw: str) -> Regulated | None:
    """The (b)(2)-dietary ingredient a printed name declares, or None (a (b)(3) ingredient)."""
    base = base_name(name_raw)
    return next((r for pattern, r in _PATTERNS if pattern.match(base)), None)


_VITAMIN_OR_MINERAL = re.compile(
    r"^(?:" + "|".join(r.pattern for r in REGULATED if r.order is not None) + r") \w"
)


@lru_cache(maxsize=4096)
def names_a_nutrient_form(name_raw: str) -> bool:
    """Does an unrecognized name start with a vitamin or mineral ("Calcium Citrate", "Zinc
    Gluconate")? Such a line may declare the nutrient: the no-DV rules leave it alone."""
    return bool(_VITAMIN_OR_MINERAL.match(base_name(name_raw)))


def daily_values(reg: Regulated) -> tuple[tuple[float, str] | None, tuple[float, str] | None]:
    """(2016 DV, older DV) of a regulated nutrient, each (amount, unit)."""
    if reg.protocol_key is not None:
        info = nt.NUTRIENTS[reg.protocol_key]
        current = None if info.dv_current is None else (info.dv_current, info.unit)
        older = None if info.dv_older is None else (info.dv_older, info.unit)
        return current, older
    return reg.dv, reg.dv_older
