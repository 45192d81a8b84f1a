"""The checks of what goes with the calcium: magnesium about 1 part to 2, and vitamin D."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.rules.base import Assessment, Expect, ProtocolRule, band_credit, in_band
from pipeline.values import fmt_number as fmt
from pipeline.values import present

if TYPE_CHECKING:
    from pipeline.protocol import Protocol


def _mg_expect(protocol: Protocol) -> Sequence[Expect]:
    return [
        Expect(
            "not_null",
            "magnesium_mg",
            "Magnesium alongside calcium, about 1 part to 2.",
            "The label must declare magnesium.",
        ),
        in_band(
            "ca_to_mg_ratio",
            protocol.ca_to_mg_band,
            f"Calcium to magnesium about {protocol.ca_to_mg_target:g}:1 by weight.",
            "Calcium : magnesium by weight.",
        ),
    ]


def _mg_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    low, high = protocol.ca_to_mg_band
    ratio = p["ca_to_mg_ratio"]
    asked = f"the protocol asks {fmt(low)}-{fmt(high)}:1 (target {fmt(protocol.ca_to_mg_target)}:1)"
    if not present(p["magnesium_mg"]):
        return 0.0, f"no magnesium on the label; {asked}"
    if not present(ratio):
        return 0.0, f"calcium:magnesium cannot be computed; {asked}"
    amounts = f"{fmt(p['calcium_mg'])} mg : {fmt(p['magnesium_mg'])} mg"
    return band_credit(ratio, low, high), f"calcium:magnesium {fmt(ratio)}:1 ({amounts}); {asked}"


_D_REASON = "Vitamin D helps absorb calcium (the 'bus')."


def _d_expect(protocol: Protocol) -> Sequence[Expect]:
    return [
        Expect(
            "between",
            "vitamin_d_mcg",
            _D_REASON,
            "Vitamin D amount above zero.",
            min_value=0,
            strict_min=True,
        ),
        Expect("not_null", "vitamin_d_mcg", _D_REASON, "The label must declare vitamin D."),
    ]


def _d_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    d = p["vitamin_d_mcg"]
    if present(d) and d > 0:
        return 1.0, f"{fmt(d)} mcg vitamin D per serving; the protocol asks for vitamin D"
    return 0.0, "no vitamin D on the label; the protocol asks for vitamin D"


RULES = (
    ProtocolRule(
        name="ca_mg_ratio",
        label="Calcium : magnesium near 2:1",
        short="Ca:Mg band",
        order=40,
        inputs=("ca_to_mg_ratio", "magnesium_mg", "calcium_mg"),
        expect=_mg_expect,
        assess=_mg_assess,
        methodology=lambda protocol: (
            f"Calcium : magnesium about {fmt(protocol.ca_to_mg_target)}:1 by weight (accepted "
            f"band {fmt(protocol.ca_to_mg_band[0])}-{fmt(protocol.ca_to_mg_band[1])} : 1); "
            "outside it the credit falls as for the K2 ratio; no magnesium 0."
        ),
    ),
    ProtocolRule(
        name="vitamin_d",
        label="Vitamin D present",
        short="Vit. D",
        order=50,
        inputs=("vitamin_d_mcg",),
        expect=_d_expect,
        assess=_d_assess,
        methodology=lambda protocol: "Vitamin D declared, above zero: all or nothing.",
    ),
)
