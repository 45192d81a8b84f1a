"""Ingredient names OCR misread, corrected against a lexicon where it is safe and visible.

Tiny panel text comes out of OCR with its amounts read and its names mangled ("Venadiurn"
for "Vanadium", "Clanamon" for "Cinnamon"). The name of each panel row an OCR reading
gives (`correct_names`, applied by `pipeline.sources.ocr._parse` to the panel reader's
rows) is corrected word by word against the lexicon of supplement ingredient names
(`lexicon`: `ingredient_names.txt` beside this module, written by
scripts/ingredient_lexicon.py from a curated list and the committed DSLD labels, plus the
project's own nutrient names and synonyms from `pipeline.nutrients` and
`pipeline.rules.regulated`, added when it loads).

A word (a run of letters and digits in the name, its source in parentheses or the blend it
is a member of) is corrected only when all of these hold:

- it is not a lexicon word, has `MIN_LETTERS` or more letters, and OCR read it with a
  confidence under `CORRECT_BELOW` (a word read with confidence is taken as printed: labels
  print names no lexicon holds);
- its nearest lexicon word costs at most `max_cost(len)` (`MAX_COST_BY_LENGTH`, then
  `MAX_COST_RATIO` of its length) in edits: a substitution costs 1, an inserted or dropped
  character `INDEL_COST` (OCR misreads a glyph as another far more often than it drops or
  adds one), and an edit that an OCR confusion explains (`CONFUSIONS`: l/i/1, rn/m, c/e/o/a,
  ...) counts half (the cost is the mean of the edits on the letters as read and on their
  confusion classes);
- no other lexicon word is within `MARGIN` of that cost (a unique, clearly nearest word:
  "Banada" is as near "Banaba" as "Banana", and is left as read);
- the nearest word is not the word with two neighbouring letters swapped ("Carbohyrdate"):
  OCR misreads glyphs, it does not reorder them, so that is the label's own spelling.

Known multi-word names (2 to `MAX_PHRASE_WORDS` words) are then matched the same way over a
run of words of which at least one is exact and the rest are not lexicon words
("Alpha Lipoic Atel" -> "Alpha Lipoic Acid"), under `MAX_COST_RATIO` of the run's length.
A name that already declares a known nutrient is never touched; parentheses, punctuation
and the case of each word are kept.

Visible: each correction is added to the row's `repairs` ("Manganere->Manganese"), and
`raw_text` keeps the line as read (a blend member's `parent` follows its blend row's
correction, named in that row's repairs). A correction that changes what a row declares into a
protocol nutrient (calcium, magnesium, vitamin D, vitamin K, or the vitamin K form: the
lexicon decided it, not the reading) caps the row's confidence at
`pipeline.panel.ocr_dv.REPAIRED_CONFIDENCE`: below `MIN_AMOUNT_CONFIDENCE`, so such a row
does not decide the verdict (the product is not assessable, "amount read with low
confidence: check the label", its repair named). Any other correction leaves the verdict to
the amounts as read.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from pipeline import nutrients as nt
from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE
from pipeline.records import Label, LabelRow, ReadIssue, Word
from pipeline.rules.regulated import REGULATED, regulated

#: The lexicon's data file, beside this module.
LEXICON_FILE = "ingredient_names.txt"
#: Words shorter than this are never corrected, nor corrected to ("Zn", "DHA", "Oil"):
#: too many names lie one edit from them.
MIN_LETTERS = 4
#: A word OCR read with at least this confidence (0-100) is taken as printed.
CORRECT_BELOW = 90.0
#: The cost of an inserted or dropped character (a substitution costs 1).
INDEL_COST = 1.5
#: The largest edit cost allowed for a word of up to n letters: (n, cost), by length.
MAX_COST_BY_LENGTH: tuple[tuple[int, float], ...] = ((4, 0.5), (6, 1.0), (8, 1.5), (10, 2.0))
#: Beyond the table (and for a multi-word run): this share of the letters.
MAX_COST_RATIO = 0.2
#: How much nearer the nearest lexicon word must be than every other one.
MARGIN = 1.0
#: The longest known multi-word name matched as a run of words.
MAX_PHRASE_WORDS = 3
#: OCR's confusions: each group's characters are one class (the first stands for it);
#: an edit between two of a class counts half. Multi-character ones first ("rn" for "m").
CONFUSIONS: tuple[tuple[str, ...], ...] = (
    ("m", "rn"),
    ("w", "vv"),
    ("i", "l", "1", "|", "!", "j", "I"),
    ("o", "0", "a", "c", "e"),
    ("s", "5"),
    ("g", "q", "9"),
    ("z", "2"),
    ("t", "f"),
    ("b", "h", "6"),
    ("u", "v"),
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_WEIGHTS = (round(2 * INDEL_COST), round(2 * INDEL_COST), 2)  # in half edits


@dataclass(frozen=True)
class Lexicon:
    """The lexicon: `words` (lower case, every word of every name), `targets` (those a word
    may be corrected to) and `phrases` (multi-word names, lower case, single-spaced)."""

    words: frozenset[str]
    targets: Mapping[str, str]  # each word a word may be corrected to -> its classes
    phrases: Mapping[str, str]  # each multi-word name -> its classes


def _classes(text: str) -> str:
    """`text` (lower case) with each OCR confusion replaced by its class's first member."""
    out = text
    for group in CONFUSIONS:
        for member in group[1:]:
            if len(member) > 1:
                out = out.replace(member, group[0])
    table = {ord(m): group[0] for group in CONFUSIONS for m in group[1:] if len(m) == 1}
    return out.translate(table)


def cost(read: str, known: str) -> float:
    """The edit cost from `read` to `known` (lower case): the weighted edits on the
    characters, or, when lower, the mean of those and the edits on their confusion classes
    (an edit within a class counts half)."""
    raw = Levenshtein.distance(read, known, weights=_WEIGHTS)
    classed = Levenshtein.distance(_classes(read), _classes(known), weights=_WEIGHTS)
    return min(raw, (raw + classed) / 2) / 2


def max_cost(length: int) -> float:
    """The largest cost allowed for a word (or run) of `length` letters."""
    for upto, allowed in MAX_COST_BY_LENGTH:
        if length <= upto:
            return allowed
    return MAX_COST_RATIO * length


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN_RE.findall(text) if any(c.isalpha() for c in t)]


_PATTERN_WORD_RE = re.compile(r"(?<![\w\\\[(?])[a-z]{4,}(?![\w\\(\[?*+])")


def project_names() -> list[str]:
    """The project's own nutrient names and synonyms: the display names of
    `pipeline.nutrients` and `pipeline.rules.regulated`, and the whole words of their name
    patterns ("cholecalciferol", "phylloquinone"; no stem such as "tocopher\\w*")."""
    names = [n.display for n in nt.NUTRIENTS.values()]
    names += [r.display for r in REGULATED if not r.display.startswith("(")]
    for reg in REGULATED:
        names += _PATTERN_WORD_RE.findall(reg.pattern)
    return names


def build_lexicon(names: Iterable[str]) -> Lexicon:
    """The lexicon of `names` (one name each)."""
    words: set[str] = set()
    phrases: set[str] = set()
    for name in names:
        tokens = _tokens(name)
        words.update(tokens)
        if 2 <= len(tokens) <= MAX_PHRASE_WORDS:
            phrases.add(" ".join(tokens))
    targets = sorted(w for w in words if sum(c.isalpha() for c in w) >= MIN_LETTERS)
    return Lexicon(
        frozenset(words),
        {w: _classes(w) for w in targets},
        {p: _classes(p) for p in sorted(phrases)},
    )


@functools.cache
def lexicon() -> Lexicon:
    """The lexicon: the data file's names and `project_names`, loaded once."""
    text = resources.files("pipeline.panel").joinpath(LEXICON_FILE).read_text(encoding="utf-8")
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return build_lexicon([*names, *project_names()])


def nearest(read: str, choices: Mapping[str, str], length: int) -> str | None:
    """The one entry of `choices` (entry -> its classes) within `max_cost(length)` of `read`
    (lower case) and `MARGIN` nearer than every other one, or None."""
    allowed = max_cost(length)
    # a cheap bound first: the cost is at least half the edits on the letters or on their
    # classes, whichever is fewer
    cutoff = int(2 * (allowed + MARGIN))
    near = {
        key
        for query, keys in ((read, {k: k for k in choices}), (_classes(read), choices))
        for _, _, key in process.extract(
            query,
            keys,
            scorer=Levenshtein.distance,
            scorer_kwargs={"weights": _WEIGHTS},
            score_cutoff=cutoff,
            limit=None,
        )
    }
    scored = sorted((cost(read, key), key) for key in near)
    if not scored or scored[0][0] > allowed or scored[0][0] == 0:
        return None
    if len(scored) > 1 and scored[1][0] < scored[0][0] + MARGIN:
        return None
    best = scored[0][1]
    if OSA.distance(read, best) < Levenshtein.distance(read, best):
        return None  # two letters swapped: the label's own typo, OCR does not reorder glyphs
    return best


def _in_case(read: str, known: str) -> str:
    """`known` (lower case) in the case `read` was printed in."""
    if read.isupper() and len(read) > 1:
        return known.upper()
    if read[:1].isupper():
        return known[:1].upper() + known[1:]
    return known


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str


def correct_text(
    text: str, confidence: dict[str, float] | None = None, lex: Lexicon | None = None
) -> tuple[str, list[str]]:
    """`text` with its misread words corrected, and the corrections ("Manganere->Manganese").
    `confidence`: the OCR confidence of each word as read (lower case); a word missing from
    it is taken as read with low confidence."""
    lex = lex or lexicon()
    conf = confidence or {}
    tokens = [_Token(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(text)]
    new: dict[int, str] = {}  # token index -> its correction

    def open_to_fix(t: _Token) -> bool:
        low = t.text.lower()
        return (
            low not in lex.words
            and sum(c.isalpha() for c in low) >= MIN_LETTERS
            and conf.get(low, 0.0) < CORRECT_BELOW
        )

    for i, t in enumerate(tokens):
        if open_to_fix(t):
            found = nearest(t.text.lower(), lex.targets, len(t.text))
            if found is not None:
                new[i] = _in_case(t.text, found)
    _phrases(tokens, new, lex, open_to_fix)
    if not new:
        return text, []
    out, notes, at = [], [], 0
    for i, t in enumerate(tokens):
        if i in new:
            out += [text[at : t.start], new[i]]
            notes.append(f"{t.text}->{new[i]}")
            at = t.end
    out.append(text[at:])
    return "".join(out), notes


def _phrases(
    tokens: list[_Token], new: dict[int, str], lex: Lexicon, open_to_fix: Callable[[_Token], bool]
) -> None:
    """Add to `new` the words of runs of `tokens` that read as a known multi-word name."""
    for size in range(MAX_PHRASE_WORDS, 1, -1):
        choices = {p: c for p, c in lex.phrases.items() if p.count(" ") == size - 1}
        for start in range(len(tokens) - size + 1):
            run = tokens[start : start + size]
            words = [t.text.lower() for t in run]
            if any(start + k in new for k in range(size)):
                continue
            known = [w in lex.words for w in words]
            if all(known) or not any(known):
                continue
            if not all(k or open_to_fix(t) for k, t in zip(known, run, strict=True)):
                continue
            found = nearest(" ".join(words), choices, sum(len(w) for w in words))
            names = found.split(" ") if found is not None else []
            if not names or any(k and n != w for k, n, w in zip(known, names, words, strict=True)):
                continue  # none, or it would change a lexicon word
            for k, (t, word) in enumerate(zip(run, names, strict=True)):
                if word != words[k]:
                    new[start + k] = _in_case(t.text, word)


def _word_confidences(row: LabelRow, words: Sequence[Word]) -> dict[str, float]:
    """The OCR confidence of each word (lower case) in `row`'s box: the lowest one when a
    word is read more than once."""
    if row.bbox_x0 is None or row.bbox_units != "pt":
        return {}
    x0, x1 = row.bbox_x0, row.bbox_x1 or row.bbox_x0
    top, bottom = row.bbox_top or 0.0, row.bbox_bottom or 0.0
    out: dict[str, float] = {}
    for w in words:
        mid_x, mid_y = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
        if w.page != row.page or not (x0 <= mid_x <= x1 and top <= mid_y <= bottom):
            continue
        for token in _tokens(w.text):
            seen = out.get(token, 100.0)
            out[token] = min(seen, w.confidence if w.confidence is not None else 0.0)
    return out


def _declares(row: LabelRow) -> nt.Resolved:
    return nt.resolve(row.name_raw, row.form_raw)


def correct_row(row: LabelRow, words: Sequence[Word] = ()) -> LabelRow:
    """`row` with the misread words of its name, source and blend corrected, its repairs
    naming each, its confidence capped when the correction makes it declare a protocol
    nutrient (module docstring). `words`: the page words OCR read (their confidences)."""
    if regulated(row.name_raw) is not None:
        return row  # the name already declares a known nutrient
    confidence = _word_confidences(row, words)
    changes: dict[str, str | None] = {}
    notes: list[str] = []
    for field in ("name_raw", "form_raw", "parent"):
        value = getattr(row, field)
        if value:
            fixed, done = correct_text(value, confidence)
            if done:
                changes[field] = fixed
                # the blend's own row names its corrections; its members only follow them
                notes += done if field != "parent" else []
    if not changes:
        return row
    repairs = "; ".join([*filter(None, [row.repairs]), *notes]) or None
    fixed_row = dataclasses.replace(row, repairs=repairs, **changes)  # type: ignore[arg-type]
    after = _declares(fixed_row)
    if after != _declares(row) and after.nutrient in nt.PROTOCOL_NUTRIENTS:
        capped = min(row.confidence if row.confidence is not None else 100.0, REPAIRED_CONFIDENCE)
        fixed_row = dataclasses.replace(fixed_row, confidence=capped)
    return fixed_row


def correct_names(
    parsed: tuple[list[Label], list[LabelRow], list[ReadIssue]],
    pages: Sequence[Sequence[Word]] = (),
) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    """The panel reader's reading of OCR'd `pages` with each row's misread names corrected
    (`correct_row`); labels and read issues as they were."""
    labels, rows, issues = parsed
    words = [w for page in pages for w in page]
    return labels, [correct_row(r, words) for r in rows], issues
