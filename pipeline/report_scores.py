"""The report step's scoring: score and rank the products, scoring again only those that
changed since the last run.

A product's score, verdict, reason and checks depend on its product row, its outcomes
and its data-quality findings and on the protocol (pipeline.score), all of which its
report key covers (pipeline.audit._product_keys). The scored results of every product are
kept in the work folder (`SCORES_FILE`, one row per check, with the product's key and the
report code's version) and a product whose key is the one kept is not scored again; the
ranking is then made over all of them (pipeline.score.rank_products), so ranks are always
those of a run that scores everything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.infra.atomic import atomic_write_table
from pipeline.normalize import internal_error_reason
from pipeline.protocol import Protocol
from pipeline.records import Rejection
from pipeline.report_inputs import CHECKS_TYPES, EMPTY_RANKING_DTYPES, _cast_nulls
from pipeline.score import (
    CHECK_COLUMNS,
    SCORE_INPUT_COLUMNS,
    SCORED_COLUMNS,
    rank_products,
    score_products,
)

log = logging.getLogger(__name__)

#: The kept scored results, in the work folder.
SCORES_FILE = "report_scores.parquet"
#: Products scored at a time (as pandas objects only while scored).
SCORE_GROUP_PRODUCTS = 1000
_SALT = b"labelaudit.salt"


def _kept(
    path: Path, products: pa.Table, keys: Mapping[str, str] | None, salt: str
) -> tuple[pd.DataFrame, pa.Table]:
    """The kept (scored rows, checks) of the products in `products` whose key is the
    one they were kept with; none when the file is missing, unreadable or of other code."""
    empty = (pd.DataFrame(columns=SCORED_COLUMNS), pa.table({}))
    if keys is None or not path.exists():
        return empty
    try:
        table = pq.read_table(path)
        if (table.schema.metadata or {}).get(_SALT) != salt.encode():
            return empty
        ids = products.column("product_id")
        current = pa.array([keys.get(pid) for pid in ids.to_pylist()], pa.string())
        position = pc.index_in(table.column("product_id"), value_set=ids)
        same = pc.equal(table.column("key"), pc.take(current, position))
        table = table.filter(pc.fill_null(same, False))
        codes = pc.dictionary_encode(table.column("product_id")).combine_chunks().indices
        _, first = np.unique(codes.to_numpy(zero_copy_only=False), return_index=True)
        rows = table.select(SCORED_COLUMNS).take(pa.array(np.sort(first))).to_pylist()
        # as pipeline.score.score_products makes them (the same column types)
        scored = pd.DataFrame(rows, columns=SCORED_COLUMNS)
        checks = table.select(CHECK_COLUMNS)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        log.warning("report: the kept scores %s cannot be read (%s): all are scored", path, exc)
        return empty
    scored["score"] = scored["score"].astype(float)
    return scored.reset_index(drop=True), checks


def _keep(
    path: Path,
    scored: pd.DataFrame,
    checks: pa.Table,
    keys: Mapping[str, str] | None,
    salt: str,
) -> None:
    """Keep every product's scored results with its key (products without one are not)."""
    if keys is None or not checks.num_rows:
        path.unlink(missing_ok=True)
        return
    rows = pa.Table.from_pandas(scored[SCORED_COLUMNS], preserve_index=False)
    at = pc.index_in(checks.column("product_id"), value_set=rows.column("product_id"))
    table = checks.select(CHECK_COLUMNS)
    for name in SCORED_COLUMNS[1:]:
        table = table.append_column(name, pc.take(rows.column(name), at))
    ids = table.column("product_id").to_pylist()
    table = table.append_column("key", pa.array([keys.get(pid) for pid in ids], pa.string()))
    table = table.filter(pc.is_valid(table.column("key")))
    try:
        atomic_write_table(path, table.replace_schema_metadata({_SALT: salt.encode()}))
    except OSError as exc:  # kept for speed only: the next run scores everything
        log.warning("report: cannot keep the scores in %s (%s)", path, exc)


def scores_salt(report_version: str, protocol: Protocol) -> str:
    """What kept scores are valid for: the report's code version (it covers this module,
    pipeline.score and the rules: `pipeline.infra.versions.STAGES`) and the protocol."""
    return f"{report_version} {protocol!r}"


def score_all(
    products: pa.Table,
    outcomes: pa.Table,
    findings: pd.DataFrame,
    protocol: Protocol,
    *,
    keys: Mapping[str, str] | None = None,
    kept: Path | None = None,
    salt: str = "",
) -> tuple[pd.DataFrame, pa.Table, list[Rejection], int]:
    """Score the products a group at a time (pipeline.score.score_products), those whose
    results are `kept` (with their `keys`) taken from there, then rank them all. Returns
    the ranking, the checks, the products that could not be scored (`_scored`) and how
    many products were scored."""
    kept_scored, kept_checks = (
        _kept(kept, products, keys, salt) if kept is not None else (None, None)
    )
    scored: list[pd.DataFrame] = []
    checks: list[pa.Table] = []
    if kept_scored is not None and len(kept_scored):
        scored.append(kept_scored)
        checks.append(kept_checks)
        done = pa.array(kept_scored["product_id"].tolist(), pa.string())
        products = products.filter(pc.invert(pc.is_in(products.column("product_id"), done)))
    failed: list[Rejection] = []
    # no product at all: one empty group, for the typed empty tables it gives
    groups = max(products.num_rows, 0 if scored else 1)
    for start in range(0, groups, SCORE_GROUP_PRODUCTS):
        group = products.slice(start, SCORE_GROUP_PRODUCTS)
        ids = group.column("product_id")
        mine = outcomes.filter(pc.is_in(outcomes.column("product_id"), value_set=ids))
        their_findings = findings[findings["product_id"].isin(ids.to_pylist())]
        inputs = group.select([*SCORE_INPUT_COLUMNS, "source_file"]).to_pylist()
        for group_scored, group_checks in _scored(
            inputs, mine.to_pandas(), their_findings, protocol, failed
        ):
            scored.append(group_scored)
            checks.append(pa.Table.from_pandas(group_checks, preserve_index=False))
    every = pd.concat(scored, ignore_index=True)
    ranking = rank_products(every)
    if ranking.empty:  # no product: typed columns all the same
        ranking = ranking.astype(EMPTY_RANKING_DTYPES)
    all_checks = _cast_nulls(pa.concat_tables(checks, promote_options="permissive"), CHECKS_TYPES)
    if kept is not None:
        _keep(kept, every, all_checks, keys, salt)
    return ranking, all_checks, failed, products.num_rows


def _scored(
    products: list[dict[str, Any]],
    outcomes: pd.DataFrame,
    findings: pd.DataFrame,
    protocol: Protocol,
    failed: list[Rejection],
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """`score_products` of a group, so that an internal error in one product loses only
    that product: if the group fails, each product is scored on its own, and one that still
    fails is added to `failed` (a rejection of its file, naming the product and the error)."""
    try:
        return [score_products(products, outcomes, findings, protocol)]
    except Exception:
        log.warning(
            "report: scoring a group failed; scoring its products one by one", exc_info=True
        )
    results = []
    for product in products:
        pid = product["product_id"]
        try:
            results.append(
                score_products(
                    [product],
                    outcomes[outcomes["product_id"] == pid],
                    findings[findings["product_id"] == pid],
                    protocol,
                )
            )
        except Exception as exc:
            log.error("report: product %s: %s", pid, exc, exc_info=True)
            reason = internal_error_reason("scoring", exc)
            name = product.get("product_name")
            source_file = str(product.get("source_file"))
            failed.append(Rejection(source_file, f"product {name!r}: {reason}"))
    return results
