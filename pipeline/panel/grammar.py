"""The value grammar of panel cells and the statements around a panel (regular expressions)."""

from __future__ import annotations

import re

# --- value grammar ---------------------------------------------------------------

_NUM = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+,\d{1,2}(?![\d,])|\d+,\d{4,}(?![\d,])|"
    r"\d+(?:\.\d+)?|\.\d+"
)
_BASE_UNIT = (
    r"mcg|µg|μg|ug|mg|kg|ng|g|gm|grams?|milligrams?|micrograms?|IU|I\.U\.|kcal|"
    r"Calories|Calorie|Cal|mL|ml|L|mEq|(?:billion|million)\s+CFU|CFU"
)
_UNIT_SUFFIX = r"RAE|DFE|NE|AT|α-TE|TE|GAE"
_UNIT = rf"(?:{_BASE_UNIT})(?:\s+(?:{_UNIT_SUFFIX}))?(?![A-Za-z0-9])"
_MARKS = r"[*†‡]+"
_AMOUNT_RE = re.compile(
    rf"(?P<op>(?:<|>|≤|≥)\s*)?(?P<num>{_NUM})(?![\d,.])\s*(?P<unit>{_UNIT})?"
    rf"(?:\s*\((?P<alt>[^()]+)\))?(?P<mark>{_MARKS})?",
    re.IGNORECASE,
)
_PCT_RE = re.compile(rf"(?:(?:<|>)\s*)?(?:{_NUM})\s*%\s*(?:{_MARKS})?")
#: A %DV printed in parentheses with its name ("(100% DV)"): read as the %DV "100%".
_PCT_PAREN_RE = re.compile(
    rf"\(\s*(?P<pct>(?:(?:<|>)\s*)?(?:{_NUM})\s*%)\s*(?:DV)?\s*\)(?P<mark>{_MARKS})?",
    re.IGNORECASE,
)
_MARK_RE = re.compile(rf"{_MARKS}|[—–]")
_ALT_RE = re.compile(rf"(?:{_NUM})\s*(?:{_UNIT})", re.IGNORECASE)
_HAS_DIGIT = re.compile(r"\d")
_LEADER = r"[.·…_]"
_RULE_WORD_RE = re.compile(r"[.·…_\-–—=~]{3,}")
_GLUED_LEADER_RE = re.compile(rf"{_LEADER}{{3,}}(?=[^.·…_])|(?<=[^.·…_]){_LEADER}{{3,}}")

# --- line vocabulary --------------------------------------------------------------

_STATEMENT_RE = re.compile(
    r"^(?:other\s+ingredients?|ingredients\s*(?:\([^)]*\)\s*)?:|suggested\s+use|suggested\s+usage|"
    r"directions|recommended\s+use|recommended\s+dose|dosage\s*:|warnings?\b|caution\b|"
    r"keep\s+out\s+of\s+(?:the\s+)?reach|contains\s*:|store\b|storage\b|"
    r"these\s+statements|manufactured\s+(?:by|for)|distributed\s+by)",
    re.IGNORECASE,
)
_OTHER_RE = re.compile(
    r"^(?:other\s+ingredients?|ingredients)\s*(?:\([^)]*\)\s*)?[:.]?\s*", re.IGNORECASE
)
_DIRECTIONS_RE = re.compile(
    r"^(?:suggested\s+use|suggested\s+usage|directions(?:\s+for\s+use)?|recommended\s+use|"
    r"recommended\s+dose|dosage)\s*[:.]?\s*",
    re.IGNORECASE,
)
_WARNING_PREFIX_RE = re.compile(r"^warnings?\s*[:.]?\s*", re.IGNORECASE)
_WARNING_KEEP_RE = re.compile(r"^(?:caution\b|keep\s+out\s+of)", re.IGNORECASE)
_FOOTNOTE_RE = re.compile(
    r"daily\s+values?\s+(?:not|are|is|has)|not\s+established|percent\s+daily\s+values?|"
    r"based\s+on\s+a\s+2,?000",
    re.IGNORECASE,
)
#: "Serving Size", or "<a misread word> Size" before a number (the word "Serving" lost to
#: an arrow or a rule crossing it: "ina Size 10 Drops"); only preamble lines are matched.
_SERVING_SIZE_RE = re.compile(
    r"^(?:serving|[^\s\d]{1,9}(?=\s+size\s*[:.\-–—]?\s*\d))\s+size\s*[:.\-–—]?\s*",
    re.IGNORECASE,
)
#: "Servings Per Container", or "Per Container" at a line's start (its first word lost).
_SERVINGS_PER_RE = re.compile(
    r"(?:servings?\s+|^\W*)per\s+(?:container|package|bottle|pack|jar|tube|box)\s*[:.\-–—]?\s*",
    re.IGNORECASE,
)
_SERVING_UNITS = (
    r"tablets?|capsules?|caps|softgels?|gel\s*caps?|vegcaps?|gumm(?:y|ies)|lozenges?|chewables?|"
    r"scoops?|drops?|packets?|sachets?|sticks?|pieces?|servings?|wafers?|chews?|pills?|"
    r"teaspoons?|tablespoons?|ml|g"
)
#: A serving's count glued to its unit ("1Softgel", "2Gummies"): parted by a space.
#: (A weight, "6g", stays as printed.)
_GLUED_COUNT_RE = re.compile(rf"\b(\d+)(?!(?:g|ml)\b)((?:{_SERVING_UNITS})\b)", re.IGNORECASE)
_HEADER_KEY_RE = re.compile(
    r"\bamount\b|daily\s+value|%\s*dv\b|\bper\s+day\b|\bper\s+serving\b|"
    r"\bper\s+\d[\d.,]*\s+\w+|%\s*nrv\b|\bnrv\b|\bper\s+daily\s+dose\b|/\s*serving\b|"
    rf"\bper\s+(?:{_SERVING_UNITS})\b",
    re.IGNORECASE,
)
_BLEND_RE = re.compile(
    r"\b(?:blend|complex|formula|matrix|proprietary|mix|mixture|technology|system)\b",
    re.IGNORECASE,
)
#: The nutrition rows a panel lists first (21 CFR 101.36(b)(2)(i)), each a whole row: a line
#: that is one of them, without its amount, never joins the row on the next line to it.
_NUTRITION_ROW_RE = re.compile(
    r"(?:calories(?:\s+from\s+fat)?|total\s+fat|saturated\s+fat|trans\s+fat|cholesterol|"
    r"sodium|total\s+carbohydrates?|dietary\s+fiber|(?:total\s+|added\s+)?sugars|protein)"
    r"\W*",
    re.IGNORECASE,
)
_CONNECTOR_END_RE = re.compile(r"(?:[/,&(+-]|\b(?:and|or|as|from|with|of|in|plus))$", re.I)
_SOURCE_PAREN_RE = re.compile(r"^(?:as|from)\s+", re.IGNORECASE)
