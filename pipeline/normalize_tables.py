"""The normalize stage's tables, one batch of label files at a time, reusing what is unchanged.

`write_normalized` reads the extract stage's tables a batch (row group) at a time
(pipeline.normalize.label_batches), applies the corrections, and writes nutrients.parquet
and products.parquet batch by batch. A file's normalized rows depend only on its own label
and (corrected) label rows and the normalize code (pipeline.normalize): each file gets a
key (`file_keys`: the hash of those rows, salted with the code version), recorded beside
the tables (`KEYS_FILE`, pipeline.infra.kept_rows). A rerun takes the rows of a file whose
key is unchanged from the last tables and normalizes only the others; each batch's rows are
then put back in file order, so the tables are those a cold run writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from pipeline import config, corrections
from pipeline.infra import stages
from pipeline.infra.atomic import ParquetTables, atomic_write_table
from pipeline.infra.kept_rows import KeptRows, write_index
from pipeline.normalize import (
    NUTRIENTS_SCHEMA,
    PRODUCTS_SCHEMA,
    label_batches,
    normalize_files,
)
from pipeline.records import Rejection, records_to_table

#: Beside nutrients.parquet and products.parquet: each file's key (`file_keys`).
KEYS_FILE = "normalized.keys.json"


def file_keys(frames: Sequence[pd.DataFrame], salt: str) -> dict[str, str]:
    """Per source file: a key of `salt` and of its rows in each of `frames` (their values
    and dtypes, in order: pandas' row hashes), whatever else the frames hold."""
    digests: dict[str, hashlib._Hash] = {}
    base = hashlib.sha256(f"{len(salt)}:{salt}".encode())
    for number, frame in enumerate(frames):
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
        codes, files = pd.factorize(frame["source_file"])
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(files) + 1))
        hashes = hashes[order]
        for i, source_file in enumerate(files.tolist()):
            digest = digests.setdefault(source_file, base.copy())
            digest.update(f"{number}:{bounds[i + 1] - bounds[i]}\n".encode())
            digest.update(hashes[bounds[i] : bounds[i + 1]].tobytes())
    return {source_file: digest.hexdigest() for source_file, digest in digests.items()}


def _in_file_order(parts: Sequence[pa.Table], files: Sequence[str], schema: pa.Schema) -> pa.Table:
    """`parts` as one table, its rows file by file in the order of `files` (each file's rows
    in their order: Arrow's sort is stable)."""
    table = pa.concat_tables([p.replace_schema_metadata(schema.metadata) for p in parts])
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
    salt = stages.salt("normalize", "per-file-1")
    index = work.root / KEYS_FILE
    kept = KeptRows.load(index, targets, salt) if reuse else None
    keys: dict[str, str] = {}
    rejected: list[Rejection] = []
    fixes = corrections.current(corrections.load_snapshot(work.corrections))
    with ParquetTables(targets) as out:
        for labels, raw_rows in label_batches(work.labels, work.label_rows):
            rows = corrections.apply_to_rows(raw_rows, fixes)
            del raw_rows
            found = file_keys([labels, rows], salt)
            files = pd.unique(labels["source_file"]).tolist()
            same = [f for f in files if kept is not None and kept.key(f) == found[f]]
            todo_labels, todo_rows = labels, rows
            if same:
                todo_labels = labels[~labels["source_file"].isin(same)].reset_index(drop=True)
                todo_rows = rows[~rows["source_file"].isin(same)].reset_index(drop=True)
            tables: list[tuple[pa.Table, pa.Table]] = []
            failed: list[Rejection] = []
            if not same or not todo_labels.empty:  # (as a cold run: even an empty batch)
                tables, failed = normalize_files(todo_labels, todo_rows)
            del labels, rows, todo_labels, todo_rows
            rejected += failed
            lost = {r.source_file for r in failed}
            keys.update((f, found[f]) for f in files if f not in lost)
            if not same:
                for nutrients, products in tables:
                    out.write("nutrients", nutrients)
                    out.write("products", products)
                continue
            assert kept is not None  # (`same` is empty without it)
            for number, name in enumerate(("nutrients", "products")):
                parts = [kept.rows(name, same), *(pair[number] for pair in tables)]
                out.write(name, _in_file_order(parts, files, targets[name][1]))
            del tables
    atomic_write_table(rejections, records_to_table(rejected, Rejection))
    write_index(index, {name: path for name, (path, _) in targets.items()}, keys, salt)
    return out.rows["nutrients"], out.rows["products"]
