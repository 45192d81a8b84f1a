"""Rows at the panel reader's edges, as OCR gives them: a nutrition row whose amount OCR
lost stays its own row, and a last row made taller by a rule's remains is still a row."""

from __future__ import annotations

from pipeline.panel import words_to_labels
from pipeline.records import Label, LabelRow, ReadIssue
from tests.unit.test_panel import AMOUNT_X, DV_X, line, panel_words


def read(words: list) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    return words_to_labels([words], "x.png", fallback_name="x", source_format="image-ocr")


def test_a_nutrition_row_without_its_amount_never_takes_the_next_row() -> None:
    words = panel_words(
        [
            [(50, "Calories")],  # its "16" lost by OCR
            [(50, "Total Fat"), (AMOUNT_X, "0g"), (DV_X, "0%")],
            [(50, "Horny Goat Weed")],  # a name wrapped, its amount on the next line
            [(50, "Root Extract"), (AMOUNT_X, "83 mg"), (DV_X, "†")],
        ]
    )
    _, rows, issues = read(words)
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in rows] == [
        ("Calories", None, None),
        ("Total Fat", "0", "g"),
        ("Horny Goat Weed Root Extract", "83", "mg"),
    ]
    assert [i.detail for i in issues] == [
        "page 1, line 1: no amount found for 'Calories' (read as 'Calories')"
    ]


def test_a_name_line_before_a_nutrition_row_does_not_join_it() -> None:
    words = panel_words(
        [
            [(50, "Serving Notes")],
            [(50, "Sodium"), (AMOUNT_X, "5 mg"), (DV_X, "1%")],
        ]
    )
    _, rows, _ = read(words)
    assert [(r.name_raw, r.amount_raw) for r in rows] == [
        ("Serving Notes", None),
        ("Sodium", "5"),
    ]


def _last_row(h: float, text: str = ".15mg") -> list[LabelRow]:
    """A panel (rows 8 high at a 12 pitch) whose last row is `h` high (a rule's remains
    read into its ink), then a footnote."""
    words = panel_words(
        [
            [(50, "Caffeine"), (AMOUNT_X, "175mg"), (DV_X, "**")],
            [(50, "L-Theanine"), (AMOUNT_X, "100mg"), (DV_X, "**")],
        ]
    )
    words += line(198, (50, "3,5-Diiodo-L-Thyronine"), (AMOUNT_X, text), h=h)
    words += line(214, (50, "** Daily Value not established."))
    return read(words)[1]


def test_a_taller_last_row_with_its_amount_is_read() -> None:
    rows = _last_row(11.0)  # 1.38 times the rows
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in rows][-1] == (
        "3,5-Diiodo-L-Thyronine",
        ".15",
        "mg",
    )


def test_a_taller_line_without_an_amount_or_far_taller_still_ends_the_panel() -> None:
    assert [r.name_raw for r in _last_row(11.0, "Energy")] == ["Caffeine", "L-Theanine"]
    assert [r.name_raw for r in _last_row(13.6)] == ["Caffeine", "L-Theanine"]  # 1.7 times


def test_a_low_confidence_speck_after_the_amount_is_dropped_not_an_unreadable_amount() -> None:
    words = panel_words([[(50, "Caffeine"), (AMOUNT_X, "175mg"), (DV_X, "**")]])
    words += line(186, (50, "3,5-Diiodo-L-Thyronine"), (AMOUNT_X, ".15mg"), conf=90.0)
    speck = line(186, (DV_X, "to"), conf=16.0)
    sure = line(186, (DV_X, "to"), conf=60.0)
    _, rows, issues = read([*words, *speck])
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw) for r in rows][-1] == (
        "3,5-Diiodo-L-Thyronine",
        ".15",
        "mg",
        None,
    )
    assert issues == []
    _, rows, issues = read([*words, *sure])  # read at 60%: a reading, not a value: said so
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount 'to' of '3,5-Diiodo-L-Thyronine' could not be read"
    ]
