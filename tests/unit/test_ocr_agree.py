"""A row the kept OCR reading left unread takes the amount the other readings read alike
(`pipeline.sources.ocr_agree`; pure functions, no OCR run)."""

from __future__ import annotations

from pipeline.records import FileExtraction, LabelRow, ReadIssue
from pipeline.sources.ocr_agree import fill_agreed, own_numbers


def _row(
    line_no: int,
    name: str,
    amount: str | None,
    unit: str | None,
    *,
    conf: float | None = 95.0,
    raw: str = "",
) -> LabelRow:
    return LabelRow("x.png", 0, line_no, name, amount, unit, raw_text=raw or name, confidence=conf)


def _issue(line_no: int) -> ReadIssue:
    return ReadIssue("x.png", 0, 1, line_no, f"page 1, line {line_no}: no amount found")


def _reading(rows: list[LabelRow], issues: list[ReadIssue]) -> FileExtraction:
    return FileExtraction(source_file="x.png", rows=tuple(rows), issues=tuple(issues))


KEPT = _reading(
    [
        _row(1, "Calories", None, None, conf=96.6, raw="Calories"),
        _row(2, "Total Fat", "0", "g"),
        _row(3, "Sugars", None, None, raw="Sugars 24"),
        _row(4, "Vitamin B12", None, None, conf=0.0, raw="Vitamin B12 850 mcg 14166%"),
        _row(5, "Boron", None, None, raw="Boron (as Boron AAC) img"),
    ],
    [_issue(1), _issue(3), _issue(4), _issue(5)],
)


def test_an_unread_row_takes_the_amount_other_readings_read_alike() -> None:
    other = _reading(
        [
            _row(1, "Calories", "16", None, conf=96.6),
            _row(2, "Sugars", "2", "g", conf=90.0),
            _row(3, "Vitamin B12", "850", "mcg", conf=88.0),
            _row(4, "Boron", "1", "mg", conf=70.0),  # below 80%: no confirmation
        ],
        [],
    )
    third = _reading([_row(1, "Vitamin B12", "850.0", "mcg", conf=82.5)], [])
    done = fill_agreed(KEPT, [other, None, third])
    assert [(r.name_raw, r.amount_raw, r.unit_raw, r.confidence, r.repairs) for r in done.rows] == [
        ("Calories", "16", None, 96.6, "amount '16' read alike by 1 other readings"),
        ("Total Fat", "0", "g", 95.0, None),
        ("Sugars", None, None, 95.0, None),  # its own text reads 24, not 2
        ("Vitamin B12", "850", "mcg", 82.5, "amount '850 mcg' read alike by 2 other readings"),
        ("Boron", None, None, 95.0, None),
    ]
    assert [i.line_no for i in done.issues] == [3, 5]


def test_readings_that_differ_or_repeat_a_name_give_nothing() -> None:
    differ = [
        _reading([_row(1, "Calories", "16", None)], []),
        _reading([_row(1, "Calories", "15", None)], []),
    ]
    assert fill_agreed(KEPT, differ) is KEPT
    twice = _reading([_row(1, "Calories", "16", None), _row(9, "Calories", "16", None)], [])
    assert fill_agreed(KEPT, [twice]) is KEPT
    assert fill_agreed(KEPT, []) is KEPT
    # a row read without an issue on its line (a blend member without an amount) stays
    member = _reading([_row(1, "Calories", None, None)], [])
    assert fill_agreed(member, [_reading([_row(1, "Calories", "16", None)], [])]) is member


def test_own_numbers() -> None:
    assert own_numbers(_row(1, "x", None, None, raw="Vitamin B12 850 mcg 14166%")) == {
        850.0,
        14166.0,
    }
    assert own_numbers(_row(1, "x", None, None, raw="Fo-Ti Extract (root, 12:1) 1,000mg")) == {
        1000.0
    }
    assert own_numbers(_row(1, "x", None, None, raw="Calories")) == set()
