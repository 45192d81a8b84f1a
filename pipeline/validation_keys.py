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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.config import WorkPaths
from pipeline.infra.digests import file_digest
from pipeline.normalize_tables import KEYS_FILE

#: Part of every key made here (keys from hashed rows never equal one of these).
KEY_KIND = "normalized-file-key-1"


@dataclass(frozen=True)
class ProductKeys:
    """Per product, its key, as Arrow arrays (a catalog's products as Python strings in
    dicts took ~15 MB at 40,000 products, ~75 MB at 200,000; as arrays ~5 and ~25)."""

    #: Every product row's product_id, in order (string).
    product_ids: pa.Array
    #: Each product once, in order of its first row (string) ...
    ids: pa.Array
    #: ... its key (its last row's: string, 64 hex digits) ...
    keys: pa.Array
    #: ... and how many nutrient rows it has (int64).
    label_rows: pa.Array

    @classmethod
    def of_rows(
        cls, product_ids: pa.Array, keys: pa.Array, owners: pa.Array, counts: pa.Array
    ) -> ProductKeys:
        """From each product row's id and key, and the products that have nutrient rows
        with how many each (`owners`, `counts`)."""
        ids, last_keys = _last_of(product_ids, keys)
        rows = pc.take(counts, pc.index_in(ids, value_set=owners)).fill_null(0)
        return cls(product_ids, ids, last_keys, rows.cast(pa.int64()))

    def key_of(self) -> dict[str, str]:
        """product_id -> key (the validation state's "products")."""
        return dict(zip(self.ids.to_pylist(), self.keys.to_pylist(), strict=True))

    def reused(self, previous: Mapping[str, str]) -> np.ndarray:
        """Whether each product (of `ids`) has the key `previous` recorded for it."""
        if not previous:
            return np.zeros(len(self.ids), np.bool_)
        before_ids = pa.array(list(previous), pa.string())
        before_keys = pa.array(list(previous.values()), pa.string())
        before = pc.take(before_keys, pc.index_in(self.ids, value_set=before_ids))
        same = pc.fill_null(pc.equal(before, self.keys), False)
        return np.asarray(same.to_numpy(zero_copy_only=False), np.bool_)


def _last_of(product_ids: pa.Array, keys: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each id once, in order of first appearance, with the key of its last row."""
    ids = pc.unique(product_ids)
    if len(ids) == len(product_ids):
        return product_ids, keys
    backwards = np.arange(len(product_ids) - 1, -1, -1)
    last = pc.index_in(ids, value_set=pc.take(product_ids, backwards))
    return ids, pc.take(pc.take(keys, backwards), last)


@dataclass(frozen=True)
class ChunkPlan:
    """Which chunk each product to validate is in, and how big each chunk is."""

    #: The products to validate (string), in order, ...
    ids: pa.Array
    #: ... the chunk each is in (consecutive products, so many to a chunk).
    chunk_at: np.ndarray
    #: How many product rows, and how many nutrient rows, each chunk has.
    product_rows: Sequence[int]
    label_rows: Sequence[int]


def chunk_plan(found: ProductKeys, reused: np.ndarray, size: int) -> ChunkPlan:
    """The products of `found` not `reused`, `size` to a chunk."""
    todo = ~reused
    ids = found.ids.filter(pa.array(todo))
    chunk_at = np.arange(len(ids), dtype=np.int64) // max(1, size)
    chunks = int(chunk_at[-1]) + 1 if len(ids) else 0
    at = pc.index_in(found.product_ids, value_set=ids)
    rows_at = chunk_at[at.drop_null().to_numpy()]
    product_rows = np.bincount(rows_at, minlength=chunks)
    label_rows = np.bincount(
        chunk_at, weights=found.label_rows.to_numpy()[todo], minlength=chunks
    ).astype(np.int64)
    return ChunkPlan(ids, chunk_at, product_rows.tolist(), label_rows.tolist())


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


def nutrient_rows_of(owners: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The products that have nutrient rows, and how many each, of nutrients.parquet's
    product_id column."""
    counts = pc.value_counts(owners.drop_null())
    return counts.field("values"), counts.field("counts")


def keys_by_file(work: WorkPaths, salt: str) -> ProductKeys | None:
    """Each product's key from its file's normalize key (see the module's docstring), or
    None when some product's rows are not known to be those of its file's key."""
    by_file = recorded_file_keys(work)
    if by_file is None:
        return None
    products = pq.read_table(work.products, columns=["product_id", "source_file"])
    product_ids = products["product_id"].combine_chunks().cast(pa.string())
    if product_ids.null_count:
        return None
    salted = hashlib.sha256(f"{len(salt)}:{salt}\n{KEY_KIND}\n".encode())
    keys: list[str] = []
    for pid, source_file in zip(
        product_ids.to_pylist(), products["source_file"].to_pylist(), strict=True
    ):
        file_key = by_file.get(source_file)
        if file_key is None:
            return None
        digest = salted.copy()
        digest.update(f"{file_key}\n{pid}".encode())
        keys.append(digest.hexdigest())
    del by_file, products
    key_array = pa.array(keys, pa.string())
    del keys
    owners, counts = nutrient_rows_of(pq.read_table(work.nutrients, columns=["product_id"])[0])
    return ProductKeys.of_rows(product_ids, key_array, owners, counts)
