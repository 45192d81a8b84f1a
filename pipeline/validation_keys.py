"""The validate stage's per-product keys from the normalize stage's per-file keys (issue 16).

A product's outcomes and findings depend only on its own product row and nutrient rows
(and the code and protocol: the validate stage's salt). The normalize stage records beside
products.parquet and nutrients.parquet, per source file, the key its rows were made from
(normalized.keys.json, pipeline.normalize_tables: the content key of the file's label rows,
salted with the corrections and the normalize code version) and the sha256 of the two
tables it wrote. When those are still the very tables (both digests match) and every
product's file has a key there, a product's key is a hash of the salt, its file's key and
its product_id (`keys_by_file`): its rows are the ones made from that file's content, so
hashing them again (pipeline.validate.product_keys: every value of every row, ~0.8 s at
10,000 labels) learns nothing more. Otherwise (tables written without that index, replaced
or damaged, a file whose reading had no content key) `keys_by_file` gives None and the
stage hashes the rows as before. Only product_id and source_file of products.parquet and
product_id of nutrients.parquet are read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.config import WorkPaths
from pipeline.infra.digests import file_digest
from pipeline.normalize_tables import KEYS_FILE

#: Part of every key made here (keys from hashed rows never equal one of these).
KEY_KIND = "normalized-file-key-1"


@dataclass(frozen=True)
class FileKeyedProducts:
    """Per product, its key; every product row's product_id in order; nutrient rows a product."""

    keys: dict[str, str]
    product_ids: list[str]
    label_rows: dict[str, int]


def recorded_file_keys(work: WorkPaths) -> dict[str, str] | None:
    """source file -> its normalize key, if normalized.keys.json names the current
    products.parquet and nutrients.parquet (their sha256); None otherwise."""
    try:
        recorded = json.loads((work.root / KEYS_FILE).read_text(encoding="utf-8"))
        tables, keys = recorded["tables"], recorded["keys"]
        if not isinstance(tables, dict) or not isinstance(keys, dict):
            return None
        if tables.get("products") != file_digest(work.products):
            return None
        if tables.get("nutrients") != file_digest(work.nutrients):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {str(k): str(v) for k, v in keys.items()}


def keys_by_file(work: WorkPaths, salt: str) -> FileKeyedProducts | None:
    """Each product's key from its file's normalize key (see the module's docstring), or
    None when some product's rows are not known to be those of its file's key."""
    by_file = recorded_file_keys(work)
    if by_file is None:
        return None
    products = pq.read_table(work.products, columns=["product_id", "source_file"])
    product_ids = products["product_id"].to_pylist()
    files = products["source_file"].to_pylist()
    salted = hashlib.sha256(f"{len(salt)}:{salt}\n{KEY_KIND}\n".encode())
    keys: dict[str, str] = {}
    for pid, source_file in zip(product_ids, files, strict=True):
        file_key = by_file.get(source_file)
        if file_key is None or pid is None:
            return None
        digest = salted.copy()
        digest.update(f"{file_key}\n{pid}".encode())
        keys[pid] = digest.hexdigest()
    owners = pq.read_table(work.nutrients, columns=["product_id"])["product_id"]
    counts = pc.value_counts(owners.drop_null())
    values, numbers = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
    return FileKeyedProducts(keys, product_ids, dict(zip(values, numbers, strict=True)))
