"""OCR misreads of a serving size's unit ("Serving Size 1 Capswte" for "1 Capsule"),
repaired from their line's context (`fix_serving_units`, called by `ocr_words.repair_line`
before its own repairs, which see the repaired words). A serving size is
counted in a small vocabulary of units (`SERVING_UNIT_WORDS`, words that
`panel.grammar._SERVING_UNITS` accepts). A word read right after "Size" and a count that
is none of them is repaired to the one unit it is a misread of, under a strict rule:

- letters only, at least 4 of them, and the same first letter as the unit;
- at most `MAX_EDITS` edits (insertions, deletions or substitutions: Levenshtein) for
  a word of `LONG_WORD` letters or more, one for a shorter word;
- exactly one unit at the smallest distance (a unit's singular and plural count as one
  unit: the count chooses, 1 the singular). A tie between two units is left as read.

Only OCR'd words pass through here; each repair is recorded ("Capswte->Capsule") as every
OCR repair is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

#: The units a serving size is counted in: (singular, plural).
SERVING_UNIT_WORDS: tuple[tuple[str, str], ...] = (
    ("tablet", "tablets"),
    ("capsule", "capsules"),
    ("softgel", "softgels"),
    ("vegcap", "vegcaps"),
    ("gummy", "gummies"),
    ("lozenge", "lozenges"),
    ("chewable", "chewables"),
    ("scoop", "scoops"),
    ("drop", "drops"),
    ("packet", "packets"),
    ("sachet", "sachets"),
    ("stick", "sticks"),
    ("piece", "pieces"),
    ("wafer", "wafers"),
    ("teaspoon", "teaspoons"),
    ("tablespoon", "tablespoons"),
)
#: Edits allowed in a word of LONG_WORD letters or more (one below that).
MAX_EDITS = 2
LONG_WORD = 6
_COUNT_RE = re.compile(r"^\d{1,3}$")
_SIZE_RE = re.compile(r"^size\W*$", re.IGNORECASE)
_WORD_RE = re.compile(r"^(?P<word>[A-Za-z]{4,})(?P<post>\W*)$")


def edits(a: str, b: str) -> int:
    """The Levenshtein distance between `a` and `b` (rapidfuzz's)."""
    return int(Levenshtein.distance(a, b))


def _known(low: str) -> bool:
    return any(low in pair for pair in SERVING_UNIT_WORDS)


def unit_misread(word: str, count: int) -> str | None:
    """The serving unit `word` is a misread of (in `word`'s case), or None: `word` is a
    unit already, or no unit is close enough, or two are equally close."""
    low = word.lower()
    if _known(low):
        return None
    allowed = MAX_EDITS if len(low) >= LONG_WORD else 1
    scored = []
    for singular, plural in SERVING_UNIT_WORDS:
        if singular[0] != low[0]:
            continue
        best = min(edits(low, singular), edits(low, plural))
        if best <= allowed:
            scored.append((best, singular, plural))
    if not scored:
        return None
    least = min(s[0] for s in scored)
    closest = [s for s in scored if s[0] == least]
    if len(closest) != 1:
        return None
    _, singular, plural = closest[0]
    unit = singular if count == 1 else plural
    if word.isupper():
        return unit.upper()
    return unit.capitalize() if word[0].isupper() else unit


def fix_serving_units(texts: Sequence[str]) -> list[str]:
    """The words of one OCR line with a misread serving unit repaired: the word right
    after "Size" and a count ("Size 1 Capswte" -> "Size 1 Capsule")."""
    out = list(texts)
    for i in range(2, len(out)):
        if not (_SIZE_RE.match(out[i - 2]) and _COUNT_RE.match(out[i - 1])):
            continue
        m = _WORD_RE.match(out[i])
        if m is None:
            continue
        unit = unit_misread(m.group("word"), int(out[i - 1]))
        if unit is not None:
            out[i] = unit + m.group("post")
    return out
