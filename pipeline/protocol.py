"""The protocol settings: loaded from a TOML file (default: pipeline/protocol.toml).

Every threshold, accepted form and weight the validate and score stages use comes from
here, so a user can copy the file, change a band, and run `--protocol` with it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_PROTOCOL_FILE
from pipeline.errors import ProtocolError

#: The checks, in the order the report shows them, with the label a reader sees.
CHECKS: dict[str, str] = {
    "k2_present": "Vitamin K2 present",
    "k2_form": "K2 form is MK-7",
    "k2_ratio": "K2 per 500 mg calcium",
    "ca_mg_ratio": "Calcium : magnesium near 2:1",
    "vitamin_d": "Vitamin D present",
    "anticoagulant_caution": "Anticoagulant (warfarin) caution",
    "fat_guidance": "Take with a meal containing fat",
}


@dataclass(frozen=True)
class Protocol:
    name: str
    k2_ratio_band: tuple[float, float]  # mcg K2 per 500 mg calcium
    accepted_k2_form: str
    k2_form_credit: Mapping[str, float]
    ca_to_mg_target: float
    ca_to_mg_band: tuple[float, float]
    weights: Mapping[str, float]
    matches_min_score: float
    partial_min_score: float
    required_for_match: tuple[str, ...]
    source: str  # the file it was read from

    def to_dict(self) -> dict[str, Any]:
        """The values the report's methodology section shows."""
        return {
            "name": self.name,
            "file": self.source,
            "k2_ratio_mcg_per_500mg_ca": list(self.k2_ratio_band),
            "accepted_k2_form": self.accepted_k2_form,
            "k2_form_credit": dict(self.k2_form_credit),
            "ca_to_mg_target": self.ca_to_mg_target,
            "ca_to_mg_band": list(self.ca_to_mg_band),
            "weights": dict(self.weights),
            "verdict_thresholds": {
                "matches": self.matches_min_score,
                "partial": self.partial_min_score,
            },
            "required_for_match": list(self.required_for_match),
        }


def _get(table: Mapping[str, Any], dotted: str, source: str) -> Any:
    node: Any = table
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ProtocolError(f"protocol file {source}: missing '{dotted}'")
        node = node[part]
    return node


def _number(value: Any, dotted: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"protocol file {source}: '{dotted}' must be a number, not {value!r}")
    return float(value)


def _band(value: Any, dotted: str, source: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError(f"protocol file {source}: '{dotted}' must be [low, high]")
    low, high = (_number(v, dotted, source) for v in value)
    if not 0 <= low <= high:
        raise ProtocolError(f"protocol file {source}: '{dotted}' must have 0 <= low <= high")
    return low, high


def protocol_from_mapping(data: Mapping[str, Any], source: str) -> Protocol:
    weights_raw = _get(data, "weights", source)
    unknown = set(weights_raw) - set(CHECKS)
    if unknown:
        raise ProtocolError(f"protocol file {source}: unknown check(s) {sorted(unknown)}")
    weights = {
        name: _number(weights_raw.get(name, 0), f"weights.{name}", source) for name in CHECKS
    }
    if sum(weights.values()) <= 0:
        raise ProtocolError(f"protocol file {source}: the weights add up to zero")
    credit = {
        str(form): _number(v, f"k2.form_credit.{form}", source)
        for form, v in _get(data, "k2.form_credit", source).items()
    }
    required = tuple(_get(data, "verdicts.required_for_match", source))
    if set(required) - set(CHECKS):
        raise ProtocolError(f"protocol file {source}: unknown check in required_for_match")
    return Protocol(
        name=str(data.get("name", "protocol")),
        k2_ratio_band=_band(
            _get(data, "k2.ratio_mcg_per_500mg_calcium", source), "k2.ratio", source
        ),
        accepted_k2_form=str(_get(data, "k2.accepted_form", source)),
        k2_form_credit=credit,
        ca_to_mg_target=_number(
            _get(data, "magnesium.ca_to_mg_target", source), "ca_to_mg_target", source
        ),
        ca_to_mg_band=_band(_get(data, "magnesium.ca_to_mg_band", source), "ca_to_mg_band", source),
        weights=weights,
        matches_min_score=_number(
            _get(data, "verdicts.matches_min_score", source), "matches_min_score", source
        ),
        partial_min_score=_number(
            _get(data, "verdicts.partial_min_score", source), "partial_min_score", source
        ),
        required_for_match=required,
        source=source,
    )


def load_protocol(path: Path | None = None) -> Protocol:
    """Read and check a protocol file; `ProtocolError` names what is wrong."""
    path = path or DEFAULT_PROTOCOL_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProtocolError(f"protocol file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"protocol file {path} is not valid TOML: {exc}") from None
    return protocol_from_mapping(data, str(path))
