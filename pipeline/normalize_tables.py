"""The normalize stage's tables, one batch of label files at a time, reusing what is unchanged.

`write_normalized` reads the extract stage's tables a batch (row group) at a time
(pipeline.normalize.label_batches), applies the corrections, and writes nutrients.parquet
and products.parquet batch by batch. A file's normalized rows depend only on its own label
and label rows (pipeline.normalize), the corrections and the normalize code. So a file's key
(`file_keys`) is the content key its label-table rows were read from (the extract stage's
index beside its tables, pipeline.label_tables.label_table_keys), salted with the
corrections snapshot and the normalize code version; it is recorded beside the two tables
(`KEYS_FILE`, pipeline.infra.kept_rows). A rerun takes the rows of a file whose key is
unchanged from the last tables and normalizes only the others, all of them in one call
when they are at most CHANGED_AT_ONCE_FILES (a call costs ~0.06 s however few files it
has), reading only their rows; each batch's rows are then put back in file order, so the
tables are those a cold run writes. A file without a content key (its reading was not
cached) is always normalized.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline import config, corrections
from pipeline.infra import stages
from pipeline.infra.atomic import ParquetTables, atomic_write_table
from pipeline.infra.digests import file_digest
from pipeline.infra.kept_rows import KeptRows, write_index
from pipeline.label_tables import label_table_keys
from pipeline.normalize import (
    NUTRIENTS_SCHEMA,
    PRODUCTS_SCHEMA,
    batches_aligned,
    label_batches,
    normalize_files,
)
from pipeline.records import Rejection, records_to_table

#: Beside nutrients.parquet and products.parquet: each file's key (`file_keys`).
KEYS_FILE = "normalized.keys.json"


#: A rerun normalizes its changed files in one call when they are at most this many (their
#: label rows held meanwhile), else batch by batch.
CHANGED_AT_ONCE_FILES = 2048


def file_keys(work: config.WorkPaths) -> tuple[dict[str, str], str]:
    """Per source file of the label tables of `work` that has a content key: its key for the
    normalize stage; and the salt (the normalize code version and the corrections)."""
    fixes = file_digest(work.corrections) if work.corrections.exists() else "none"
    salt = stages.salt("normalize", f"keyed-by-extraction-1\ncorrections={fixes}")
    return {
        source_file: hashlib.sha256(f"{salt}\n{key}".encode()).hexdigest()
        for source_file, key in label_table_keys(work).items()
    }, salt


def _concat(parts: Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    if not parts:
        return schema.empty_table()
    return pa.concat_tables([p.replace_schema_metadata(schema.metadata) for p in parts])


def _in_file_order(parts: Sequence[pa.Table], files: Sequence[str], schema: pa.Schema) -> pa.Table:
    """`parts` as one table, its rows file by file in the order of `files` (each file's rows
    in their order: Arrow's sort is stable)."""
    table = _concat(parts, schema)
    position = pc.index_in(table["source_file"], value_set=pa.array(list(files), pa.string()))
    return table.take(pc.sort_indices(position))


def write_normalized(work: config.WorkPaths, rejections: Path, *, reuse: bool) -> tuple[int, int]:
    """Normalize the label tables of `work` into nutrients.parquet and products.parquet (and
    the files an internal error stopped into `rejections`); with `reuse`, the unchanged files'
    rows are the last tables'. Returns the two tables' row counts."""
    targets = {
        "nutrients": (work.nutrients, NUTRIENTS_SCHEMA),
        "products": (work.products, PRODUCTS_SCHEMA),
    }
    found, salt = file_keys(work)
    index = work.root / KEYS_FILE
    kept = KeptRows.load(index, targets, salt) if reuse else None
    with ParquetTables(targets) as out:
        done = None if kept is None else _changed_at_once(work, kept, found, out)
        if done is None:
            done = _batch_by_batch(work, kept, found, out)
    keys, rejected = done
    atomic_write_table(rejections, records_to_table(rejected, Rejection))
    write_index(index, {name: path for name, (path, _) in targets.items()}, keys, salt)
    return out.rows["nutrients"], out.rows["products"]


_NAMES = ("nutrients", "products")
_SCHEMAS = {"nutrients": NUTRIENTS_SCHEMA, "products": PRODUCTS_SCHEMA}


def _fixes(work: config.WorkPaths) -> list[corrections.Correction]:
    return corrections.current(corrections.load_snapshot(work.corrections))


def _batch_by_batch(
    work: config.WorkPaths, kept: KeptRows | None, found: Mapping[str, str], out: ParquetTables
) -> tuple[dict[str, str], list[Rejection]]:
    """Each batch of files: the unchanged ones' rows from `kept`, the others normalized."""
    keys: dict[str, str] = {}
    rejected: list[Rejection] = []
    fixes = _fixes(work)
    for labels, raw_rows in label_batches(work.labels, work.label_rows):
        rows = corrections.apply_to_rows(raw_rows, fixes)
        del raw_rows
        files = list(dict.fromkeys(labels["source_file"].tolist()))
        same = [f for f in files if kept is not None and f in found and kept.key(f) == found[f]]
        if same:
            labels = labels[~labels["source_file"].isin(same)].reset_index(drop=True)
            rows = rows[~rows["source_file"].isin(same)].reset_index(drop=True)
        tables: list[tuple[pa.Table, pa.Table]] = []
        failed: list[Rejection] = []
        if not same or not labels.empty:  # (as a cold run: even an empty batch)
            tables, failed = normalize_files(labels, rows)
        del labels, rows
        rejected += failed
        lost = {r.source_file for r in failed}
        keys.update((f, found[f]) for f in files if f in found and f not in lost)
        if not same:
            for nutrients, products in tables:
                out.write("nutrients", nutrients)
                out.write("products", products)
            continue
        assert kept is not None  # (`same` is empty without it)
        for number, name in enumerate(_NAMES):
            parts = [kept.rows(name, same), *(pair[number] for pair in tables)]
            out.write(name, _in_file_order(parts, files, _SCHEMAS[name]))
        del tables
    return keys, rejected


def _changed_at_once(
    work: config.WorkPaths, kept: KeptRows, found: Mapping[str, str], out: ParquetTables
) -> tuple[dict[str, str], list[Rejection]] | None:
    """A rerun's batches, every changed file normalized in one call (only their rows read);
    None (nothing written) when the label tables are not in aligned batches or more than
    CHANGED_AT_ONCE_FILES files changed."""
    labels_file, rows_file = pq.ParquetFile(work.labels), pq.ParquetFile(work.label_rows)
    if not batches_aligned(labels_file, rows_file):
        return None
    plan: list[tuple[list[str], list[str], list[str]]] = []
    todo: dict[str, list[pa.Table]] = {"labels": [], "rows": []}
    count = 0
    for group in range(labels_file.num_row_groups):
        column = labels_file.read_row_group(group, columns=["source_file"]).column(0)
        files = list(dict.fromkeys(column.to_pylist()))
        same = [f for f in files if f in found and kept.key(f) == found[f]]
        kept_here = set(same)
        changed = [f for f in files if f not in kept_here]
        count += len(changed)
        if count > CHANGED_AT_ONCE_FILES:
            return None
        if changed:
            wanted = pa.array(changed, pa.string())
            for name, handle in (("labels", labels_file), ("rows", rows_file)):
                table = handle.read_row_group(group)
                todo[name].append(table.filter(pc.is_in(table["source_file"], value_set=wanted)))
        plan.append((files, same, changed))
    new = {name: schema.empty_table() for name, schema in _SCHEMAS.items()}
    failed: list[Rejection] = []
    if todo["labels"]:
        labels = pa.concat_tables(todo["labels"]).to_pandas()
        rows = corrections.apply_to_rows(pa.concat_tables(todo["rows"]).to_pandas(), _fixes(work))
        del todo
        tables, failed = normalize_files(labels, rows)
        del labels, rows
        for number, name in enumerate(_NAMES):
            new[name] = _concat([t[number] for t in tables], _SCHEMAS[name])
    lost = {r.source_file for r in failed}
    keys: dict[str, str] = {}
    for files, same, changed in plan:
        keys.update((f, found[f]) for f in files if f in found and f not in lost)
        wanted = pa.array(changed, pa.string())
        for name in _NAMES:
            parts = [kept.rows(name, same)]
            if changed:
                parts.append(new[name].filter(pc.is_in(new[name]["source_file"], value_set=wanted)))
            out.write(name, _in_file_order(parts, files, _SCHEMAS[name]))
    return keys, failed
