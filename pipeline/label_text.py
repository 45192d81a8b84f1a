"""What a label's text says, read from its directions, warnings and other ingredients: the
anticoagulant (warfarin) caution, taking it with fat, and servings per day from the
directions (for the per-day amounts). Each gives the clause it found, as evidence."""

from __future__ import annotations

import re
from functools import lru_cache

#: The words that make a clause (text between "." and ";") evidence; the evidence shown is
#: the whole clause of the first such word.
_ANTICOAGULANT = re.compile(
    r"\b(warfarin|coumadin|anti-?coagula\w*|blood[- ]?thinn\w*|vitamin k antagonist)",
    re.IGNORECASE,
)
#: "after meals" counts, "1 hour after meals" / "30 minutes after a meal" does not (an interval
#: after the meal is not taking it with the meal's fat).
_NOT_AN_INTERVAL = "".join(
    f"(?<!{unit} )" for unit in ("hour", "hours", "hr", "hrs", "minute", "minutes", "min", "mins")
)
_WITH_FAT = re.compile(
    rf"\b((with|{_NOT_AN_INTERVAL}after|during) (a |your |each )?"
    r"(fat-containing |fatty |main )?(meal|meals|food|fat|dietary fat|breakfast|lunch|dinner)|"
    r"at meal ?times?|containing fat)\b",
    re.IGNORECASE,
)
_OIL_CARRIER = re.compile(
    r"\b(olive|sunflower|safflower|mct|coconut|soybean|flaxseed|fish|rice bran|medium[- ]chain"
    r"[\w ]*?) oil\b(?! powder)"  # "Coconut Oil powder" in a lozenge is not an oil carrier
    r"|\bmedium[- ]chain triglycerides?\b(?! powder)",  # MCT oil by its chemical name
    re.IGNORECASE,
)


def _evidence(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text or "")
    return match.group(0).strip() if match else None


def _clause_evidence(words: re.Pattern[str], text: str) -> str | None:
    """The clause (between "." / ";") around the first match of `words`, stripped: what
    `[^.;]*WORDS[^.;]*` finds, in one pass (that pattern rescans each clause from every
    position, which took a second per 2,000 labels). `words` never spans "." or ";"."""
    text = text or ""
    match = words.search(text)
    if match is None:
        return None
    start = max(text.rfind(".", 0, match.start()), text.rfind(";", 0, match.start())) + 1
    end = _CLAUSE_END.search(text, match.end())
    return text[start : end.start() if end else len(text)].strip()


#: Label texts repeat (a brand's products share directions and warnings), so the per-label
#: text functions keep their latest answers: bounded, so memory does not grow with the run.
_TEXT_CACHE_SIZE = 4096


@lru_cache(maxsize=_TEXT_CACHE_SIZE)
def anticoagulant_caution(warnings: str, directions: str) -> str | None:
    """The label sentence that cautions people on anticoagulants, if any."""
    return _clause_evidence(_ANTICOAGULANT, f"{warnings}. {directions}")


@lru_cache(maxsize=_TEXT_CACHE_SIZE)
def fat_guidance(directions: str, other_ingredients: str) -> str | None:
    """The directions sentence (or oil carrier) that has K2 taken with fat, if any."""
    said = _clause_evidence(_WITH_FAT, directions)
    if said:
        return said
    oil = _evidence(_OIL_CARRIER, other_ingredients)
    return f"oil carrier in the other ingredients: {oil}" if oil else None


_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a": 1, "an": 1,
}  # fmt: skip
_NUM = r"(\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|an?)"
_BRACKETED = r"(?:\s*(?:\[\d+\]|\(\d+\)))?"  # the digits some labels add: "three [3]", "two (2)"

#: The units a dose is counted in, by kind. A dose in the directions becomes servings only
#: when the serving size is counted in a kind it accepts (`_DOSE_ACCEPTS`): "take 2 capsules"
#: with "2 Capsules", never "12 drops" with "3 Gram(s)" or "1 scoop" with "30.3 Gram(s)".
_DOSE_UNITS: dict[str, str] = {
    "capsule": (
        r"capsules?|caps?|v-?caps?|veg(?:gie|etarian|an)? ?caps(?:ules)?|vegicaps?|"
        r"softgels?|soft ?gels?|gel ?caps?|liquid ?caps?"
    ),
    "tablet": r"tablets?|tabs?|caplets?",
    "lozenge": r"lozenges?|pastilles?",
    "gummy": r"gummies|gummy",
    "chewable": r"chewables?|chews?",
    "wafer": r"wafers?",
    "piece": r"pieces?",
    "scoop": r"scoops?",
    "packet": r"packets?|sachets?|stick ?packs?",
    "drop": r"drops?",
    "pill": r"pills?",
    "teaspoon": r"teaspoons?|tsp",
    "tablespoon": r"tablespoons?|tbsp",
    "serving": r"servings?",
}
#: Serving-size kinds a dose kind may be divided by (default: its own kind only).
_DOSE_ACCEPTS: dict[str, frozenset[str]] = {
    "pill": frozenset({"pill", "capsule", "tablet"}),
}
_DOSE_UNIT = "(" + "|".join(_DOSE_UNITS.values()) + ")"
_DOSE_KINDS = tuple(
    (kind, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE))
    for kind, pattern in _DOSE_UNITS.items()
)
_DOSE = re.compile(
    rf"\(?\b{_NUM}\)?{_BRACKETED}\s*(?:(?:to|-|or)\s*{_NUM}{_BRACKETED}\s*)?{_DOSE_UNIT}\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.;]")
_TIMES = re.compile(
    rf"\b(?:{_NUM}{_BRACKETED}\s*(?:to|-|or)\s*)?{_NUM}{_BRACKETED}\s+times\s+"
    r"(?:a|per|each|daily|every|in)\b|"
    r"\b(?:(?:once|twice)\s+or\s+)?(once|twice|thrice)\b",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"(?:[\s,]|\b(?:or|and)\b)+$", re.IGNORECASE)
_SERVING_COUNT = re.compile(rf"^\s*{_NUM}\b", re.IGNORECASE)


def _number(word: str | None) -> float | None:
    if word is None:
        return None
    word = word.lower()
    return float(word) if word[0].isdigit() else float(_WORD_NUMBERS[word])


def _dose_kind(unit: str) -> str:
    return next(kind for kind, pattern in _DOSE_KINDS if pattern.fullmatch(unit))


def _serving_counted_in(serving_size: str, dose_kind: str) -> bool:
    """Is the serving size counted in a unit the dose can be divided by?

    "2 Capsules" for capsules; a bare number ("2") for any dose; "30.3 Gram(s)" for none.
    """
    unit_text = _SERVING_COUNT.sub("", serving_size).strip()
    if not re.search(r"[a-z]", unit_text, re.IGNORECASE):
        return True
    kinds = {kind for kind, pattern in _DOSE_KINDS if pattern.search(unit_text)}
    return bool(kinds & _DOSE_ACCEPTS.get(dose_kind, frozenset({dose_kind})))


@lru_cache(maxsize=_TEXT_CACHE_SIZE)
def servings_per_day(
    serving_size: str | None, directions: str, max_daily_servings: float | None
) -> tuple[float, str]:
    """Servings per day and where that came from (shown in the report beside per-day values).

    DSLD's maximum daily servings wins. Otherwise the first dose in the directions ("take
    2 capsules twice daily"), at the top of any range ("1 to 3 lozenges", "2 to 3 times
    daily"), divided by the serving size when both count the same unit. Anything else is
    1 serving a day, and the source says it was assumed.
    """
    if max_daily_servings is not None and max_daily_servings > 0:
        return float(max_daily_servings), "the label's maximum daily servings"
    text = directions or ""
    dose = _DOSE.search(text)
    if dose:
        first, second, unit = dose.group(1), dose.group(2), dose.group(3)
        units = _number(second) or _number(first) or 1.0
        clause_end = _CLAUSE_END.search(text, dose.end())
        rest = text[dose.end() : clause_end.start() if clause_end else len(text)]
        next_dose = _DOSE.search(rest)  # "3 tablets at mealtime or 1 tablet three times a day"
        rest = rest[: next_dose.start()] if next_dose else rest
        times = 1.0
        freq = _TIMES.search(rest)
        if freq:
            word = freq.group(3)
            if word:
                times = {"once": 1.0, "twice": 2.0, "thrice": 3.0}[word.lower()]
            else:
                times = _number(freq.group(2)) or 1.0
        kind = _dose_kind(unit)
        per_serving: float | None = None
        if kind == "serving":
            per_serving = 1.0
        elif serving_size and _serving_counted_in(serving_size, kind):
            count = _SERVING_COUNT.match(serving_size)
            per_serving = _number(count.group(1)) if count else None
        if per_serving:
            said = _TRAILING.sub("", text[dose.start() : dose.end()] + rest).strip()
            return units * times / per_serving, f'directions: "{said}"'
    return 1.0, "assumed 1 serving per day (the directions give no daily dose)"


# ---- products -------------------------------------------------------------------------------
