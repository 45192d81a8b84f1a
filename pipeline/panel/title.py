"""Whether an OCR'd line reads as a product name (the title of step 5), and its words.

A text layer's words are exact: any of its lines may be a title. An OCR'd line (its words
carry a confidence) may be one only when it reads as words, so that a badge, a picture or a
symbol read as letters ("camo? WO):", "i M-63 :", "L te r e") never becomes a product's
name: without a credible title the caller's fallback name is used, as when there is none.

- A confident word: OCR confidence at least `ReaderSettings.title_confidence` (60%).
- A real word: confident, with at least 3 letters, letters at least 2/3 of its letters
  and digits, a vowel and a consonant among them, and no run of 5 consonants.
- A credible line: at least one real word, the confident words holding at least
  `ReaderSettings.title_share` (75%) of the line's letters and digits, at most
  `TITLE_WORDS` words, and not a statement ("These statements have not been evaluated
  ...", "Suggested use: ...": `grammar._STATEMENT_RE`) once its unsure words are dropped.
- The title's text is the line's words with the words that are not confident dropped at
  either end ("Triple Caroten *" with "*" at 44% gives "Triple Caroten").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.panel.grammar import _STATEMENT_RE
from pipeline.panel.settings import _S
from pipeline.records import Word

#: An OCR'd line of more words than this is running text, not a product name.
TITLE_WORDS = 8
_VOWELS = frozenset("aeiouy")
_CONSONANT_RUN = re.compile(r"[b-df-hj-np-tv-xz]{5}")


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def confident(word: Word) -> bool:
    """A text layer's word, or an OCR'd word read with at least `title_confidence`."""
    return word.confidence is None or word.confidence >= _S.title_confidence


def real_word(word: Word) -> bool:
    """A confident word that reads as a word: 3+ letters making 2/3 of its letters and
    digits, a vowel and a consonant among them, no run of 5 consonants."""
    chars = _alnum(word.text).lower()
    letters = "".join(c for c in chars if c.isalpha())
    return (
        confident(word)
        and len(letters) >= 3
        and 3 * len(letters) >= 2 * len(chars)
        and any(c in _VOWELS for c in letters)
        and any(c not in _VOWELS for c in letters)
        and not _CONSONANT_RUN.search(letters)
    )


def credible(words: Sequence[Word]) -> bool:
    """Whether a line's words may be a product name: always for a text layer's; for OCR'd
    words, one real word at least, the confident words holding `title_share` of the
    line's letters and digits, at most TITLE_WORDS words, and no statement."""
    if all(w.confidence is None for w in words):
        return True
    total = sum(len(_alnum(w.text)) for w in words)
    sure = sum(len(_alnum(w.text)) for w in words if confident(w))
    text = " ".join(w.text for w in _trimmed(words) if len(_alnum(w.text)) > 1)
    return (
        any(real_word(w) for w in words)
        and sure >= _S.title_share * total
        and len(words) <= TITLE_WORDS
        and not _STATEMENT_RE.match(text)
    )


def _trimmed(words: Sequence[Word]) -> list[Word]:
    kept = list(words)
    while kept and not confident(kept[0]):
        kept.pop(0)
    while kept and not confident(kept[-1]):
        kept.pop()
    return kept


def title_text(words: Sequence[Word]) -> str:
    """The line's text with its words that are not confident dropped at either end."""
    return " ".join(w.text for w in _trimmed(words))
