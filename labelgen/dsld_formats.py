"""Write labels in the reduced DSLD shape (labelgen.products) as the files users download.

- `to_dsld_api_json` / `write_dsld_json`: DSLD label JSON (API v9, one label per file);
- `write_dsld_csv`: the DSLD CSV export, DietarySupplementFacts.csv (one row per
  ingredient) and optionally its companion ProductOverview.csv;
- `write_simple_csv`: the simple one-row-per-ingredient layout of pipeline.sources.csv.

Reading a written file back (pipeline.sources.csv / pipeline.sources.dsld_json) gives the
label's values as `expected_rows` states them: amounts as "800" / "0.5", units as given,
%DV as "38%" (None when the label gives none), forms joined with ", " without
"unspecified", and an ingredient DSLD lists without an amount (unit "NP" or "Not Present")
with no amount. What each format cannot carry is listed at its writer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pipeline.sources.csv import SIMPLE_OPTIONAL, SIMPLE_REQUIRED

Label = dict[str, Any]

ADULTS = "Adults and children 4 or more years of age"
NOT_PRESENT_UNITS = frozenset({"NP", "Not Present"})

DSLD_FACTS_COLUMNS = (
    "URL",
    "DSLD ID",
    "Product Name",
    "Serving Size",
    "Ingredient",
    "DSLD Ingredient Categories",
    "Amount Per Serving",
    "Amount Per Serving Unit",
    "% Daily Value per Serving",
    "Daily Value Target Group",
)
DSLD_OVERVIEW_COLUMNS = (
    "URL",
    "DSLD ID",
    "Product Name",
    "Brand Name",
    "Bar Code",
    "Net Contents",
    "Serving Size",
    "Product Type [LanguaL]",
    "Supplement Form [LanguaL]",
    "Date Entered into DSLD",
    "Market Status",
    "Suggested Use",
)
#: The simple CSV's columns, as its reader names them: the product's first, then the row's.
SIMPLE_COLUMNS = (
    *SIMPLE_REQUIRED[:1],
    *SIMPLE_OPTIONAL[:3],
    *SIMPLE_REQUIRED[1:],
    *SIMPLE_OPTIONAL[3:],
)


def fmt_number(value: float | int | str) -> str:
    """800.0 -> "800", 0.5 -> "0.5" (as the readers give amounts back)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _url(label: Label) -> str:
    return f"https://dsld.od.nih.gov/label/{label['dsld_id']}"


def forms_text(ingredient: dict[str, Any]) -> str | None:
    kept = [f for f in ingredient.get("forms") or [] if f and f.lower() != "unspecified"]
    return ", ".join(kept) or None


def serving_size_text(label: Label) -> str | None:
    sizes = label.get("serving_sizes") or []
    if not sizes:
        return None
    return f"{fmt_number(sizes[0]['quantity'])} {sizes[0]['unit']}".strip()


def statements_text(label: Label, word: str) -> str:
    """The texts of the statements whose type contains `word`, joined with " "."""
    texts = [s["text"].strip() for s in label.get("statements") or [] if word in s["type"]]
    return " ".join(t for t in texts if t)


def _amount(ingredient: dict[str, Any]) -> str | None:
    if ingredient["unit"] in NOT_PRESENT_UNITS:
        return None
    return fmt_number(ingredient["quantity"])


def _dv(ingredient: dict[str, Any]) -> str | None:
    percent = ingredient.get("daily_value_percent")
    return None if percent is None else f"{fmt_number(percent)}%"


def _parents(label: Label) -> dict[str, str | None]:
    """Each ingredient's parent blend, by name: only parents that are rows of the label."""
    names = {i["name"] for i in label["ingredients"]}
    return {
        i["name"]: i["nested_in"] if i.get("nested_in") in names else None
        for i in label["ingredients"]
    }


def expected_rows(label: Label, *, parents: str = "present") -> list[dict[str, Any]]:
    """The rows a reader gives back for `label`, in order: name, amount, unit, dv, form, parent.

    `parents`: "present" (DSLD JSON: a member keeps its parent only when the parent is a
    row of the label), "all" (simple CSV: the blend name as given) or "none" (DSLD CSV,
    which has no parent column).
    """
    present = _parents(label)
    out = []
    for ing in _reading_order(label):
        parent = {"present": present[ing["name"]], "all": ing.get("nested_in"), "none": None}
        out.append(
            {
                "name_raw": ing["name"],
                "amount_raw": _amount(ing),
                "unit_raw": ing["unit"] or None,
                "dv_raw": _dv(ing),
                "form_raw": forms_text(ing),
                "parent": parent[parents],
            }
        )
    return out


def _reading_order(label: Label) -> list[dict[str, Any]]:
    """Ingredients depth first (members right after their blend), as DSLD JSON nests them."""
    present = _parents(label)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for ing in sorted(label["ingredients"], key=lambda i: i["order"]):
        children.setdefault(present[ing["name"]], []).append(ing)
    out: list[dict[str, Any]] = []

    def walk(parent: str | None) -> None:
        for ing in children.get(parent, []):
            out.append(ing)
            walk(ing["name"])

    walk(None)
    return out


# --------------------------------------------------------------------------- DSLD JSON


def _api_row(
    ing: dict[str, Any], children: dict[str | None, list[dict[str, Any]]]
) -> dict[str, Any]:
    percent = ing.get("daily_value_percent")
    groups = [] if percent is None else [{"name": ADULTS, "operator": "=", "percent": percent}]
    return {
        "order": ing["order"],
        "name": ing["name"],
        "ingredientGroup": ing.get("ingredient_group"),
        "category": None,
        "forms": [{"prefix": "as", "name": f} for f in ing.get("forms") or []],
        "quantity": [
            {
                "servingSizeOrder": 1,
                "quantity": ing["quantity"],
                "unit": ing["unit"],
                "operator": "=",
                "dailyValueTargetGroup": groups,
            }
        ],
        "nestedRows": [_api_row(c, children) for c in children.get(ing["name"], [])],
    }


def to_dsld_api_json(label: Label) -> dict[str, Any]:
    """The label as the DSLD API v9 returns it (the fields pipeline.sources.dsld_json reads).

    A member whose blend is not a row of the label (e.g. "Calories from Fat" under a
    missing "Calories") becomes a top-level row.
    """
    present = _parents(label)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for ing in sorted(label["ingredients"], key=lambda i: i["order"]):
        children.setdefault(present[ing["name"]], []).append(ing)
    other = label.get("other_ingredients") or []
    return {
        "id": label["dsld_id"],
        "fullName": label["product_name"],
        "brandName": label.get("brand"),
        "netContents": [{"order": 1, "display": label.get("net_contents")}],
        "servingsPerContainer": (
            None
            if label.get("servings_per_container") is None
            else fmt_number(label["servings_per_container"])
        ),
        "physicalState": {"langualCodeDescription": label.get("physical_state")},
        "servingSizes": [
            {
                "order": n,
                "minQuantity": s["quantity"],
                "maxQuantity": s["quantity"],
                "minDailyServings": s.get("min_daily_servings"),
                "maxDailyServings": s.get("max_daily_servings"),
                "unit": s["unit"],
            }
            for n, s in enumerate(label.get("serving_sizes") or [], start=1)
        ],
        "ingredientRows": [_api_row(i, children) for i in children.get(None, [])],
        "otheringredients": {
            "text": ", ".join(other) or None,
            "ingredients": [{"order": n, "name": o} for n, o in enumerate(other, start=1)],
        },
        "statements": [
            {"type": s["type"], "notes": s["text"]} for s in label.get("statements") or []
        ],
    }


def write_dsld_json(label: Label, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dsld_api_json(label), indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- DSLD CSV


def _ingredient_cell(ing: dict[str, Any]) -> str:
    form = forms_text(ing)
    return f"{ing['name']} (as {form})" if form else ing["name"]


def write_dsld_csv(
    labels: list[Label], facts_path: Path, overview_path: Path | None = None
) -> Path:
    """DietarySupplementFacts.csv for `labels` (and ProductOverview.csv if a path is given).

    The export carries no parent blend, servings per container, warnings or other
    ingredients; brand and directions (Suggested Use) come only from the overview. A label
    with no ingredients gives no row.
    """
    facts_path.parent.mkdir(parents=True, exist_ok=True)
    with facts_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(DSLD_FACTS_COLUMNS)
        for label in labels:
            for ing in _reading_order(label):
                percent = ing.get("daily_value_percent")
                writer.writerow(
                    [
                        _url(label),
                        label["dsld_id"],
                        label["product_name"],
                        serving_size_text(label) or "",
                        _ingredient_cell(ing),
                        ing.get("ingredient_group") or "",
                        fmt_number(ing["quantity"]),
                        ing["unit"],
                        "" if percent is None else fmt_number(percent),
                        "" if percent is None else ADULTS,
                    ]
                )
    if overview_path is not None:
        overview_path.parent.mkdir(parents=True, exist_ok=True)
        with overview_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(DSLD_OVERVIEW_COLUMNS)
            for label in labels:
                writer.writerow(
                    [
                        _url(label),
                        label["dsld_id"],
                        label["product_name"],
                        label.get("brand") or "",
                        "",
                        label.get("net_contents") or "",
                        serving_size_text(label) or "",
                        "Dietary Supplement",
                        label.get("physical_state") or "",
                        "",
                        "On Market",
                        statements_text(label, "Directions"),
                    ]
                )
    return facts_path


# --------------------------------------------------------------------------- simple CSV


def write_simple_csv(
    labels: list[Label], path: Path, *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    """The simple layout: one row per ingredient; product text on each product's first row.

    Everything the simple layout reads round-trips (max daily servings is not a column).
    The reader groups rows by product name and brand, so two labels sharing both are
    refused (ValueError) rather than written as one product. A label with no ingredients
    gives no row. `encoding` must be able to hold the labels' characters ("utf-8-sig"
    writes a BOM).
    """
    keys = [(label["product_name"], label.get("brand") or "") for label in labels]
    clashes = sorted({k for k in keys if keys.count(k) > 1})
    if clashes:
        raise ValueError(f"labels share a product name and brand: {clashes}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(SIMPLE_COLUMNS)
        for label in labels:
            per_container = label.get("servings_per_container")
            for n, ing in enumerate(_reading_order(label)):
                first = n == 0
                writer.writerow(
                    [
                        label["product_name"],
                        label.get("brand") or "",
                        (serving_size_text(label) or "") if first else "",
                        fmt_number(per_container) if first and per_container is not None else "",
                        ing["name"],
                        _amount(ing) or "",
                        ing["unit"],
                        _dv(ing) or "",
                        forms_text(ing) or "",
                        ing.get("nested_in") or "",
                        statements_text(label, "Directions") if first else "",
                        statements_text(label, "Precaution") if first else "",
                        ", ".join(label.get("other_ingredients") or []) if first else "",
                    ]
                )
    return path


def to_records(label: Label) -> tuple[Any, list[Any]]:
    """One label as the readers give it: a pipeline `Label` and its `LabelRow`s.

    For tests that feed the later stages without writing and reading a file first.
    """
    from pipeline.records import Label as LabelRecord
    from pipeline.records import LabelRow

    source = f"dsld/{label['dsld_id']}.json"
    sizes = label.get("serving_sizes") or [{}]
    record = LabelRecord(
        source_file=source,
        label_index=0,
        product_name=label["product_name"],
        brand=label.get("brand"),
        serving_size=serving_size_text(label),
        servings_per_container=str(label.get("servings_per_container")),
        max_daily_servings=sizes[0].get("max_daily_servings") or None,
        directions=statements_text(label, "Directions"),
        warnings=statements_text(label, "Precautions"),
        other_ingredients=", ".join(label.get("other_ingredients") or []),
        source_format="dsld-json",
    )
    rows = [
        LabelRow(
            source_file=source,
            label_index=0,
            line_no=n,
            name_raw=r["name_raw"],
            amount_raw=r["amount_raw"],
            unit_raw=r["unit_raw"],
            dv_raw=r["dv_raw"],
            form_raw=r["form_raw"],
            parent=r["parent"],
        )
        for n, r in enumerate(expected_rows(label), start=1)
    ]
    return record, rows


def records_of(labels: list[Label]) -> tuple[list[Any], list[Any]]:
    """Many labels as the readers give them: their `Label`s, and all their `LabelRow`s in
    label order."""
    records: list[Any] = []
    rows: list[Any] = []
    for label in labels:
        record, label_rows = to_records(label)
        records.append(record)
        rows.extend(label_rows)
    return records, rows
