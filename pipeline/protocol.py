"""The protocol settings: loaded from a TOML file (default: pipeline/protocol.toml).

Every threshold, accepted form and weight the validate and score stages use comes from
here, so a user can copy the file, change a band, and run `--protocol` with it.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_PROTOCOL_FILE
from pipeline.errors import ProtocolError
from pipeline.nutrients import MIXED, MK4, MK7, UNSPECIFIED
from pipeline.rules.protocol import CHECKS, PROTOCOL_RULES

__all__ = ["CHECKS", "Protocol", "default_protocol", "load_protocol"]


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
        """The values the report's methodology section shows (with each check's label,
        short label, weight and methodology sentence, in report order)."""
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
            "checks": [
                {
                    "name": rule.name,
                    "label": rule.label,
                    "short": rule.short,
                    "weight": self.weights[rule.name],
                    "statement": rule.methodology(self),
                }
                for rule in PROTOCOL_RULES
            ],
        }


#: The protocol file's keys: a table is a dict of its keys, a value None (any name: the
#: keys of `k2.form_credit` are forms, checked on their own).
SCHEMA: dict[str, Any] = {
    "name": None,
    "k2": {"ratio_mcg_per_500mg_calcium": None, "accepted_form": None, "form_credit": None},
    "magnesium": {"ca_to_mg_target": None, "ca_to_mg_band": None},
    "weights": dict.fromkeys(CHECKS),
    "verdicts": {"matches_min_score": None, "partial_min_score": None, "required_for_match": None},
}
#: The K2 forms a label can be read as (pipeline.nutrients): what `k2.form_credit` may
#: name, and (the named ones) what `k2.accepted_form` may be.
K2_FORMS = (MK7, MK4, MIXED, UNSPECIFIED)
ACCEPTED_FORMS = (MK7, MK4)


class _Checker:
    """The checks of one protocol file: each failure a ProtocolError naming the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str) -> ProtocolError:
        return ProtocolError(f"protocol file {self.source}: {message}")

    def unknown_keys(self, table: Mapping[str, Any], schema: Mapping[str, Any], at: str) -> None:
        for key, value in table.items():
            dotted = f"{at}{key}"
            if key not in schema:
                known = [f"{at}{k}" for k in schema]
                raise self.fail(f"unknown key '{dotted}'{_did_you_mean(dotted, known)}")
            if isinstance(schema[key], dict):
                if not isinstance(value, Mapping):
                    raise self.fail(f"'{dotted}' must be a table ([{dotted}]), not {value!r}")
                self.unknown_keys(value, schema[key], f"{dotted}.")

    def get(self, table: Mapping[str, Any], dotted: str) -> Any:
        node: Any = table
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise self.fail(f"missing '{dotted}'")
            node = node[part]
        return node

    def number(
        self, value: Any, dotted: str, low: float | None = None, high: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"'{dotted}' must be a number, not {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(f"'{dotted}' must be a finite number, not {value!r}")
        if low is not None and high is not None and not low <= number <= high:
            raise self.fail(f"'{dotted}' must be between {low:g} and {high:g}, not {value!r}")
        if low is not None and number < low:
            raise self.fail(f"'{dotted}' must be at least {low:g}, not {value!r}")
        return number

    def band(self, value: Any, dotted: str) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(f"'{dotted}' must be [low, high], not {value!r}")
        low, high = (self.number(v, dotted) for v in value)
        if not 0 <= low <= high:
            raise self.fail(f"'{dotted}' must have 0 <= low <= high, not {value!r}")
        return low, high

    def text(self, value: Any, dotted: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"'{dotted}' must be text, not {value!r}")
        return value

    def one_of(self, value: Any, dotted: str, known: Sequence[str]) -> str:
        text = self.text(value, dotted)
        if text not in known:
            listed = ", ".join(known)
            raise self.fail(
                f"'{dotted}' must be one of {listed}, not {text!r}{_did_you_mean(text, known)}"
            )
        return text


def _did_you_mean(word: str, known: Sequence[str]) -> str:
    """ " (did you mean 'X'?)" with the known word closest to `word`, "" if none is close."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def protocol_from_mapping(data: Mapping[str, Any], source: str) -> Protocol:
    """The protocol in `data` (a parsed protocol file), checked as a schema: no unknown key
    (the closest known one is named), every value of its type and in its range (weights
    finite and >= 0, credits 0-1, thresholds 0-100), forms and checks from the known ones.
    A ProtocolError names the first key that is wrong."""
    check = _Checker(source)
    check.unknown_keys(data, SCHEMA, "")
    weights_raw = check.get(data, "weights")
    weights = {
        name: check.number(weights_raw.get(name, 0), f"weights.{name}", 0.0) for name in CHECKS
    }
    if sum(weights.values()) <= 0:
        raise check.fail("the weights add up to zero")
    credit_raw = check.get(data, "k2.form_credit")
    if not isinstance(credit_raw, Mapping):
        raise check.fail(f"'k2.form_credit' must be a table ([k2.form_credit]), not {credit_raw!r}")
    credit = {}
    for form, value in credit_raw.items():
        check.one_of(form, "a form in k2.form_credit", K2_FORMS)
        credit[str(form)] = check.number(value, f"k2.form_credit.{form}", 0.0, 1.0)
    required_raw = check.get(data, "verdicts.required_for_match")
    if not isinstance(required_raw, list):
        raise check.fail(
            f"'verdicts.required_for_match' must be a list of check names, not {required_raw!r}"
        )
    required = tuple(
        check.one_of(name, "verdicts.required_for_match", list(CHECKS)) for name in required_raw
    )
    matches = check.number(
        check.get(data, "verdicts.matches_min_score"), "verdicts.matches_min_score", 0.0, 100.0
    )
    partial = check.number(
        check.get(data, "verdicts.partial_min_score"), "verdicts.partial_min_score", 0.0, 100.0
    )
    if partial > matches:
        raise check.fail(
            f"'verdicts.partial_min_score' ({partial:g}) must not be above "
            f"'verdicts.matches_min_score' ({matches:g})"
        )
    target = check.number(
        check.get(data, "magnesium.ca_to_mg_target"), "magnesium.ca_to_mg_target", 0.0
    )
    return Protocol(
        name=check.text(data.get("name", "protocol"), "name"),
        k2_ratio_band=check.band(
            check.get(data, "k2.ratio_mcg_per_500mg_calcium"), "k2.ratio_mcg_per_500mg_calcium"
        ),
        accepted_k2_form=check.one_of(
            check.get(data, "k2.accepted_form"), "k2.accepted_form", ACCEPTED_FORMS
        ),
        k2_form_credit=credit,
        ca_to_mg_target=target,
        ca_to_mg_band=check.band(
            check.get(data, "magnesium.ca_to_mg_band"), "magnesium.ca_to_mg_band"
        ),
        weights=weights,
        matches_min_score=matches,
        partial_min_score=partial,
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
    except IsADirectoryError:
        raise ProtocolError(f"protocol file {path} is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"protocol file {path} is not UTF-8 text (byte {exc.start + 1}: {exc.reason})"
        ) from None
    except OSError as exc:
        raise ProtocolError(f"protocol file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"protocol file {path} is not valid TOML: {exc}") from None
    return protocol_from_mapping(data, str(path))


@lru_cache(maxsize=1)
def default_protocol() -> Protocol:
    """The default protocol file's protocol (read once): what a band or weight is when a
    caller has no protocol of its own."""
    return load_protocol(DEFAULT_PROTOCOL_FILE)
