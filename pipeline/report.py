"""The report stage: audit.html, audit.json and ranking.csv from an audit document.

The audit document is the JSON-ready dict the scoring stage builds (its shape is shown by
tests/data/audit_example.json). audit.json and ranking.csv are public contracts:

- audit.json is the document as is: UTF-8, indented by 2, keys in their given order.
- ranking.csv has one row per product in rank order with the columns RANKING_COLUMNS, then
  one column "check_<name>" per check (true / false / empty for not assessed). The prefix
  keeps a check apart from a product column of the same name (check "k2_form" vs the
  column "k2_form").

audit.html is one self-contained page (inline CSS, a few lines of inline JS, the chart as
inline SVG) that opens offline and loads nothing from anywhere.

Every file is written atomically (a temp file in the same folder, then os.replace), and
all three are rendered before the first is written: a failure while rendering leaves the
previous reports as they were.
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from pipeline.chart import CHART_TITLE, ratio_chart_svg, unplotted_products
from pipeline.config import TEMPLATES_DIR, ReportPaths
from pipeline.runs import atomic_write_text

TEMPLATE_NAME = "audit.html.j2"

#: The fixed columns of ranking.csv, in order; check columns follow.
RANKING_COLUMNS: tuple[str, ...] = (
    "rank",
    "product_id",
    "source_file",
    "product_name",
    "brand",
    "verdict",
    "score",
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
    "k2_form",
    "k2_mcg_per_500mg_ca",
    "ca_to_mg_ratio",
)
_INT_COLUMNS = ("rank",)
_FLOAT_COLUMNS = (
    "score",
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
    "k2_mcg_per_500mg_ca",
    "ca_to_mg_ratio",
)
CHECK_COLUMN_PREFIX = "check_"

#: Verdicts in display order, with their human text.
VERDICT_LABELS: dict[str, str] = {
    "matches": "matches",
    "partial": "partial",
    "fails": "fails",
    "not_assessable": "not assessable",
}

#: Short column headings for the ranking table (the full check label is the tooltip).
CHECK_SHORT_LABELS: dict[str, str] = {
    "k2_present": "Has K2",
    "k2_form": "MK-7",
    "k2_ratio": "K2 dose",
    "ca_mg_ratio": "Ca:Mg band",
    "vitamin_d": "Vit. D",
    "anticoagulant_caution": "Warfarin caution",
    "fat_guidance": "With fat",
}

#: Headings of the lists in audit["changes"].
CHANGE_HEADINGS: dict[str, str] = {
    "added": "New products",
    "removed": "Products no longer found",
    "verdict_changed": "Verdict changed",
}


# --------------------------------------------------------------------------- writing


def audit_json(audit: Mapping[str, Any]) -> str:
    """audit.json's text: the document as is, indent 2, key order kept, strict JSON.

    `json.dumps` with an indent joins a list of every token (millions for thousands of
    products, ~100 MB at 2,000); streaming the tokens into one buffer gives the same text.
    """
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    buffer = io.StringIO()
    for chunk in encoder.iterencode(audit):
        buffer.write(chunk)
    buffer.write("\n")
    return buffer.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"audit.json: cannot write a {type(value).__name__}")


def write_reports(audit: Mapping[str, Any], reports_dir: Path) -> list[Path]:
    """Write audit.html, audit.json and ranking.csv under `reports_dir`; return their paths.

    All three are rendered first, then each is written atomically.
    """
    paths = ReportPaths(Path(reports_dir))
    texts = [
        (paths.html, render_html(audit)),
        (paths.json, audit_json(audit)),
        (paths.ranking_csv, ranking_csv(audit)),
    ]
    for path, text in texts:
        atomic_write_text(path, text)
    return [path for path, _ in texts]


# --------------------------------------------------------------------------- ranking


def _products(audit: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The products in rank order (a product without a rank goes last, order kept)."""
    products = list(audit.get("products") or [])
    return sorted(
        products,
        key=lambda p: (p.get("rank") is None, p.get("rank") if p.get("rank") is not None else 0),
    )


def check_names(audit: Mapping[str, Any]) -> list[str]:
    """Every check name: the protocol's weights order first, then any other in the order
    they first appear in the products."""
    weights = (audit.get("methodology") or {}).get("protocol", {}).get("weights") or {}
    names = [str(name) for name in weights]
    for product in audit.get("products") or []:
        for check in product.get("checks") or []:
            name = str(check.get("name"))
            if name not in names:
                names.append(name)
    return names


def ranking_frame(audit: Mapping[str, Any]) -> pd.DataFrame:
    """One row per product in rank order: RANKING_COLUMNS, then "check_<name>" per check
    (nullable boolean: True passed, False failed, missing = not assessed / not run)."""
    names = check_names(audit)
    records: list[dict[str, Any]] = []
    for product in _products(audit):
        record: dict[str, Any] = {column: product.get(column) for column in RANKING_COLUMNS}
        passed = passed_by_name(product.get("checks") or [])
        for name in names:
            value = passed.get(name)
            record[CHECK_COLUMN_PREFIX + name] = None if value is None else bool(value)
        records.append(record)
    columns = [*RANKING_COLUMNS, *(CHECK_COLUMN_PREFIX + n for n in names)]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in columns:
        if column in _INT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.array(
                [None if v is None else float(v) for v in frame[column]], dtype="Float64"
            )
        elif column.startswith(CHECK_COLUMN_PREFIX):
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype("string")
    return frame


def ranking_csv(audit: Mapping[str, Any]) -> str:
    """ranking.csv's text: the ranking frame with checks written true / false / empty."""
    frame = ranking_frame(audit).copy()
    for column in frame.columns:
        if str(column).startswith(CHECK_COLUMN_PREFIX):
            frame[column] = pd.array(
                ["" if pd.isna(v) else ("true" if v else "false") for v in frame[column]],
                dtype="string",
            )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, na_rep="", lineterminator="\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


def fmt_number(value: Any, digits: int = 2) -> str:
    """A number for people: 500.0 -> "500", 22.5 -> "22.5", 1/3 -> "0.33"; missing -> "—"."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    text = f"{number:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


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


def verdict_label(verdict: Any) -> str:
    text = str(verdict or "")
    return VERDICT_LABELS.get(text, text.replace("_", " "))


def _check_columns(audit: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ranking table's check columns: name, short heading and full label."""
    labels: dict[str, str] = {}
    for product in audit.get("products") or []:
        for check in product.get("checks") or []:
            labels.setdefault(str(check.get("name")), str(check.get("label") or check.get("name")))
    columns = []
    for name in check_names(audit):
        label = labels.get(name, name.replace("_", " "))
        columns.append({"name": name, "short": CHECK_SHORT_LABELS.get(name, label), "label": label})
    return columns


def _change_sections(changes: Any) -> list[dict[str, Any]]:
    """The non-empty lists of audit["changes"], with headings, in their given order."""
    if not isinstance(changes, Mapping):
        return []
    sections = []
    for key, items in changes.items():
        if isinstance(items, Sequence) and not isinstance(items, str) and len(items) > 0:
            heading = CHANGE_HEADINGS.get(str(key), str(key).replace("_", " ").capitalize())
            sections.append({"key": str(key), "heading": heading, "items": list(items)})
    return sections


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["sortkey"] = sort_key
    env.filters["ratio"] = fmt_ratio
    env.filters["percent"] = fmt_percent
    env.filters["verdict"] = verdict_label
    env.filters["passed_by_name"] = passed_by_name
    return env


def render_html(audit: Mapping[str, Any]) -> str:
    """The audit page (one self-contained HTML document) for an audit document."""
    products = _products(audit)
    protocol = (audit.get("methodology") or {}).get("protocol") or {}
    chart_svg = ratio_chart_svg(
        products,
        k2_band=protocol.get("k2_ratio_mcg_per_500mg_ca") or (100.0, 180.0),
        ca_mg_band=protocol.get("ca_to_mg_band") or (1.5, 2.5),
    )
    names = {p.get("product_id"): p.get("product_name") for p in products}
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(
        audit=audit,
        products=products,
        protocol=protocol,
        check_columns=_check_columns(audit),
        change_sections=_change_sections(audit.get("changes")),
        verdicts=VERDICT_LABELS,
        product_names=names,
        chart_svg=Markup(chart_svg),  # matplotlib's SVG; it holds no text from the labels
        chart_title=CHART_TITLE,
        unplotted=unplotted_products(products),
    )
