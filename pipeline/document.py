"""The audit document: what audit.json holds and what audit.html renders.

`build_audit` assembles it from the report stage's tables. Its "products" entry is a
`ProductDocs`: the products in rank order, each built as a plain dict (`PRODUCT_FIELDS`,
score and verdict, its checks, `EXTRA_FIELDS`, its label rows in `ROW_FIELDS`) only when it
is read, a batch at a time, from Arrow tables that hold the run's products, checks and
label rows compactly. Writing audit.json and rendering audit.html of tens of thousands of
products therefore never holds more than one batch of them as Python objects. Anything
that reads a document treats "products" as a sequence; a test can pass a plain list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from typing import Protocol as Interface

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from pipeline import __version__
from pipeline.compliance import COMPLIANCE_COLUMNS, rule_table
from pipeline.corrections import REVIEW_COLUMNS, applied_of
from pipeline.document_records import DictSequence, TableRecords, table_records
from pipeline.evidence import BBOX_COLUMNS, flagged_products, needs_review, row_keys
from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS
from pipeline.nutrients import NUTRIENTS, UPPER_LIMITS
from pipeline.protocol import CHECKS, Protocol
from pipeline.score import VERDICTS
from pipeline.validate import conversions_used, daily_values

if TYPE_CHECKING:
    pass

#: A product's fields in audit.json, in order: these, then score, verdict, verdict_reason
#: and checks, then EXTRA_FIELDS, then label_rows.
PRODUCT_FIELDS = [
    "product_id",
    "source_file",
    "product_name",
    "brand",
    "serving_size",
    *PROTOCOL_AMOUNT_COLUMNS,
    "k2_form",
    *PROTOCOL_METRIC_COLUMNS,
]
VERDICT_FIELDS = ["score", "verdict", "verdict_reason"]
EXTRA_FIELDS = [
    "source_format",
    "ocr_confidence",
    "servings_per_day",
    "servings_per_day_source",
    "calcium_mg_per_day",
    "magnesium_mg_per_day",
    "vitamin_d_mcg_per_day",
    "directions",
    "warnings",
    "other_ingredients",
    "amount_columns",
    "label_index",
]
#: A check of a product, as in audit.json.
CHECK_FIELDS = ["name", "label", "passed", "credit", "weight", "points", "detail"]
#: A label row of a product, as in audit.json.
ROW_FIELDS = [
    "line_no",
    "page",
    "name_raw",
    "form_raw",
    "parent",
    "amount_raw",
    "unit_raw",
    "dv_raw",
    "amount_alt_raw",
    "unit_alt_raw",
    "alt_amounts_raw",
    "raw_text",
    "nutrient",
    "k2_form",
    "amount_normalized",
    "unit_normalized",
    "unit_status",
    "unit_note",
    "confidence",
    "repairs",
    # where it was read (evidence.row_document makes the four a `bbox` list) and a review
    *BBOX_COLUMNS,
    "bbox_units",
    *REVIEW_COLUMNS,
]
#: Products built per batch when a ProductDocs is iterated.
BATCH_PRODUCTS = 256
#: Products built (from the one asked for on) when a ProductDocs is indexed.
GETITEM_PRODUCTS = 16


class _Part(NamedTuple):
    """What the products at first to end are built from: their rows of the products table
    (`_DOC_COLUMNS`), their checks (CHECK_FIELDS) and label rows (ROW_FIELDS; None when not
    asked for), product after product; product n's checks are `check_at[n]` to
    `check_at[n + 1]` (and so for rows)."""

    products: pa.Table
    checks: pa.Table
    check_at: list[int]
    rows: pa.Table | None
    row_at: list[int]


def _part(
    products: pa.Table,
    checks: pa.Table,
    check_starts: np.ndarray,
    rows: pa.Table | None,
    row_starts: np.ndarray | None,
    first: int,
    end: int,
) -> _Part:
    """The part of tables grouped by product (`check_starts`, `row_starts`: where each
    product's rows start, relative to the tables) of the products at first to end."""

    def cut(table: pa.Table, starts: np.ndarray) -> tuple[pa.Table, list[int]]:
        begin, stop = int(starts[first]), int(starts[end])
        return table.slice(begin, stop - begin), (starts[first : end + 1] - begin).tolist()

    check_table, check_at = cut(checks, check_starts)
    row_table, row_at = (None, []) if rows is None or row_starts is None else cut(rows, row_starts)
    return _Part(products.slice(first, end - first), check_table, check_at, row_table, row_at)


class _Tables:
    """Every product's tables in memory (see `product_docs`)."""

    def __init__(
        self,
        products: pa.Table,
        checks: pa.Table,
        check_starts: np.ndarray,
        rows: pa.Table,
        row_starts: np.ndarray,
    ) -> None:
        self.summary = products
        self._tables = (products, checks, check_starts, rows, row_starts)

    def spans(self, first: int, end: int) -> list[tuple[int, int]]:
        return [(first, end)]

    def part(self, first: int, end: int, label_rows: bool) -> _Part:
        products, checks, check_starts, rows, row_starts = self._tables
        return _part(
            products, checks, check_starts, rows if label_rows else None, row_starts, first, end
        )

    def check_parts(self) -> Iterator[tuple[pa.Table, np.ndarray]]:
        yield self._tables[1], self._tables[2]

    def close(self) -> None:
        pass


class Source(Interface):
    """Where a ProductDocs' tables are: `_Tables` (in memory) or
    pipeline.document_slices.Slices (on disk, a slice of the ranking at a time)."""

    summary: pa.Table

    def spans(self, first: int, end: int) -> list[tuple[int, int]]: ...
    def part(self, first: int, end: int, label_rows: bool) -> _Part: ...
    def check_parts(self) -> Iterator[tuple[pa.Table, np.ndarray]]: ...
    def close(self) -> None: ...


class ProductDocs(DictSequence):
    """The products of an audit document in rank order, built from Arrow tables when read.

    The tables (one row per product in rank order, with "rank", PRODUCT_FIELDS,
    VERDICT_FIELDS and EXTRA_FIELDS; each product's checks, CHECK_FIELDS, and label rows,
    ROW_FIELDS, product after product in the same order) are held in memory
    (`product_docs`) or on disk a slice of the ranking at a time
    (pipeline.document_slices.sliced_product_docs).
    With `label_rows=False` the products are built without their label rows (what the
    ranking table, the chart and ranking.csv read): see `without_label_rows`.
    """

    __slots__ = ("_label_rows", "_last_batch", "_memo", "_source")
    NOUN = "products"

    def __init__(
        self, source: Source, *, label_rows: bool = True, memo: dict[Any, Any] | None = None
    ) -> None:
        self._source = source
        self._label_rows = label_rows
        self._last_batch: tuple[int, list[dict[str, Any]]] = (0, [])
        # what is read of every product's checks (`check_labels`, `check_marks`), made
        # once: the report asks for it several times, each a pass over every slice
        self._memo: dict[Any, Any] = {} if memo is None else memo

    def without_label_rows(self) -> ProductDocs:
        """The same products, built without "label_rows" (cheaper to read)."""
        return ProductDocs(self._source, label_rows=False, memo=self._memo)

    def column(self, name: str, start: int = 0, stop: int | None = None) -> list[Any]:
        """One field of every product, in rank order (no product is built); or of the
        products `start` to `stop`."""
        summary = self._source.summary
        end = summary.num_rows if stop is None else min(stop, summary.num_rows)
        values: list[Any] = summary.slice(start, max(0, end - start)).column(name).to_pylist()
        return values

    def fields(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """Only these fields of every product, in rank order."""
        rows: list[dict[str, Any]] = self._source.summary.select(list(names)).to_pylist()
        return rows

    def check_labels(self) -> dict[str, str]:
        """check name -> its label, in the order the checks first appear (no product is
        built)."""
        kept = self._memo.get("check_labels")
        if kept is None:
            kept = self._memo["check_labels"] = self._check_labels()
        return dict(kept)

    def _check_labels(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for checks, _ in self._source.check_parts():
            if not checks.num_rows:
                continue
            names = checks.column("name")
            labels = checks.column("label")
            for name in pc.unique(names).to_pylist():
                if str(name) not in out:
                    first = pc.index(names, name).as_py()
                    out[str(name)] = str(labels[first].as_py() or name)
        return out

    def _batch(self, first: int, end: int) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for a, b in self._source.spans(first, end):
            docs += _documents(self._source.part(a, b, self._label_rows))
        return docs

    def batch(self, first: int, end: int) -> list[dict[str, Any]]:
        """The products at `first` to `end`, built."""
        return self._batch(first, end)

    def check_marks(self, names: Sequence[str]) -> list[str]:
        """Per product, one character per check of `names`: "1" passed, "0" failed, "-"
        not assessed or not run (no product is built)."""
        if not names:
            return [""] * len(self)
        key = ("check_marks", tuple(names))
        kept = self._memo.get(key)
        if kept is None:
            kept = []
            for checks, starts in self._source.check_parts():
                kept += _marks(checks, starts, names)
            self._memo[key] = kept
        return list(kept)

    def close(self) -> None:
        """Remove the tables a sliced ProductDocs keeps on disk (it cannot be read after)."""
        self._source.close()

    def __len__(self) -> int:
        return int(self._source.summary.num_rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for first in range(0, len(self), BATCH_PRODUCTS):
            yield from self._batch(first, min(first + BATCH_PRODUCTS, len(self)))

    def _at(self, position: int) -> dict[str, Any]:
        # built with the next few and kept: reading products one by one in order builds
        # each once, and reading a few here and there builds little more than those
        first, docs = self._last_batch
        if not first <= position < first + len(docs):
            first = position
            docs = self._batch(first, min(first + GETITEM_PRODUCTS, len(self)))
            self._last_batch = (first, docs)
        return docs[position - first]


#: A product document's keys (but its label rows and corrections), in order.
_BEFORE_CHECKS = ["rank", *PRODUCT_FIELDS, *VERDICT_FIELDS]
_DOC_KEYS = [*_BEFORE_CHECKS, "checks", *EXTRA_FIELDS]
#: The columns of the products' table (what a document is built from), and those a
#: sliced ProductDocs holds of every product (what `ProductDocs.column` reads).
_DOC_COLUMNS = [*_BEFORE_CHECKS, *EXTRA_FIELDS]
_SUMMARY_COLUMNS = _BEFORE_CHECKS


def _documents(part: _Part) -> list[dict[str, Any]]:
    """The documents of a part's products, made column by column."""
    count = part.products.num_rows
    checks = table_records(part.checks.select(CHECK_FIELDS)) if part.checks.num_columns else []
    at = part.check_at if checks else [0] * (count + 1)
    table = part.products
    columns = [table.column(name).to_pylist() for name in _BEFORE_CHECKS]
    columns.append([checks[at[n] : at[n + 1]] for n in range(count)])
    columns += [table.column(name).to_pylist() for name in EXTRA_FIELDS]
    docs = [dict(zip(_DOC_KEYS, values, strict=True)) for values in zip(*columns, strict=True)]
    if part.rows is not None:
        rows = _row_documents(part.rows.select(ROW_FIELDS)) if part.rows.num_columns else []
        at = part.row_at if rows else [0] * (count + 1)
        for n, doc in enumerate(docs):
            doc["label_rows"] = rows[at[n] : at[n + 1]]
            doc["corrections"] = applied_of(doc["label_rows"])
    return docs


def _marks(checks: pa.Table, starts: np.ndarray, names: Sequence[str]) -> list[str]:
    """ProductDocs.check_marks of the products whose checks are `checks` (grouped by
    product: `starts`)."""
    count, width = len(starts) - 1, len(names)
    marks = np.full((count, width), b"-", dtype="S1")
    if checks.num_rows:
        product = np.repeat(np.arange(count), np.diff(starts))
        column = pc.index_in(checks.column("name"), value_set=pa.array(list(names)))
        column = column.to_numpy(zero_copy_only=False)
        passed = checks.column("passed")
        value = np.where(pc.fill_null(passed, False).to_numpy(zero_copy_only=False), b"1", b"0")
        known = ~np.isnan(column.astype(float)) & pc.is_valid(passed).to_numpy(zero_copy_only=False)
        marks[product[known], column[known].astype(np.int64)] = value[known]
    return [row.decode("ascii") for row in marks.view(f"S{width}").ravel()]


def _doc_table(products: pa.Table | None, ranked: pa.Table, count: int) -> pa.Table:
    """The products' table (`_DOC_COLUMNS`) of `count` products: rank and VERDICT_FIELDS
    from `ranked`, the rest from `products` (None, or a column it lacks: all None)."""

    def column(name: str) -> pa.Array | pa.ChunkedArray:
        if name in ranked.column_names:
            return ranked.column(name)
        if products is not None and name in products.column_names:
            return products.column(name)
        return pa.nulls(count)

    return pa.table({name: column(name) for name in _DOC_COLUMNS})


def _ranked(ranking: pd.DataFrame) -> pa.Table:
    """The ranking's rank and VERDICT_FIELDS as Arrow, in its order."""
    return pa.table(
        {name: pa.Array.from_pandas(ranking[name]) for name in ("rank", *VERDICT_FIELDS)}
    )


def _row_documents(table: pa.Table) -> list[dict[str, Any]]:
    """`evidence.row_document` of each row of `table`, made column by column."""
    names = table.column_names
    columns = {name: table.column(name).to_pylist() for name in names}
    nones = [None] * table.num_rows
    boxes = zip(*(columns.get(c, nones) for c in BBOX_COLUMNS), strict=True)
    columns["bbox"] = [None if None in box else [float(v) for v in box] for box in boxes]
    keys = row_keys(names)
    values = [columns[key] for key in keys]
    return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]


def _starts(keys: pa.Array, order: pa.Array) -> np.ndarray:
    """For products `order` (product ids in rank order) and a table's `keys` column sorted
    in that order: where each product's rows start (and, last, where they end)."""
    positions = pc.index_in(keys, value_set=order).to_numpy(zero_copy_only=False)
    counts = np.bincount(positions.astype(np.int64), minlength=len(order))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _in_rank_order(table: pa.Table, order: pa.Array, then: str | None) -> pa.Table:
    """`table`'s rows of the products in `order` (others dropped), grouped by product in
    that order; within a product by `then` (if given), else as they were."""
    position = pc.index_in(table.column("product_id"), value_set=order)
    keyed = table.append_column("_position", position).append_column(
        "_seq", pa.array(range(table.num_rows), pa.int64())
    )
    keyed = keyed.filter(pc.is_valid(keyed.column("_position")))
    keys = [("_position", "ascending")]
    keys += [(then, "ascending")] if then else []
    keys += [("_seq", "ascending")]
    return keyed.take(pc.sort_indices(keyed, sort_keys=keys)).drop_columns(["_position", "_seq"])


def product_docs(
    products: pa.Table, ranking: pd.DataFrame, checks: pa.Table, rows: pa.Table
) -> ProductDocs:
    """The products of the document in `ranking`'s order, from the products table, the
    ranking (product_id, rank and VERDICT_FIELDS), the scored checks (product_id, check and
    CHECK_FIELDS but "name") and the label rows (product_id and ROW_FIELDS); the three
    tables in any order."""
    order = pa.array(ranking["product_id"].tolist(), pa.string())
    ranked = products.take(pc.index_in(order, value_set=products.column("product_id")))
    table = _doc_table(ranked, _ranked(ranking), ranked.num_rows)
    check_order = pa.array(list(CHECKS), pa.string())
    check_table = checks.append_column(
        "_check", pc.index_in(checks.column("check"), value_set=check_order)
    ).rename_columns(["name" if c == "check" else c for c in [*checks.column_names, "_check"]])
    check_table = _in_rank_order(check_table, order, "_check")
    row_table = _in_rank_order(rows.select(["product_id", *ROW_FIELDS]), order, "line_no")
    return ProductDocs(
        _Tables(
            table,
            check_table.select(CHECK_FIELDS),
            _starts(check_table.column("product_id"), order),
            row_table.select(ROW_FIELDS),
            _starts(row_table.column("product_id"), order),
        )
    )


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """JSON-ready records: NaN/NA -> None, numpy scalars -> Python."""
    records: list[dict[str, Any]] = pa.Table.from_pandas(
        frame[columns], preserve_index=False
    ).to_pylist()
    return records


def _review_queue(
    docs: ProductDocs, findings: pd.DataFrame, protocol: Protocol, meta: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """evidence.needs_review over the products with a finding that questions a reading
    (only those products' documents are built)."""
    records: list[dict[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in findings.to_dict("records")]
        if len(findings)
        else []
    )
    flagged = flagged_products(records)
    if not flagged:
        return []
    ids = docs.column("product_id")
    products = [docs[i] for i, pid in enumerate(ids) if pid in flagged]
    labels_dir = str(meta.get("labels_dir") or ".")
    return needs_review(products, records, protocol, labels_dir)


def build_audit(
    *,
    meta: Mapping[str, Any],
    docs: ProductDocs,
    ranking: pd.DataFrame,
    findings: pd.DataFrame,
    rejections: pd.DataFrame,
    protocol: Protocol,
    compliance: pd.DataFrame | pa.Table | None = None,
) -> dict[str, Any]:
    """The audit document: audit.json as written, and what the HTML report renders.

    `docs`: the products in `ranking`'s order (`product_docs`, or
    pipeline.document_slices.sliced_product_docs). `compliance` as an Arrow table is kept
    as one (pipeline.document_records.TableRecords: no dict a finding until read).
    """
    verdicts = {v: int((ranking["verdict"] == v).sum()) for v in VERDICTS}
    rejected = _records(rejections, ["source_file", "reason"])
    quality = _records(findings, ["source_file", "product_id", "check", "severity", "detail"])
    ruled: Sequence[dict[str, Any]] = []
    if isinstance(compliance, pa.Table):
        ruled = TableRecords(compliance.select(COMPLIANCE_COLUMNS)) if compliance.num_rows else []
    elif compliance is not None:
        ruled = _records(compliance, COMPLIANCE_COLUMNS)
    with_products = set(docs.column("source_file"))
    not_labels = [
        {"source_file": str(n["source_file"]), "reason": str(n["reason"])}
        for n in meta.get("not_labels", [])
    ]
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels_dir": meta["labels_dir"],
        "tool_version": __version__,
        "protocol_file": protocol.source,
        "summary": {
            "files": len(with_products | {r["source_file"] for r in rejected}) + len(not_labels),
            "products": len(docs),
            "rejected_files": len(rejected),
            "not_label_files": len(not_labels),
            "verdicts": verdicts,
            "data_quality_findings": len(quality),
            "compliance_findings": len(ruled),
            "companion_files": list(meta.get("companion_files", [])),
        },
        "changes": {"added": [], "removed": [], "verdict_changed": []},
        "products": docs,
        "rejected": rejected,
        "not_labels": not_labels,
        "data_quality": quality,
        "compliance": ruled,
        "needs_review": _review_queue(docs, findings, protocol, meta),
        "stale_corrections": list(meta.get("stale_corrections", [])),
        "correction_errors": list(meta.get("correction_errors", [])),
        "methodology": {
            "protocol": protocol.to_dict(),
            "daily_values": list(daily_values()),
            "conversions": conversions_used(),
            "upper_limits": [
                {"nutrient": NUTRIENTS[u.nutrient].display, "limit": u.text} for u in UPPER_LIMITS
            ],
            "compliance_rules": rule_table(),
        },
        "data_docs": None,
    }
