"""A list of the audit document (its compliance findings) held as an Arrow table.

At catalog scale the compliance findings grow with the products (~2.4 a product, 96,000
at 40,000 products): as Python dicts they were ~80 MB of the report step. `TableRecords`
keeps them as the table they are read as and builds dicts only when read, a batch at a
time (audit.json writes them batch by batch: pipeline.report_tables.audit_json_chunks; the
page shows the first REPORT_LIST_ITEMS). Anything that reads the document treats it as a
sequence of dicts, equal to the list it stands for.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, overload

import pyarrow as pa  # type: ignore[import-untyped]

#: Records built at a time when a TableRecords is iterated.
RECORDS_BATCH = 2048


def _is_dictionary_text(kind: pa.DataType) -> bool:
    """Whether `kind` is text dictionary-encoded (its values are str in Python)."""
    if not pa.types.is_dictionary(kind):
        return False
    return bool(pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type))


#: The Arrow types whose values are None, bool, int, float or str in Python.
_SCALAR_KINDS = (
    pa.types.is_null,
    pa.types.is_boolean,
    pa.types.is_integer,
    pa.types.is_float32,
    pa.types.is_float64,
    pa.types.is_string,
    pa.types.is_large_string,
    _is_dictionary_text,
)


def table_records(table: pa.Table) -> list[dict[str, Any]]:
    """`table.to_pylist()`, made column by column (several times faster)."""
    keys = table.column_names
    columns = [table.column(name).to_pylist() for name in keys]
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]


class DictSequence(Sequence[dict[str, Any]]):
    """A sequence of dicts built when read, equal to the list of them (the base of
    pipeline.document.ProductDocs and TableRecords)."""

    __slots__ = ()
    #: What its items are called in its repr.
    NOUN = "items"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DictSequence | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} {self.NOUN}>"

    @abstractmethod
    def _at(self, position: int) -> dict[str, Any]:
        """The item at `position` (0 to len - 1)."""

    def _span(self, start: int, stop: int) -> list[dict[str, Any]]:
        """The items at `start` to `stop` (start <= stop)."""
        return [self._at(i) for i in range(start, stop)]

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._span(start, max(stop, start))
            return [self._at(i) for i in range(start, stop, step)]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"{self.NOUN[:-1]} index out of range")
        return self._at(position)


class TableRecords(DictSequence):
    """The rows of `table` as dicts of its columns (None for a null), built when read."""

    __slots__ = ("_table",)
    NOUN = "records"

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def scalar_columns(self) -> bool:
        """Whether the table has columns, and each of them is of nulls, booleans, integers,
        floats or text (its records hold only str, int, float, bool and None)."""
        kinds = _SCALAR_KINDS
        types = self._table.schema.types
        return bool(types) and all(any(kind(t) for kind in kinds) for t in types)

    def batches(self, size: int = RECORDS_BATCH) -> Iterator[list[dict[str, Any]]]:
        """The records, `size` at a time."""
        for first in range(0, len(self), size):
            yield table_records(self._table.slice(first, size))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches():
            yield from batch

    def _at(self, position: int) -> dict[str, Any]:
        return table_records(self._table.slice(position, 1))[0]

    def _span(self, start: int, stop: int) -> list[dict[str, Any]]:
        return table_records(self._table.slice(start, stop - start))
