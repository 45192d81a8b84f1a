"""The report's per-product tables sorted into rank order on disk, a slice of products at a
time, so that the report of any number of products holds one slice of them in memory.

The products, their scored checks and their label rows are read from the work folder's
Parquet files a batch at a time (in the files' order) and each row is appended to the file
of its product's slice of the ranking (`REPORT_SLICE_PRODUCTS` products a slice: the
products at rank positions 0 to size - 1 are slice 0, and so on): an external bucket sort.
Reading slice k back gives its rows ordered by rank position, then (checks) by the order
of CHECKS or (label rows) by line number, then as they were in their file: the order
pipeline.document.product_docs gives the same tables held in memory.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.document import (
    _SUMMARY_COLUMNS,
    CHECK_FIELDS,
    EXTRA_FIELDS,
    PRODUCT_FIELDS,
    ROW_FIELDS,
    ProductDocs,
    _doc_table,
    _Part,
    _part,
    _ranked,
)
from pipeline.protocol import CHECKS

#: Rows read from a Parquet file at a time while sorting it into slices.
READ_BATCH_ROWS = 16_384
_POSITION, _SEQ = "_position", "_seq"


def parquet_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """`columns` of the Parquet file `path` (those it has), a batch of rows at a time."""
    source = pq.ParquetFile(path)
    present = [c for c in columns if c in source.schema_arrow.names]
    yield from source.iter_batches(batch_size=READ_BATCH_ROWS, columns=present)


class RankSlices:
    """Tables by slice of the ranking, kept in a temp folder under `parent` (removed when
    this object is dropped, or by `close`). `order`: the product ids in rank order."""

    def __init__(self, order: pa.Array, parent: Path, size: int) -> None:
        self.order = order
        self.size = max(1, size)
        self.count = len(order)
        self.slices = max(1, -(-self.count // self.size))
        parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".report-slices-", dir=parent))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._schemas: dict[str, pa.Schema] = {}

    def close(self) -> None:
        self._cleanup()

    def _path(self, kind: str, index: int) -> Path:
        return self.folder / f"{kind}-{index:05d}.arrow"

    def add(self, kind: str, batches: Iterable[pa.RecordBatch]) -> None:
        """Sort the rows of `batches` (each with a "product_id") into the slices of `kind`;
        rows of products not in the ranking are dropped."""
        writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
        seq = 0
        schema: pa.Schema | None = None
        try:
            for batch in batches:
                position = pc.index_in(batch.column("product_id"), value_set=self.order)
                table = pa.Table.from_batches([batch])
                table = table.append_column(_POSITION, position.cast(pa.int64()))
                table = table.append_column(
                    _SEQ, pa.array(np.arange(seq, seq + batch.num_rows), pa.int64())
                )
                seq += batch.num_rows
                table = table.filter(pc.is_valid(table.column(_POSITION)))
                if schema is None:
                    schema = table.schema
                table = table.cast(schema)
                where = table.column(_POSITION).to_numpy() // self.size
                sorted_at = np.argsort(where, kind="stable")
                bounds = np.searchsorted(where[sorted_at], np.arange(self.slices + 1))
                for index in np.flatnonzero(np.diff(bounds)):
                    part = table.take(pa.array(sorted_at[bounds[index] : bounds[index + 1]]))
                    writer = writers.get(int(index))
                    if writer is None:
                        writer = pa.ipc.new_file(str(self._path(kind, int(index))), schema)
                        writers[int(index)] = writer
                    writer.write_table(part)
        finally:
            for writer in writers.values():
                writer.close()
        if schema is not None:
            self._schemas[kind] = schema

    def load(self, kind: str, index: int, then: str | None = None) -> pa.Table | None:
        """The rows of `kind` in slice `index`, in rank order (then by `then`, if given,
        then as added), with their "_position"; None when nothing of `kind` was added."""
        schema = self._schemas.get(kind)
        if schema is None:
            return None
        path = self._path(kind, index)
        if path.exists():
            with pa.OSFile(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
        else:
            table = schema.empty_table()
        keys = [(_POSITION, "ascending")]
        keys += [(then, "ascending")] if then else []
        keys += [(_SEQ, "ascending")]
        return table.take(pc.sort_indices(table, sort_keys=keys)).drop_columns([_SEQ])

    def span(self, index: int) -> tuple[int, int]:
        """The rank positions of slice `index`: first, end."""
        return index * self.size, min((index + 1) * self.size, self.count)


def starts_in(positions: pa.Array, first: int, end: int) -> np.ndarray:
    """For rows sorted by rank position (`positions`, all in first to end): where each
    product's rows start, and, last, where they end (relative to the slice)."""
    local = positions.to_numpy(zero_copy_only=False) - first
    counts = np.bincount(local.astype(np.int64), minlength=end - first)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def one_each(table: pa.Table, first: int, end: int) -> pa.Table:
    """`table` (rows sorted by rank position) as exactly one row per position from first
    to end: a product's first row; a position without one, a row of nulls."""
    wanted = pa.array(np.arange(first, end), pa.int64())
    return table.take(pc.index_in(wanted, value_set=table.column(_POSITION)))


class Slices:
    """Every product's tables on disk by slice of the ranking (pipeline.document_slices),
    one slice of them in memory at a time; `summary` (the products' PRODUCT_FIELDS and
    VERDICT_FIELDS, and their rank, in rank order) in memory."""

    def __init__(self, slices: RankSlices, ranked: pa.Table) -> None:
        self._slices, self._ranked = slices, ranked
        parts = [self._products(i).select(_SUMMARY_COLUMNS) for i in range(slices.slices)]
        self.summary = pa.concat_tables(parts)
        self._loaded: dict[str, tuple[int, Any]] = {}

    def close(self) -> None:
        self._slices.close()

    def _products(self, index: int) -> pa.Table:
        first, end = self._slices.span(index)
        found = self._slices.load("products", index)
        table = one_each(found, first, end) if found is not None else None
        ranked = self._ranked.slice(first, end - first)
        return _doc_table(table, ranked, end - first)

    def _grouped(self, kind: str, index: int, then: str) -> tuple[pa.Table, np.ndarray]:
        first, end = self._slices.span(index)
        table = self._slices.load(kind, index, then)
        if table is None:
            return pa.table({}), np.zeros(end - first + 1, np.int64)
        return table, starts_in(table.column(_POSITION), first, end)

    def _slice(self, kind: str, index: int) -> Any:
        """Slice `index`'s table of `kind`, the last one of each kind kept."""
        kept = self._loaded.get(kind)
        if kept is not None and kept[0] == index:
            return kept[1]
        if kind == "products":
            value: Any = self._products(index)
        else:
            value = self._grouped(kind, index, "_check" if kind == "checks" else "line_no")
        self._loaded[kind] = (index, value)
        return value

    def spans(self, first: int, end: int) -> list[tuple[int, int]]:
        """first to end cut at the slices' bounds."""
        size, out = self._slices.size, [(first, end)]
        while out[-1][0] // size != max(out[-1][1] - 1, out[-1][0]) // size:
            begin, stop = out.pop()
            cut = (begin // size + 1) * size
            out += [(begin, cut), (cut, stop)]
        return out

    def part(self, first: int, end: int, label_rows: bool) -> _Part:
        index = first // self._slices.size
        base = self._slices.span(index)[0]
        checks, check_starts = self._slice("checks", index)
        rows, row_starts = self._slice("rows", index) if label_rows else (None, None)
        return _part(
            self._slice("products", index),
            checks,
            check_starts,
            rows,
            row_starts,
            first - base,
            end - base,
        )

    def check_parts(self) -> Iterator[tuple[pa.Table, np.ndarray]]:
        for index in range(self._slices.slices):
            yield self._slice("checks", index)


def _check_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """checks.parquet's rows with "name" for "check" and "_check": its place in CHECKS."""
    check_order = pa.array(list(CHECKS), pa.string())
    for batch in parquet_batches(path, ["product_id", "check", *CHECK_FIELDS[1:]]):
        names = batch.column("check")
        columns = ["name" if c == "check" else c for c in batch.schema.names]
        at = pc.index_in(names, value_set=check_order)
        yield pa.RecordBatch.from_arrays([*batch.columns, at], names=[*columns, "_check"])


def _row_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """The label rows the report shows (product_id and ROW_FIELDS), line and page numbers
    as integers."""
    for batch in parquet_batches(path, ["product_id", *ROW_FIELDS]):
        columns = [
            c.cast(pa.int64()) if name in ("line_no", "page") else c
            for name, c in zip(batch.schema.names, batch.columns, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def sliced_product_docs(
    ranking: pd.DataFrame, products: Path, checks: Path, rows: Path, folder: Path, size: int
) -> ProductDocs:
    """`product_docs` of the products, checks and label rows in these Parquet files, read
    a batch at a time and kept on disk (a temp folder under `folder`) in slices of `size`
    products of the ranking: a report of any number of products holds one slice of them
    as Arrow tables (pipeline.document_slices). `close` removes the folder."""
    order = pa.array(ranking["product_id"].tolist(), pa.string())
    slices = RankSlices(order, folder, size)
    try:
        columns = ["product_id", *PRODUCT_FIELDS, *EXTRA_FIELDS]
        slices.add("products", parquet_batches(products, columns))
        slices.add("checks", _check_batches(checks))
        slices.add("rows", _row_batches(rows))
        return ProductDocs(Slices(slices, _ranked(ranking)))
    except BaseException:
        slices.close()
        raise
