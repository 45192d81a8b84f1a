"""The report's formatting: the page's jinja2 environment and filters, the card's label
rows, and reading the products of an audit document (pipeline.report writes the pages)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import jinja2

from pipeline import crops, values
from pipeline.config import TEMPLATES_DIR
from pipeline.document import ProductDocs

#: Verdicts in display order, with their human text.
VERDICT_LABELS: dict[str, str] = {
    "matches": "matches",
    "partial": "partial",
    "fails": "fails",
    "not_assessable": "not assessable",
}


def _products(audit: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The products in rank order (a product without a rank goes last, order kept). A run's
    ProductDocs are in rank order already, and are not read here."""
    products = audit.get("products") or []
    if isinstance(products, ProductDocs):
        return products
    return sorted(
        products,
        key=lambda p: (p.get("rank") is None, p.get("rank") if p.get("rank") is not None else 0),
    )


def _without_label_rows(products: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The products, for a reader that does not need their label rows."""
    return products.without_label_rows() if isinstance(products, ProductDocs) else products


def _check_labels(products: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """check name -> its label, in the order the checks first appear in the products."""
    if isinstance(products, ProductDocs):
        return products.check_labels()
    labels: dict[str, str] = {}
    for product in products:
        for check in product.get("checks") or []:
            labels.setdefault(str(check.get("name")), str(check.get("label") or check.get("name")))
    return labels


def check_names(audit: Mapping[str, Any]) -> list[str]:
    """Every check name: the protocol's weights order first, then any other in the order
    they first appear in the products."""
    weights = (audit.get("methodology") or {}).get("protocol", {}).get("weights") or {}
    names = [str(name) for name in weights]
    names += [name for name in _check_labels(audit.get("products") or []) if name not in names]
    return names


def fmt_number(value: Any, digits: int = 2) -> str:
    """A number for people: 500.0 -> "500", 22.5 -> "22.5", 1/3 -> "0.33"; missing -> "—"
    (pipeline.values.fmt_number without thousands separators)."""
    kind = type(value)
    if kind is float or kind is int:  # the cards' numbers repeat (weights, points)
        return _fmt_plain(kind.__name__, value, digits)
    return values.fmt_number(value, digits, thousands=False, missing="—")


@functools.lru_cache(maxsize=8192)
def _fmt_plain(kind: str, value: float, digits: int) -> str:
    """`fmt_number` of a float or int (`kind` keeps 1 and 1.0 apart in the cache)."""
    return values.fmt_number(value, digits, thousands=False, missing="—")


def sort_key(value: Any) -> str:
    """The data-sort attribute of a numeric cell: the plain number, "" when missing."""
    if value is None or isinstance(value, bool):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return repr(number) if math.isfinite(number) else ""


def fmt_ratio(value: Any) -> str:
    """Calcium : magnesium as "2.0:1"; missing -> "—"."""
    if sort_key(value) == "":
        return "—"
    return f"{float(value):.1f}:1"


def fmt_percent(value: Any) -> str:
    """An OCR confidence 0-100 as "71%"."""
    return f"{float(value):.0f}%"


def passed_by_name(checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """check name -> passed (True / False / None) of one product's checks."""
    return {str(check.get("name")): check.get("passed") for check in checks}


def _mark(passed: Any) -> str:
    return "-" if passed is None else ("1" if passed else "0")


def _field(
    products: Sequence[Mapping[str, Any]], name: str, start: int = 0, stop: int | None = None
) -> list[Any]:
    """One field of every product (a ProductDocs' column: no product is built), or of
    products `start` to `stop`."""
    if isinstance(products, ProductDocs):
        return products.column(name, start, stop)
    return [product.get(name) for product in products[start:stop]]


def check_marks(products: Sequence[Mapping[str, Any]], check_names: Sequence[str]) -> list[str]:
    """Per product, one character per check of `check_names`: "1" passed, "0" failed, "-"
    not assessed."""
    if isinstance(products, ProductDocs):
        return products.check_marks(check_names)
    marks = []
    for product in products:
        passed = passed_by_name(product.get("checks") or [])
        marks.append("".join(_mark(passed.get(name)) for name in check_names))
    return marks


def verdict_label(verdict: Any) -> str:
    text = str(verdict or "")
    return VERDICT_LABELS.get(text, text.replace("_", " "))


#: Label rows of these nutrients are always shown in full on a product's card.
CARD_NUTRIENTS = frozenset(
    {"calcium", "magnesium", "vitamin_d", "vitamin_k1", "vitamin_k2", "vitamin_k"}
)
#: Row statuses whose amount or unit could not be used (pipeline.normalize.Normalized).
_UNUSABLE = frozenset({"unparsed_amount", "unknown_unit", "unit_not_for_nutrient", "not_converted"})
_FINDING_LINE = re.compile(r"^line (\d+)\b")


def finding_lines(data_quality: Sequence[Mapping[str, Any]]) -> dict[Any, set[int]]:
    """product_id -> the label lines a data-quality finding names, read from findings
    whose detail starts with "line N" (the row checks' wording)."""
    lines: dict[Any, set[int]] = {}
    for finding in data_quality:
        match = _FINDING_LINE.match(str(finding.get("detail") or ""))
        if match:
            lines.setdefault(finding.get("product_id"), set()).add(int(match.group(1)))
    return lines


def _printed(row: Mapping[str, Any]) -> str:
    """A label line in a few words, as printed: "Vitamin C 60 mg"."""
    amount = " ".join(str(row.get(k)) for k in ("amount_raw", "unit_raw") if row.get(k))
    return f"{row.get('name_raw') or ''} {amount}".strip()


def card_rows(
    rows: Iterable[Mapping[str, Any]], flagged: Collection[Any] = ()
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """A card's label rows: those shown in full (the protocol's nutrients, and any line
    with a data-quality finding, an OCR repair or an unusable unit), and the others in a
    few words each ("Vitamin C 60 mg"). audit.json keeps every row in full."""
    full: list[Mapping[str, Any]] = []
    others: list[str] = []
    for row in rows:
        get = row.get
        if (
            get("nutrient") in CARD_NUTRIENTS
            or (flagged and get("line_no") in flagged)
            or get("repairs")
            or get("unit_status") in _UNUSABLE
        ):
            full.append(row)
            continue
        # _printed(row), inline (most of a label's rows are written so)
        amount, unit = get("amount_raw"), get("unit_raw")
        if amount and unit:
            text = f"{get('name_raw') or ''} {amount!s} {unit!s}"
        elif amount or unit:
            text = f"{get('name_raw') or ''} {(amount or unit)!s}"
        else:
            text = f"{get('name_raw') or ''} "
        others.append(text.strip())
    return full, others


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # the templates are the package's: loaded once a run, never looked at again (a
        # check of each included template's file time cost ~0.2 ms a card)
        auto_reload=False,
    )
    env.filters["num"] = fmt_number
    env.filters["sortkey"] = sort_key
    env.filters["ratio"] = fmt_ratio
    env.filters["percent"] = fmt_percent
    env.filters["verdict"] = verdict_label
    env.filters["passed_by_name"] = passed_by_name
    env.globals["card_rows"] = card_rows
    env.globals["card_evidence"] = crops.card_evidence
    env.globals["row_crop"] = crops.row_crop
    return env
