"""The report's two files for scripts: audit.json and ranking.csv (see pipeline.report)."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.document_records import TableRecords
from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS
from pipeline.report_format import (
    _field,
    _products,
    _without_label_rows,
    check_marks,
    check_names,
)

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
#: A check's mark (pipeline.report_format.check_marks) as a ranking.csv value.
_PASSED: dict[str, bool | None] = {"1": True, "0": False, "-": None}


def audit_json(audit: Mapping[str, Any]) -> str:
    """audit.json's text (see `audit_json_chunks`)."""
    return "".join(audit_json_chunks(audit))


def _dumps(value: Any, indent: int | None) -> str:
    return json.dumps(
        value, indent=indent, ensure_ascii=False, allow_nan=False, default=_json_default
    )


_SCALARS = (str, int, float, type(None))


@functools.cache
def _flat_encoder(pad: str) -> json.JSONEncoder:
    """The C encoder whose item separator starts a new line at `pad`."""
    return json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",\n" + pad, ": "))


def _is_flat(value: Any) -> bool:
    """A non-empty object of text keys, or a non-empty list, that holds no container."""
    if isinstance(value, dict):
        return bool(value) and all(
            type(k) is str and isinstance(v, _SCALARS) for k, v in value.items()
        )
    return isinstance(value, list) and bool(value) and all(isinstance(v, _SCALARS) for v in value)


def _indented(value: Any, pad: str) -> str:
    """`_dumps(value, 2)` with each new line starting with `pad` too, made by the C encoder
    (indent=2 takes the pure-Python one, 2-3 times slower, and audit.json's lists of
    findings grow with the catalog): a flat list or object (`_is_flat`), or a list of flat
    objects, is one call of it whose separators carry the indentation (a raw new line is
    never inside a JSON string, so the one between two objects is found by its text)."""
    if isinstance(value, _SCALARS):
        return _dumps(value, None)
    inner = pad + "  "
    if isinstance(value, dict | list | tuple) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    if _is_flat(value):
        flat = _flat_encoder(inner).encode(value)
        return flat[0] + "\n" + inner + flat[1:-1] + "\n" + pad + flat[-1]
    if isinstance(value, list) and all(isinstance(v, dict) and _is_flat(v) for v in value):
        return _flat_dicts(value, pad)
    if isinstance(value, dict):
        if not all(type(k) is str for k in value):  # keys JSON must convert: as it does
            return _dumps(value, 2).replace("\n", "\n" + pad)
        items = (f"{_dumps(k, None)}: {_indented(v, inner)}" for k, v in value.items())
        return "{\n" + inner + (",\n" + inner).join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple):
        items = (_indented(v, inner) for v in value)
        return "[\n" + inner + (",\n" + inner).join(items) + "\n" + pad + "]"
    return _indented(_json_default(value), pad)


def _flat_dicts(value: list[dict[str, Any]], pad: str) -> str:
    """`_indented(value, pad)` of a non-empty list of flat objects (`_is_flat`)."""
    inner = pad + "  "
    deeper = inner + "  "
    flat = _flat_encoder(deeper).encode(value)[2:-2]
    between = f"\n{inner}}},\n{inner}{{\n{deeper}"
    return (
        f"[\n{inner}{{\n{deeper}"
        + flat.replace("},\n" + deeper + "{", between)
        + (f"\n{inner}}}\n{pad}]")
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
        elif isinstance(value, TableRecords) and len(value):
            yield head
            yield from _list_chunks(value, "  ")
        else:
            yield head + _indented(value, "  ")
    yield "\n}\n"


def _list_chunks(records: TableRecords, pad: str) -> Iterator[str]:
    """`_indented(list(records), pad)` in pieces, a batch of records at a time (each
    batch's text is that of the whole list's items: "[", its items joined by "," and a
    new line at `pad` + 2, "]")."""
    opening, closing = "[\n" + pad + "  ", "\n" + pad + "]"
    # a table of scalar columns (of one column at least) gives flat records only: they
    # need not be looked at one by one (`_is_flat`)
    flat = records.scalar_columns()
    yield opening
    for position, batch in enumerate(records.batches()):
        text = _flat_dicts(batch, pad) if flat and batch else _indented(batch, pad)
        yield ("," + opening[1:] if position else "") + text[len(opening) : -len(closing)]
    yield closing


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
    products = _without_label_rows(_products(audit))  # a ProductDocs' columns: none built
    data: dict[str, list[Any]] = {column: _field(products, column) for column in RANKING_COLUMNS}
    marks = check_marks(products, names)
    for position, name in enumerate(names):
        data[CHECK_COLUMN_PREFIX + name] = [_PASSED[mark[position]] for mark in marks]
    columns = [*RANKING_COLUMNS, *(CHECK_COLUMN_PREFIX + n for n in names)]
    frame = pd.DataFrame(data, columns=columns, dtype=object)
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


#: ranking.csv is made this many products at a time: its text, and each column's values,
#: are never held for a whole catalog (at 200,000 products they took ~200 MB at once).
RANKING_CSV_ROWS = 10_000


def ranking_csv(audit: Mapping[str, Any]) -> str:
    """ranking.csv's text (`ranking_csv_chunks`, joined)."""
    return "".join(ranking_csv_chunks(audit))


def ranking_csv_chunks(audit: Mapping[str, Any], rows: int | None = None) -> Iterator[str]:
    """ranking.csv's text, its header then `rows` products at a time: the ranking frame
    (`ranking_frame`) with checks written true / false / empty, and every text cell made
    safe to open in a spreadsheet (`csv_safe_cell`; numbers are numbers, written as such).
    Written row by row by the csv module (the writer pandas' to_csv uses, with its
    settings), from the products' columns: the same text as the frame's to_csv, without a
    frame of typed columns in between. `rows`: default RANKING_CSV_ROWS."""
    size = max(1, RANKING_CSV_ROWS if rows is None else rows)
    names = check_names(audit)
    products = _without_label_rows(_products(audit))  # a ProductDocs' columns: none built
    yield _csv_text([[*RANKING_COLUMNS, *(CHECK_COLUMN_PREFIX + n for n in names)]])
    marks = check_marks(products, names)
    for start in range(0, len(products), size):
        stop = min(start + size, len(products))
        columns: list[list[Any]] = []
        for column in RANKING_COLUMNS:
            values = _field(products, column, start, stop)
            if column in _INT_COLUMNS:
                columns.append([_int_cell(v) for v in values])
            elif column in _FLOAT_COLUMNS:
                columns.append([_float_cell(v) for v in values])
            else:
                columns.append([_text_cell(v) for v in values])
        part = marks[start:stop]
        for position in range(len(names)):
            columns.append([_CHECK_CELLS[mark[position]] for mark in part])
        yield _csv_text(zip(*columns, strict=True))


def _csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


#: A check's mark as a ranking.csv cell.
_CHECK_CELLS = {"1": "true", "0": "false", "-": ""}


def _int_cell(value: Any) -> Any:
    """A value of an Int64 column as to_csv writes it (missing: empty)."""
    if value is None or _is_nan(value):
        return ""
    return value if type(value) is int else int(value)


def _float_cell(value: Any) -> Any:
    """A value of a Float64 column as to_csv writes it (missing or NaN: empty)."""
    if value is None:
        return ""
    number = value if type(value) is float else float(value)
    return "" if number != number else number


def _text_cell(value: Any) -> str:
    """A value of a string column, made safe (`csv_safe_cell`; missing: empty)."""
    if value is None or _is_nan(value):
        return ""
    return csv_safe_cell(value if type(value) is str else str(value))


def _is_nan(value: Any) -> bool:
    return type(value) is float and value != value
