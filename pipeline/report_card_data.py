"""A product's card as compact data, for the card pages of a catalog-scale report.

Up to REPORT_INLINE_PRODUCTS products every card is rendered by jinja2 into audit.html
(templates/card.html.j2, card_body.html.j2). Above it the cards are on pages of their own
under REPORTS/products/ (pipeline.report_catalog), and there jinja2 was most of the
report's CPU (~0.4 ms a card: ~16 s at 40,000 products). There a card is instead the JSON
that `card_data` makes, the page's script (templates/cards_page.js.j2) draws the card from
it, and it shows the same text, in the same elements, as the template's card. `card_data`
formats every value as the templates do (pipeline.report_format's filters, `card_rows`,
`crops.card_evidence`), so the script only places strings: it sets them with textContent,
never as HTML.

The JSON (`card_json`) never holds "<" (written \\u003c), so it cannot end the
<script type="application/json"> element it is embedded in. A card's data does not hold its
rank or its place in rank order (the page has those apart), so a kept card is reused by a
product that only moved.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from pipeline import crops
from pipeline.report_format import card_rows, fmt_number, fmt_percent, verdict_label

#: The texts of a check's result, by `passed` (the template's marks).
_RESULTS = {True: 1, False: 0, None: None}


def _text(value: Any) -> str:
    """A value as jinja2's `{{ value }}` prints it (None as "None")."""
    return value if type(value) is str else str(value)


def _or(value: Any, default: str) -> str:
    """`{{ value or default }}`."""
    return _text(value) if value else default


#: "points / weight" texts by (type and value of each): a catalog's checks repeat a few
#: pairs (up to _POINTS_KEPT of them are kept).
_POINTS: dict[tuple[Any, ...], str] = {}
_POINTS_KEPT = 4096
_NUMBER_TYPES = frozenset({int, float, type(None)})


def _points_text(points: Any, weight: Any) -> str:
    """A check's "points / weight", as the template writes it (fmt_number of each)."""
    kinds = (type(points), type(weight))
    if kinds[0] not in _NUMBER_TYPES or kinds[1] not in _NUMBER_TYPES:
        return f"{fmt_number(points)} / {fmt_number(weight)}"
    key = (kinds, points, weight)
    text = _POINTS.get(key)
    if text is None:
        text = f"{fmt_number(points)} / {fmt_number(weight)}"
        if len(_POINTS) < _POINTS_KEPT:
            _POINTS[key] = text
    return text


def _meta_tail(product: Mapping[str, Any]) -> str:
    """The card's meta line after the file: " (format, read by OCR ...)"."""
    ocr = product.get("ocr_confidence")
    read = "" if ocr is None else f", read by OCR, mean confidence {fmt_percent(ocr)}"
    return f" ({_text(product.get('source_format'))}{read})"


def _correction(c: Mapping[str, Any]) -> str:
    """One correction's sentence, as templates/evidence.html.j2 writes it."""
    if c.get("field") == "amount":
        what = (
            f"{_text(c.get('value'))} {_text(c.get('unit'))} used, printed as read "
            f"{_or(c.get('printed_amount'), '—')} {_or(c.get('printed_unit'), '')}; corrected"
        )
    else:
        what = f"{_or(c.get('value'), '—')} {_or(c.get('unit'), '')} as read; confirmed"
    return (
        f"Line {_text(c.get('line'))}: {what} by {_text(c.get('by'))} on "
        f"{_text(c.get('date'))}: {_text(c.get('why'))}"
    )


def _row(row: Mapping[str, Any], crop: str | None) -> list[Any]:
    """A shown label row's cells: [line, page note, as printed, crop, name, form, amount,
    printed note, % DV, normalized, nutrient note, OCR note, repairs note]."""
    page = row.get("page")
    review = row.get("review")
    printed = ""
    if review == "corrected":
        printed = (
            f" (corrected; read as {_or(row.get('printed_amount_raw'), '—')} "
            f"{_or(row.get('printed_unit_raw'), '')})"
        )
    elif review == "confirmed":
        printed = " (confirmed)"
    amount = row.get("amount_normalized")
    normalized = (
        "—" if amount is None else f"{fmt_number(amount, 3)} {_or(row.get('unit_normalized'), '')}"
    )
    nutrient = row.get("nutrient")
    confidence = row.get("confidence")
    repairs = row.get("repairs")
    return [
        _text(row.get("line_no")),
        "" if page is None else f" (p. {_text(page)})",
        _text(row.get("raw_text")),
        crop,
        _text(row.get("name_raw")),
        _or(row.get("form_raw"), "—"),
        f"{_or(row.get('amount_raw'), '—')} {_or(row.get('unit_raw'), '')}",
        printed,
        _or(row.get("dv_raw"), "—"),
        normalized,
        f" ({_text(nutrient).replace('_', ' ')})" if nutrient else "",
        "" if confidence is None else f"read by OCR, confidence {fmt_percent(confidence)}",
        f"repaired: {_text(repairs)}" if repairs else "",
    ]


def _per_day(product: Mapping[str, Any]) -> str:
    servings = product.get("servings_per_day")
    if servings is None:
        text = "servings per day unknown"
    else:
        text = f"{fmt_number(servings)} serving{'' if servings == 1 else 's'} per day"
    source = product.get("servings_per_day_source")
    return f"{text} ({_text(source)})" if source else text


def card_data(product: Mapping[str, Any], flagged: Collection[Any] = ()) -> dict[str, Any]:
    """What the card of `product` (its whole document) shows, every value formatted:
    v verdict (for the card's classes), h name, m meta line up to the file, f file,
    x the meta line after it, b verdict label, s score text, r verdict reason,
    e evidence [panel image or None, note], c corrections' sentences, w shown label rows
    (`_row`), a the other rows in a few words, k checks [passed 1/0/None, label, points,
    detail], d [directions, warnings, other ingredients, per-day basis]. `flagged`: the
    product's label lines with a data-quality finding."""
    evidence = crops.card_evidence(product)
    shown, also = card_rows(product.get("label_rows") or [], flagged)
    pictures = evidence["crops"]
    score = product.get("score")
    return {
        "v": _text(product.get("verdict")),
        "h": _text(product.get("product_name")),
        "m": (
            f"{_or(product.get('brand'), 'no brand')} · "
            f"{_or(product.get('serving_size'), 'serving size not given')} · "
        ),
        "f": _text(product.get("source_file")),
        "x": _meta_tail(product),
        "b": verdict_label(product.get("verdict")),
        "s": "no score" if score is None else f"score {fmt_number(score)} / 100",
        "r": _text(product.get("verdict_reason")),
        "e": [evidence["panel"], _text(evidence["note"] or "")],
        "c": [_correction(c) for c in product.get("corrections") or []],
        "w": [_row(row, pictures.get(row.get("line_no"))) for row in shown],
        "a": also,
        "k": [
            [
                _RESULTS.get(c.get("passed")),
                _text(c.get("label")),
                _points_text(c.get("points"), c.get("weight")),
                _text(c.get("detail")),
            ]
            for c in product.get("checks") or []
        ],
        "d": [
            _or(product.get("directions"), "none on the label"),
            _or(product.get("warnings"), "none on the label"),
            _or(product.get("other_ingredients"), "none listed"),
            _per_day(product),
        ],
    }


def script_safe(text: str) -> str:
    """JSON text that cannot end a <script> element: every "<" written \\u003c (JSON.parse
    reads it back as "<")."""
    return text.replace("<", "\\u003c")


def card_json(product: Mapping[str, Any], flagged: Collection[Any] = ()) -> str:
    """`card_data` as compact JSON, safe inside a <script> element."""
    data = card_data(product, flagged)
    return script_safe(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def broken_card_json(product: Mapping[str, Any], reason: str) -> str:
    """A card whose data could not be made: its name, and that it could not be built
    (the page says where the data is)."""
    text = (
        f"This card could not be built (internal error: {reason}); "
        "the product's data is in audit.json."
    )
    data = {
        "v": _text(product.get("verdict")),
        "h": _text(product.get("product_name")),
        "error": text,
    }
    return script_safe(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
