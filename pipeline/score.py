"""Score stage: GX outcomes -> a 0-100 score, a verdict and the reason of every check.

Each check's credit and reason come from its rule (pipeline.rules.protocol: the same object
whose expectations gave the GX outcome), its weight from the protocol settings
(pipeline/protocol.toml). The verdict then follows from the score, the required checks and
whether the label can be assessed at all; a failed check with weight 0 (informational) is
not named among the misses. Ranking: verdict, then score, then name: no ties left open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pipeline.protocol import Protocol
from pipeline.rules.protocol import PROTOCOL_RULES, SCORE_INPUTS
from pipeline.values import present

VERDICTS = ("matches", "partial", "fails", "not_assessable")

CHECK_COLUMNS = ["product_id", "check", "label", "passed", "credit", "weight", "points", "detail"]


def _not_assessable_reason(p: Mapping[str, Any], blocking: list[str]) -> str | None:
    if blocking:
        return "a protocol value could not be read reliably: " + "; ".join(blocking)
    if not present(p["calcium_mg"]) or p["calcium_mg"] <= 0:
        return "no calcium amount on the label: the protocol is measured per 500 mg of calcium"
    return None


#: The columns of the products table that scoring reads (every rule's inputs).
SCORE_INPUT_COLUMNS = list(SCORE_INPUTS)
SCORED_COLUMNS = ["product_id", "product_name", "score", "verdict", "verdict_reason"]
RANKING_COLUMNS = ["product_id", "score", "verdict", "verdict_reason", "rank"]


def score_products(
    products: Sequence[Mapping[str, Any]],
    outcomes: pd.DataFrame,
    findings: pd.DataFrame,
    protocol: Protocol,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score, verdict and reason per product (SCORED_COLUMNS, in the products' order), and
    the scored checks (CHECK_COLUMNS). `products`: rows of the products table with at least
    SCORE_INPUT_COLUMNS (a missing value None or NaN). A product's results depend on its
    own row, outcomes and findings only: a run can score its products a group at a time."""
    keys = zip(outcomes["product_id"].tolist(), outcomes["check"].tolist(), strict=True)
    passed = dict(zip(keys, outcomes["passed"].tolist(), strict=True))
    blocking_by_id: dict[str, list[str]] = {}
    caveats_by_id: dict[str, list[str]] = {}
    names = ("product_id", "blocking", "check", "detail")
    finding_columns = [findings[n].tolist() for n in names] if len(findings) else [[]] * 4
    for pid, blocking, check, detail in zip(*finding_columns, strict=True):
        if pid is None:
            continue
        if blocking:
            blocking_by_id.setdefault(pid, []).append(detail)
        elif check == "dv_consistent":
            caveats_by_id.setdefault(pid, []).append(detail)
    total_weight = sum(protocol.weights.values())
    # the results column by column (a dict per check and product was most of the cost)
    rules = [
        (
            rule,
            rule.name,
            rule.label,
            protocol.weights[rule.name],
            rule.name in protocol.required_for_match,
        )
        for rule in PROTOCOL_RULES
    ]
    checks: dict[str, list[Any]] = {name: [] for name in CHECK_COLUMNS}
    check_ids, check_names, check_labels = checks["product_id"], checks["check"], checks["label"]
    check_passed, check_credits, check_weights = (
        checks["passed"],
        checks["credit"],
        checks["weight"],
    )
    check_points, check_details = checks["points"], checks["detail"]
    ranking: dict[str, list[Any]] = {name: [] for name in SCORED_COLUMNS}
    for p in products:
        pid = p["product_id"]
        points = 0.0
        failed_required: list[str] = []
        missed: list[str] = []
        for rule, name, label, weight, required in rules:
            credit, detail = rule.assess(p, protocol)
            ok = passed.get((pid, name))
            points += weight * credit
            if required and ok is not True:
                failed_required.append(label)
            if ok is False and weight > 0:
                missed.append(label)
            check_ids.append(pid)
            check_names.append(name)
            check_labels.append(label)
            check_passed.append(ok)
            check_credits.append(round(credit, 4))
            check_weights.append(weight)
            check_points.append(round(weight * credit, 2))
            check_details.append(detail)
        score = round(100.0 * points / total_weight, 1)
        reason_na = _not_assessable_reason(p, blocking_by_id.get(pid, []))
        if reason_na:
            verdict, reason, score_out = "not_assessable", reason_na, None
        elif score >= protocol.matches_min_score and not failed_required:
            verdict, reason, score_out = "matches", "every required protocol check passes", score
        else:
            score_out = score
            verdict = "partial" if score >= protocol.partial_min_score else "fails"
            reason = "misses: " + ", ".join(missed) if missed else "score below the match threshold"
        caveats = caveats_by_id.get(pid, [])
        if caveats and verdict != "not_assessable":
            reason += (
                " (caveat: the label's %DV does not match its amount for "
                + "; ".join(c.split(":")[0] for c in caveats)
                + ")"
            )
        ranking["product_id"].append(pid)
        ranking["product_name"].append(p["product_name"])
        ranking["score"].append(score_out)
        ranking["verdict"].append(verdict)
        ranking["verdict_reason"].append(reason)
    frame = columns_frame(ranking, SCORED_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    return frame, columns_frame(checks, CHECK_COLUMNS)


def columns_frame(columns: Mapping[str, list[Any]], names: Sequence[str]) -> pd.DataFrame:
    """The frame of these columns (typed as from one dict a row: tests/unit/test_score.py)."""
    if not columns[names[0]]:
        return pd.DataFrame([], columns=list(names))
    return pd.DataFrame(columns, columns=list(names))


def rank_products(scored: pd.DataFrame) -> pd.DataFrame:
    """The ranking (RANKING_COLUMNS, best first): by verdict, then score, then product name,
    then product_id, so that no tie is left open."""
    order = scored.assign(
        verdict_order=scored["verdict"].map({v: i for i, v in enumerate(VERDICTS)}),
        neg_score=-scored["score"].astype(float).fillna(-1.0),
    ).sort_values(["verdict_order", "neg_score", "product_name", "product_id"], kind="mergesort")
    order["rank"] = range(1, len(order) + 1)
    return order[RANKING_COLUMNS].reset_index(drop=True)
