"""What the report step (pipeline.audit.run_report) reads from the work folder, typed:
the column types of its tables where an empty one cannot show them and the label lines
each product's findings name (the label rows: pipeline.document_slices)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]

#: The column types of the report stage's tables where an empty one cannot show them.
EMPTY_RANKING_DTYPES = {
    "product_id": "str",
    "score": "float64",
    "verdict": "str",
    "verdict_reason": "str",
    "rank": "int64",
}
CHECKS_TYPES = {
    "product_id": "large_string",
    "check": "large_string",
    "label": "large_string",
    "passed": "bool",
    "credit": "float64",
    "weight": "float64",
    "points": "float64",
    "detail": "large_string",
}
OUTCOMES_TYPES = {"product_id": "string", "check": "string", "passed": "bool"}


def _cast_nulls(table: pa.Table, types: Mapping[str, str]) -> pa.Table:
    """`table` with each column of `types` that has no type (an empty table written from
    pandas objects, or a column all None) cast to its type."""
    for name, kind in types.items():
        index = table.schema.get_field_index(name)
        if index >= 0 and pa.types.is_null(table.schema.field(index).type):
            table = table.set_column(index, name, table.column(name).cast(kind))
    return table


def _finding_lines(findings: pd.DataFrame) -> dict[Any, set[int]]:
    """product_id -> the label lines with a data-quality finding (data_quality.parquet's
    `line_no`; a work folder validated before it existed gives none)."""
    if "line_no" not in findings.columns:
        return {}
    lines: dict[Any, set[int]] = {}
    named = findings[findings["line_no"].notna()]
    for pid, line in zip(named["product_id"], named["line_no"], strict=True):
        lines.setdefault(pid, set()).add(int(line))
    return lines
