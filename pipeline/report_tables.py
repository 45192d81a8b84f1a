"""The report's two files for scripts: audit.json and ranking.csv (see pipeline.report)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS
from pipeline.report_format import _products, _without_label_rows, check_names, passed_by_name

if TYPE_CHECKING:
    from pipeline.report import ProductPieces

#: The fixed columns of ranking.csv, in order; check columns follow.
RANKING_COLUMNS: tuple[str, ...] = (
    "rank",
    "product_id",
    "source_file",
    "product_name",
    "brand",
    "verdict",
    "score",
    *PROTOCOL_AMOUNT_COLUMNS,
    "k2_form",
    *PROTOCOL_METRIC_COLUMNS,
)
_INT_COLUMNS = ("rank",)
_FLOAT_COLUMNS = ("score", *PROTOCOL_AMOUNT_COLUMNS, *PROTOCOL_METRIC_COLUMNS)
CHECK_COLUMN_PREFIX = "check_"


def audit_json(audit: Mapping[str, Any]) -> str:
    """audit.json's text (see `audit_json_chunks`)."""
    return "".join(audit_json_chunks(audit))


def _dumps(value: Any, indent: int | None) -> str:
    return json.dumps(
        value, indent=indent, ensure_ascii=False, allow_nan=False, default=_json_default
    )


def audit_json_chunks(
    audit: Mapping[str, Any], *, pieces: ProductPieces | None = None
) -> Iterator[str]:
    """audit.json's text in pieces, so that the whole text (~18 MB for 2,000 label files)
    is never held: strict UTF-8 JSON, keys in their given order, indented by 2, except that
    each product is written on one line of its own (`grep product-id audit.json` shows a
    whole product). That line is encoded by the standard library's C encoder; an indented
    product would go through its pure-Python encoder, several times slower. With `pieces`,
    products' lines come from `ProductPieces.json_lines` (reused from an earlier run).
    """
    if not audit:
        yield "{}\n"
        return
    for position, (key, value) in enumerate(audit.items()):
        head = ("{\n  " if position == 0 else ",\n  ") + _dumps(str(key), None) + ": "
        if key == "products" and isinstance(value, Sequence) and len(value):
            yield head + "["
            if pieces is None:
                lines: Iterable[str] = (_dumps(product, None) for product in value)
            else:
                lines = _piece_lines(pieces, len(value))
            for index, line in enumerate(lines):
                yield (",\n    " if index else "\n    ") + line
            yield "\n  ]"
        else:
            yield head + _dumps(value, 2).replace("\n", "\n  ")
    yield "\n}\n"


def _piece_lines(pieces: ProductPieces, count: int) -> Iterator[str]:
    for first in range(0, count, _LINES_AT_ONCE):
        yield from pieces.json_lines(first, min(first + _LINES_AT_ONCE, count))


#: audit.json lines asked of ProductPieces at a time.
_LINES_AT_ONCE = 256


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"audit.json: cannot write a {type(value).__name__}")


def _json_safe(value: Any) -> Any:
    """`value` with what JSON cannot hold made plain: NaN and infinities None, unknown
    objects as text, mappings and sequences walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes):
        return [_json_safe(v) for v in value]
    return str(value)


def ranking_frame(audit: Mapping[str, Any]) -> pd.DataFrame:
    """One row per product in rank order: RANKING_COLUMNS, then "check_<name>" per check
    (nullable boolean: True passed, False failed, missing = not assessed / not run)."""
    names = check_names(audit)
    records: list[dict[str, Any]] = []
    for product in _without_label_rows(_products(audit)):
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


#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text: one starting like a formula gets a
    leading "'" (OWASP's advice; the spreadsheet hides it)."""
    return "'" + text if text.startswith(CSV_FORMULA_STARTS) else text


def csv_cell_text(cell: str) -> str:
    """The text a `csv_safe_cell` cell was made from."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(CSV_FORMULA_STARTS) else cell


def ranking_csv(audit: Mapping[str, Any]) -> str:
    """ranking.csv's text: the ranking frame with checks written true / false / empty, and
    every text cell made safe to open in a spreadsheet (`csv_safe_cell`; numbers are
    numbers, written as such)."""
    frame = ranking_frame(audit).copy()
    for column in frame.columns:
        if str(column).startswith(CHECK_COLUMN_PREFIX):
            frame[column] = pd.array(
                ["" if pd.isna(v) else ("true" if v else "false") for v in frame[column]],
                dtype="string",
            )
        elif isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = pd.array(
                [None if pd.isna(v) else csv_safe_cell(str(v)) for v in frame[column]],
                dtype="string",
            )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, na_rep="", lineterminator="\n")
    return buffer.getvalue()
