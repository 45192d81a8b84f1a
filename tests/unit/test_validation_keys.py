"""pipeline.validation_keys: the validate stage keys a product by its file's normalize key
when normalized.keys.json names the very tables, and says None (hash the rows) otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline.config import WorkPaths
from pipeline.infra.atomic import atomic_write_parquet
from pipeline.infra.kept_rows import write_index
from pipeline.normalize_tables import KEYS_FILE
from pipeline.validation_keys import keys_by_file
from tests.builders import write_work


def _work(root: Path, file_keys: dict[str, str] | None = None) -> tuple[WorkPaths, list[str]]:
    labels, rows = records_of(dsld_labels()[:3])
    work = write_work(root, labels, rows)
    files = sorted({label.source_file for label in labels})
    keys = {f: f"content-{n}" for n, f in enumerate(files)} if file_keys is None else file_keys
    tables = {"nutrients": work.nutrients, "products": work.products}
    write_index(work.root / KEYS_FILE, tables, keys, "normalize-salt")
    return work, files


def test_a_product_is_keyed_by_its_files_key_and_the_salt(tmp_path: Path) -> None:
    work, files = _work(tmp_path / "a")
    found = keys_by_file(work, "salt-1")
    assert found is not None
    products = pd.read_parquet(work.products)
    nutrients = pd.read_parquet(work.nutrients)
    assert found.product_ids.to_pylist() == products["product_id"].tolist()
    assert found.ids.to_pylist() == products["product_id"].tolist()
    assert len(found.product_ids) == 3
    rows = nutrients["product_id"].value_counts()
    assert found.label_rows.to_pylist() == [rows[p] for p in products["product_id"]]
    assert sum(found.label_rows.to_pylist()) == len(nutrients)
    keys = found.key_of()
    assert len(set(keys.values())) == 3
    # The same key for the same file key and salt; another salt changes every key.
    assert keys_by_file(work, "salt-1") == found
    other_salt = keys_by_file(work, "salt-2")
    assert other_salt is not None
    assert not set(other_salt.key_of().values()) & set(keys.values())
    # One file's content key changes: only its product's key changes.
    changed, *same = files
    work_b, _ = _work(
        tmp_path / "b",
        {f: ("content-new" if f == changed else f"content-{n}") for n, f in enumerate(files)},
    )
    moved = keys_by_file(work_b, "salt-1")
    assert moved is not None
    pid_of = dict(zip(products["source_file"], products["product_id"], strict=True))
    assert moved.key_of()[pid_of[changed]] != keys[pid_of[changed]]
    assert [moved.key_of()[pid_of[f]] for f in same] == [keys[pid_of[f]] for f in same]
    assert moved.reused(keys).tolist() == [pid != pid_of[changed] for pid in products["product_id"]]


def test_tables_the_index_does_not_name_are_hashed_instead(tmp_path: Path) -> None:
    work, files = _work(tmp_path / "a")
    products = pd.read_parquet(work.products)
    atomic_write_parquet(work.products, products.iloc[::-1].reset_index(drop=True))
    assert keys_by_file(work, "salt-1") is None  # products.parquet is not the one named

    work, files = _work(tmp_path / "b", {files[0]: "content-0"})
    assert keys_by_file(work, "salt-1") is None  # two files have no key

    work, files = _work(tmp_path / "c")
    (work.root / KEYS_FILE).unlink()
    assert keys_by_file(work, "salt-1") is None  # no index
