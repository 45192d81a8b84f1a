"""The one table of nutrient names, synonyms and vitamin K forms.

`resolve(name_raw, form_raw)` turns a panel line's printed name and source into a canonical
nutrient and, for vitamin K2, its form. Names the table does not know stay `None` (kept in
the nutrients table as printed, never guessed). Daily Values and upper limits live here
too, beside the nutrient they belong to. Source: docs/domain-notes.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CALCIUM = "calcium"
MAGNESIUM = "magnesium"
VITAMIN_D = "vitamin_d"
VITAMIN_K1 = "vitamin_k1"
VITAMIN_K2 = "vitamin_k2"
VITAMIN_K = "vitamin_k"  # "Vitamin K" whose form does not say K1 or K2 (or says both)
VITAMIN_A = "vitamin_a"
VITAMIN_E = "vitamin_e"

MK7 = "MK-7"
MK4 = "MK-4"
UNSPECIFIED = "unspecified"
MIXED = "mixed"


@dataclass(frozen=True)
class Nutrient:
    key: str
    display: str
    unit: str  # canonical unit: "mg" or "mcg"
    dv_current: float | None = None  # FDA Daily Value (2016 rule), in `unit`
    dv_older: float | None = None  # the older Daily Value, in `unit`
    allowed_units: frozenset[str] = frozenset({"mass"})  # UnitKind values valid for it


NUTRIENTS: dict[str, Nutrient] = {
    CALCIUM: Nutrient(CALCIUM, "Calcium", "mg", 1300.0, 1000.0),
    MAGNESIUM: Nutrient(MAGNESIUM, "Magnesium", "mg", 420.0, 400.0),
    VITAMIN_D: Nutrient(VITAMIN_D, "Vitamin D", "mcg", 20.0, 10.0, frozenset({"mass", "iu"})),
    VITAMIN_K1: Nutrient(VITAMIN_K1, "Vitamin K1", "mcg", 120.0, 80.0),
    VITAMIN_K2: Nutrient(VITAMIN_K2, "Vitamin K2", "mcg", 120.0, 80.0),
    VITAMIN_K: Nutrient(VITAMIN_K, "Vitamin K (form not stated)", "mcg", 120.0, 80.0),
    VITAMIN_A: Nutrient(VITAMIN_A, "Vitamin A", "mcg", None, None, frozenset({"mass", "iu"})),
    VITAMIN_E: Nutrient(VITAMIN_E, "Vitamin E", "mg", None, None, frozenset({"mass", "iu"})),
}

#: The nutrients the protocol reads. A failed data-quality check on one of these blocks a verdict.
PROTOCOL_NUTRIENTS = frozenset({CALCIUM, MAGNESIUM, VITAMIN_D, VITAMIN_K1, VITAMIN_K2, VITAMIN_K})


@dataclass(frozen=True)
class UpperLimit:
    nutrient: str
    per_day: float  # in the nutrient's canonical unit
    text: str


#: Adult tolerable upper intake levels (per day). Calcium: 2500 mg (19-50 y); 2000 mg for 51+
#: is named in the finding's text.
UPPER_LIMITS: tuple[UpperLimit, ...] = (
    UpperLimit(CALCIUM, 2500.0, "2500 mg/day (adults 19-50; 2000 mg/day from 51)"),
    UpperLimit(VITAMIN_D, 100.0, "100 mcg (4000 IU)/day"),
    UpperLimit(MAGNESIUM, 350.0, "350 mg/day from supplements"),
)

# ---- names ---------------------------------------------------------------------------

#: Base name (the printed name without its parenthetical, lower case) -> nutrient.
#: Vitamin K names map to a provisional key; the form text decides K1/K2 (see `resolve`).
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), key)
    for p, key in (
        (r"^(elemental )?calcium$", CALCIUM),
        (r"^(elemental )?magnesium$", MAGNESIUM),
        (r"^vitamin d( ?-? ?[23])?$|^d ?-? ?[23]$|^(cholecalciferol|ergocalciferol)$", VITAMIN_D),
        (r"^(vitamin )?k ?-? ?1$|^(phylloquinone|phytonadione|phytomenadione)$", VITAMIN_K1),
        (
            r"^(vitamin )?k ?-? ?2( ?-? ?7| ?,? ?(mk|menaquinone) ?-? ?[47])?$"
            r"|^(all-trans )?menaquinone( ?-? ?[47])?$|^mk ?-? ?[47]$"
            r"|^mena ?q ?7$|^menatetrenone$",
            VITAMIN_K2,
        ),
        # "Vitamin K", and one line naming both K1 and K2 ("Vitamin K1 & K2"): the form decides
        (r"^vitamin k$|^(vitamin )?k ?-? ?1 ?(&|and|\+|/|,) ?(vitamin )?k ?-? ?2$", VITAMIN_K),
        (r"^vitamin a$|^retinol$|^retinyl (palmitate|acetate)$|^beta[- ]?carotene$", VITAMIN_A),
        (r"^vitamin e$|^(d|dl)-alpha[- ]tocopher", VITAMIN_E),
    )
)

#: Vitamin K form patterns over the whole line (name + source), lower case.
_MK7 = re.compile(r"\bmk ?-? ?7\b|menaquinone ?-? ?7|\bmena ?q ?-? ?7|\bk2 ?-? ?7\b")
_MK4 = re.compile(r"\bmk ?-? ?4\b|menaquinone ?-? ?4|menatetrenone")
_K1 = re.compile(r"phylloquinone|phyt[oa]nadione|phytomenadione|\bvitamin k ?1\b|\bk1\b")
_K2 = re.compile(r"\bk ?2\b|menaquinone|\bmk ?-? ?\d+\b")

_MARKS = re.compile(r"[®™*†‡§¶]|\((r|tm|c)\)", re.IGNORECASE)
_PAREN = re.compile(r"\([^()]*\)")
_SPACES = re.compile(r"\s+")


def clean_name(text: str) -> str:
    """Lower case, without trademark and footnote marks, single-spaced."""
    return _SPACES.sub(" ", _MARKS.sub(" ", text).lower()).strip(" ,;:")


def _base_name(name_raw: str) -> str:
    base = clean_name(name_raw)
    while _PAREN.search(base):
        base = _PAREN.sub(" ", base)
    base = re.sub(r"\b(as|from)\b.*$", "", base)  # "calcium as citrate" printed without ()
    return _SPACES.sub(" ", base).strip(" ,;:-")


@dataclass(frozen=True)
class Resolved:
    nutrient: str | None
    k2_form: str | None = None  # MK-7 | MK-4 | mixed | unspecified (vitamin K2 only)
    note: str | None = None  # why a vitamin K line stayed unresolved


def k_forms_in(text: str) -> set[str]:
    """Which vitamin K forms a text names: subset of {"K1", MK-7, MK-4, "K2"}."""
    t = clean_name(text)
    found = set()
    if _MK7.search(t):
        found.add(MK7)
    if _MK4.search(t):
        found.add(MK4)
    if _K1.search(t):
        found.add("K1")
    if not found & {MK7, MK4} and _K2.search(t):
        found.add("K2")
    return found


def _k2_form(forms: set[str]) -> str:
    named = forms & {MK7, MK4}
    if len(named) > 1:
        return MIXED
    return named.pop() if named else UNSPECIFIED


def resolve(name_raw: str, form_raw: str | None = None) -> Resolved:
    """Canonical nutrient (and K2 form) of a panel line; `Resolved(None)` when unknown."""
    base = _base_name(name_raw)
    key = next((k for pattern, k in _NAME_PATTERNS if pattern.match(base)), None)
    if key not in (VITAMIN_K, VITAMIN_K1, VITAMIN_K2):
        return Resolved(key)
    whole = f"{name_raw} {form_raw or ''}"
    forms = k_forms_in(whole)
    k2_named = bool(forms & {MK7, MK4, "K2"})
    if key == VITAMIN_K2 or (key == VITAMIN_K and k2_named and "K1" not in forms):
        return Resolved(VITAMIN_K2, _k2_form(forms))
    if key == VITAMIN_K1 or (key == VITAMIN_K and forms == {"K1"}):
        return Resolved(VITAMIN_K1)
    if "K1" in forms and k2_named:
        return Resolved(VITAMIN_K, note="names both K1 and K2 forms: the amount cannot be split")
    return Resolved(VITAMIN_K, note="vitamin K with no stated form: K1 or K2 cannot be told")


def iu_basis(nutrient: str | None, name_raw: str, form_raw: str | None) -> str | None:
    """The key of `pipeline.units.IU_TO_MCG` for an IU amount, or None when it must not convert."""
    text = clean_name(f"{name_raw} {form_raw or ''}")
    if nutrient == VITAMIN_D:
        return "vitamin_d"
    if nutrient == VITAMIN_A:
        if "carotene" in text:
            return None  # disputed factor: flag, do not convert
        return "vitamin_a_retinol" if re.search(r"retin|palmitate|acetate", text) else None
    if nutrient == VITAMIN_E:
        if re.search(r"\bdl-alpha|\bdl-α|\ball-rac|synthetic", text):
            return "vitamin_e_synthetic"
        if re.search(r"\bd-alpha|\bd-α|\brrr-alpha|natural", text):
            return "vitamin_e_natural"
    return None
