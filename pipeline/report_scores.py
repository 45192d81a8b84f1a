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

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from pipeline.infra.atomic import ParquetTables
from pipeline.normalize import internal_error_reason
from pipeline.protocol import Protocol
from pipeline.records import Rejection
from pipeline.report_inputs import CHECKS_TYPES, EMPTY_RANKING_DTYPES, _cast_nulls
from pipeline.score import (
    CHECK_COLUMNS,
    SCORE_INPUT_COLUMNS,
    SCORED_COLUMNS,
    columns_frame,
    rank_products,
    score_products,
)

log = logging.getLogger(__name__)

#: The kept scored results, in the work folder.
SCORES_FILE = "report_scores.parquet"
#: Products scored at a time (as pandas objects only while scored).
SCORE_GROUP_PRODUCTS = 1000
#: Rows of the kept scores read at a time.
READ_ROWS = 16_384
_SALT = b"labelaudit.salt"


#: The kept scores' columns: a product's checks, each with its scored results and key.
SCORES_TYPES = {
    **CHECKS_TYPES,
    "product_name": "large_string",
    "score": "float64",
    "verdict": "large_string",
    "verdict_reason": "large_string",
    "key": "string",
}


def _schema(types: Mapping[str, str]) -> pa.Schema:
    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in types.items()])


CHECKS_SCHEMA = _schema({name: CHECKS_TYPES[name] for name in CHECK_COLUMNS})
SCORES_SCHEMA = _schema(SCORES_TYPES)


class _Unreadable(Exception):
    """The kept scores could not be read to the end."""


def _kept_ids(path: Path, keys: Mapping[str, str], salt: str) -> set[str]:
    """The products whose results are kept in `path` under their current key; none when
    the file is missing, unreadable or of other code."""
    if not path.exists():
        return set()
    try:
        source = pq.ParquetFile(path)
        if (source.schema_arrow.metadata or {}).get(_SALT) != salt.encode():
            return set()
        found: set[str] = set()
        for batch in source.iter_batches(batch_size=READ_ROWS, columns=["product_id", "key"]):
            for pid, key in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                if key is not None and keys.get(pid) == key:
                    found.add(pid)
        return found
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        log.warning("report: the kept scores %s cannot be read (%s): all are scored", path, exc)
        return set()


def _copy_kept(path: Path, ids: set[str], out: ParquetTables, keep: bool) -> pd.DataFrame:
    """Copy the kept checks of the products `ids` into `out` ("checks", and with `keep`
    "kept"); return their scored rows (SCORED_COLUMNS), one per product."""
    wanted = pa.array(sorted(ids), pa.string())
    seen: set[str] = set()
    scored: dict[str, list[Any]] = {name: [] for name in SCORED_COLUMNS}
    try:
        source = pq.ParquetFile(path)
        for batch in source.iter_batches(batch_size=READ_ROWS, columns=list(SCORES_TYPES)):
            table = pa.Table.from_batches([batch]).cast(SCORES_SCHEMA)
            table = table.filter(pc.is_in(table.column("product_id"), value_set=wanted))
            out.write("checks", table.select(CHECK_COLUMNS))
            if keep:
                out.write("kept", table)
            firsts = []  # each product's first row (its scored results are on every one)
            for position, pid in enumerate(table.column("product_id").to_pylist()):
                if pid not in seen:
                    seen.add(pid)
                    firsts.append(position)
            part = table.select(SCORED_COLUMNS).take(pa.array(firsts, pa.int64()))
            for name in SCORED_COLUMNS:
                scored[name] += part.column(name).to_pylist()
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise _Unreadable(str(exc)) from exc
    # as pipeline.score.score_products makes them (the same column types)
    frame = columns_frame(scored, SCORED_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    return frame


def _with_scores(checks: pa.Table, scored: pd.DataFrame, keys: Mapping[str, str]) -> pa.Table:
    """A group's checks with its products' scored results and keys (SCORES_TYPES); the
    checks of products without a key are left out."""
    rows = pa.Table.from_pandas(scored[SCORED_COLUMNS], preserve_index=False)
    ids = checks.column("product_id")
    # cast: a group that scored no product gives a null-typed column
    at = pc.index_in(ids, value_set=rows.column("product_id").cast(ids.type))
    table = checks
    for name in SCORED_COLUMNS[1:]:
        table = table.append_column(name, pc.take(rows.column(name), at))
    ids = table.column("product_id").to_pylist()
    table = table.append_column("key", pa.array([keys.get(pid) for pid in ids], pa.string()))
    return table.filter(pc.is_valid(table.column("key"))).cast(SCORES_SCHEMA)


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
    checks_file: Path,
    keys: Mapping[str, str] | None = None,
    kept: Path | None = None,
    salt: str = "",
) -> tuple[pd.DataFrame, list[Rejection], int]:
    """Score the products a group at a time (pipeline.score.score_products), those whose
    results are `kept` (with their `keys`) taken from there, then rank them all. The
    checks are written to `checks_file` (CHECK_COLUMNS) and kept, with the scored results
    and keys, in `kept` a group at a time, never all held. Returns the ranking, the
    products that could not be scored (`_scored`) and how many products were scored."""
    try:
        return _score_all(products, outcomes, findings, protocol, checks_file, keys, kept, salt)
    except _Unreadable as exc:
        log.warning("report: the kept scores %s cannot be read (%s): all are scored", kept, exc)
        return _score_all(
            products, outcomes, findings, protocol, checks_file, keys, kept, salt, reuse=False
        )


def _score_all(
    products: pa.Table,
    outcomes: pa.Table,
    findings: pd.DataFrame,
    protocol: Protocol,
    checks_file: Path,
    keys: Mapping[str, str] | None,
    kept: Path | None,
    salt: str,
    *,
    reuse: bool = True,
) -> tuple[pd.DataFrame, list[Rejection], int]:
    keep = kept is not None and keys is not None
    targets = {"checks": (checks_file, CHECKS_SCHEMA)}
    if kept is not None and keys is not None:
        targets["kept"] = (kept, SCORES_SCHEMA.with_metadata({_SALT: salt.encode()}))
    scored: list[pd.DataFrame] = []
    failed: list[Rejection] = []
    with ParquetTables(targets) as out:
        ids = _kept_ids(kept, keys, salt) if reuse and kept is not None and keys else set()
        if ids:
            scored.append(_copy_kept(kept, ids, out, keep))  # type: ignore[arg-type]
            done = pa.array(scored[0]["product_id"].tolist(), pa.string())
            products = products.filter(pc.invert(pc.is_in(products.column("product_id"), done)))
        # no product at all: one empty group, for the typed empty tables it gives
        groups = max(products.num_rows, 0 if scored else 1)
        for start in range(0, groups, SCORE_GROUP_PRODUCTS):
            group = products.slice(start, SCORE_GROUP_PRODUCTS)
            group_ids = group.column("product_id")
            mine = outcomes.filter(pc.is_in(outcomes.column("product_id"), value_set=group_ids))
            their_findings = findings[findings["product_id"].isin(group_ids.to_pylist())]
            inputs = group.select([*SCORE_INPUT_COLUMNS, "source_file"]).to_pylist()
            for group_scored, group_checks in _scored(
                inputs, mine.to_pandas(), their_findings, protocol, failed
            ):
                scored.append(group_scored)
                table = pa.Table.from_pandas(group_checks[CHECK_COLUMNS], preserve_index=False)
                table = _cast_nulls(table, CHECKS_TYPES).cast(CHECKS_SCHEMA)
                out.write("checks", table)
                if keep:
                    out.write("kept", _with_scores(table, group_scored, keys))  # type: ignore[arg-type]
    if kept is not None and not keep:
        kept.unlink(missing_ok=True)
    every = pd.concat(scored, ignore_index=True)
    ranking = rank_products(every)
    if ranking.empty:  # no product: typed columns all the same
        ranking = ranking.astype(EMPTY_RANKING_DTYPES)
    return ranking, failed, products.num_rows


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
