"""The checks of what the label's text says: a caution for people on anticoagulants, and
directions to take it with fat. The evidence (the sentence that says it) is found when the
products are normalized (pipeline.normalize.anticoagulant_caution, fat_guidance); both
checks are all or nothing: the flag column is True, and the reason quotes the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.rules.base import Assessment, Expect, ProtocolRule

if TYPE_CHECKING:
    from pipeline.protocol import Protocol


def _text_rule(
    name: str,
    labels: tuple[str, str, int],
    columns: tuple[str, str],
    why: tuple[str, str],
    said: tuple[str, str],
    methodology: str,
) -> ProtocolRule:
    """A check whose flag column (`columns[0]`) must be True; `columns[1]` the evidence,
    quoted after `said[0]` when found, `said[1]` the reason when not."""
    flag, evidence = columns
    expect = Expect("in_set", flag, why[0], why[1], value_set=(True,))

    def assess(p: Mapping[str, Any], protocol: Protocol) -> Assessment:
        found = p[evidence]
        if isinstance(found, str) and found:  # missing evidence is None or NaN (Parquet)
            return 1.0, f'{said[0]}: "{found}"'
        return 0.0, said[1]

    label, short, order = labels
    return ProtocolRule(
        name,
        label,
        short,
        order,
        columns,
        lambda protocol: [expect],
        assess,
        lambda protocol: methodology,
    )


RULES = (
    _text_rule(
        "anticoagulant_caution",
        ("Anticoagulant (warfarin) caution", "Warfarin caution", 60),
        ("has_anticoagulant_caution", "anticoagulant_evidence"),
        (
            "Warfarin and other anticoagulants work against vitamin K.",
            "The label must caution people on anticoagulant (blood-thinning) medication.",
        ),
        (
            "the label cautions people on anticoagulants",
            "no caution for people on warfarin or other anticoagulants on the label; "
            "the protocol asks for one",
        ),
        "A caution for people on warfarin or other anticoagulants (the warnings mention "
        "warfarin, anticoagulants or blood thinners): all or nothing.",
    ),
    _text_rule(
        "fat_guidance",
        ("Take with a meal containing fat", "With fat", 70),
        ("has_fat_guidance", "fat_guidance_evidence"),
        (
            "K2 is fat-soluble: take it with a meal that has fat.",
            "The directions must say to take it with a meal or fat (or an oil carrier).",
        ),
        (
            "the label has it taken with fat",
            "no direction to take it with a meal or fat; the protocol asks for it "
            "(K2 is fat-soluble)",
        ),
        "Directions to take it with a meal, food or fat, or an oil carrier listed (K2 is "
        "fat-soluble): all or nothing.",
    ),
)
