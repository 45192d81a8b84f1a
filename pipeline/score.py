"""Score stage: GX outcomes -> a 0-100 score, a verdict and the reason of every check.

Credits come from the protocol settings (pipeline/protocol.toml): a check that passes earns
its whole weight; the K2 form earns the credit of the form named; the two ratios earn
partial credit that falls with the distance from the band (value/low below it, high/value
above it). The verdict then follows from the score, the required checks and whether the
label can be assessed at all. Ranking: verdict, then score, then name: no ties left open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS
from pipeline.protocol import CHECKS, Protocol

VERDICTS = ("matches", "partial", "fails", "not_assessable")

CHECK_COLUMNS = ["product_id", "check", "label", "passed", "credit", "weight", "points", "detail"]


def fmt(value: Any, digits: int = 2) -> str:
    """A number as a reader wants it: 62 not 62.0, 1,000 not 1000.0, 2.5 stays 2.5."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "none"
    rounded = round(float(value), digits)
    if rounded == int(rounded):
        return f"{int(rounded):,}"
    return f"{rounded:,.{digits}f}".rstrip("0").rstrip(".")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value))


def band_credit(value: float | None, low: float, high: float) -> float:
    """1 inside [low, high]; value/low below; high/value above; 0 when there is no value."""
    if value is None or pd.isna(value) or value <= 0:
        return 0.0
    if value < low:
        return value / low
    if value > high:
        return high / value
    return 1.0


def _check_credit_and_detail(
    check: str, p: Mapping[str, Any], protocol: Protocol
) -> tuple[float, str]:
    """The credit (0-1) a product earns on one check, and the reason in plain words."""
    low, high = protocol.k2_ratio_band
    mg_low, mg_high = protocol.ca_to_mg_band
    k2, k1 = p["vitamin_k2_mcg"], p["vitamin_k1_mcg"]
    k1_note = f" ({fmt(k1)} mcg vitamin K1, which does not count)" if _present(k1) else ""
    if check == "k2_present":
        if _present(k2):
            return 1.0, f"{fmt(k2)} mcg vitamin K2 per serving; the protocol asks for vitamin K2"
        return 0.0, f"no vitamin K2 on the label{k1_note}; the protocol asks for vitamin K2"
    if check == "k2_form":
        form = p["k2_form"]
        wanted = protocol.accepted_k2_form
        if not _present(k2) or form is None:
            what = "vitamin K1 only" if _present(k1) else "no vitamin K2"
            return 0.0, f"{what}; the protocol asks {wanted}"
        credit = protocol.k2_form_credit.get(form, 0.0)
        if form == wanted:
            return credit, f"K2 form {form}; the protocol asks {wanted}"
        shown = "not stated" if form == "unspecified" else form
        return credit, f"K2 form {shown} (earns {fmt(credit * 100)}%); the protocol asks {wanted}"
    if check == "k2_ratio":
        ratio = p["k2_mcg_per_500mg_ca"]
        asked = f"the protocol asks {fmt(low)}-{fmt(high)}"
        if not _present(ratio):
            return 0.0, f"K2 per 500 mg calcium cannot be computed; {asked}"
        credit = band_credit(ratio, low, high)
        basis = f"{fmt(k2 if _present(k2) else 0)} mcg K2 with {fmt(p['calcium_mg'])} mg calcium"
        return credit, f"{fmt(ratio)} mcg K2 per 500 mg calcium ({basis}); {asked}"
    if check == "ca_mg_ratio":
        ratio = p["ca_to_mg_ratio"]
        asked = (
            f"the protocol asks {fmt(mg_low)}-{fmt(mg_high)}:1 "
            f"(target {fmt(protocol.ca_to_mg_target)}:1)"
        )
        if not _present(p["magnesium_mg"]):
            return 0.0, f"no magnesium on the label; {asked}"
        if not _present(ratio):
            return 0.0, f"calcium:magnesium cannot be computed; {asked}"
        amounts = f"{fmt(p['calcium_mg'])} mg : {fmt(p['magnesium_mg'])} mg"
        return band_credit(
            ratio, mg_low, mg_high
        ), f"calcium:magnesium {fmt(ratio)}:1 ({amounts}); {asked}"
    if check == "vitamin_d":
        d = p["vitamin_d_mcg"]
        if _present(d) and d > 0:
            return 1.0, f"{fmt(d)} mcg vitamin D per serving; the protocol asks for vitamin D"
        return 0.0, "no vitamin D on the label; the protocol asks for vitamin D"
    if check == "anticoagulant_caution":
        said = p["anticoagulant_evidence"]
        if isinstance(said, str) and said:  # missing evidence is None or NaN (from Parquet)
            return 1.0, f'the label cautions people on anticoagulants: "{said}"'
        return 0.0, (
            "no caution for people on warfarin or other anticoagulants on the label; "
            "the protocol asks for one"
        )
    said = p["fat_guidance_evidence"]
    if isinstance(said, str) and said:
        return 1.0, f'the label has it taken with fat: "{said}"'
    return 0.0, (
        "no direction to take it with a meal or fat; the protocol asks for it (K2 is fat-soluble)"
    )


def _not_assessable_reason(p: Mapping[str, Any], blocking: list[str]) -> str | None:
    if blocking:
        return "a protocol value could not be read reliably: " + "; ".join(blocking)
    if not _present(p["calcium_mg"]) or p["calcium_mg"] <= 0:
        return "no calcium amount on the label: the protocol is measured per 500 mg of calcium"
    return None


#: The columns of the products table that scoring reads.
SCORE_INPUT_COLUMNS = [
    "product_id",
    "product_name",
    *PROTOCOL_AMOUNT_COLUMNS,
    "k2_form",
    *PROTOCOL_METRIC_COLUMNS,
    "anticoagulant_evidence",
    "fat_guidance_evidence",
]
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
    for finding in findings.to_dict("records"):
        pid = finding["product_id"]
        if pid is None:
            continue
        if finding["blocking"]:
            blocking_by_id.setdefault(pid, []).append(finding["detail"])
        elif finding["check"] == "dv_consistent":
            caveats_by_id.setdefault(pid, []).append(finding["detail"])
    total_weight = sum(protocol.weights.values())
    checks: list[dict[str, Any]] = []
    ranking: list[dict[str, Any]] = []
    for p in products:
        pid = p["product_id"]
        points = 0.0
        failed_required: list[str] = []
        missed: list[str] = []
        for check, label in CHECKS.items():
            credit, detail = _check_credit_and_detail(check, p, protocol)
            ok = passed.get((pid, check))
            weight = protocol.weights[check]
            points += weight * credit
            if check in protocol.required_for_match and ok is not True:
                failed_required.append(label)
            if ok is False:
                missed.append(label)
            checks.append(
                {
                    "product_id": pid,
                    "check": check,
                    "label": label,
                    "passed": ok,
                    "credit": round(credit, 4),
                    "weight": weight,
                    "points": round(weight * credit, 2),
                    "detail": detail,
                }
            )
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
        ranking.append(
            {
                "product_id": pid,
                "product_name": p["product_name"],
                "score": score_out,
                "verdict": verdict,
                "verdict_reason": reason,
            }
        )
    frame = pd.DataFrame(ranking, columns=SCORED_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    return frame, pd.DataFrame(checks, columns=CHECK_COLUMNS)


def rank_products(scored: pd.DataFrame) -> pd.DataFrame:
    """The ranking (RANKING_COLUMNS, best first): by verdict, then score, then product name,
    then product_id, so that no tie is left open."""
    order = scored.assign(
        verdict_order=scored["verdict"].map({v: i for i, v in enumerate(VERDICTS)}),
        neg_score=-scored["score"].astype(float).fillna(-1.0),
    ).sort_values(["verdict_order", "neg_score", "product_name", "product_id"], kind="mergesort")
    order["rank"] = range(1, len(order) + 1)
    return order[RANKING_COLUMNS].reset_index(drop=True)
