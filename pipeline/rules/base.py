"""The shapes every rule shares: an expectation as data, a protocol check, a column a
check derives from the label.

An `Expect` is one Great Expectations expectation written as data (its kind, column,
bounds, reason and notes): pipeline.expectations turns it into GX's object, so that the
rule modules (and the score and report stages that read them) never import GX.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.protocol import Protocol

ExpectKind = Literal["not_null", "in_set", "between"]


@dataclass(frozen=True)
class Expect:
    """One expectation over one column: `not_null`, `in_set` (value_set) or `between`
    (min_value / max_value, strict_min). A missing value fails `not_null` and is not
    evaluated by the others (the check does not apply to that row)."""

    kind: ExpectKind
    column: str
    reason: str
    notes: str = ""
    value_set: tuple[Any, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    strict_min: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)  # more of the expectation's meta
    #: Only the rows where every (column, "==" or "!=", value) holds are checked.
    when: tuple[tuple[str, Literal["==", "!="], Any], ...] = ()


#: A rule's credit (0-1) and its reason in plain words, from a product row.
Assessment = tuple[float, str]


@dataclass(frozen=True)
class Derived:
    """Products-table columns a check computes from the label when the products are
    normalized (pipeline.normalize): `columns` are (name, products.parquet type);
    `compute(products, nutrients)` gives each column's values, one per product in the
    products' order."""

    columns: tuple[tuple[str, str], ...]
    compute: Callable[[pd.DataFrame, pd.DataFrame], Mapping[str, list[Any]]]


@dataclass(frozen=True)
class ProtocolRule:
    """One protocol check, everything about it.

    - `name` (the protocol file's `weights.<name>`, audit.json's check name), `label` (the
      card and the methodology) and `short` (the ranking table's column heading);
    - `order`: its place in the report (lower first);
    - `inputs`: the products-table columns it reads (the GX table and the score get them);
    - `expect(protocol)`: its expectations (passed: none fails; not applicable: none
      evaluated the product, e.g. every one skips a missing value);
    - `gx_columns(products)`: columns of the GX table it computes from `inputs`;
    - `assess(row, protocol)`: its credit and reason for one product row;
    - `methodology(protocol)`: the sentence the report's methodology gives it;
    - `derived`: the columns it adds to the products table (pipeline.normalize).
    """

    name: str
    label: str
    short: str
    order: int
    inputs: tuple[str, ...]
    expect: Callable[[Protocol], Sequence[Expect]]
    assess: Callable[[Mapping[str, Any], Protocol], Assessment]
    methodology: Callable[[Protocol], str]
    gx_columns: Callable[[pd.DataFrame], Mapping[str, pd.Series]] | None = None
    derived: tuple[Derived, ...] = ()


def band_credit(value: float | None, low: float, high: float) -> float:
    """1 inside [low, high]; value/low below; high/value above; 0 when there is no value."""
    if value is None or value != value or value <= 0:  # value != value: NaN
        return 0.0
    if value < low:
        return value / low
    if value > high:
        return high / value
    return 1.0


def in_band(column: str, band: tuple[float, float], reason: str, notes: str) -> Expect:
    """The value of `column` inside [low, high] (a missing value: not evaluated)."""
    return Expect("between", column, reason, notes, min_value=band[0], max_value=band[1])
