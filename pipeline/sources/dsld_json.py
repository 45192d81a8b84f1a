"""Read a label downloaded from the NIH Dietary Supplement Label Database as JSON (API v9).

One label per file (the object the DSLD label API returns), or a JSON array of such
labels (one `Label` per element, in order). Fields read:

- ``fullName`` -> product name, ``brandName`` -> brand;
- ``servingSizes[0]``: "minQuantity[-maxQuantity] unit" -> serving size ("4 Tablet(s)"),
  ``maxDailyServings`` -> max_daily_servings (None if 0 or missing);
- ``servingsPerContainer`` -> servings per container, as given;
- ``ingredientRows`` (and their ``nestedRows``, depth first: a member row's parent is the
  name of the row it is nested in): ``name``; ``forms[].name`` joined with ", " (forms
  named "unspecified" are left out) -> form; the first ``quantity`` entry (the amount per
  serving): ``quantity`` -> amount as written ("500", "0.5"; operator "<" gives "<1"),
  ``unit`` as given ("mg", "NP"); DSLD writes an ingredient listed without an amount as
  quantity 0 with unit "NP" (or "Not Present"), read as no amount with the unit kept.
  %DV: the percent of the target group "Adults and children 4 or more years of age",
  else of the first group, as "38%" (with its operator: "<1%"); a group with no percent
  whose footnote says "not established" gives the marker "*";
- ``statements``: types containing "Directions" -> directions, types containing
  "Precaution" -> warnings (each joined with " ");
- ``otheringredients.text``, else the names of ``otheringredients.ingredients`` joined
  with ", " -> other ingredients.

Rows are numbered 1, 2, ... in reading order (DSLD's own ``order`` may skip numbers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

from pipeline import config
from pipeline.errors import BadTable, NoPanel, UnreadableFile
from pipeline.records import (
    FileExtraction,
    FileValues,
    Label,
    LabelRow,
    ReadIssue,
    defaults_after,
    values_extraction,
)
from pipeline.sources.registry import Member, Reader, read_path, register

SOURCE_FORMAT = "dsld-json"
ADULTS = "Adults and children 4 or more years of age"
_NOT_PRESENT = frozenset({"np", "not present"})
_REQUIRED_KEYS = ("ingredientRows", "fullName")


def format_number(value: Any) -> str:
    """A JSON number as a label prints it: 800.0 -> "800", 0.5 -> "0.5"; strings as given."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def dsld_json_from_bytes(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileExtraction:
    """Read one DSLD label JSON (a label object or an array of them) from its bytes."""
    return values_extraction(dsld_json_values(data, name, source_file, companions))


def dsld_json_values(
    data: bytes, name: str, source_file: str, companions: Sequence[Member] = ()
) -> FileValues:
    """`dsld_json_from_bytes` as field values (pipeline.records.FileValues): the records'
    values are made directly, no record is (what the extract stage's workers hand on)."""
    if not data.strip():
        raise UnreadableFile("the JSON file is empty", source_file=source_file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid JSON: the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            source_file=source_file,
        ) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}", source_file=source_file) from exc

    if isinstance(document, dict):
        items: list[Any] = [document]
    elif isinstance(document, list):
        if not document:
            raise BadTable(
                "not a DSLD label JSON: the array holds no labels", source_file=source_file
            )
        items = document
    else:
        raise BadTable(
            f"not a DSLD label JSON: the top level is {_type_name(document)}, not an object",
            source_file=source_file,
        )
    for number, item in enumerate(items, start=1):
        # In an array, say which element is wrong: "item 2 of the array is missing 'x'".
        subject = f"item {number} of the array " if len(items) > 1 else ""
        if not isinstance(item, dict):
            raise BadTable(
                f"not a DSLD label JSON: {subject or 'the label '}is {_type_name(item)}, "
                "not an object",
                source_file=source_file,
            )
        for key in _REQUIRED_KEYS:
            if key not in item:
                verb = "is missing" if subject else "missing"
                raise BadTable(
                    f"not a DSLD label JSON: {subject}{verb} '{key}'", source_file=source_file
                )
        if not isinstance(item["ingredientRows"], list):
            raise BadTable(
                f"not a DSLD label JSON: {subject}'ingredientRows' is "
                f"{_type_name(item['ingredientRows'])}, not an array",
                source_file=source_file,
            )

    labels: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    issues: list[tuple[Any, ...]] = []
    for index, item in enumerate(items):
        labels.append(_label(item, source_file, index))
        label_rows = _rows(item["ingredientRows"], source_file, index, None, [], issues)
        if not label_rows:
            issues.append(
                (
                    source_file,
                    index,
                    None,
                    None,
                    "the label has no ingredient rows",
                    *_ISSUE_TAIL,
                )
            )
        rows.extend(label_rows)
    if not rows:
        raise NoPanel("the DSLD label has no ingredient rows", source_file=source_file)
    return FileValues(source_file, tuple(labels), tuple(rows), tuple(issues))


def _serving(item: dict[str, Any]) -> tuple[str | None, float | None]:
    sizes = item.get("servingSizes")
    if not isinstance(sizes, list) or not sizes or not isinstance(sizes[0], dict):
        return None, None
    first: dict[str, Any] = sizes[0]
    low, high, unit = first.get("minQuantity"), first.get("maxQuantity"), _text(first.get("unit"))
    amount = ""
    if low is not None and high is not None and low != high:
        amount = f"{format_number(low)}-{format_number(high)}"
    elif low is not None or high is not None:
        amount = format_number(low if low is not None else high)
    serving = f"{amount} {unit}".strip() or None
    max_daily = first.get("maxDailyServings")
    daily = (
        float(max_daily)
        if isinstance(max_daily, int | float) and not isinstance(max_daily, bool) and max_daily
        else None
    )
    return serving, daily


def _statements(item: dict[str, Any]) -> tuple[str, str]:
    """The directions (types containing "Directions") and the warnings (types containing
    "Precaution"), each of its statements' notes (else text) joined with " "."""
    directions: list[str] = []
    warnings: list[str] = []
    for statement in item.get("statements") or []:
        if isinstance(statement, dict):
            kind = _text(statement.get("type"))
            to_directions, to_warnings = "Directions" in kind, "Precaution" in kind
            if to_directions or to_warnings:
                note = _text(statement.get("notes")) or _text(statement.get("text"))
                if note and to_directions:
                    directions.append(note)
                if note and to_warnings:
                    warnings.append(note)
    return " ".join(directions), " ".join(warnings)


def _other_ingredients(item: dict[str, Any]) -> str:
    other = item.get("otheringredients")
    if not isinstance(other, dict):
        return ""
    text = _text(other.get("text"))
    if text:
        return text
    names = [_text(i.get("name")) for i in other.get("ingredients") or [] if isinstance(i, dict)]
    return ", ".join(n for n in names if n)


#: The values of a Label's fields after those `_label` gives (their defaults).
_LABEL_TAIL = defaults_after(
    Label,
    (
        "source_file",
        "label_index",
        "product_name",
        "brand",
        "serving_size",
        "servings_per_container",
        "max_daily_servings",
        "directions",
        "warnings",
        "other_ingredients",
        "source_format",
    ),
)
#: The values of a LabelRow's fields after those `_rows` gives (their defaults).
_ROW_TAIL = defaults_after(
    LabelRow,
    (
        "source_file",
        "label_index",
        "line_no",
        "name_raw",
        "amount_raw",
        "unit_raw",
        "dv_raw",
        "form_raw",
        "parent",
        "amount_alt_raw",
        "unit_alt_raw",
        "alt_amounts_raw",
        "page",
        "raw_text",
    ),
)
#: The values of a ReadIssue's fields after source_file, label_index, page, line_no, detail.
_ISSUE_TAIL = defaults_after(ReadIssue, ("source_file", "label_index", "page", "line_no", "detail"))


def _label(item: dict[str, Any], source_file: str, index: int) -> tuple[Any, ...]:
    """The values of the Label of `item`."""
    serving, max_daily = _serving(item)
    per_container = item.get("servingsPerContainer")
    product_name = _text(item.get("fullName")) or f"DSLD {format_number(item.get('id'))}"
    brand = _text(item.get("brandName")) or None
    directions, warnings = _statements(item)
    return (
        source_file,
        index,
        product_name,
        brand,
        serving,
        format_number(per_container) if per_container not in (None, "") else None,
        max_daily,
        directions,
        warnings,
        _other_ingredients(item),
        SOURCE_FORMAT,
        *_LABEL_TAIL,
    )


def _forms(row: dict[str, Any]) -> str | None:
    forms = row.get("forms")
    if not forms:
        return None
    names = [_text(f.get("name")) for f in forms if isinstance(f, dict)]
    kept = [n for n in names if n and n.lower() != "unspecified"]
    return ", ".join(kept) or None


def _number(value: Any) -> str:
    """`format_number`, its common cases first."""
    kind = type(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is int:
        return str(value)
    return format_number(value)


def _daily_value(quantity: dict[str, Any]) -> str | None:
    found = quantity.get("dailyValueTargetGroup")
    if not found:
        return None
    groups = [g for g in found if isinstance(g, dict)]
    if not groups:
        return None
    group = groups[0]
    for g in groups:
        if _text(g.get("name")) == ADULTS:
            group = g
            break
    percent = group.get("percent")
    if percent is None or percent == "":
        footnote = _text(group.get("footnote")).lower()
        return "*" if "not established" in footnote else None
    operator = group.get("operator")
    if isinstance(operator, str) and (operator := operator.strip()) and operator != "=":
        return f"{operator}{_number(percent)}%"
    return f"{_number(percent)}%"


def _amount(quantity: dict[str, Any]) -> tuple[str | None, str | None]:
    value, unit = quantity.get("quantity"), quantity.get("unit")
    unit = (unit.strip() or None) if isinstance(unit, str) else None
    if value is None or value == "":
        return None, unit
    if unit is not None and unit.lower() in _NOT_PRESENT and value in (0, "0"):
        return None, unit
    operator = quantity.get("operator")
    if isinstance(operator, str) and (operator := operator.strip()) and operator != "=":
        return f"{operator}{_number(value)}", unit
    return _number(value), unit


def _raw_text(
    name: str, form: str | None, amount: str | None, unit: str | None, dv: str | None
) -> str:
    """The line as printed: "name (form) amount unit dv", the parts that are there."""
    text = f"{name} ({form})" if form else name
    amount_unit = (f"{amount} {unit}" if unit else amount) if amount else unit
    if amount_unit:
        text = f"{text} {amount_unit}" if text else amount_unit
    if dv:
        text = f"{text} {dv}" if text else dv
    return text


def _rows(
    ingredient_rows: list[Any],
    source_file: str,
    index: int,
    parent: str | None,
    out: list[tuple[Any, ...]],
    issues: list[tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """The values of the LabelRows of `ingredient_rows` (and of their nested rows, depth
    first), appended to `out`; their read issues to `issues`."""
    tail = _ROW_TAIL
    for row in ingredient_rows:
        if not isinstance(row, dict):
            raise BadTable(
                f"not a DSLD label JSON: an ingredient row is {_type_name(row)}, not an object",
                source_file=source_file,
            )
        line_no = len(out) + 1
        name = row.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name:
            issues.append(
                (
                    source_file,
                    index,
                    None,
                    line_no,
                    f"ingredient row {line_no} has no name",
                    *_ISSUE_TAIL,
                )
            )
        first = None  # the first quantity entry that is an object
        for quantity in row.get("quantity") or []:
            if isinstance(quantity, dict):
                first = quantity
                break
        if first is None:
            amount = unit = dv = None
        else:
            amount, unit = _amount(first)
            dv = _daily_value(first)
        form = _forms(row)
        out.append(
            (
                source_file,
                index,
                line_no,
                name,
                amount,
                unit,
                dv,
                form,
                parent,
                None,
                None,
                None,
                None,
                _raw_text(name, form, amount, unit, dv),
                *tail,
            )
        )
        nested = row.get("nestedRows")
        if isinstance(nested, list) and nested:
            _rows(nested, source_file, index, name or None, out, issues)
    return out


READER = register(
    Reader(SOURCE_FORMAT, config.JSON_SUFFIXES, dsld_json_from_bytes, read_values=dsld_json_values)
)
#: read_dsld_json(path, source_file, data=None): `dsld_json_from_bytes` of the file at `path`.
read_dsld_json = partial(read_path, dsld_json_from_bytes)
