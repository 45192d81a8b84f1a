"""Validate stage: run the Great Expectations suites over the products, a chunk at a time.

`products_to_outcomes` runs the protocol suite over a products table and reads per-product
outcomes from the result (result_format COMPLETE, unexpected rows named by product_id).
pipeline.quality runs the data-quality suites over the nutrient rows and the products and
turns every unexpected row into a finding a reader can act on.

`validate_work` is the stage over a work folder. Every expectation is row-wise, so a
product's outcomes and findings depend on its own rows only: a product whose rows (and the
code and protocol) are unchanged since it was last validated keeps its results, and the
suites run over the other products (all of them on a first run, with `--full` or
`--data-docs`), in chunks of at most VALIDATE_CHUNK_PRODUCTS products with their nutrient
rows; the outcomes and findings are the same as from one run over them all. The memory
stays about flat however many products there are: products.parquet and nutrients.parquet
are read a batch at a time (pipeline.infra.parquet_batches.TableFile: to hash the rows,
then to gather each chunk's),
every GX run is forgotten by GX once its result is read, and the GX result files
(protocol, data quality, and the compliance rule pack's: pipeline.compliance, whose findings
go to compliance.parquet) are written as each chunk finishes. They hold this run's results:
a "labelaudit" block (products validated and reused, chunks), every expectation result of
every chunk ("results") and one summary per GX run ("runs"). On large inputs the audit
runs `validate_work` in a process of its own (pipeline.infra.validation; `warm_up` is what
that process does while it waits for the job).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from pipeline import nutrients as nt
from pipeline.compliance import compliance_findings
from pipeline.compliance import sorted_table as sorted_compliance
from pipeline.compliance import write_findings as write_compliance
from pipeline.config import WorkPaths
from pipeline.finding_columns import (
    COMPLIANCE_SCHEMA,
    QUALITY_SCHEMA,
    FindingColumns,
    compact,
    member_of,
    position_in,
    read_compact,
)
from pipeline.infra.atomic import (
    atomic_write_cast,
    atomic_write_chunks,
    atomic_write_parquet,
    atomic_write_text,
)
from pipeline.infra.gx import Validator, result_json, unexpected
from pipeline.infra.jsonstream import result_file_text
from pipeline.infra.memory import between_chunks, fix_mmap_threshold, release_arrow_memory
from pipeline.infra.parquet_batches import TableFile, require
from pipeline.infra.stages import previous_keys, state_text
from pipeline.protocol import Protocol
from pipeline.quality import gx_findings, read_findings, sorted_findings
from pipeline.rules import protocol as rules
from pipeline.rules.protocol import CHECKS
from pipeline.units import IU_TO_MCG
from pipeline.validation_keys import ProductKeys, chunk_plan, keys_by_file

log = logging.getLogger(__name__)

OUTCOME_COLUMNS = ["product_id", "check", "passed"]


# ---- protocol ---------------------------------------------------------------------------------


def protocol_table(products: pd.DataFrame) -> pd.DataFrame:
    """The columns the protocol suite reads (pipeline.rules.protocol.protocol_table)."""
    return rules.protocol_table(products)


def products_to_outcomes(
    products: pd.DataFrame, protocol: Protocol, validator: Validator | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per product and check: passed True/False/None (None: the check did not apply)."""
    # Imports GX (~2 s, pipeline.infra.gx): only when a suite runs, not with this module.
    from pipeline import expectations as ex

    validator = validator or Validator()
    table = protocol_table(products)
    result = validator.run(ex.protocol_suite(protocol), table, ["product_id"])
    return _outcomes(table, result.results), result_json(result)


def _outcomes(table: pd.DataFrame, results: Iterable[Any]) -> pd.DataFrame:
    """The outcomes of the protocol suite's expectation `results` over `table`, product by
    product (in table order) and each product's checks in CHECKS order, a column at a
    time: a check failed a product an expectation of it names (GX's unexpected rows),
    else passed it if one evaluated it (a not-null expectation evaluates every product,
    the others those with a value in their column), else did not apply (None)."""
    if table.empty:
        return pd.DataFrame([], columns=OUTCOME_COLUMNS)
    product_ids = table["product_id"].to_numpy(dtype=object)
    failed: dict[str, set[Any]] = {check: set() for check in CHECKS}
    evaluated = {check: np.zeros(len(table), dtype=bool) for check in CHECKS}
    for res in results:
        config = res.expectation_config
        check = config.meta["check"]
        if config.type == "expect_column_values_to_not_be_null":
            evaluated[check][:] = True
        else:
            evaluated[check] |= table[config.kwargs["column"]].notna().to_numpy()
        failed[check].update(unexpected(res))

    def named(ids: set[Any]) -> np.ndarray:
        """Which rows' product_id is in `ids` (a set: Series.isin of a str column converts
        every value to an Arrow scalar)."""
        return np.fromiter((pid in ids for pid in product_ids), bool, len(product_ids))

    passed = np.full((len(table), len(CHECKS)), None, dtype=object)
    for n, check in enumerate(CHECKS):
        # by product_id, as GX names the rows (a product's every row alike)
        passed[named(set(product_ids[evaluated[check]].tolist())), n] = True
        passed[named(failed[check]), n] = False
    return pd.DataFrame(
        {
            "product_id": np.repeat(product_ids, len(CHECKS)).tolist(),
            "check": list(CHECKS) * len(table),
            "passed": passed.ravel().tolist(),
        },
        columns=OUTCOME_COLUMNS,
    )


# ---- data quality -------------------------------------------------------------------------------


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
#: every unexpected row) and every run costs a fixed ~0.2 s (GX's per-expectation set-up),
#: the five suite runs of a chunk ~1 s. CPU and peak RSS of a full `validate_work` over
#: 9,938 products (GX imported beforehand: ~281 MB): chunks of 1,000: 20.9 s, 378 MB;
#: 2,500: 12.9 s, 379 MB; 5,000: 10.8 s, 426 MB; all in one: 10.4 s, 518 MB. Measured
#: again (2026-12-02, the bench's 10,000-label zip, 9,938 products, load 7-10, so CPU is
#: inflated): 2,500: 14.5 s, peak RSS 293 MB; 5,000: 11.2 s, 338 MB (warmed up: 199 MB).
#: Validation is on the audit's critical path (the main process waits for it): 5,000.
VALIDATE_CHUNK_PRODUCTS = 5000


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of `frame` (of its values, whatever the index)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)


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
    keys: list[str] = []
    product_ids: list[str] = []
    for frame in products:
        for pid, value in zip(
            frame["product_id"].tolist(), _row_hashes(frame).tolist(), strict=True
        ):
            digest = salted.copy()
            digest.update(value.to_bytes(8, "little"))
            if (rows := index.get(pid)) is not None:
                digest.update(row_hashes[bounds[rows] : bounds[rows + 1]].tobytes())
            keys.append(digest.hexdigest())
            product_ids.append(pid)
    return ProductKeys.of_rows(
        pa.array(product_ids, pa.string()),
        pa.array(keys, pa.string()),
        pa.array(list(index), pa.string()),
        pa.array(np.diff(bounds), pa.int64()),
    )


#: outcomes.parquet's columns, as the stage holds them while it runs (`compact_outcomes`).
OUTCOMES_SCHEMA = pa.schema(
    [("product_id", pa.string()), ("check", pa.string()), ("passed", pa.bool_())]
)


def _kept_outcomes(path: Path, reused: pa.Array) -> pa.Table:
    """The outcomes of the `reused` products from the last validation, compact (as
    `compact_outcomes`: read dictionary-encoded, so that a catalog's eight outcomes a
    product never become eight strings of its id)."""
    if not len(reused):
        return compact(OUTCOMES_SCHEMA.empty_table())
    before = read_compact(path, OUTCOMES_SCHEMA)
    return before.filter(member_of(before["product_id"], reused))


def compact_outcomes(outcomes: pd.DataFrame) -> pa.Table:
    """`outcomes` (a frame of OUTCOME_COLUMNS) as the Arrow table the stage holds while the
    other chunks run: product_id and check dictionary-encoded (a product's id repeats once
    a check: a 40,000-label catalog's 318,000 outcomes take ~4 MB so, 18 MB as strings);
    `ordered_outcomes` orders them and `write_outcomes` writes them."""
    table = pa.Table.from_pandas(outcomes[OUTCOME_COLUMNS], OUTCOMES_SCHEMA, preserve_index=False)
    return compact(table.replace_schema_metadata(None))


def ordered_outcomes(product_ids: pa.Array, parts: Iterable[pa.Table]) -> pa.Table:
    """The outcomes in `parts` (`compact_outcomes` tables), product by product in the order
    of `product_ids` (outcomes of other products are left out) and each product's in
    CHECKS order (an unknown check first), as one compact table (`write_outcomes` writes
    it). Sorted in Arrow on the positions of the dictionary-encoded ids: the strings are
    never copied (a 200,000-label catalog's 1.6 million outcomes held as pandas strings
    took ~260 MB more)."""
    tables = [part.select(OUTCOME_COLUMNS) for part in parts]
    outcomes = pa.concat_tables(tables) if tables else compact(OUTCOMES_SCHEMA.empty_table())
    del tables
    position = position_in(outcomes["product_id"], pc.unique(product_ids))
    rank = position_in(outcomes["check"], pa.array(list(CHECKS), pa.string()))
    keys = pa.table({"position": position, "rank": rank.fill_null(-1)})
    order = pc.sort_indices(keys, sort_keys=[("position", "ascending"), ("rank", "ascending")])
    known = pc.filter(order, pc.is_valid(pc.take(position, order)))
    return outcomes.take(known)


def write_outcomes(path: Path, outcomes: pa.Table) -> None:
    """outcomes.parquet from `ordered_outcomes`, of OUTCOMES_SCHEMA (its text made plain a
    slice at a time: pipeline.infra.atomic.atomic_write_cast); pandas reads it as a frame
    of OUTCOME_COLUMNS whose `passed` is True, False or None."""
    atomic_write_cast(path, outcomes, OUTCOMES_SCHEMA)


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
            "turn (each counts the rows of its own chunk; its unexpected_index_list names the "
            "unexpected rows by product_id, or by row_id for the suites over the nutrient "
            "rows), 'runs' sums up each run (its chunk, "
            "products, the range of 'results' it gave, its statistics); the outcomes and "
            "findings of the other products (inputs unchanged since they were validated) "
            "were reused"
        ),
    }


def _protocol_runs(
    chunks: Iterable[pd.DataFrame],
    protocol: Protocol,
    validator: Validator | None,
    outcomes: list[pa.Table],
    collect: Callable[[], None],
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The protocol suite over each chunk of products in turn: appends the chunk's
    outcomes to `outcomes` and gives what the run was about and its GX result."""
    for number, products in enumerate(chunks, start=1):
        if number > 1:
            collect()
        validator = validator or Validator()
        found, result = products_to_outcomes(products.reset_index(drop=True), protocol, validator)
        outcomes.append(compact_outcomes(found))
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
    findings: FindingColumns,
    collect: Callable[[], None],
    collect_first: bool = False,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """A row suite and a product suite (`find`: the data-quality suites, or the compliance
    rule pack's) over each chunk (its products and their nutrient rows) in turn: adds the
    chunk's findings to `findings` (as columns) and gives what each of its two runs was
    about and its GX result (`result_keys`: the row suite's and the product suite's key in
    `find`'s results). `collect_first`: collect before the first chunk too (the last
    chunk of the suite run before is garbage by then: in a 40,000-label catalog's
    validation, the compliance suite's first chunk started 25-40 MB higher than its others
    without it)."""
    rows_key, products_key = result_keys
    for number, (products, rows) in enumerate(chunks, start=1):
        if number > 1 or collect_first:
            collect()
        validator = validator or Validator()
        about = {"chunk": number, "products": len(products)}
        found, results = find(
            rows.reset_index(drop=True), products.reset_index(drop=True), validator
        )
        findings.add_records(found)
        yield {**about, "label_rows": len(rows)}, results.pop(rows_key)
        yield about, results.pop(products_key)
        del found, results, products, rows


def validate_work(job: ValidationJob, validator: Validator | None = None) -> dict[str, int]:
    """The validate stage over a work folder, incrementally, a chunk of products at a time.

    A product whose key (pipeline.validation_keys.keys_by_file: its file's normalize key;
    `product_keys`, a hash of its rows, when the normalize stage's index does not name the
    tables) is the one recorded when it was last validated
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
    work = WorkPaths(Path(job.work_root))
    state_path = work.root / STATE_FILE
    read_issues = _read_table(work.read_issues)
    products, nutrients = TableFile.open(work.products), TableFile.open(work.nutrients)
    found = keys_by_file(work, job.salt)  # (else every product's rows are hashed)
    if found is None:
        found = product_keys(products.frames(), nutrients.frames(), job.salt)
    release_arrow_memory()

    previous: dict[str, str] = {}
    if not job.full and job.docs_dir is None:
        previous = previous_keys(state_path, [work.outcomes, work.data_quality, work.compliance])
    is_reused = found.reused(previous)
    del previous
    reused = found.ids.filter(pa.array(is_reused))
    old_outcomes = _kept_outcomes(work.outcomes, reused)
    # Read issues are recomputed every time; the kept findings are read as columns, and
    # each chunk's new ones join them as columns (pipeline.finding_columns: memory).
    findings = FindingColumns(QUALITY_SCHEMA)
    findings.add_records(_read_findings_of(work.products, read_issues))
    findings.add_kept(work.data_quality, reused, but_check="read")
    compliance = FindingColumns(COMPLIANCE_SCHEMA)
    compliance.add_kept(work.compliance, reused)
    state_path.unlink(missing_ok=True)

    plan = chunk_plan(found, is_reused, VALIDATE_CHUNK_PRODUCTS)
    product_sizes, row_sizes = list(plan.product_rows), list(plan.label_rows)
    if product_sizes:  # (GX is imported only now)
        docs_dir = None if job.docs_dir is None else Path(job.docs_dir)
        validator = Validator(docs_dir=docs_dir) if docs_dir else validator or Validator()

    new_outcomes: list[pa.Table] = []
    validated, kept = sum(product_sizes), len(reused)
    del reused, is_reused
    labelaudit = _labelaudit(validated, kept, len(product_sizes))
    with between_chunks() as collect_between:
        protocol_runs = _protocol_runs(
            products.chunks(plan.ids, plan.chunk_at, product_sizes),
            job.protocol,
            validator,
            new_outcomes,
            collect_between,
        )

        def chunk_pairs() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
            """Each chunk's products with its nutrient rows (read anew for each suite)."""
            return zip(
                products.chunks(plan.ids, plan.chunk_at, product_sizes),
                nutrients.chunks(plan.ids, plan.chunk_at, row_sizes),
                strict=True,
            )

        quality_runs = _suite_runs(
            gx_findings,
            ("rows", "products"),
            chunk_pairs(),
            validator,
            findings,
            collect_between,
            collect_first=len(product_sizes) > 1,
        )
        compliance_runs = _suite_runs(
            compliance_findings,
            ("row", "product"),
            chunk_pairs(),
            validator,
            compliance,
            collect_between,
            collect_first=len(product_sizes) > 1,
        )
        atomic_write_chunks(
            [
                (work.gx_protocol_result, result_file_text(labelaudit, protocol_runs)),
                (work.gx_data_quality_result, result_file_text(labelaudit, quality_runs)),
                (work.gx_compliance_result, result_file_text(labelaudit, compliance_runs)),
            ]
        )
        if len(product_sizes) > 1:  # the last chunk's garbage too (cheap once frozen)
            collect_between()
    outcomes = ordered_outcomes(found.product_ids, [old_outcomes, *new_outcomes])
    del old_outcomes, new_outcomes
    write_outcomes(work.outcomes, outcomes)
    del outcomes
    release_arrow_memory()
    atomic_write_parquet(work.data_quality, sorted_findings(findings.frame()))
    write_compliance(work.compliance, sorted_compliance(compliance.table()))
    release_arrow_memory()
    atomic_write_text(
        state_path,
        state_text(job.salt, found.key_of(), [work.outcomes, work.data_quality, work.compliance]),
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


def _read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    require(path)
    return pd.read_parquet(path, columns=columns)


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


def warm_up() -> Validator:
    """The validation process's warm-up (pipeline.infra.stage_process): Great Expectations
    and the suites imported, a GX context made; GX's logger quiet afterwards; glibc's mmap
    threshold fixed (pipeline.infra.memory.fix_mmap_threshold: the chunks' buffers are given
    back when freed)."""
    fix_mmap_threshold()
    validator = Validator()
    importlib.import_module("pipeline.expectations")  # GX and the suites
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    return validator
