"""Frozen records that flow between the stages.

Readers (pipeline.sources.*) turn one file into a `FileExtraction`: the labels (one per
product) found in it, their panel lines as printed, and the read issues (a line that was
found but could not be read). Values are kept as printed (`amount_raw`, `unit_raw`);
conversion happens in pipeline.normalize. Tables of these records are the stage
artifacts (one column per field, see `records_to_frame`), written batch by batch with one
fixed Arrow schema per table (`record_schema`, `records_to_table`; written by
pipeline.infra.atomic.ParquetTables), so a stage never holds a whole table.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:  # (imported by the functions that make frames and tables: the records
    # themselves, read by every run, need neither)
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped]

T = TypeVar("T")


@dataclass(frozen=True)
class Word:
    """One positioned word on a page: from a PDF text layer or from OCR.

    Coordinates are in PDF points from the page's top-left corner (pdfplumber's
    convention). `confidence` is OCR's 0-100 confidence, None for a text layer.
    """

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    page: int
    confidence: float | None = None


@dataclass(frozen=True)
class Label:
    """One product as read from a label file (the panel header and the label text)."""

    source_file: str  # relative to the labels folder, with forward slashes
    label_index: int  # 0-based: the n-th product in that file
    product_name: str
    brand: str | None = None
    serving_size: str | None = None  # as printed: "2 Tablets"
    servings_per_container: str | None = None
    max_daily_servings: float | None = None  # DSLD's maxDailyServings where given
    directions: str = ""
    warnings: str = ""
    other_ingredients: str = ""
    source_format: str = ""  # pdf | pdf-ocr | image-ocr | csv-dsld | csv-simple | dsld-json
    pages: str | None = None  # "1" or "1-2" for PDFs
    amount_columns: str | None = None  # headings of the amount columns when there are two
    ocr_confidence: float | None = None  # mean word confidence over the panel (OCR only)
    footnotes: str = ""  # the panel's footnotes as read ("* Daily Value not established"): PDF, OCR


@dataclass(frozen=True)
class LabelRow:
    """One line of a Supplement Facts panel, as printed."""

    source_file: str
    label_index: int
    line_no: int  # 1-based order within the panel
    name_raw: str  # the ingredient as printed, without its "(as ...)" source
    amount_raw: str | None  # the number as printed: "1,000", "0.5", "<1"; None if blank
    unit_raw: str | None  # as printed: "mg", "mcg", "µg", "IU", "mcg RAE"
    dv_raw: str | None = None  # %DV as printed: "100%", "*", "**", "†", "<1%"
    form_raw: str | None = None  # the source in parentheses: "calcium citrate"
    parent: str | None = None  # name of the blend this line is a member of
    amount_alt_raw: str | None = None  # second amount column (per day / second serving)
    unit_alt_raw: str | None = None
    alt_amounts_raw: str | None = None  # e.g. "(1,000 IU)" printed after the amount
    page: int | None = None
    raw_text: str = ""  # the whole line as read, for "read as" in the report
    confidence: float | None = None  # lowest OCR word confidence on the line
    repairs: str | None = None  # OCR repairs applied: "meg->mcg; O->0"
    # Where the line is on its page (PDF and image readers; None for CSV and JSON): the box
    # around its words, [x0, top, x1, bottom] from the page's top-left corner, in
    # `bbox_units`: "pt" (PDF points, 1/72 inch) or "px" (the image's own pixels).
    bbox_x0: float | None = None
    bbox_top: float | None = None
    bbox_x1: float | None = None
    bbox_bottom: float | None = None
    bbox_units: str | None = None
    # A person's review (LABELS/corrections.csv, applied by the normalize stage; None as
    # read): "corrected" (amount_raw/unit_raw hold the corrected value, printed_* what the
    # label was read as) or "confirmed" (the value as read was checked and is right).
    review: str | None = None
    review_by: str | None = None
    review_date: str | None = None
    review_why: str | None = None
    printed_amount_raw: str | None = None
    printed_unit_raw: str | None = None


def bbox_fields(words: Iterable[Word], units: str = "pt") -> dict[str, Any]:
    """The LabelRow bbox fields of a line made of `words` (the box around them, rounded
    to 0.01), all None when there are none."""
    found = list(words)
    if not found:
        return {}
    return {
        "bbox_x0": round(min(w.x0 for w in found), 2),
        "bbox_top": round(min(w.top for w in found), 2),
        "bbox_x1": round(max(w.x1 for w in found), 2),
        "bbox_bottom": round(max(w.bottom for w in found), 2),
        "bbox_units": units,
    }


def bbox_in_pixels(row: LabelRow, dpi: float) -> LabelRow:
    """`row` with its bbox (in points at 72 per inch) turned into pixels of an image
    scanned at `dpi`."""
    if row.bbox_units != "pt" or row.bbox_x0 is None:
        return row
    f = dpi / 72.0
    return dataclasses.replace(
        row,
        bbox_x0=round(row.bbox_x0 * f, 1),
        bbox_top=round((row.bbox_top or 0.0) * f, 1),
        bbox_x1=round((row.bbox_x1 or 0.0) * f, 1),
        bbox_bottom=round((row.bbox_bottom or 0.0) * f, 1),
        bbox_units="px",
    )


@dataclass(frozen=True)
class ReadIssue:
    """A part of a readable label that could not be read (the rest of it was)."""

    source_file: str
    label_index: int | None
    page: int | None
    line_no: int | None
    detail: str
    # True when what was not read decides the protocol verdict (e.g. two amount columns
    # whose headings do not say which is per serving): the product is not_assessable.
    blocks_verdict: bool = False


@dataclass(frozen=True)
class Rejection:
    """A file that gave no product, and why."""

    source_file: str
    reason: str


@dataclass(frozen=True)
class NotLabel:
    """A file (or folder) under the labels folder that is not read as a label, and why."""

    source_file: str
    reason: str


@dataclass(frozen=True)
class FileExtraction:
    """Everything one file gave."""

    source_file: str
    labels: tuple[Label, ...] = ()
    rows: tuple[LabelRow, ...] = ()
    issues: tuple[ReadIssue, ...] = ()
    rejection: Rejection | None = None

    @property
    def rejected(self) -> bool:
        return self.rejection is not None


def field_names(record_type: type) -> list[str]:
    return list(_field_names(record_type))


@functools.cache
def _field_names(record_type: type) -> tuple[str, ...]:
    """Cached: `dataclasses.fields` is slow for the thousands of records a cache read makes."""
    return tuple(f.name for f in dataclasses.fields(record_type))


def record_maker(record_type: type[T], names: Sequence[str] | None = None) -> Callable[..., T]:
    """A function of the values of the fields `names` (default: all fields), which must be
    `record_type`'s first fields in their order, that makes a `record_type` record, the later
    fields at their defaults: the record its dataclass __init__ makes with those values
    (equal, same field order), without its per-field cost (a frozen dataclass sets each
    field through object.__setattr__), for the thousands of records a reader or a cache
    read makes. No validation, no __post_init__. Naming the fields makes a reordered
    dataclass an error here, not values silently put in the wrong fields."""
    kind: Any = record_type  # (a dataclass)
    fields = _field_names(kind)
    if names is None:
        names = fields
    elif tuple(names) != fields[: len(names)]:
        raise TypeError(
            f"{record_type.__name__}'s first fields are {fields[: len(names)]}, not {tuple(names)}"
        )
    tail = []
    for f in dataclasses.fields(kind)[len(names) :]:
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{record_type.__name__}.{f.name} has no default value")
        tail.append(f.default)
    if hasattr(record_type, "__post_init__") or hasattr(record_type, "__slots__"):
        raise TypeError(f"{record_type.__name__} cannot be made without its __init__")
    rest = tuple(tail)
    new = object.__new__

    def make(*values: Any) -> T:
        record = new(record_type)
        record.__dict__.update(zip(fields, values + rest, strict=True))  # ValueError: count
        return record

    return make


class FileValues(NamedTuple):
    """A `FileExtraction` as its records' field values: each record a tuple of its values
    in field order (`values_of`). What a worker hands back and a cache entry holds: a
    tuple of plain values pickles, unpickles and becomes a column several times faster
    than the record it is of (`extraction_values`, `values_extraction`)."""

    source_file: str
    labels: tuple[tuple[Any, ...], ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    issues: tuple[tuple[Any, ...], ...] = ()
    rejection: tuple[Any, ...] | None = None


@functools.cache
def values_of(record_type: type) -> Callable[[Any], tuple[Any, ...]]:
    """record -> its field values in field order (a tuple, even of one field)."""
    names = _field_names(record_type)
    get = operator.attrgetter(*names)
    return get if len(names) > 1 else lambda record: (get(record),)


def extraction_values(extraction: FileExtraction) -> FileValues:
    """`extraction` as field values (`FileValues`)."""
    rejection = extraction.rejection
    return FileValues(
        extraction.source_file,
        tuple(map(values_of(Label), extraction.labels)),
        tuple(map(values_of(LabelRow), extraction.rows)),
        tuple(map(values_of(ReadIssue), extraction.issues)),
        None if rejection is None else values_of(Rejection)(rejection),
    )


@functools.cache
def _full_maker(record_type: type) -> Callable[..., Any]:
    return record_maker(record_type)


def values_extraction(values: FileValues) -> FileExtraction:
    """The inverse of `extraction_values`: the records (equal to the ones the values are
    of); ValueError if a tuple is not of its record's field count."""
    label, row, issue = _full_maker(Label), _full_maker(LabelRow), _full_maker(ReadIssue)
    rejection = values.rejection
    return FileExtraction(
        values.source_file,
        tuple(label(*v) for v in values.labels),
        tuple(row(*v) for v in values.rows),
        tuple(issue(*v) for v in values.issues),
        None if rejection is None else _full_maker(Rejection)(*rejection),
    )


def rejected_values(source_file: str, reason: str) -> FileValues:
    """The `FileValues` of a file rejected for `reason`."""
    return FileValues(source_file, rejection=(source_file, reason))


def defaults_after(record_type: type, names: Sequence[str]) -> tuple[Any, ...]:
    """The default values of `record_type`'s fields after `names` (which must be its first
    fields, in order): what a reader that makes a record's values (`FileValues`) appends
    to the values it gives; TypeError when `names` are not its first fields or a later
    field has no default (as `record_maker`)."""
    kind: Any = record_type  # (a dataclass)
    fields = _field_names(kind)
    if tuple(names) != fields[: len(names)]:
        raise TypeError(
            f"{record_type.__name__}'s first fields are {fields[: len(names)]}, not {tuple(names)}"
        )
    tail = []
    for f in dataclasses.fields(kind)[len(names) :]:
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{record_type.__name__}.{f.name} has no default value")
        tail.append(f.default)
    return tuple(tail)


def records_to_frame(records: Iterable[Any], record_type: type) -> pd.DataFrame:
    """A DataFrame with one column per field of `record_type` (empty frames keep columns)."""
    import pandas as pd

    names = field_names(record_type)
    rows = [[getattr(r, name) for name in names] for r in records]  # flat records: no deep copy
    return pd.DataFrame(rows, columns=names)


def frame_to_records(frame: pd.DataFrame, record_type: type) -> list[Any]:
    """The inverse of `records_to_frame` (NaN/NA become None)."""
    names = field_names(record_type)
    clean = frame[names].astype(object).where(frame[names].notna(), None)
    return [record_type(**{str(k): v for k, v in row.items()}) for row in clean.to_dict("records")]


def concat_extractions(
    extractions: Sequence[FileExtraction],
) -> tuple[list[Label], list[LabelRow], list[ReadIssue], list[Rejection]]:
    labels: list[Label] = []
    rows: list[LabelRow] = []
    issues: list[ReadIssue] = []
    rejections: list[Rejection] = []
    for ex in extractions:
        labels.extend(ex.labels)
        rows.extend(ex.rows)
        issues.extend(ex.issues)
        if ex.rejection is not None:
            rejections.append(ex.rejection)
    return labels, rows, issues, rejections


# ---- fixed Arrow schemas and streamed Parquet tables ---------------------------------------

#: The pandas dtype of a column for each Python type a record field can have (`T | None`
#: is T's dtype: missing values are NaN, and an integer column with one becomes float64
#: when pandas reads it, as pandas itself makes such a column).
_FIELD_DTYPES: dict[type, str] = {str: "str", int: "int64", float: "float64", bool: "bool"}


def _field_dtype(hint: Any) -> str:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = typing.get_args(hint) if union else (hint,)
    kinds = [a for a in args if a is not type(None)]
    if len(kinds) != 1 or kinds[0] not in _FIELD_DTYPES:
        raise TypeError(f"no column type for a field of type {hint!r}")
    return _FIELD_DTYPES[kinds[0]]


def record_dtypes(record_type: type) -> dict[str, str]:
    """Field name -> pandas dtype of its column, from the dataclass's annotations."""
    hints = typing.get_type_hints(record_type)
    return {name: _field_dtype(hints[name]) for name in field_names(record_type)}


def frame_schema(dtypes: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema (with pandas metadata, no index) of a frame with these column dtypes:
    what `DataFrame.to_parquet` writes for such a frame when no column is all missing."""
    import pandas as pd
    import pyarrow as pa

    template = pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})
    return pa.Schema.from_pandas(template, preserve_index=False)


@functools.cache
def record_schema(record_type: type) -> pa.Schema:
    """The one Arrow schema of a table of `record_type` records, whatever the batch holds
    (a column that is all None in one batch keeps its type)."""
    return frame_schema(record_dtypes(record_type))


def records_to_table(records: Sequence[Any], record_type: type) -> pa.Table:
    """An Arrow table of `records` with `record_schema(record_type)`: the same values as
    `records_to_frame` (read back with pandas, the same frame when no column is all None;
    such a column keeps its field's type instead of becoming an object column)."""
    import pyarrow as pa

    schema = record_schema(record_type)
    if not records:
        return schema.empty_table()
    get = operator.attrgetter(*schema.names)  # a tuple per record (with two fields or more)
    values = map(get, records) if len(schema) > 1 else ((get(r),) for r in records)
    columns = zip(*values, strict=True)  # ... turned into a tuple per column
    arrays = [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def values_to_table(values: Sequence[tuple[Any, ...]], record_type: type) -> pa.Table:
    """`records_to_table` of the records whose field values are `values` (tuples in field
    order, `values_of`), without making the records."""
    import pyarrow as pa

    schema = record_schema(record_type)
    if not values:
        return schema.empty_table()
    columns = zip(*values, strict=True)
    arrays = [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def frame_to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """`frame` as an Arrow table with `schema` (its columns must be the schema's, in order):
    a batch's columns are cast to the table's types whatever pandas inferred for it."""
    if list(frame.columns) != schema.names:
        raise ValueError(f"columns {list(frame.columns)} are not the schema's {schema.names}")
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
