"""The protocol checks: one `ProtocolRule` each (pipeline.rules.base), in the modules of
this package, found by the package itself: a module here with a `RULES` tuple adds its
checks, in `order`. Everything else about a check is built from this registry:

- `PROTOCOL_RULES` / `CHECKS` (name -> label) / `SHORT_LABELS`: the order and the words
  the report, audit.json and the methodology use; the protocol file's `[weights]` keys;
- `expectations(protocol)`: the protocol suite's expectations, each with `meta["check"]`;
- `protocol_table(products)`: the GX table (every rule's inputs and `gx_columns`);
- `SCORE_INPUTS`: the products-table columns the score stage reads;
- `DERIVED`: the columns rules add to the products table when it is normalized.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.rules.base import Derived, Expect, ProtocolRule

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.protocol import Protocol


def _discover() -> tuple[ProtocolRule, ...]:
    """Every module's RULES, by `order` (importlib: the modules are found, not listed)."""
    found: list[ProtocolRule] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        found.extend(importlib.import_module(f"{__name__}.{info.name}").RULES)
    names = [rule.name for rule in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two protocol rules share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda rule: (rule.order, rule.name)))


PROTOCOL_RULES: tuple[ProtocolRule, ...] = _discover()
RULES_BY_NAME: dict[str, ProtocolRule] = {rule.name: rule for rule in PROTOCOL_RULES}
#: The checks, in the order the report shows them, with the label a reader sees.
CHECKS: dict[str, str] = {rule.name: rule.label for rule in PROTOCOL_RULES}
#: Short column headings for the ranking table (the full label is the tooltip).
SHORT_LABELS: dict[str, str] = {rule.name: rule.short for rule in PROTOCOL_RULES}
#: The columns rules add to the products table (pipeline.normalize).
DERIVED: tuple[Derived, ...] = tuple(d for rule in PROTOCOL_RULES for d in rule.derived)


def _unique(columns: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(columns))


#: The products-table columns the score stage reads.
SCORE_INPUTS: tuple[str, ...] = tuple(
    _unique(
        ["product_id", "product_name", "calcium_mg"]
        + [column for rule in PROTOCOL_RULES for column in rule.inputs]
    )
)


def expectations(protocol: Protocol) -> list[tuple[str, Expect]]:
    """(check name, expectation) of every rule, in rule order."""
    return [(rule.name, expect) for rule in PROTOCOL_RULES for expect in rule.expect(protocol)]


def protocol_table(products: pd.DataFrame) -> pd.DataFrame:
    """The columns the protocol suite reads: every rule's inputs and gx_columns."""
    inputs = _unique([c for rule in PROTOCOL_RULES for c in rule.inputs])
    table = products[["product_id", *inputs]].copy()
    for rule in PROTOCOL_RULES:
        if rule.gx_columns is not None:
            for name, values in rule.gx_columns(products).items():
                table[name] = values
    return table
