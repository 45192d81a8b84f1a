"""The product name of an OCR'd label: a line above the panel is a title only when it reads
as words (`pipeline.panel.title`); junk OCR made of a badge or a picture never is."""

from __future__ import annotations

from pipeline.panel import words_to_labels
from pipeline.panel.title import credible, real_word, title_text
from pipeline.records import Word
from tests.unit.test_panel import AMOUNT_X, DV_X, line, panel_words


def ocr_line(y: float, x: float, *read: tuple[str, float], h: float = 8.0) -> list[Word]:
    """One OCR'd line: (text, confidence) words set from x on."""
    out = []
    for text, conf in read:
        width = len(text) * 4.4 * h / 8.0
        out.append(Word(text, x, x + width, y, y + h, 1, conf))
        x += width + 2.2
    return out


def w(text: str, conf: float | None) -> Word:
    return Word(text, 0.0, 10.0, 0.0, 8.0, 1, conf)


def ocr_panel(*head: list[Word]) -> list[Word]:
    """A panel read at 90% with `head` lines above it instead of the test title."""
    words = panel_words([[(50, "Calcium"), (AMOUNT_X, "500 mg"), (DV_X, "38%")]], title=False)
    words = [Word(x.text, x.x0, x.x1, x.top, x.bottom, x.page, 90.0) for x in words]
    return [x for ln in head for x in ln] + words


def name_and_brand(words: list[Word]) -> tuple[str, str | None]:
    labels, _, _ = words_to_labels(
        [words], "scan.png", fallback_name="my scan", source_format="image-ocr"
    )
    return labels[0].product_name, labels[0].brand


def test_real_words() -> None:
    assert [real_word(w(t, 92.0)) for t in ("Dophilus", "M-63", "WO):", "camo?", "Sf")] == [
        True,
        False,  # one letter among three characters
        False,  # two letters
        True,
        False,
    ]
    assert real_word(w("Formula", 59.0)) is False  # below title_confidence
    assert real_word(w("Zemmtnh", 92.0)) is False  # five consonants in a row
    assert real_word(w("Gly", 92.0)) is True  # y counts as a vowel
    assert real_word(w("Mmm", 92.0)) is False  # no vowel
    assert real_word(w("K2-7", None)) is False  # letters short: but a text layer's line...
    assert credible([w("K2-7", None)]) is True  # ...is always credible


def test_credible_lines() -> None:
    assert credible([w("i", 89.0), w("M-63", 89.0), w(":", 71.0)]) is False
    assert credible([w("camo?", 49.0), w("WO):", 65.0)]) is False
    assert credible([w("L", 91.0), w("te", 97.0), w("r", 0.0), w("e", 22.0)]) is False
    # 4 of 22 letters and digits confident
    assert credible([w("Luton", 0.0), w("Zemamthn", 44.0), w("Meso", 92.0), w("Zema", 0.0)]) is (
        False
    )
    assert credible([w("Triple", 93.0), w("Caroten", 93.0), w("*", 44.0)]) is True
    # 14 of 24 confident: 58% < 75%
    assert credible([w("Promotes", 96.0), w("Infant", 93.0), w("intestiwal", 40.0)]) is False
    assert credible([w("Bone", 90.0), w("Matrix", 90.0), w("+", 30.0), w("K2", 90.0)]) is True


def test_title_text_drops_unsure_words_at_the_ends() -> None:
    words = [w("*", 30.0), w("Triple", 93.0), w("+", 20.0), w("Formula", 90.0), w("a", 41.0)]
    assert title_text(words) == "Triple + Formula"
    assert title_text([w("x", 10.0)]) == ""


def test_junk_above_the_panel_is_no_name() -> None:
    badge = ocr_line(56, 50, ("i", 89.0), ("M-63", 89.0), (":", 71.0), h=18)
    assert name_and_brand(ocr_panel(badge)) == ("my scan", None)
    # a credible line under the junk one is the title; the junk one is no brand
    title = ocr_line(92, 50, ("Dophilus", 92.0), ("drops", 95.0), ("*", 30.0), h=16)
    assert name_and_brand(ocr_panel(badge, title)) == ("Dophilus drops", None)


def test_ocr_title_and_brand_read_as_words() -> None:
    brand = ocr_line(60, 50, ("Northfield", 91.0), ("Labs", 88.0), h=11)
    title = ocr_line(76, 50, ("Bone", 95.0), ("Matrix", 93.0), ("Plus", 90.0), h=18)
    assert name_and_brand(ocr_panel(brand, title)) == ("Bone Matrix Plus", "Northfield Labs")
    junk_brand = ocr_line(60, 50, ("NO", 89.0), ("z", 89.0), ("SN", 36.0), h=11)
    assert name_and_brand(ocr_panel(junk_brand, title)) == ("Bone Matrix Plus", None)


def test_text_layer_titles_are_not_judged() -> None:
    words = panel_words([[(50, "Calcium"), (AMOUNT_X, "500 mg"), (DV_X, "38%")]], title=False)
    words = line(76, (50, "K2-7 D3"), h=18) + words
    labels, _, _ = words_to_labels([words], "x.pdf", fallback_name="x", source_format="pdf")
    assert labels[0].product_name == "K2-7 D3"


def test_running_text_and_statements_are_no_names() -> None:
    def read_at_90(text: str) -> list[Word]:
        return [w(t, 90.0) for t in text.split(" ")]

    sentence = "t These statements have not been evaluated by the Proprietary Blend"
    assert credible(read_at_90(sentence)) is False  # 11 words
    assert credible(read_at_90(sentence)[:6]) is False  # a statement ("t" aside)
    assert credible(read_at_90("Suggested Use: one capsule")) is False
    assert credible(read_at_90("Daily Bone Support")) is True
