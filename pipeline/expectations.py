"""Great Expectations suites, built in code.

- the protocol suite, generated from the protocol settings, runs once over the products
  table: each expectation names its check and carries the reason in `meta` and `notes`;
- the data-quality suites run once over the nutrient rows and once over the products,
  and catch labels (or readings of them) that do not add up.

Every expectation's `meta["check"]` is the name the score and report stages use.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no data about labels leaves the machine

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.nutrients import NUTRIENTS, UPPER_LIMITS
from pipeline.protocol import Protocol
from pipeline.rules.base import Expect
from pipeline.rules.protocol import expectations

#: The row statuses that are not a data-quality problem (see pipeline.normalize.Normalized).
#: An unreadable amount ("unparsed_amount") is the amount_present check's finding, not this one's.
READABLE_STATUSES = ["ok", "not_provided", "no_amount", "unparsed_amount", "not_mass"]


def _meta(check: str, reason: str, **extra: object) -> dict[str, object]:
    return {"check": check, "reason": reason, **extra}


def gx_expectation(expect: Expect, check: str | None = None) -> Any:
    """GX's expectation of an `Expect` (pipeline.rules.base): its meta the check's name
    (when given), the reason and the expectation's own meta."""
    named = {"check": check} if check else {}
    common: dict[str, Any] = {
        "column": expect.column,
        "meta": {**named, "reason": expect.reason, **expect.meta},
        "notes": expect.notes or None,
    }
    if expect.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(**common)
    if expect.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(value_set=list(expect.value_set), **common)
    bounds: dict[str, Any] = {"min_value": expect.min_value, "max_value": expect.max_value}
    if expect.strict_min:
        bounds["strict_min"] = True
    return gxe.ExpectColumnValuesToBeBetween(
        **{k: v for k, v in bounds.items() if v is not None}, **common
    )


def protocol_suite(protocol: Protocol) -> gx.ExpectationSuite:
    """The protocol as expectations over the products table (one row per product): every
    protocol rule's (pipeline.rules.protocol), `meta["check"]` its name."""
    suite = gx.ExpectationSuite(name="calcium_k2_protocol")
    for check, expect in expectations(protocol):
        suite.add_expectation(gx_expectation(expect, check=check))
    return suite


def rows_quality_suite() -> gx.ExpectationSuite:
    """Data quality of the nutrient rows (one row per panel line)."""
    suite = gx.ExpectationSuite(name="label_rows_quality")
    for expectation in (
        gxe.ExpectColumnValuesToNotBeNull(
            column="amount",
            row_condition=(Column("is_member") == False)  # noqa: E712
            & (Column("unit_status") != "not_provided"),
            meta=_meta("amount_present", "Every panel line outside a blend declares an amount."),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="amount",
            min_value=0,
            meta=_meta("amount_non_negative", "An amount cannot be negative."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="unit_status",
            value_set=READABLE_STATUSES,
            row_condition=Column("has_unit") == True,  # noqa: E712
            meta=_meta("unit_known", "Each unit must be known and valid for its nutrient."),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="protocol_amount_confidence",
            min_value=MIN_AMOUNT_CONFIDENCE,
            meta=_meta(
                "amount_confidence",
                "A protocol amount read by OCR with low confidence does not decide the verdict.",
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="protocol_amount_repaired",
            value_set=[False],
            meta=_meta("amount_repaired", "A protocol amount OCR read only after a repair."),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="dv_consistent",
            value_set=[True],
            meta=_meta(
                "dv_consistent",
                "A declared %DV must match the amount under the current or the older FDA DV.",
            ),
        ),
    ):
        suite.add_expectation(expectation)
    return suite


def products_quality_suite() -> gx.ExpectationSuite:
    """Data quality and safety of the products (per serving and per day)."""
    suite = gx.ExpectationSuite(name="products_quality")
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="calcium_rows",
            max_value=1,
            meta=_meta("one_calcium_amount", "A panel declares calcium once."),
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotBeNull(
            column="serving_size",
            meta=_meta("serving_size_present", "A panel states its serving size."),
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="vitamin_k_unresolved_rows",
            max_value=0,
            meta=_meta("vitamin_k_form", "Vitamin K must say whether it is K1 or K2."),
        )
    )
    for limit in UPPER_LIMITS:
        unit = NUTRIENTS[limit.nutrient].unit
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=f"{limit.nutrient}_{unit}_per_day",
                max_value=limit.per_day,
                meta=_meta(
                    "upper_limit",
                    f"Adult upper limit for {NUTRIENTS[limit.nutrient].display}: {limit.text}.",
                    nutrient=limit.nutrient,
                    severity="safety",
                ),
            )
        )
    return suite
