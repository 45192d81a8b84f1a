"""Evidence and review: where each value was read, and which readings a person should check.

Pure functions of the audit document (no I/O; the crops are drawn by pipeline.crops):

- `row_document`: a label row as audit.json shows it, its bbox as one list
  `[x0, top, x1, bottom]` in `bbox_units` ("pt" for PDF pages, "px" for images);
- `needs_review`: the products whose verdict rests on a reading that may be wrong (a
  protocol amount read with low confidence, read only after an OCR repair, or a read
  issue), the most consequential first, each with the exact `labelaudit correct` command.

Consequence, in this order: 0 "decides the verdict" (the finding blocks it: the product is
not assessable until a person reads the value); 1 "a misread by 10x would change whether
K2 per 500 mg calcium is in the protocol's band" (the commonest misread drops or adds a
zero: "50" for "500"; that check decides "matches"); 2 "... the calcium : magnesium
band" (up to that check's weight of the score); 3 "the verdict does not depend on the exact
amount" (vitamin D counts by presence). Within a rank, the lowest confidence first.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.nutrients import PROTOCOL_NUTRIENTS
from pipeline.protocol import Protocol

#: The bbox columns of a label row (pipeline.records.LabelRow), in audit.json's order.
BBOX_COLUMNS = ("bbox_x0", "bbox_top", "bbox_x1", "bbox_bottom")
#: Findings that say a reading may be wrong (pipeline.validate): check -> what it means.
REVIEW_CHECKS = {
    "amount_confidence": "read with low confidence",
    "amount_repaired": "read only after an OCR repair",
    "read": "read issue",
}
CONSEQUENCES = (
    "decides the verdict: the product is not assessable until the value is checked",
    "a misread by 10x would change whether K2 per 500 mg calcium is in the protocol's band",
    "a misread by 10x would change whether calcium : magnesium is in the protocol's band",
    "the verdict does not depend on the exact amount",
)
_LINE = re.compile(r"\bline (\d+)\b")
#: What stands for the reviewer's name in a suggested command.
NAME_PLACEHOLDER = "YOUR NAME"


def row_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """A label row for audit.json: its fields, with the four bbox columns as one `bbox`
    list (None when the reader gives no position: CSV, JSON)."""
    box = [row.get(c) for c in BBOX_COLUMNS]
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == BBOX_COLUMNS[0]:
            out["bbox"] = None if None in box else [float(v) for v in box]  # type: ignore[arg-type]
        elif key not in BBOX_COLUMNS:
            out[key] = value
    return out


def row_keys(fields: Sequence[str]) -> list[str]:
    """The keys of `row_document` of a row with these fields, in order."""
    return ["bbox" if f == BBOX_COLUMNS[0] else f for f in fields if f not in BBOX_COLUMNS[1:]]


def has_box(row: Mapping[str, Any]) -> bool:
    return row.get("bbox") is not None and row.get("page") is not None


def _flip(value: Any, factor: float, band: tuple[float, float] | None) -> bool:
    """Whether `value` times `factor` or divided by it falls on the other side of `band`."""
    if band is None or value is None or value != value or value <= 0:
        return False
    low, high = band
    inside = low <= value <= high
    return any((low <= v <= high) != inside for v in (value * factor, value / factor))


def consequence(
    product: Mapping[str, Any], row: Mapping[str, Any] | None, blocking: bool, protocol: Protocol
) -> int:
    """The rank of a questionable reading (see the module's docstring), 0 first."""
    if blocking or product.get("verdict") == "not_assessable":
        return 0
    nutrient = (row or {}).get("nutrient")
    if nutrient in ("calcium", "vitamin_k2", "vitamin_k") and _flip(
        product.get("k2_mcg_per_500mg_ca"), 10.0, protocol.k2_ratio_band
    ):
        return 1
    if nutrient in ("calcium", "magnesium") and _flip(
        product.get("ca_to_mg_ratio"), 10.0, protocol.ca_to_mg_band
    ):
        return 2
    return 3


def correct_command(
    source_file: str,
    row: Mapping[str, Any] | None,
    line: int | None,
    labels_dir: str,
    label_index: int = 0,
) -> str:
    """The `labelaudit correct` command that fixes the reading, with the value as read
    in it (change it to what the label says) and the reviewer's name to fill in."""
    amount = (row or {}).get("amount_raw") or "AMOUNT"
    unit = (row or {}).get("unit_raw") or "UNIT"
    parts = ["labelaudit", "correct", source_file, "--line", str(line or "N")]
    if label_index:
        parts += ["--label", str(label_index)]
    parts += ["--amount", str(amount), "--unit", str(unit), "--by", NAME_PLACEHOLDER]
    parts += ["--why", "checked against the label", "--labels", labels_dir]
    return shlex.join(parts)


def _line_of(finding: Mapping[str, Any]) -> int | None:
    line = finding.get("line_no")
    if line is not None and line == line:
        return int(line)
    match = _LINE.search(str(finding.get("detail") or ""))
    return int(match.group(1)) if match else None


def flagged_products(findings: Iterable[Mapping[str, Any]]) -> set[str]:
    """The products with a finding that questions a reading."""
    return {
        str(f["product_id"])
        for f in findings
        if f.get("check") in REVIEW_CHECKS and f.get("product_id") is not None
    }


def needs_review(
    products: Iterable[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    protocol: Protocol,
    labels_dir: str,
) -> list[dict[str, Any]]:
    """The review queue: one entry per questionable reading of a protocol value in
    `products` (whole documents, with label rows), most consequential first."""
    by_product: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        if f.get("check") in REVIEW_CHECKS and f.get("product_id") is not None:
            by_product.setdefault(str(f["product_id"]), []).append(f)
    entries: list[dict[str, Any]] = []
    for product in products:
        mine = by_product.get(str(product.get("product_id")), [])
        rows = {r.get("line_no"): r for r in product.get("label_rows") or []}
        seen: set[tuple[int | None, str]] = set()
        for f in mine:
            line = _line_of(f)
            row = rows.get(line) if line is not None else None
            if row is not None and row.get("review"):
                continue  # a person corrected or confirmed it
            protocol_row = row is not None and row.get("nutrient") in PROTOCOL_NUTRIENTS
            blocking = bool(f.get("blocking"))
            if not (protocol_row or blocking or (f.get("check") == "read" and row is None)):
                continue
            if (line, str(f.get("check"))) in seen:
                continue
            seen.add((line, str(f.get("check"))))
            rank = consequence(product, row, blocking, protocol)
            entries.append(
                {
                    "product_id": product.get("product_id"),
                    "product_name": product.get("product_name"),
                    "source_file": product.get("source_file"),
                    "verdict": product.get("verdict"),
                    "line": line,
                    "page": (row or {}).get("page"),
                    "why": REVIEW_CHECKS[str(f["check"])],
                    "detail": f.get("detail"),
                    "confidence": (row or {}).get("confidence"),
                    "consequence": CONSEQUENCES[rank],
                    "rank": rank,
                    "command": correct_command(
                        str(product.get("source_file")),
                        row,
                        line,
                        labels_dir,
                        int(product.get("label_index") or 0),
                    ),
                    "bbox": (row or {}).get("bbox"),
                    "bbox_units": (row or {}).get("bbox_units"),
                }
            )
    entries.sort(
        key=lambda e: (
            e["rank"],
            e["confidence"] if e["confidence"] is not None else 101.0,
            str(e["product_name"]),
            e["line"] or 0,
        )
    )
    return entries
