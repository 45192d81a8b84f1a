"""Great Expectations suites, built in code.

- the protocol suite, generated from the protocol settings, runs once over the products
  table: each expectation names its check and carries the reason in `meta` and `notes`;
- the data-quality suites run once over the nutrient rows and once over the products,
  and catch labels (or readings of them) that do not add up.

Both are built from the rules as data (pipeline.rules.protocol, pipeline.rules.quality):
`gx_expectation` is the one place an `Expect` becomes a GX expectation.

Every expectation's `meta["check"]` is the name the score and report stages use.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no data about labels leaves the machine

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from pipeline.protocol import Protocol
from pipeline.rules.base import Expect
from pipeline.rules.protocol import expectations
from pipeline.rules.quality import QUALITY_CHECKS


def _condition(column: str, op: str, value: Any) -> Any:
    return Column(column) == value if op == "==" else Column(column) != value


def gx_expectation(expect: Expect, check: str | None = None) -> Any:
    """GX's expectation of an `Expect` (pipeline.rules.base): its meta the check's name
    (when given), the reason and the expectation's own meta."""
    named = {"check": check} if check else {}
    common: dict[str, Any] = {
        "column": expect.column,
        "meta": {**named, "reason": expect.reason, **expect.meta},
        "notes": expect.notes or None,
    }
    if expect.when:
        condition = _condition(*expect.when[0])
        for part in expect.when[1:]:
            condition &= _condition(*part)
        common["row_condition"] = condition
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


def _quality_suite(name: str, level: str) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=name)
    for check in QUALITY_CHECKS:
        if check.level == level:
            for expect in check.expects:
                suite.add_expectation(gx_expectation(expect, check.name))
    return suite


def quality_columns(level: str) -> list[str]:
    """The columns the data-quality suite of `level` ("rows" or "products") reads: every
    expectation's column and the columns of its conditions (`when`), in order of first use.
    The suite validates a frame of these only (and the index column): GX copies and
    fingerprints the whole frame it is given."""
    columns: dict[str, None] = {}
    for check in QUALITY_CHECKS:
        if check.level == level:
            for expect in check.expects:
                columns[expect.column] = None
                columns.update((column, None) for column, _, _ in expect.when)
    return list(columns)


def rows_quality_suite() -> gx.ExpectationSuite:
    """Data quality of the nutrient rows (one row per panel line): pipeline.rules.quality."""
    return _quality_suite("label_rows_quality", "rows")


def products_quality_suite() -> gx.ExpectationSuite:
    """Data quality and safety of the products (per serving and per day)."""
    return _quality_suite("products_quality", "products")
