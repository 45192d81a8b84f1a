"""The checks of what the label's text says: a caution for people on anticoagulants, and
directions to take it with fat. The evidence (the sentence that says it) is found when the
products are normalized (pipeline.normalize.anticoagulant_caution, fat_guidance)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.rules.base import Assessment, Expect, ProtocolRule

if TYPE_CHECKING:
    from pipeline.protocol import Protocol


def _said(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None  # missing: None or NaN


def _caution_expect(protocol: Protocol) -> Sequence[Expect]:
    return [
        Expect(
            "in_set",
            "has_anticoagulant_caution",
            "Warfarin and other anticoagulants work against vitamin K.",
            "The label must caution people on anticoagulant (blood-thinning) medication.",
            value_set=(True,),
        )
    ]


def _caution_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    said = _said(p["anticoagulant_evidence"])
    if said:
        return 1.0, f'the label cautions people on anticoagulants: "{said}"'
    return 0.0, (
        "no caution for people on warfarin or other anticoagulants on the label; "
        "the protocol asks for one"
    )


def _fat_expect(protocol: Protocol) -> Sequence[Expect]:
    return [
        Expect(
            "in_set",
            "has_fat_guidance",
            "K2 is fat-soluble: take it with a meal that has fat.",
            "The directions must say to take it with a meal or fat (or an oil carrier).",
            value_set=(True,),
        )
    ]


def _fat_assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
    said = _said(p["fat_guidance_evidence"])
    if said:
        return 1.0, f'the label has it taken with fat: "{said}"'
    return 0.0, (
        "no direction to take it with a meal or fat; the protocol asks for it (K2 is fat-soluble)"
    )


RULES = (
    ProtocolRule(
        name="anticoagulant_caution",
        label="Anticoagulant (warfarin) caution",
        short="Warfarin caution",
        order=60,
        inputs=("has_anticoagulant_caution", "anticoagulant_evidence"),
        expect=_caution_expect,
        assess=_caution_assess,
        methodology=lambda protocol: (
            "A caution for people on warfarin or other anticoagulants (the warnings mention "
            "warfarin, anticoagulants or blood thinners): all or nothing."
        ),
    ),
    ProtocolRule(
        name="fat_guidance",
        label="Take with a meal containing fat",
        short="With fat",
        order=70,
        inputs=("has_fat_guidance", "fat_guidance_evidence"),
        expect=_fat_expect,
        assess=_fat_assess,
        methodology=lambda protocol: (
            "Directions to take it with a meal, food or fat, or an oil carrier listed (K2 is "
            "fat-soluble): all or nothing."
        ),
    ),
)
