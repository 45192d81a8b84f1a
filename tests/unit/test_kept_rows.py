"""The last run's rows of unchanged files (pipeline.infra.kept_rows): found by the key they
were made from, in table order, and never when the table is not the one indexed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.infra.kept_rows import KeptRows, write_index

SCHEMA = pa.schema([("source_file", pa.string()), ("line_no", pa.int64())])


def _tables(tmp_path: Path) -> dict[str, tuple[Path, pa.Schema]]:
    path = tmp_path / "rows.parquet"
    with pq.ParquetWriter(path, SCHEMA) as writer:  # two row groups, as two batches
        for files in (["a", "a", "b"], ["c", "d", "d"]):
            lines = list(range(1, len(files) + 1))
            writer.write_table(pa.table({"source_file": files, "line_no": lines}, SCHEMA))
    return {"rows": (path, SCHEMA)}


def test_the_rows_of_the_files_asked_for_in_table_order(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    write_index(tmp_path / "index.json", {"rows": tables["rows"][0]}, {"a": "ka", "d": "kd"}, "s1")
    kept = KeptRows.load(tmp_path / "index.json", tables, "s1")
    assert kept is not None
    assert (kept.key("a"), kept.key("b")) == ("ka", None)
    rows = kept.rows("rows", ["d", "a", "x"])
    assert rows.to_pydict() == {"source_file": ["a", "a", "d", "d"], "line_no": [1, 2, 2, 3]}
    assert kept.rows("rows", ["x"]).num_rows == 0


def test_nothing_is_kept_from_another_salt_or_a_table_not_indexed(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    index = tmp_path / "index.json"
    write_index(index, {"rows": tables["rows"][0]}, {"a": "ka"}, "s1")
    assert KeptRows.load(index, tables, "s2") is None
    pq.write_table(pa.table({"source_file": ["a"], "line_no": [9]}, SCHEMA), tables["rows"][0])
    assert KeptRows.load(index, tables, "s1") is None  # (the table was replaced)
    assert KeptRows.load(tmp_path / "missing.json", tables, "s1") is None
