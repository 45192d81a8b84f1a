"""An amount OCR read with almost no confidence is never taken (hand-built words)."""

from __future__ import annotations

from pipeline.panel import words_to_labels
from pipeline.records import Word


def _line(y: float, cells: list[tuple[float, str, float]]) -> list[Word]:
    out = []
    for x, text, conf in cells:
        out.append(Word(text, x, x + 4.4 * len(text), y, y + 8.0, 1, conf))
    return out


def _panel(zinc_conf: float) -> list[Word]:
    return [
        *_line(10, [(10, "Supplement", 95), (60, "Facts", 95)]),
        *_line(22, [(10, "Serving", 95), (45, "Size", 95), (68, "1", 95), (75, "Capsule", 95)]),
        *_line(34, [(120, "Amount", 95), (160, "%DV", 95)]),
        *_line(46, [(10, "Calcium", 95), (120, "500", 95), (136, "mg", 95), (160, "38%", 95)]),
        *_line(58, [(10, "Zinc", 95), (120, "11mg", zinc_conf), (160, "100%", 95)]),
    ]


def test_amount_read_with_almost_no_confidence_is_a_read_issue() -> None:
    _, rows, issues = words_to_labels(
        [_panel(0.0)], "x.png", fallback_name="x", source_format="image-ocr"
    )
    zinc = next(r for r in rows if r.name_raw == "Zinc")
    assert (zinc.amount_raw, zinc.unit_raw, zinc.confidence) == (None, None, 0.0)
    assert [i.detail for i in issues] == [
        "page 1, line 2: amount '11mg (read with confidence 0%)' of 'Zinc' could not be read"
    ]


def test_amount_read_at_the_threshold_is_taken() -> None:
    _, rows, issues = words_to_labels(
        [_panel(20.0)], "x.png", fallback_name="x", source_format="image-ocr"
    )
    zinc = next(r for r in rows if r.name_raw == "Zinc")
    assert (zinc.amount_raw, zinc.unit_raw) == ("11", "mg")
    assert issues == []
