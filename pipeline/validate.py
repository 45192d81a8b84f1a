"""Validate stage: run the Great Expectations suites over the products, a chunk at a time.

`products_to_outcomes` runs the protocol suite over a products table and reads per-product
outcomes from the result (result_format COMPLETE, unexpected rows named by product_id).
`tables_to_findings` runs the data-quality suites over the nutrient rows and the products
and turns every unexpected row into a finding a reader can act on.

`validate_work` is the stage over a work folder. Every expectation is row-wise, so a
product's outcomes and findings depend on its own rows only: a product whose rows (and the
code and protocol) are unchanged since it was last validated keeps its results, and the
suites run over the other products (all of them on a first run, with `--full` or
`--data-docs`), in chunks of at most VALIDATE_CHUNK_PRODUCTS products with their nutrient
rows; the outcomes and findings are the same as from one run over them all. The memory
stays about flat however many products there are: products.parquet and nutrients.parquet
are read a batch at a time (`TableFile`: to hash the rows, then to gather each chunk's),
every GX run is forgotten by GX once its result is read, and the GX result files
(protocol, data quality, and the compliance rule pack's: pipeline.compliance, whose findings
go to compliance.parquet) are written as each chunk finishes. They hold this run's results:
a "labelaudit" block (products validated and reused, chunks), every expectation result of
every chunk ("results") and one summary per GX run ("runs"). `python -m pipeline.validate`
runs the stage in a process of its own.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import nutrients as nt
from pipeline.compliance import compliance_findings
from pipeline.compliance import findings_frame as compliance_frame
from pipeline.protocol import Protocol
from pipeline.rules import protocol as rules
from pipeline.rules.protocol import CHECKS
from pipeline.rules.quality import QUALITY_BY_NAME
from pipeline.units import IU_TO_MCG
from pipeline.values import fmt_number as _fmt

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import great_expectations as gx

OUTCOME_COLUMNS = ["product_id", "check", "passed"]
FINDING_COLUMNS = ["source_file", "product_id", "check", "severity", "detail", "blocking"]


def _gx() -> Any:
    """great_expectations, imported on first use: the import takes seconds and a few
    hundred MB, and the report stage (which imports this module for `daily_values` and
    `conversions_used`) and a run whose validation is up to date never need it."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    # GX pins this logger to INFO at import; its one message (a temp folder for an unused
    # docs site) is noise in a nightly log.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def _context() -> Any:
    """An ephemeral GX context: nothing written to disk, analytics and progress bars off."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@dataclass
class Validator:
    """One GX context for a run: every suite validates through it (GX set up once).

    With `docs_dir`, each validation also goes through a GX Checkpoint whose
    UpdateDataDocsAction renders GX Data Docs into that folder.
    """

    docs_dir: Path | None = None
    context: Any = None
    runs: int = 0

    def __post_init__(self) -> None:
        self.context = self.context or _context()
        if self.docs_dir is not None:
            self.context.add_data_docs_site(
                site_name="labelaudit",
                site_config={
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.docs_dir.resolve()),
                    },
                },
            )

    def run(self, suite: gx.ExpectationSuite, frame: pd.DataFrame, index_columns: list[str]) -> Any:
        """Validate `frame` against `suite` once; the result keeps every unexpected row.

        Each run gets a data source of its own, deleted afterwards: its execution engine
        keeps the frame it validated and every metric it computed, which would otherwise
        stay in the context (and memory) for as long as it lives. Without Data Docs the
        batch is validated directly (`Batch.validate`: nothing else is registered or
        stored in the context); with them, through a validation definition and a
        checkpoint, which the context keeps for the docs site.
        """
        self.runs += 1
        name = f"{suite.name}-{self.runs}"  # names are unique within one context
        suite.name = name
        result_format = {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": index_columns,
        }
        source = self.context.data_sources.add_pandas(f"labelaudit-{self.runs}")
        try:
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
                "whole table"
            )
            if self.docs_dir is None:
                data = batch.get_batch(batch_parameters={"dataframe": frame})
                return data.validate(suite, result_format=result_format)
            return self._run_with_docs(suite, batch, frame, result_format)
        finally:
            self.context.data_sources.delete(source.name)

    def _run_with_docs(
        self, suite: gx.ExpectationSuite, batch: Any, frame: pd.DataFrame, result_format: Any
    ) -> Any:
        gx = _gx()
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=suite.name,
                validation_definitions=[definition],
                actions=[
                    gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["labelaudit"])
                ],
                result_format=result_format,
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        return next(iter(outcome.run_results.values()))


def _unexpected(result: Any, column: str) -> list[Any]:
    return [row[column] for row in result.result.get("unexpected_index_list") or []]


# ---- protocol ---------------------------------------------------------------------------------


def protocol_table(products: pd.DataFrame) -> pd.DataFrame:
    """The columns the protocol suite reads (pipeline.rules.protocol.protocol_table)."""
    return rules.protocol_table(products)


def products_to_outcomes(
    products: pd.DataFrame, protocol: Protocol, validator: Validator | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per product and check: passed True/False/None (None: the check did not apply)."""
    from pipeline import expectations as ex

    validator = validator or Validator()
    table = protocol_table(products)
    result = validator.run(ex.protocol_suite(protocol), table, ["product_id"])
    failed: dict[str, set[str]] = {check: set() for check in CHECKS}
    evaluated: dict[str, set[str]] = {check: set() for check in CHECKS}
    product_ids = table["product_id"].tolist()
    for res in result.results:
        config = res.expectation_config
        check = config.meta["check"]
        column = config.kwargs["column"]
        nulls_count = config.type == "expect_column_values_to_not_be_null"
        applies = (
            product_ids if nulls_count else table.loc[table[column].notna(), "product_id"].tolist()
        )
        evaluated[check].update(applies)
        failed[check].update(_unexpected(res, "product_id"))
    outcomes = [
        {
            "product_id": pid,
            "check": check,
            "passed": False
            if pid in failed[check]
            else (True if pid in evaluated[check] else None),
        }
        for pid in product_ids
        for check in CHECKS
    ]
    return pd.DataFrame(outcomes, columns=OUTCOME_COLUMNS), result.to_json_dict()


# ---- data quality -------------------------------------------------------------------------------


def _row_detail(check: str, row: Mapping[str, Any]) -> str:
    name = row["name_raw"]
    where = f"line {row['line_no']}" + (
        f", page {int(row['page'])}" if pd.notna(row["page"]) else ""
    )
    printed = (
        " ".join(str(row[c]) for c in ("amount_raw", "unit_raw") if pd.notna(row[c]) and row[c])
        or "nothing"
    )
    if check == "amount_present":
        return f"{where}: '{name}' has no readable amount (printed: {printed})"
    if check == "amount_non_negative":
        return f"{where}: '{name}' has a negative amount ({printed})"
    if check == "unit_known":
        return f"{where}: '{name}' {printed}: {row['unit_note']}"
    if check in ("amount_confidence", "amount_repaired"):
        conf = f"{row['confidence']:.0f}%"
        fixed = f" after a repair ({row['repairs']})" if pd.notna(row["repairs"]) else ""
        if check == "amount_confidence":
            return (
                f"{where}: '{name}' {printed}: amount read with low confidence ({conf}{fixed}): "
                "check the label"
            )
        return f"{where}: '{name}' {printed}: amount read by OCR{fixed}, confidence {conf}"
    display = nt.NUTRIENTS[row["nutrient"]].display if row["nutrient"] in nt.NUTRIENTS else name
    info = nt.NUTRIENTS.get(row["nutrient"])
    unit = info.unit if info else ""
    return (
        f"{display}: declared {row['dv_raw']} DV for {_fmt(row['amount_normalized'])} {unit}, "
        f"expected {_fmt(round(row['dv_expected_current_pct']))}% (current DV "
        f"{_fmt(info.dv_current if info else None)} {unit}) or "
        f"{_fmt(round(row['dv_expected_older_pct']))}% (older DV "
        f"{_fmt(info.dv_older if info else None)} {unit})"
    )


def _product_detail(check: str, meta: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    if check == "one_calcium_amount":
        total = _fmt(row["calcium_mg"])
        return f"calcium is declared on {row['calcium_rows']} lines; their sum ({total} mg) is used"
    if check == "serving_size_present":
        return "the panel states no serving size"
    if check == "vitamin_k_form":
        return (
            f"{_fmt(row['vitamin_k_unresolved_mcg'])} mcg vitamin K whose form does not tell K1 "
            "from K2: the protocol checks cannot use it"
        )
    nutrient = meta["nutrient"]
    info = nt.NUTRIENTS[nutrient]
    limit = next(u for u in nt.UPPER_LIMITS if u.nutrient == nutrient)
    per_day = row[f"{nutrient}_{info.unit}_per_day"]
    return (
        f"{info.display}: {_fmt(per_day)} {info.unit} per day "
        f"({_fmt(row['servings_per_day'])} serving(s) a day, {row['servings_per_day_source']}) "
        f"is above the adult upper limit of {limit.text}"
    )


def quality_rows_table(nutrients: pd.DataFrame) -> pd.DataFrame:
    table = nutrients.copy()
    table["is_member"] = table["parent"].notna()
    table["has_unit"] = table["unit_raw"].notna() & (
        table["unit_raw"].astype(str).str.strip() != ""
    )
    table["dv_consistent"] = table["dv_consistent"].astype(object)
    # OCR'd protocol amounts: their confidence, and whether a repair was needed
    ocr_amount = table["nutrient"].isin(list(nt.PROTOCOL_NUTRIENTS)) & table["amount"].notna()
    if "review" in table:  # a person corrected or confirmed it (pipeline.corrections)
        ocr_amount &= table["review"].isna()
    if "confidence" in table:
        ocr_amount &= table["confidence"].notna()
        table["protocol_amount_confidence"] = table["confidence"].where(ocr_amount)
    else:
        ocr_amount &= False
        table["protocol_amount_confidence"] = float("nan")
    repaired = table["repairs"].notna() if "repairs" in table else False
    table["protocol_amount_repaired"] = (ocr_amount & repaired).where(ocr_amount).astype(object)
    return table


def _blocking(check: str, nutrient: Any) -> bool:
    """A finding that makes the protocol verdict unreliable (the product is not assessable)."""
    return QUALITY_BY_NAME[check].blocking(nutrient)


def read_findings(products: pd.DataFrame, read_issues: pd.DataFrame) -> list[dict[str, Any]]:
    """One finding per read issue from extraction (no Great Expectations needed)."""
    if read_issues.empty:
        return []
    id_of = dict(
        zip(
            zip(products["source_file"].tolist(), products["label_index"].tolist(), strict=True),
            products["product_id"].tolist(),
            strict=True,
        )
    )
    return [
        {
            "source_file": issue["source_file"],
            "product_id": id_of.get((issue["source_file"], issue["label_index"])),
            "check": "read",
            "severity": "error",
            "detail": issue["detail"],
            "blocking": bool(issue.get("blocks_verdict", False)),
            "line_no": None,
        }
        for issue in read_issues.to_dict("records")
    ]


def gx_findings(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The data-quality suites over the nutrient rows and the products: one finding per
    unexpected row (with the label line it is about, for row findings), and the results."""
    from pipeline import expectations as ex

    findings: list[dict[str, Any]] = []
    rows = quality_rows_table(nutrients).reset_index(drop=True)
    rows["row_id"] = rows.index
    rows_result = validator.run(ex.rows_quality_suite(), rows, ["row_id"])
    for res in rows_result.results:
        check = res.expectation_config.meta["check"]
        for row_id in _unexpected(res, "row_id"):
            row = rows.loc[row_id]
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": row["product_id"],
                    "check": check,
                    "severity": "error" if _blocking(check, row["nutrient"]) else "warning",
                    "detail": _row_detail(check, row),
                    "blocking": _blocking(check, row["nutrient"]),
                    "line_no": int(row["line_no"]),
                }
            )
    by_id = products.set_index("product_id", drop=False)
    products_result = validator.run(ex.products_quality_suite(), products, ["product_id"])
    for res in products_result.results:
        meta = res.expectation_config.meta
        for pid in _unexpected(res, "product_id"):
            row = by_id.loc[pid]
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": pid,
                    "check": meta["check"],
                    "severity": meta.get(
                        "severity", "error" if _blocking(meta["check"], None) else "warning"
                    ),
                    "detail": _product_detail(meta["check"], meta, row),
                    "blocking": _blocking(meta["check"], None),
                    "line_no": None,
                }
            )
    return findings, {
        "rows": rows_result.to_json_dict(),
        "products": products_result.to_json_dict(),
    }


def findings_frame(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Findings in their stable order, with FINDING_COLUMNS and `line_no` (the label line
    a row finding is about; missing for the others)."""
    frame = pd.DataFrame(list(findings), columns=[*FINDING_COLUMNS, "line_no"])
    frame["line_no"] = frame["line_no"].astype("Int64")
    order = {"safety": 0, "error": 1, "warning": 2}
    return frame.sort_values(
        ["source_file", "product_id", "severity", "check", "detail"],
        key=lambda s: s.map(order) if s.name == "severity" else s.astype(str),
    ).reset_index(drop=True)


def tables_to_findings(
    nutrients: pd.DataFrame,
    products: pd.DataFrame,
    read_issues: pd.DataFrame,
    validator: Validator | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Data-quality findings: one per unexpected row, plus every read issue from extraction."""
    found, results = gx_findings(nutrients, products, validator or Validator())
    frame = findings_frame([*read_findings(products, read_issues), *found])
    return frame[FINDING_COLUMNS], results


# ---- the stage, incrementally -------------------------------------------------------------------

#: Per product, the key of the inputs its outcomes and findings were computed from.
STATE_FILE = "validation_state.json"


@dataclass(frozen=True)
class ValidationJob:
    """What the validate stage is asked to do (picklable: it may run in another process).

    `salt` stands for everything a product's results depend on besides its own rows (the
    code, the library versions, the protocol): a different salt revalidates everything.
    """

    work_root: str
    protocol: Protocol
    salt: str
    full: bool = False
    docs_dir: str | None = None


#: The most products one GX run validates (with their nutrient rows). A run's memory grows
#: with its table (GX computes its metrics over the whole frame; the COMPLETE result lists
#: every unexpected row) and every run costs a fixed ~0.1 s. Peak RSS and time of a full
#: `validate_work` over 2,570 / 10,284 products (GX imported beforehand: ~237 MB): chunks
#: of 500: 271 / 304 MB, 3.2 / 12.3 s; 1,000: 279 / 302 MB, 2.3 / 7.8 s; 2,000: 288 / 312 MB,
#: 2.1 / 6.6 s; one run over all the products, as before: 350 / 505 MB, 2.0 / 6.7 s.
VALIDATE_CHUNK_PRODUCTS = 1000

#: Rows read from products.parquet or nutrients.parquet at a time: the stage streams them
#: (to hash them, then to take each chunk's rows) and never holds a whole table.
READ_BATCH_ROWS = 2048


@dataclass(frozen=True)
class TableFile:
    """A parquet work file (products, nutrients) read a batch at a time, never whole.

    `dtypes`: the pandas dtype of each column when the whole file is read at once. Integers
    (and booleans) convert to float (object) only when the column holds a missing value,
    so a batch without one would get another dtype than the file, and hash, validate and
    print ("line 3.0") differently: every frame given here has these dtypes.
    """

    path: Path
    dtypes: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> TableFile:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        _require(path)
        with pq.ParquetFile(path) as file:
            schema = file.schema_arrow
            nullable = pa.schema([field.with_nullable(True) for field in schema], schema.metadata)
            without_nulls = schema.empty_table().to_pandas().dtypes
            with_nulls = pa.Table.from_pylist([{}], schema=nullable).to_pandas().dtypes
            dtypes = {}
            for name in without_nulls.index:
                differs = without_nulls[name] != with_nulls[name]
                nulls = differs and _has_nulls(file, name)
                dtypes[name] = with_nulls[name] if nulls else without_nulls[name]
        return cls(path, dtypes)

    def batches(self) -> Iterator[Any]:
        """The file's rows as pyarrow record batches of at most READ_BATCH_ROWS rows."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            yield from file.iter_batches(batch_size=READ_BATCH_ROWS, use_threads=False)

    def frame(self, batch: Any) -> pd.DataFrame:
        """`batch` (of this file) as a frame with the file's dtypes."""
        frame = batch.to_pandas()
        dtypes = frame.dtypes
        differ = {
            name: self.dtypes[name] for name in frame.columns if dtypes[name] != self.dtypes[name]
        }
        return frame.astype(differ) if differ else frame

    def frames(self) -> Iterator[pd.DataFrame]:
        """The file's rows, a frame (READ_BATCH_ROWS rows) at a time."""
        for batch in self.batches():
            yield self.frame(batch)

    def chunks(self, chunk_of: Mapping[str, int], sizes: list[int]) -> Iterator[pd.DataFrame]:
        """The rows whose product_id is in `chunk_of`, one frame per chunk in chunk order (a
        chunk's rows in file order); `sizes`: how many rows each chunk has.

        A chunk is given as soon as its last row is read: while the file lists the products
        in chunk order (the work files do), no more than a chunk and a batch are held. Rows
        are picked in Arrow and a chunk converted to pandas once.
        """
        import pyarrow as pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        if not sizes:
            return
        ids = pa.array(list(chunk_of), pa.string())
        chunk_at = np.fromiter(chunk_of.values(), np.int64, len(chunk_of))
        parts: dict[int, list[Any]] = {}
        missing = list(sizes)
        done = 0
        for batch in self.batches():
            found = pc.index_in(batch.column("product_id").cast(pa.string()), value_set=ids)
            if found.null_count < len(found):
                chunk = np.where(
                    found.is_valid().to_numpy(zero_copy_only=False),
                    chunk_at[found.fill_null(0).to_numpy()],
                    -1,
                )
                for number in np.unique(chunk[chunk >= 0]).tolist():
                    part = batch.filter(pa.array(chunk == number))
                    parts.setdefault(number, []).append(part)
                    missing[number] -= part.num_rows
            del batch
            while done < len(sizes) and missing[done] <= 0:
                yield self._joined(parts.pop(done, []))
                done += 1
        for left in range(done, len(sizes)):  # rows that were not there after all
            yield self._joined(parts.pop(left, []))

    def _joined(self, parts: list[Any]) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(self.path)
        return self.frame(
            pa.Table.from_batches(parts, schema=schema) if parts else schema.empty_table()
        )


def _has_nulls(file: Any, name: str) -> bool:
    """Whether column `name` of the parquet `file` holds a missing value (from the file's
    statistics, or by reading the column if they do not say)."""
    meta = file.metadata
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            chunk = meta.row_group(group).column(column)
            if chunk.path_in_schema != name:
                continue
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:
                return bool(file.read(columns=[name], use_threads=False).column(0).null_count)
            if stats.null_count:
                return True
    return False


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of `frame` (of its values, whatever the index)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)


@dataclass(frozen=True)
class ProductKeys:
    """What one pass over the inputs learns (`product_keys`)."""

    #: product_id -> key, in products order.
    keys: dict[str, str]
    #: Every product row's product_id, in order.
    product_ids: list[str]
    #: product_id -> how many nutrient rows the product has.
    label_rows: dict[str, int]


def product_keys(
    products: Iterable[pd.DataFrame], nutrients: Iterable[pd.DataFrame], salt: str
) -> ProductKeys:
    """Per product, a key: a hash of `salt`, the product's row and its nutrient rows (in
    order). The tables come in frames (any split: a row hashes the same in any frame), so
    only the hashes are held: 8 bytes a row.

    Values hash by dtype (a column whose dtype changes, say integers that gain a missing
    value, changes every key: everything is validated again, never wrongly reused).
    """
    index: dict[str, int] = {}  # product_id -> its number, in order of first nutrient row
    owners: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    for frame in nutrients:
        local, ids = pd.factorize(frame["product_id"])  # -1: no product
        number = [index.setdefault(pid, len(index)) for pid in ids.tolist()]
        owners.append(np.array([*number, -1], dtype=np.int64)[local])
        hashes.append(_row_hashes(frame))
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    order = np.argsort(owner, kind="stable")  # each product's rows together, in table order
    row_hashes = (np.concatenate(hashes) if hashes else np.zeros(0, np.uint64))[order]
    bounds = np.searchsorted(owner[order], np.arange(len(index) + 1))
    del owners, hashes, owner, order

    salted = hashlib.sha256(f"{len(salt)}:{salt}".encode())
    keys: dict[str, str] = {}
    product_ids: list[str] = []
    for frame in products:
        for pid, value in zip(
            frame["product_id"].tolist(), _row_hashes(frame).tolist(), strict=True
        ):
            digest = salted.copy()
            digest.update(value.to_bytes(8, "little"))
            if (rows := index.get(pid)) is not None:
                digest.update(row_hashes[bounds[rows] : bounds[rows + 1]].tobytes())
            keys[pid] = digest.hexdigest()
            product_ids.append(pid)
    counts = np.diff(bounds).tolist()
    return ProductKeys(keys, product_ids, {pid: counts[i] for pid, i in index.items()})


def _chunk_plan(
    product_ids: Iterable[str], reused: set[str], size: int
) -> tuple[dict[str, int], list[int]]:
    """Which chunk each product to validate is in (consecutive products, `size` to a
    chunk), and how many product rows each chunk has."""
    chunk_of: dict[str, int] = {}
    sizes: list[int] = []
    for pid in product_ids:
        if pid in reused:
            continue
        if pid not in chunk_of:
            chunk_of[pid] = len(chunk_of) // size
            if chunk_of[pid] == len(sizes):
                sizes.append(0)
        sizes[chunk_of[pid]] += 1
    return chunk_of, sizes


def _finding_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        record["blocking"] = bool(record["blocking"])
        record["line_no"] = None if pd.isna(record["line_no"]) else int(record["line_no"])
        records.append({str(k): v for k, v in record.items()})
    return records


def _kept_outcomes(path: Path, reused: set[str]) -> pd.DataFrame:
    """The outcomes of the `reused` products from the last validation."""
    if not reused:
        return pd.DataFrame([], columns=OUTCOME_COLUMNS)
    before = pd.read_parquet(path, columns=OUTCOME_COLUMNS)
    return before[before["product_id"].isin(reused)]


def _kept_findings(path: Path, reused: set[str]) -> list[dict[str, Any]]:
    """The data-quality findings of the `reused` products from the last validation (read
    issues are recomputed every time)."""
    if not reused:
        return []
    before = pd.read_parquet(path)
    return _finding_records(before[before["product_id"].isin(reused) & (before["check"] != "read")])


def _kept_compliance(path: Path, reused: set[str]) -> list[dict[str, Any]]:
    """The compliance findings of the `reused` products from the last validation."""
    if not reused or not path.exists():
        return []
    before = pd.read_parquet(path)
    records = before[before["product_id"].isin(reused)].astype(object)
    records = records.where(records.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in records.to_dict("records")]


def ordered_outcomes(product_ids: pd.Series, parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The outcomes in `parts`, product by product in the order of `product_ids` (outcomes
    of other products are left out) and each product's in CHECKS order; `passed` is True,
    False or None."""
    outcomes = pd.concat([part[OUTCOME_COLUMNS] for part in parts], ignore_index=True)
    if outcomes.empty:
        return pd.DataFrame([], columns=OUTCOME_COLUMNS)
    # Positions as sort keys (-1: not a product, or not a check).
    position = pd.Index(product_ids.unique()).get_indexer(pd.Index(outcomes["product_id"]))
    rank = pd.Index(list(CHECKS)).get_indexer(pd.Index(outcomes["check"]))
    order = np.lexsort((rank, position))
    outcomes = outcomes.take(order[position[order] >= 0]).reset_index(drop=True)
    passed = outcomes["passed"].astype(object)
    outcomes["passed"] = passed.where(passed.notna(), None)
    return outcomes


def _labelaudit(validated: int, reused: int, chunks: int) -> dict[str, Any]:
    """What a GX result file holds (its first key, "labelaudit")."""
    return {
        "validated_products": validated,
        "reused_products": reused,
        "chunks": chunks,
        "chunk_products": VALIDATE_CHUNK_PRODUCTS,
        "note": (
            "this file holds the Great Expectations results of the products validated in "
            "this run, validated in chunks of at most chunk_products products (one GX run "
            "per suite and chunk): 'results' lists every expectation result of every run in "
            "turn (each counts the rows of its own chunk), 'runs' sums up each run (its chunk, "
            "products, the range of 'results' it gave, its statistics); the outcomes and "
            "findings of the other products (inputs unchanged since they were validated) "
            "were reused"
        ),
    }


def _indented_json(value: Any, level: int) -> str:
    """`value` as JSON indented by 2, to sit `level` levels deep in an indented document."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.replace("\n", "\n" + "  " * level)  # JSON strings hold no raw newline


def result_file_text(
    labelaudit: Mapping[str, Any], runs: Iterable[tuple[Mapping[str, Any], dict[str, Any]]]
) -> Iterator[str]:
    """A GX result file, piece by piece: {"labelaudit": ..., "results": [every expectation
    result of every run, in turn], "runs": [per run: `about` it, "result_range" (its slice of
    "results") and the rest of its GX result (success, statistics, suite_name, meta)]}.

    `runs` gives each run's `about` and its GX result as a JSON dict (whose "results" are
    taken out of it): only one run's result is held at a time.
    """
    yield '{\n  "labelaudit": ' + _indented_json(labelaudit, 1) + ',\n  "results": ['
    summaries: list[dict[str, Any]] = []
    count = 0
    for about, result in runs:
        results = result.pop("results", [])
        summaries.append({**about, "result_range": [count, count + len(results)], **result})
        for item in results:
            yield ("," if count else "") + "\n    " + _indented_json(item, 2)
            count += 1
        del results, result
    yield ("\n  " if count else "") + '],\n  "runs": ' + _indented_json(summaries, 1) + "\n}\n"


def _release_arrow_memory() -> None:
    """Give back to the system what pyarrow's allocator keeps of memory freed since (it
    keeps freed blocks for reuse, and streaming the inputs frees many)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


@contextlib.contextmanager
def _between_chunks() -> Iterator[Callable[[], None]]:
    """A function to call between two chunks: it collects the last chunk's garbage (GX
    results and validators hold reference cycles, which only the cyclic collector frees,
    and it would run too seldom to keep the memory from growing chunk after chunk).

    The first call also freezes what survives it (GX's modules and context: a quarter of a
    million objects, which would make every collection take ~0.1 s) until the block ends,
    so the later ones take milliseconds. Left alone if the process froze objects itself.
    """
    frozen = False

    def collect() -> None:
        nonlocal frozen
        gc.collect()
        _release_arrow_memory()
        if not frozen and gc.get_freeze_count() == 0:
            gc.freeze()
            frozen = True

    try:
        yield collect
    finally:
        if frozen:
            gc.unfreeze()


def _protocol_runs(
    chunks: Iterable[pd.DataFrame],
    protocol: Protocol,
    validator: Validator | None,
    outcomes: list[pd.DataFrame],
    between_chunks: Callable[[], None],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The protocol suite over each chunk of products in turn: appends the chunk's
    outcomes to `outcomes` and gives what the run was about and its GX result."""
    for number, products in enumerate(chunks, start=1):
        if number > 1:
            between_chunks()
        validator = validator or Validator()
        found, result = products_to_outcomes(products.reset_index(drop=True), protocol, validator)
        outcomes.append(found)
        yield {"chunk": number, "products": len(products)}, result
        del found, result, products


#: What a suite pair is run with: a chunk's nutrient rows and products and the validator ->
#: its findings and the GX results of its row and product suites.
FindingsOf = Callable[
    [pd.DataFrame, pd.DataFrame, Validator], tuple[list[dict[str, Any]], dict[str, Any]]
]


def _suite_runs(
    find: FindingsOf,
    result_keys: tuple[str, str],
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
    validator: Validator | None,
    findings: list[dict[str, Any]],
    between_chunks: Callable[[], None],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """A row suite and a product suite (`find`: the data-quality suites, or the compliance
    rule pack's) over each chunk (its products and their nutrient rows) in turn: adds the
    chunk's findings to `findings` and gives what each of its two runs was about and its GX
    result (`result_keys`: the row suite's and the product suite's key in `find`'s results)."""
    rows_key, products_key = result_keys
    for number, (products, rows) in enumerate(chunks, start=1):
        if number > 1:
            between_chunks()
        validator = validator or Validator()
        about = {"chunk": number, "products": len(products)}
        found, results = find(
            rows.reset_index(drop=True), products.reset_index(drop=True), validator
        )
        findings.extend(found)
        yield {**about, "label_rows": len(rows)}, results.pop(rows_key)
        yield about, results.pop(products_key)
        del found, results, products, rows


def validate_work(job: ValidationJob, validator: Validator | None = None) -> dict[str, int]:
    """The validate stage over a work folder, incrementally, a chunk of products at a time.

    A product whose key (`product_keys`) is the one recorded when it was last validated
    keeps its outcomes and data-quality findings; Great Expectations runs only over the
    other products and their nutrient rows (and is not imported when there are none), in
    chunks of at most VALIDATE_CHUNK_PRODUCTS products: the protocol suite over each chunk,
    then the data-quality suites over each chunk's rows and products. With `job.full` or a
    docs folder, every product is validated (and Data Docs get a page per suite and
    chunk). Read-issue findings are recomputed every time. Writes the two GX result files
    (streamed as each chunk finishes, see `result_file_text`), outcomes.parquet,
    data_quality.parquet (with `line_no`) and the state; returns counts.
    `validator`: a GX context made beforehand (not used when the job renders Data Docs).
    """
    from pipeline.config import WorkPaths
    from pipeline.runs import atomic_write_chunks, atomic_write_parquet, atomic_write_text

    work = WorkPaths(Path(job.work_root))
    state_path = work.root / STATE_FILE
    read_issues = _read_table(work.read_issues)
    products, nutrients = TableFile.open(work.products), TableFile.open(work.nutrients)
    found = product_keys(products.frames(), nutrients.frames(), job.salt)
    _release_arrow_memory()

    previous: dict[str, str] = {}
    if not job.full and job.docs_dir is None:
        previous = _previous_state(state_path, [work.outcomes, work.data_quality, work.compliance])
    reused = {pid for pid, key in found.keys.items() if previous.get(pid) == key}
    del previous
    old_outcomes = _kept_outcomes(work.outcomes, reused)
    old_findings = _kept_findings(work.data_quality, reused)
    old_compliance = _kept_compliance(work.compliance, reused)
    state_path.unlink(missing_ok=True)

    chunk_of, product_sizes = _chunk_plan(found.product_ids, reused, VALIDATE_CHUNK_PRODUCTS)
    row_sizes = [0] * len(product_sizes)
    for pid, chunk in chunk_of.items():
        row_sizes[chunk] += found.label_rows.get(pid, 0)
    if product_sizes:  # (GX is imported only now)
        docs_dir = None if job.docs_dir is None else Path(job.docs_dir)
        validator = Validator(docs_dir=docs_dir) if docs_dir else validator or Validator()

    new_outcomes: list[pd.DataFrame] = []
    new_findings: list[dict[str, Any]] = []
    new_compliance: list[dict[str, Any]] = []
    validated, kept = sum(product_sizes), len(reused)
    labelaudit = _labelaudit(validated, kept, len(product_sizes))
    with _between_chunks() as between_chunks:
        protocol_runs = _protocol_runs(
            products.chunks(chunk_of, product_sizes),
            job.protocol,
            validator,
            new_outcomes,
            between_chunks,
        )
        quality_runs = _suite_runs(
            gx_findings,
            ("rows", "products"),
            zip(
                products.chunks(chunk_of, product_sizes),
                nutrients.chunks(chunk_of, row_sizes),
                strict=True,
            ),
            validator,
            new_findings,
            between_chunks,
        )
        compliance_runs = _suite_runs(
            compliance_findings,
            ("row", "product"),
            zip(
                products.chunks(chunk_of, product_sizes),
                nutrients.chunks(chunk_of, row_sizes),
                strict=True,
            ),
            validator,
            new_compliance,
            between_chunks,
        )
        atomic_write_chunks(
            [
                (work.gx_protocol_result, result_file_text(labelaudit, protocol_runs)),
                (work.gx_data_quality_result, result_file_text(labelaudit, quality_runs)),
                (work.gx_compliance_result, result_file_text(labelaudit, compliance_runs)),
            ]
        )
        if len(product_sizes) > 1:  # the last chunk's garbage too (cheap once frozen)
            between_chunks()
    outcomes = ordered_outcomes(pd.Series(found.product_ids), [old_outcomes, *new_outcomes])
    del old_outcomes, new_outcomes
    read = _read_findings_of(work.products, read_issues)
    findings = findings_frame([*read, *old_findings, *new_findings])
    atomic_write_parquet(work.outcomes, outcomes)
    atomic_write_parquet(work.data_quality, findings)
    atomic_write_parquet(work.compliance, compliance_frame([*old_compliance, *new_compliance]))
    atomic_write_text(
        state_path,
        state_text(job.salt, found.keys, [work.outcomes, work.data_quality, work.compliance]),
    )
    return {
        "products_validated": validated,
        "products_reused": kept,
        "label_rows_validated": sum(row_sizes),
    }


def _read_findings_of(products_path: Path, read_issues: pd.DataFrame) -> list[dict[str, Any]]:
    """`read_findings`, reading the products' columns it needs only if there are issues."""
    if read_issues.empty:
        return []
    products = _read_table(products_path, ["source_file", "label_index", "product_id"])
    return read_findings(products, read_issues)


def _require(path: Path) -> None:
    from pipeline.errors import AuditError

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")


def _read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    _require(path)
    return pd.read_parquet(path, columns=columns)


def _state_checksum(state: Mapping[str, Any]) -> str:
    fields = {k: v for k, v in state.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


def state_text(salt: str, keys: Mapping[str, str], outputs: Iterable[Path]) -> str:
    """validation_state.json: the salt, each product's key, the sha256 of the outputs the
    keys' results are in (outcomes.parquet, data_quality.parquet) and a checksum of all
    that: a later run reuses results only from those very files."""
    from pipeline.runs import file_digest

    state: dict[str, Any] = {
        "salt": salt,
        "products": dict(keys),
        "outputs": {path.name: file_digest(path) for path in outputs},
    }
    state["sha256"] = _state_checksum(state)
    return json.dumps(state) + "\n"


def _previous_state(state_path: Path, outputs: Iterable[Path]) -> dict[str, str]:
    """The keys recorded by the last validation, if it and its outputs are all there, the
    state matches its checksum and the outputs are the files it was written with (else
    nothing is reused: a warning says why, when a file is there but wrong)."""
    from pipeline.runs import file_digest

    outputs = list(outputs)
    if not all(p.exists() for p in outputs):
        return {}
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        products = state["products"]
        written = state["outputs"]
        sound = state["sha256"] == _state_checksum(state)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        sound, products, written = False, None, {}
    if not sound or not isinstance(products, dict) or not isinstance(written, dict):
        log.warning("%s is damaged: every product is validated again", state_path.name)
        return {}
    for path in outputs:
        if written.get(path.name) != file_digest(path):
            log.warning(
                "%s is not the file %s was written with (damaged or replaced): every "
                "product is validated again",
                path.name,
                state_path.name,
            )
            return {}
    return products


def conversions_used() -> list[dict[str, str]]:
    """The conversion factors, for the methodology section."""
    out = [
        {"from": "1 g", "to": "1000 mg"},
        {"from": "1 mg", "to": "1000 mcg (mcg = µg = ug)"},
    ]
    labels = {
        "vitamin_d": "1 IU vitamin D",
        "vitamin_a_retinol": "1 IU vitamin A (retinol)",
        "vitamin_e_natural": "1 IU vitamin E (natural, d-alpha)",
        "vitamin_e_synthetic": "1 IU vitamin E (synthetic, dl-alpha)",
    }
    for key, factor in IU_TO_MCG.items():
        to = f"{factor:g} mcg" if factor < 100 else f"{factor / 1000:g} mg"
        out.append({"from": labels[key], "to": to + (" RAE" if "vitamin_a" in key else "")})
    out.append({"from": "1 IU vitamin A (beta-carotene)", "to": "not converted: disputed factor"})
    return out


def daily_values() -> Iterable[dict[str, str]]:
    for key in (nt.CALCIUM, nt.MAGNESIUM, nt.VITAMIN_K2, nt.VITAMIN_D):
        info = nt.NUTRIENTS[key]
        name = "Vitamin K" if key == nt.VITAMIN_K2 else info.display
        yield {
            "nutrient": name,
            "current": f"{info.dv_current:g} {info.unit}",
            "older": f"{info.dv_older:g} {info.unit}",
        }


def main() -> int:
    """`python -m pipeline.validate`: imports Great Expectations at once, then reads a
    pickled ValidationJob on stdin (nothing: exit, it was not needed after all) and writes
    one JSON line on stdout: {"counts": ...} or {"error": "<one line>", "tb": "<traceback>"}.

    The audit runs the stage this way on large inputs (pipeline.audit.ValidationProcess):
    GX's import overlaps the audit's extraction and normalization, and its memory goes
    with the process before the report is built."""
    import pickle
    import sys
    import traceback

    from pipeline.errors import AuditError

    # The module's own names, not this __main__ copy's (the job's classes are the module's).
    from pipeline.validate import Validator as ModuleValidator
    from pipeline.validate import validate_work as run

    import_error: BaseException | None = None
    validator = None
    # Importing GX makes ~250,000 objects that live as long as this process: collecting
    # cycles among them while importing is wasted work, and later collections need not
    # scan them either (frozen). The audit starts this process with the collector already
    # off, for pandas' import too (pipeline.audit.VALIDATION_PROCESS_CODE).
    gc.disable()
    try:
        import pipeline.expectations  # noqa: F401  (GX and the suites)

        validator = ModuleValidator()
    except Exception as exc:  # reported when the job comes
        import_error = exc
    finally:
        gc.freeze()
        gc.enable()
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    data = sys.stdin.buffer.read()
    if not data:
        return 0
    try:
        if import_error is not None:
            raise import_error
        answer: dict[str, Any] = {"counts": run(pickle.loads(data), validator)}
    except AuditError as exc:
        answer = {"error": str(exc), "tb": traceback.format_exc()}
    except Exception as exc:
        said = " ".join(str(exc).split())  # one line
        answer = {"error": f"validate: {type(exc).__name__}: {said}", "tb": traceback.format_exc()}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
