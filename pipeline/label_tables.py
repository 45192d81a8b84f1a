"""The extract stage's four label tables, written from its readings batch by batch.

`write_label_tables` streams `pipeline.extract.extract_in_batches` into labels.parquet,
label_rows.parquet, read_issues.parquet and rejections.parquet, and records beside them
which content key each file's rows were read from (`TABLE_KEYS_FILE`,
pipeline.infra.kept_rows): a rerun hands on an unchanged file's rows from the last tables
without reading it, its cache entry or its bytes (a zip member is known unchanged by the
CRC-32 and size of the central directory, see pipeline.sources.inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from pipeline import config
from pipeline.extract import KeptFile, extract_in_batches
from pipeline.infra.atomic import ParquetTables
from pipeline.infra.executors import Executor
from pipeline.infra.kept_rows import KeptRows, write_index
from pipeline.records import (
    FileValues,
    Label,
    LabelRow,
    ReadIssue,
    Rejection,
    record_schema,
    values_to_table,
)
from pipeline.sources.inputs import ExtractPlan, ExtractStats

#: The four tables of the extract stage: name -> record type.
LABEL_TABLES: dict[str, type] = {
    "labels": Label,
    "rows": LabelRow,
    "issues": ReadIssue,
    "rejections": Rejection,
}


class ExtractOptions(TypedDict, total=False):
    """The keyword options of `extract_in_batches`, which `write_label_tables` passes on."""

    jobs: int
    use_cache: bool
    progress: bool | None
    batch_files: int
    skip: Mapping[Path, str] | None
    limits: config.FileLimits
    plan: ExtractPlan | None
    executor: Executor


#: Beside the label tables: which input each file's rows were read from (pipeline.infra
#: .kept_rows), so that a rerun hands on an unchanged file's rows without reading it.
TABLE_KEYS_FILE = "label_tables.keys.json"
#: What else the kept rows depend on: the tables' schemas (the keys hold the extractor
#: version, which covers the readers and these records).
_KEPT_SALT = "label-tables-1"


def _targets(work: config.WorkPaths) -> dict[str, tuple[Path, pa.Schema]]:
    paths = {
        "labels": work.labels,
        "rows": work.label_rows,
        "issues": work.read_issues,
        "rejections": work.rejections,
    }
    return {name: (paths[name], record_schema(kind)) for name, kind in LABEL_TABLES.items()}


def label_table_keys(work: config.WorkPaths) -> dict[str, str]:
    """Per source file, the content key its rows in the label tables of `work` were read
    from (pipeline.infra.kept_rows), when those tables are the ones the index was written
    with; {} when not known (a file without a key was not cached: it is read again)."""
    kept = KeptRows.load(work.root / TABLE_KEYS_FILE, _targets(work), _KEPT_SALT)
    return {} if kept is None else kept.keys


def write_label_tables(
    labels_dir: Path, work: config.WorkPaths, **options: Unpack[ExtractOptions]
) -> ExtractStats:
    """`extract_in_batches` into labels.parquet, label_rows.parquet, read_issues.parquet and
    rejections.parquet: each batch is one row group of each (an empty one if the batch has
    no such records), with the record type's fixed schema. The four files are replaced
    together when every batch is written (none if the stage fails)."""
    targets = _targets(work)
    index = work.root / TABLE_KEYS_FILE
    kept = KeptRows.load(index, targets, _KEPT_SALT) if options.get("use_cache", True) else None
    with ParquetTables(targets) as out:

        def take(batch: list[FileValues | KeptFile]) -> None:
            kept_files = [item.source_file for item in batch if isinstance(item, KeptFile)]
            read = [item for item in batch if not isinstance(item, KeptFile)]
            records = _batch_values(read)
            files = [item.source_file for item in batch]
            for name, kind in LABEL_TABLES.items():
                schema = targets[name][1]
                if not kept_files:
                    out.write(name, values_to_table(records[name], kind))
                    continue
                assert kept is not None  # (a KeptFile comes only from `kept`)
                table = kept.rows(name, kept_files)  # (one pick from the last tables a batch)
                if read:
                    parts = [table, values_to_table(records[name], kind)]
                    table = _in_file_order(parts, files, schema)
                out.write(name, table)

        stats = extract_in_batches(labels_dir, work, take, kept=kept, **options)
    write_index(
        index, {name: path for name, (path, _) in targets.items()}, stats.table_keys, _KEPT_SALT
    )
    return stats


def _batch_values(read: Sequence[FileValues]) -> dict[str, list[tuple[Any, ...]]]:
    """The records of the readings `read`, as field values, table by table (LABEL_TABLES'
    names), in file order."""
    return {
        "labels": [v for item in read for v in item.labels],
        "rows": [v for item in read for v in item.rows],
        "issues": [v for item in read for v in item.issues],
        "rejections": [item.rejection for item in read if item.rejection is not None],
    }


def _in_file_order(parts: Sequence[pa.Table], files: Sequence[str], schema: pa.Schema) -> pa.Table:
    """`parts` (each in file order) as one table, its rows file by file in the order of
    `files` (each file's rows in their order: the sort is stable)."""
    table = pa.concat_tables([p.replace_schema_metadata(schema.metadata) for p in parts])
    position = pc.index_in(table["source_file"], value_set=pa.array(list(files), pa.string()))
    return table.take(pc.sort_indices(position))
