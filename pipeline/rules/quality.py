"""The data-quality checks: one `QualityCheck` each, in the shape of the protocol rules.

Each names its expectations over the nutrient rows ("rows": one row per panel line) or the
products ("products"), and whether its finding blocks the verdict (the product is then
not assessable): "always", "protocol_nutrient" (when the line is a protocol nutrient's) or
"never". pipeline.expectations builds the two suites from `QUALITY_CHECKS`; the finding's
wording is pipeline.validate's (`_row_detail`, `_product_detail`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pipeline.config import MIN_AMOUNT_CONFIDENCE
from pipeline.nutrients import NUTRIENTS, PROTOCOL_NUTRIENTS, UPPER_LIMITS
from pipeline.rules.base import Expect

#: The row statuses that are not a data-quality problem (see pipeline.normalize.Normalized).
#: An unreadable amount ("unparsed_amount") is the amount_present check's finding, not this one's.
READABLE_STATUSES = ("ok", "not_provided", "no_amount", "unparsed_amount", "not_mass")

Blocks = Literal["always", "protocol_nutrient", "never"]


@dataclass(frozen=True)
class QualityCheck:
    name: str
    level: Literal["rows", "products"]
    expects: tuple[Expect, ...]
    blocks: Blocks = "never"

    def blocking(self, nutrient: Any) -> bool:
        """Does a finding of this check (on a line of `nutrient`) block the verdict?"""
        return self.blocks == "always" or (
            self.blocks == "protocol_nutrient" and nutrient in PROTOCOL_NUTRIENTS
        )


def _one(name: str, level: Literal["rows", "products"], expect: Expect, **kw: Any) -> QualityCheck:
    return QualityCheck(name, level, (expect,), **kw)


QUALITY_CHECKS: tuple[QualityCheck, ...] = (
    _one(
        "amount_present",
        "rows",
        Expect(
            "not_null",
            "amount",
            "Every panel line outside a blend declares an amount.",
            when=(("is_member", "==", False), ("unit_status", "!=", "not_provided")),
        ),
        blocks="protocol_nutrient",
    ),
    _one(
        "amount_non_negative",
        "rows",
        Expect("between", "amount", "An amount cannot be negative.", min_value=0),
        blocks="protocol_nutrient",
    ),
    _one(
        "unit_known",
        "rows",
        Expect(
            "in_set",
            "unit_status",
            "Each unit must be known and valid for its nutrient.",
            value_set=READABLE_STATUSES,
            when=(("has_unit", "==", True),),
        ),
        blocks="protocol_nutrient",
    ),
    _one(
        "amount_confidence",
        "rows",
        Expect(
            "between",
            "protocol_amount_confidence",
            "A protocol amount read by OCR with low confidence does not decide the verdict.",
            min_value=MIN_AMOUNT_CONFIDENCE,
        ),
        blocks="protocol_nutrient",
    ),
    _one(
        "amount_repaired",
        "rows",
        Expect(
            "in_set",
            "protocol_amount_repaired",
            "A protocol amount OCR read only after a repair.",
            value_set=(False,),
        ),
    ),
    _one(
        "dv_consistent",
        "rows",
        Expect(
            "in_set",
            "dv_consistent",
            "A declared %DV must match the amount under the current or the older FDA DV.",
            value_set=(True,),
        ),
    ),
    _one(
        "one_calcium_amount",
        "products",
        Expect("between", "calcium_rows", "A panel declares calcium once.", max_value=1),
    ),
    _one(
        "serving_size_present",
        "products",
        Expect("not_null", "serving_size", "A panel states its serving size."),
    ),
    _one(
        "vitamin_k_form",
        "products",
        Expect(
            "between",
            "vitamin_k_unresolved_rows",
            "Vitamin K must say whether it is K1 or K2.",
            max_value=0,
        ),
        blocks="always",
    ),
    QualityCheck(
        "upper_limit",
        "products",
        tuple(
            Expect(
                "between",
                f"{limit.nutrient}_{NUTRIENTS[limit.nutrient].unit}_per_day",
                f"Adult upper limit for {NUTRIENTS[limit.nutrient].display}: {limit.text}.",
                max_value=limit.per_day,
                meta={"nutrient": limit.nutrient, "severity": "safety"},
            )
            for limit in UPPER_LIMITS
        ),
    ),
)

QUALITY_BY_NAME: dict[str, QualityCheck] = {check.name: check for check in QUALITY_CHECKS}
