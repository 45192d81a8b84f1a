"""Parquet work files read a batch at a time, never whole, with the dtypes of the whole
file (`TableFile`): pandas converts integers and booleans to float or object only when a
column holds a missing value, so a batch without one would otherwise get another dtype than
the file, and hash, validate and print ("line 3.0") differently."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.errors import AuditError

#: Rows read from products.parquet or nutrients.parquet at a time: the stage streams them
#: (to hash them, then to take each chunk's rows) and never holds a whole table.
READ_BATCH_ROWS = 2048


@dataclass(frozen=True)
class TableFile:
    """A parquet work file (products, nutrients) read a batch at a time, never whole.

    `dtypes`: the pandas dtype of each column when the whole file is read at once. Integers
    (and booleans) convert to float (object) only when the column holds a missing value,
    so a batch without one would get another dtype than the file, and hash, validate and
    print ("line 3.0") differently: every frame given here has these dtypes.
    """

    path: Path
    dtypes: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> TableFile:
        require(path)
        with pq.ParquetFile(path) as file:
            schema = file.schema_arrow
            nullable = pa.schema([field.with_nullable(True) for field in schema], schema.metadata)
            without_nulls = schema.empty_table().to_pandas().dtypes
            with_nulls = pa.Table.from_pylist([{}], schema=nullable).to_pandas().dtypes
            dtypes = {}
            for name in without_nulls.index:
                differs = without_nulls[name] != with_nulls[name]
                nulls = differs and _has_nulls(file, name)
                dtypes[name] = with_nulls[name] if nulls else without_nulls[name]
        return cls(path, dtypes)

    def batches(self) -> Iterator[Any]:
        """The file's rows as pyarrow record batches of at most READ_BATCH_ROWS rows."""
        with pq.ParquetFile(self.path) as file:
            yield from file.iter_batches(batch_size=READ_BATCH_ROWS, use_threads=False)

    def frame(self, batch: Any) -> pd.DataFrame:
        """`batch` (of this file) as a frame with the file's dtypes."""
        frame = batch.to_pandas()
        dtypes = frame.dtypes
        differ = {
            name: self.dtypes[name] for name in frame.columns if dtypes[name] != self.dtypes[name]
        }
        return frame.astype(differ) if differ else frame

    def frames(self) -> Iterator[pd.DataFrame]:
        """The file's rows, a frame (READ_BATCH_ROWS rows) at a time."""
        for batch in self.batches():
            yield self.frame(batch)

    def chunks(
        self, ids: pa.Array, chunk_at: np.ndarray, sizes: Sequence[int]
    ) -> Iterator[pd.DataFrame]:
        """The rows whose product_id is one of `ids` (strings), one frame per chunk in chunk
        order (a chunk's rows in file order): `chunk_at`, the chunk of each id; `sizes`,
        how many rows each chunk has.

        A chunk is given as soon as its last row is read: while the file lists the products
        in chunk order (the work files do), no more than a chunk and a batch are held. Rows
        are picked in Arrow and a chunk converted to pandas once.
        """
        if not sizes:
            return
        parts: dict[int, list[Any]] = {}
        missing = list(sizes)
        done = 0
        for batch in self.batches():
            found = pc.index_in(batch.column("product_id").cast(pa.string()), value_set=ids)
            if found.null_count < len(found):
                chunk = np.where(
                    found.is_valid().to_numpy(zero_copy_only=False),
                    chunk_at[found.fill_null(0).to_numpy()],
                    -1,
                )
                for number in np.unique(chunk[chunk >= 0]).tolist():
                    part = batch.filter(pa.array(chunk == number))
                    parts.setdefault(number, []).append(part)
                    missing[number] -= part.num_rows
            del batch
            while done < len(sizes) and missing[done] <= 0:
                yield self._joined(parts.pop(done, []))
                done += 1
        for left in range(done, len(sizes)):  # rows that were not there after all
            yield self._joined(parts.pop(left, []))

    def _joined(self, parts: list[Any]) -> pd.DataFrame:
        schema = pq.read_schema(self.path)
        return self.frame(
            pa.Table.from_batches(parts, schema=schema) if parts else schema.empty_table()
        )


def _has_nulls(file: Any, name: str) -> bool:
    """Whether column `name` of the parquet `file` holds a missing value (from the file's
    statistics, or by reading the column if they do not say)."""
    meta = file.metadata
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            chunk = meta.row_group(group).column(column)
            if chunk.path_in_schema != name:
                continue
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:
                return bool(file.read(columns=[name], use_threads=False).column(0).null_count)
            if stats.null_count:
                return True
    return False


def require(path: Path) -> None:
    """AuditError if the work file `path` is not there (an earlier stage did not run)."""
    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
