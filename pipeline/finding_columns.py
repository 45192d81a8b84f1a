"""Findings held as Arrow columns while the validate stage runs (issue 16, memory).

The validate stage gathers the data-quality and compliance findings of every chunk, and a
rerun those of every product it keeps. Held as one dict a finding (7 keys, each value a
Python object) they were what made the validation process grow with the catalog: a
10,000-label catalog has ~50,000 compliance findings. `FindingColumns` holds them as Arrow
tables of a fixed schema instead (a chunk's records turned into columns as the chunk
finishes; the kept findings read from the last Parquet file as columns, never as dicts),
and `frame` gives the pandas frame `pd.DataFrame(records, columns=...)` gives for the same
records in the same order, which the stage then sorts and writes as before
(pipeline.quality.sorted_findings, pipeline.compliance.sorted_findings).

The parts are held dictionary-encoded (`compact`): a finding's file, product, rule, citation
and severity repeat across its product's findings and the catalog's, so a 40,000-label
catalog's ~96,000 compliance findings take ~8 MB instead of 29 MB while the chunks run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

#: data_quality.parquet's columns (pipeline.quality.FINDING_COLUMNS and line_no).
QUALITY_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("product_id", pa.string()),
        ("check", pa.string()),
        ("severity", pa.string()),
        ("detail", pa.string()),
        ("blocking", pa.bool_()),
        ("line_no", pa.int64()),
    ]
)
#: compliance.parquet's columns (pipeline.compliance.COMPLIANCE_COLUMNS and line_no).
COMPLIANCE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("product_id", pa.string()),
        ("rule", pa.string()),
        ("citation", pa.string()),
        ("severity", pa.string()),
        ("detail", pa.string()),
        ("line_no", pa.int64()),
    ]
)


def records_table(records: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """`records` (each with every field of `schema`) as an Arrow table of `schema`: a
    missing value (None, NaN) is null, as it is once written to Parquet from pandas."""
    listed = list(records)
    return pa.table(
        {
            field.name: pa.array(
                [record[field.name] for record in listed], type=field.type, from_pandas=True
            )
            for field in schema
        },
        schema=schema,
    )


def compact(table: pa.Table) -> pa.Table:
    """`table` with each string column dictionary-encoded (`expanded` undoes it)."""
    columns = [
        pc.dictionary_encode(column) if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def compact_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with each string field dictionary-encoded, as `compact` makes them."""
    return pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type))
            if pa.types.is_string(field.type)
            else field
            for field in schema
        ],
        schema.metadata,
    )


def read_compact(path: Path, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` in the Parquet file at `path`, as `compact` holds them: its
    text read dictionary-encoded from the file, never as one string a row (a catalog's
    outcomes name each product eight times, its findings five)."""
    names = schema.names
    text = [field.name for field in schema if pa.types.is_string(field.type)]
    table = pq.read_table(path, columns=names, read_dictionary=text).select(names)
    return table.cast(compact_schema(schema))


def _by_value(column: pa.ChunkedArray, compute: Any) -> pa.ChunkedArray:
    """`compute` (values -> values) of each value of `column`: of a dictionary-encoded
    column's dictionary once, its result taken by the indices (a null index stays null)."""
    if not pa.types.is_dictionary(column.type):
        return compute(column)
    return pa.chunked_array(
        [pc.take(compute(chunk.dictionary), chunk.indices) for chunk in column.chunks],
        compute(pa.array([], column.type.value_type)).type,
    )


def member_of(column: pa.ChunkedArray, values: pa.Array) -> pa.ChunkedArray:
    """Whether each value of `column` (plain or dictionary-encoded) is one of `values` (a
    null is not)."""
    found = _by_value(column, lambda array: pc.is_in(array, value_set=values, skip_nulls=True))
    return found.fill_null(False)


def position_in(column: pa.ChunkedArray, values: pa.Array) -> pa.ChunkedArray:
    """Each value's position in `values` (plain or dictionary-encoded `column`; null where
    it is null or not one of them)."""
    return _by_value(column, lambda array: pc.index_in(array, value_set=values))


def expanded(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The `compact` `table` with the plain columns of `schema` again."""
    return table.cast(schema)


def order_keys(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values that sort as `column`'s values do, nulls where it has nulls: a
    dictionary-encoded column (which Arrow's sort does not take) as the rank of each value
    in its dictionary, unified over its chunks; any other column as it is."""
    if not pa.types.is_dictionary(column.type) or not column.num_chunks:
        return column
    unified = pa.table({"column": column}).unify_dictionaries().column("column")
    value_rank = pc.rank(unified.chunk(0).dictionary, sort_keys="ascending")
    return pc.take(value_rank, pa.chunked_array([chunk.indices for chunk in unified.chunks]))


class FindingColumns:
    """Findings of one kind (`schema`), gathered in order as Arrow tables."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.parts: list[pa.Table] = []

    def __len__(self) -> int:
        return sum(part.num_rows for part in self.parts)

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        table = records_table(records, self.schema)
        if table.num_rows:
            self.parts.append(compact(table))

    def add_kept(
        self, path: Path, products: pa.Array | Collection[str], but_check: str | None = None
    ) -> None:
        """The findings of `products` (ids: an Arrow string array, or strings) in the
        Parquet file at `path` (if there is one), without those whose `check` is
        `but_check`."""
        if not isinstance(products, pa.Array):
            products = pa.array(sorted(products), pa.string())
        if not len(products) or not path.exists():
            return
        table = read_compact(path, self.schema)
        keep = member_of(table["product_id"], products)
        if but_check is not None:
            other = member_of(table["check"], pa.array([but_check], pa.string()))
            keep = pc.and_(keep, pc.invert(other))
        kept = table.filter(keep)
        if kept.num_rows:
            self.parts.append(kept.unify_dictionaries().combine_chunks())

    def table(self) -> pa.Table:
        """Every finding gathered, in order, as one table of `schema`'s columns with its
        text dictionary-encoded (`expanded` gives it plain); the parts are let go."""
        parts, self.parts = self.parts, []
        if not parts:
            return compact(self.schema.empty_table())
        return pa.concat_tables(parts)

    def frame(self) -> pd.DataFrame:
        """Every finding gathered, in order: the frame `pd.DataFrame(records,
        columns=schema.names)` gives for them (the same dtypes, but `line_no`: float
        where it has no value; the caller makes it Int64, as for the records)."""
        names = self.schema.names
        if not len(self):
            return pd.DataFrame([], columns=names)
        table = expanded(self.table(), self.schema)
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        return frame[names]
