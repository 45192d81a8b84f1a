"""The vitamin K2 checks: K2 present, its form, and its amount per 500 mg of calcium."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.rules.base import Assessment, Expect, ProtocolRule, band_credit, in_band
from pipeline.values import fmt_number as fmt
from pipeline.values import present

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.protocol import Protocol


def _k1_note(p: Mapping[str, Any]) -> str:
    k1 = p["vitamin_k1_mcg"]
    return f" ({fmt(k1)} mcg vitamin K1, which does not count)" if present(k1) else ""


def _present_expect(protocol: Protocol) -> Sequence[Expect]:
    return [
        Expect(
            "not_null",
            "vitamin_k2_mcg",
            "Vitamin K2 steers calcium into bone and away from arteries.",
            "The label must declare vitamin K2 (menaquinone); K1 does not count.",
        )
    ]


def _present_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    k2 = p["vitamin_k2_mcg"]
    if present(k2):
        return 1.0, f"{fmt(k2)} mcg vitamin K2 per serving; the protocol asks for vitamin K2"
    return 0.0, f"no vitamin K2 on the label{_k1_note(p)}; the protocol asks for vitamin K2"


def _form_expect(protocol: Protocol) -> Sequence[Expect]:
    form = protocol.accepted_k2_form
    return [
        Expect(
            "in_set",
            "k2_form_checked",
            f"{form} has a long half-life and high bioavailability; K1 goes to the liver.",
            f"The K2 on the label must be {form}.",
            value_set=(form,),
        )
    ]


def _form_checked(products: pd.DataFrame) -> Mapping[str, pd.Series]:
    """The K2 form made explicit for products with none ("K1 only" or "none")."""
    no_k2 = products["vitamin_k1_mcg"].notna().map({True: "K1 only", False: "none"})
    return {"k2_form_checked": products["k2_form"].where(products["k2_form"].notna(), no_k2)}


def _form_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    form, wanted = p["k2_form"], protocol.accepted_k2_form
    if not present(p["vitamin_k2_mcg"]) or not present(form):
        what = "vitamin K1 only" if present(p["vitamin_k1_mcg"]) else "no vitamin K2"
        return 0.0, f"{what}; the protocol asks {wanted}"
    credit = protocol.k2_form_credit.get(form, 0.0)
    if form == wanted:
        return credit, f"K2 form {form}; the protocol asks {wanted}"
    shown = "not stated" if form == "unspecified" else form
    return credit, f"K2 form {shown} (earns {fmt(credit * 100)}%); the protocol asks {wanted}"


def _ratio_expect(protocol: Protocol) -> Sequence[Expect]:
    low, high = band = protocol.k2_ratio_band
    return [
        in_band(
            "k2_mcg_per_500mg_ca",
            band,
            f"{low:g}-{high:g} mcg of K2 for every 500 mg of calcium.",
            "Vitamin K2 per 500 mg of calcium, per serving.",
        )
    ]


def _ratio_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    low, high = protocol.k2_ratio_band
    ratio, k2 = p["k2_mcg_per_500mg_ca"], p["vitamin_k2_mcg"]
    asked = f"the protocol asks {fmt(low)}-{fmt(high)}"
    if not present(ratio):
        return 0.0, f"K2 per 500 mg calcium cannot be computed; {asked}"
    basis = f"{fmt(k2 if present(k2) else 0)} mcg K2 with {fmt(p['calcium_mg'])} mg calcium"
    return band_credit(ratio, low, high), (
        f"{fmt(ratio)} mcg K2 per 500 mg calcium ({basis}); {asked}"
    )


RULES = (
    ProtocolRule(
        name="k2_present",
        label="Vitamin K2 present",
        short="Has K2",
        order=10,
        inputs=("vitamin_k2_mcg", "vitamin_k1_mcg"),
        expect=_present_expect,
        assess=_present_assess,
        methodology=lambda protocol: (
            "Vitamin K2 (menaquinone) declared: all or nothing; vitamin K1 (phylloquinone) "
            "does not count."
        ),
    ),
    ProtocolRule(
        name="k2_form",
        label="K2 form is MK-7",
        short="MK-7",
        order=20,
        inputs=("k2_form", "vitamin_k2_mcg", "vitamin_k1_mcg"),
        expect=_form_expect,
        assess=_form_assess,
        gx_columns=_form_checked,
        methodology=lambda protocol: (
            f"K2 as {protocol.accepted_k2_form}; credit by the form the label names: "
            + ", ".join(
                f"{'not stated' if form == 'unspecified' else form} {fmt(credit * 100)}%"
                for form, credit in protocol.k2_form_credit.items()
            )
            + "; K1 only 0."
        ),
    ),
    ProtocolRule(
        name="k2_ratio",
        label="K2 per 500 mg calcium",
        short="K2 dose",
        order=30,
        inputs=("k2_mcg_per_500mg_ca", "vitamin_k2_mcg", "calcium_mg"),
        expect=_ratio_expect,
        assess=_ratio_assess,
        methodology=lambda protocol: (
            f"{fmt(protocol.k2_ratio_band[0])}-{fmt(protocol.k2_ratio_band[1])} mcg of K2 for "
            "every 500 mg of calcium: full credit inside, value/low below, high/value above."
        ),
    ),
)
