"""The rows a stage wrote last run, kept for the source files whose inputs are unchanged.

A stage that writes tables of rows grouped by `source_file` (the extract stage's four label
tables, the normalize stage's nutrients and products) records beside them an index
(`write_index`): the sha256 of each table it wrote and, per source file, the key of the
input its rows were made from (a content hash with the stage's code version in it). The
next run opens the index (`KeptRows.load`): when every table is still the very file
recorded, a file whose key is the recorded one gets its rows from those tables
(`KeptRows.rows`, in table order) instead of being computed again; the others are computed.
Since a file's rows depend on its own input only, the tables are the same as a cold run's.

What if the index is wrong: a table that is not the file recorded (damaged, replaced, written
by a run that stopped before its index) makes `load` give None, and every file is computed
(the stage's other caches still apply). A key that is recorded but whose rows are not in the
table cannot happen (the index is written after the tables, from the same readings).

Only the row groups holding a wanted file are read (two at a time kept in memory per table):
the stages write files in order, a batch a row group, so each is read about once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.infra.atomic import atomic_write_text
from pipeline.infra.digests import file_digest
from pipeline.infra.stages import read_record

if TYPE_CHECKING:  # (imported when rows are read: a run that proves unchanged reads none)
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

#: Row groups of one table kept in memory at a time.
GROUPS_HELD = 2


def write_index(
    index: Path, tables: Mapping[str, Path], keys: Mapping[str, str], salt: str
) -> None:
    """Record that `tables` (name -> file, just written) hold the rows of the source files
    of `keys` (source file -> the key of the input they were made from), under `salt` (what
    else the rows depend on: a schema, a code version)."""
    payload = {
        "salt": salt,
        "tables": {name: file_digest(path) for name, path in tables.items()},
        "keys": dict(keys),
    }
    atomic_write_text(index, json.dumps(payload, ensure_ascii=False) + "\n")


class KeptRows:
    """The last run's tables and keys (`load`); `key(source_file)`, `rows(table, files)`."""

    def __init__(
        self, keys: dict[str, str], files: dict[str, pq.ParquetFile], schemas: Mapping[str, Any]
    ) -> None:
        self.keys = keys
        self._files = files
        self._schemas = dict(schemas)
        self._groups: dict[str, dict[str, list[int]]] = {}
        self._held: dict[str, dict[int, pa.Table]] = {name: {} for name in files}

    @classmethod
    def load(
        cls,
        index: Path,
        tables: Mapping[str, tuple[Path, pa.Schema]],
        salt: str,
    ) -> KeptRows | None:
        """The rows recorded in `index` for `tables` (name -> (file, schema)), or None when
        there is no sound index of `salt` or a table is not the file it names (or not of
        its schema): then nothing is kept."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        recorded = read_record(index, "salt", salt)
        if recorded is None:
            return None
        digests, keys = recorded.get("tables"), recorded.get("keys")
        if not isinstance(digests, dict) or not isinstance(keys, dict):
            return None
        files: dict[str, pq.ParquetFile] = {}
        for name, (path, schema) in tables.items():
            try:
                if digests.get(name) != file_digest(path):
                    log.info("%s is not the table its index names: its rows are made anew", path)
                    return None
                files[name] = pq.ParquetFile(path)
            except (OSError, pa.ArrowException):
                return None
            if not files[name].schema_arrow.equals(schema, check_metadata=False):
                return None
        return cls(
            {str(k): str(v) for k, v in keys.items()}, files, {n: s for n, (_, s) in tables.items()}
        )

    def key(self, source_file: str) -> str | None:
        """The key the recorded rows of `source_file` were made from (None: none kept)."""
        return self.keys.get(source_file)

    def _groups_of(self, name: str) -> dict[str, list[int]]:
        """source file -> the row groups of table `name` that hold its rows."""
        if name not in self._groups:
            found: dict[str, list[int]] = {}
            handle = self._files[name]
            for group in range(handle.num_row_groups):
                column = handle.read_row_group(group, columns=["source_file"]).column(0)
                for source_file in column.unique().to_pylist():
                    found.setdefault(source_file, []).append(group)
            self._groups[name] = found
        return self._groups[name]

    def _group(self, name: str, group: int) -> pa.Table:
        held = self._held[name]
        if group not in held:
            while len(held) >= GROUPS_HELD:
                del held[next(iter(held))]
            held[group] = self._files[name].read_row_group(group)
        return held[group]

    def rows(self, name: str, source_files: Sequence[str]) -> pa.Table:
        """The recorded rows of `source_files` in table `name`, in the table's order (with
        the table's schema; no rows when a file had none)."""
        import pyarrow as pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        schema = self._schemas[name]
        where = self._groups_of(name)
        groups = sorted({g for f in source_files for g in where.get(f, ())})
        wanted = pa.array(list(source_files), pa.string())
        pieces = []
        for group in groups:
            table = self._group(name, group)
            pieces.append(table.filter(pc.is_in(table["source_file"], value_set=wanted)))
        if not pieces:
            return schema.empty_table()
        return pa.concat_tables(pieces).replace_schema_metadata(schema.metadata)
