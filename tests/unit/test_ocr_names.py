"""OCR-misread ingredient names corrected against the lexicon (pipeline.panel.ocr_names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.panel.ocr_dv import REPAIRED_CONFIDENCE
from pipeline.panel.ocr_names import (
    LEXICON_FILE,
    build_lexicon,
    correct_text,
    cost,
    lexicon,
    max_cost,
    project_names,
)
from pipeline.records import Word
from pipeline.sources.ocr import _parse
from scripts import ingredient_lexicon

SMALL = build_lexicon(
    ["Manganese", "Vanadium", "Banaba", "Banana", "Cinnamon (Bark)", "Alpha Lipoic Acid", "Zinc"]
)


@pytest.mark.parametrize(
    ("read", "expected", "notes"),
    [
        ("Manganere", "Manganese", ["Manganere->Manganese"]),
        ("Venadiurn", "Vanadium", ["Venadiurn->Vanadium"]),  # rn read for m, e for a
        ("Clanamon (Bark)", "Cinnamon (Bark)", ["Clanamon->Cinnamon"]),  # l for i
        ("Zino (as Zinc Oxide)", "Zinc (as Zinc Oxide)", ["Zino->Zinc"]),  # o for c
        ("MANGANERE", "MANGANESE", ["MANGANERE->MANGANESE"]),  # the case as read
        (
            "manganere, vanadiurn.",
            "manganese, vanadium.",
            ["manganere->manganese", "vanadiurn->vanadium"],
        ),
    ],
)
def test_misread_words_are_corrected_with_their_punctuation_kept(
    read: str, expected: str, notes: list[str]
) -> None:
    assert correct_text(read, lex=SMALL) == (expected, notes)


@pytest.mark.parametrize(
    "read",
    [
        "Banada",  # one edit from Banaba and from Banana: ambiguous
        "Asniper",  # two letters off in seven: too far
        "Luteolin",  # a real name the lexicon lacks, two letters dropped from "Lutein"
        "Zinq",  # q/g is no confusion with c: a whole edit is too much for four letters
        "Mangane",  # shorter words are not grown: two inserted letters cost 3
    ],
)
def test_ambiguous_or_far_words_are_left_as_read(read: str) -> None:
    assert correct_text(
        read, lex=build_lexicon(["Banaba", "Banana", "Juniper", "Lutein", "Zinc", "Manganese"])
    ) == (read, [])


def test_a_lexicon_word_a_short_word_and_a_confident_word_are_never_changed() -> None:
    lex = build_lexicon(["Banana", "Banaba", "Oil", "Manganese"])
    assert correct_text("Banana Banaba", lex=lex) == ("Banana Banaba", [])
    assert correct_text("Oll", lex=lex) == ("Oll", [])  # under MIN_LETTERS
    assert correct_text("Manganere", {"manganere": 96.0}, lex=lex) == ("Manganere", [])
    assert correct_text("Manganere", {"manganere": 40.0}, lex=lex)[0] == "Manganese"


def test_a_multi_word_name_corrects_the_word_the_others_anchor() -> None:
    assert correct_text("Alpha Lipoic Atel", lex=SMALL) == ("Alpha Lipoic Acid", ["Atel->Acid"])
    # on its own "Atel" is three letters from "Acid": left as read
    assert correct_text("Atel", lex=SMALL) == ("Atel", [])
    # a lexicon word of the run is never changed to fit a name ("Alphe" is one here)
    lex = build_lexicon(["Alpha Lipoic Acid", "Alphe"])
    assert correct_text("Alphe Lipoic Acicl", lex=lex) == ("Alphe Lipoic Acicl", [])
    assert correct_text("Alpha Lipoic Acicl", lex=lex) == ("Alpha Lipoic Acid", ["Acicl->Acid"])


def test_costs_and_limits() -> None:
    assert cost("manganere", "manganese") == 1.0
    assert cost("clanamon", "cinnamon") == 1.5  # l/i a confusion (half), a/n a whole edit
    assert cost("venadiurn", "vanadium") == 1.75
    assert cost("icorice", "licorice") == 1.5  # a dropped letter
    assert [max_cost(n) for n in (4, 6, 8, 10, 15)] == [0.5, 1.0, 1.5, 2.0, 3.0]


def test_the_real_lexicon_holds_the_project_names_and_corrects_ceracare_like_misreads() -> None:
    lex = lexicon()
    assert {"cholecalciferol", "phylloquinone", "menatetrenone", "molybdenum"} <= lex.words
    assert "tocopher" not in project_names()  # a pattern's stem is no name
    assert correct_text("L-Tourine")[0] == "L-Taurine"
    assert correct_text("Gymnemoa")[0] == "Gymnema"
    assert correct_text("Mitamin C")[0] == "Vitamin C"
    assert correct_text("Banada") == ("Banada", [])  # Banaba or Banana


def test_the_committed_lexicon_file_is_the_scripts_output() -> None:
    path = Path(ingredient_lexicon.__file__).parent.parent / "pipeline" / "panel" / LEXICON_FILE
    assert path.read_text(encoding="utf-8") == ingredient_lexicon.render()


def _line(y: float, cells: list[tuple[float, str, float]]) -> list[Word]:
    return [Word(t, x, x + 4.4 * len(t), y, y + 8.0, 1, conf) for x, t, conf in cells]


def _panel() -> list[Word]:
    return [
        *_line(10, [(10, "Supplement", 95), (60, "Facts", 95)]),
        *_line(22, [(10, "Serving", 95), (45, "Size", 95), (68, "1", 95), (75, "Capsule", 95)]),
        *_line(34, [(120, "Amount", 95), (160, "%DV", 95)]),
        *_line(
            46,
            [
                (10, "Mitamin", 41),
                (45, "C", 80),
                (120, "50mg", 92),
                (160, "56%", 92),
            ],
        ),
        *_line(
            58,
            [
                (10, "Mitamin", 38),
                (45, "D", 80),
                (120, "25mcg", 92),
                (160, "125%", 92),
            ],
        ),
        *_line(70, [(10, "Manganere", 30), (120, "1mg", 92), (160, "43%", 92)]),
        *_line(82, [(10, "Luteolin", 60), (120, "5mg", 92), (160, "*", 92)]),
    ]


def test_the_ocr_reading_corrects_names_and_a_protocol_name_does_not_decide() -> None:
    labels, rows, issues = _parse([_panel()], {}, "x.png", "x", None)
    got = [(r.name_raw, r.amount_raw, r.unit_raw, r.repairs, r.confidence) for r in rows]
    assert got == [
        ("Vitamin C", "50", "mg", "Mitamin->Vitamin", 41.0),
        # now vitamin D, a protocol nutrient: capped under the verdict's threshold
        ("Vitamin D", "25", "mcg", "Mitamin->Vitamin", REPAIRED_CONFIDENCE),
        ("Manganese", "1", "mg", "Manganere->Manganese", 30.0),
        ("Luteolin", "5", "mg", None, 60.0),
    ]
    assert [r.raw_text for r in rows][:2] == ["Mitamin C 50mg 56%", "Mitamin D 25mcg 125%"]
    assert len(labels) == 1
    assert issues == []


def test_two_swapped_letters_are_the_labels_own_spelling() -> None:
    lex = build_lexicon(["Total Carbohydrate"])
    assert correct_text("Total Carbohyrdate", lex=lex) == ("Total Carbohyrdate", [])
    # "cl" read for "d": a substitution and an insertion, 2.5 of the 2.6 thirteen letters allow
    assert correct_text("Carbohyclrate", lex=lex)[0] == "Carbohydrate"
    assert correct_text("Carbohyclrale", lex=lex)[0] == "Carbohyclrale"  # 3.5: too far
    assert correct_text("Total Carbohydrale", lex=lex) == (
        "Total Carbohydrate",
        ["Carbohydrale->Carbohydrate"],
    )


def test_a_blend_member_follows_its_blend_and_names_only_its_own_corrections() -> None:
    from pipeline.panel.ocr_names import correct_row
    from pipeline.records import LabelRow

    member = LabelRow(
        "x.png", 0, 3, "Clanamon", None, None, form_raw="Bark", parent="Proprietary Blemd"
    )
    fixed = correct_row(member)
    assert (fixed.name_raw, fixed.form_raw, fixed.parent, fixed.repairs) == (
        "Cinnamon",
        "Bark",
        "Proprietary Blend",
        "Clanamon->Cinnamon",
    )
    # a name that already declares a nutrient is left whole, its source too
    zinc = LabelRow("x.png", 0, 1, "Zinc", "11", "mg", form_raw="as Zinc Oxlde")
    assert correct_row(zinc) == zinc


def _zinc_panel(amount: str, dv: str) -> list[Word]:
    return [
        *_line(10, [(10, "Supplement", 95), (60, "Facts", 95)]),
        *_line(22, [(10, "Serving", 95), (45, "Size", 95), (68, "1", 95), (75, "Capsule", 95)]),
        *_line(34, [(120, "Amount", 95), (160, "%DV", 95)]),
        *_line(46, [(10, "Biotin", 92), (120, "300mcg", 92), (160, "1000%", 92)]),
        *_line(58, [(10, "Zino", 40), (120, amount, 92), (160, dv, 92)]),
    ]


def test_a_corrected_nutrient_name_puts_its_amount_through_the_dv_check() -> None:
    # "Zino" 75 mg 68%: as zinc, 75 mg would be 682% of the 11 mg DV; 7.5 mg gives 68%
    _, rows, issues = _parse([_zinc_panel("75mg", "68%")], {}, "x.png", "x", None)
    zinc = rows[-1]
    assert (zinc.name_raw, zinc.amount_raw, zinc.unit_raw, zinc.confidence) == (
        "Zinc",
        "7.5",
        "mg",
        REPAIRED_CONFIDENCE,
    )
    assert zinc.repairs == (
        "Zino->Zinc; 7.5 mg: the point OCR lost, from the printed 68% DV of 11 mg"
    )
    assert issues == []


def test_a_corrected_nutrient_name_whose_amount_the_dv_contradicts_is_unread() -> None:
    # 40 mg of zinc would be 364% (267% of the older 15 mg DV); no lost point gives 12%
    _, rows, issues = _parse([_zinc_panel("40mg", "12%")], {}, "x.png", "x", None)
    zinc = rows[-1]
    assert (zinc.name_raw, zinc.amount_raw, zinc.unit_raw) == ("Zinc", None, None)
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount '40 mg (40 mg of zinc would be 364% of the 11 mg DV (267% of "
        "the older 15 mg DV), the label prints 12%: amount or %DV misread)' of 'Zinc' "
        "could not be read"
    ]


def test_a_corrected_name_whose_amount_agrees_with_its_dv_keeps_it() -> None:
    _, rows, issues = _parse([_zinc_panel("7.5mg", "68%")], {}, "x.png", "x", None)
    assert (rows[-1].name_raw, rows[-1].amount_raw, rows[-1].repairs) == (
        "Zinc",
        "7.5",
        "Zino->Zinc",
    )
    assert issues == []
