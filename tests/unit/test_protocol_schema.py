"""The protocol file is checked as a schema: each mistake one exact line, exit 1."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelgen.dsld_formats import write_simple_csv
from labelgen.products import sample_product
from pipeline.config import DEFAULT_PROTOCOL_FILE
from pipeline.errors import ProtocolError
from pipeline.protocol import CHECKS, load_protocol, protocol_from_mapping
from tests.builders import audit_cli

DEFAULT = tomllib.loads(DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8"))


def test_the_known_checks_are_the_rule_registry_s_in_report_order() -> None:
    assert list(CHECKS)[:7] == [
        "k2_present",
        "k2_form",
        "k2_ratio",
        "ca_mg_ratio",
        "vitamin_d",
        "anticoagulant_caution",
        "fat_guidance",
    ]


def _with(path: str, value: Any) -> dict[str, Any]:
    """The default protocol with `path` (dotted; a trailing "-" deletes) set to `value`."""
    data = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


def test_the_default_protocol_is_valid() -> None:
    protocol = load_protocol()
    assert protocol.accepted_k2_form == "MK-7"
    assert protocol.weights["k2_ratio"] == 25.0
    assert protocol.required_for_match == ("k2_present", "k2_form", "k2_ratio")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "verdicts.match_min_score",
            90,
            "unknown key 'verdicts.match_min_score' (did you mean 'verdicts.matches_min_score'?)",
        ),
        ("weights.k2_from", 20, "unknown key 'weights.k2_from' (did you mean 'weights.k2_form'?)"),
        ("colour", "blue", "unknown key 'colour'"),
        ("weights.k2_form", float("inf"), "'weights.k2_form' must be a finite number, not inf"),
        ("weights.k2_form", float("nan"), "'weights.k2_form' must be a finite number, not nan"),
        ("weights.k2_ratio", -25, "'weights.k2_ratio' must be at least 0, not -25"),
        ("weights.vitamin_d", "10", "'weights.vitamin_d' must be a number, not '10'"),
        ("weights.vitamin_d", True, "'weights.vitamin_d' must be a number, not True"),
        (
            "k2.form_credit.MK-4",
            25,
            "'k2.form_credit.MK-4' must be between 0 and 1, not 25",
        ),
        (
            "k2.form_credit.MK7",
            1.0,
            "'a form in k2.form_credit' must be one of MK-7, MK-4, mixed, unspecified, "
            "not 'MK7' (did you mean 'MK-7'?)",
        ),
        (
            "k2.accepted_form",
            "MK7",
            "'k2.accepted_form' must be one of MK-7, MK-4, not 'MK7' (did you mean 'MK-7'?)",
        ),
        ("k2.accepted_form", 7, "'k2.accepted_form' must be text, not 7"),
        (
            "verdicts.matches_min_score",
            500,
            "'verdicts.matches_min_score' must be between 0 and 100, not 500",
        ),
        (
            "verdicts.partial_min_score",
            -1,
            "'verdicts.partial_min_score' must be between 0 and 100, not -1",
        ),
        (
            "verdicts.partial_min_score",
            95,
            "'verdicts.partial_min_score' (95) must not be above 'verdicts.matches_min_score' (90)",
        ),
        (
            "verdicts.required_for_match",
            5,
            "'verdicts.required_for_match' must be a list of check names, not 5",
        ),
        (
            "verdicts.required_for_match",
            ["k2_present", "k2_from"],
            f"'verdicts.required_for_match' must be one of {', '.join(CHECKS)}, not 'k2_from' "
            "(did you mean 'k2_form'?)",
        ),
        (
            "k2.ratio_mcg_per_500mg_calcium",
            [180, 100],
            "'k2.ratio_mcg_per_500mg_calcium' must have 0 <= low <= high, not [180, 100]",
        ),
        (
            "magnesium.ca_to_mg_band",
            [1.5],
            "'magnesium.ca_to_mg_band' must be [low, high], not [1.5]",
        ),
        (
            "magnesium.ca_to_mg_target",
            -2,
            "'magnesium.ca_to_mg_target' must be at least 0, not -2",
        ),
        ("magnesium", 2, "'magnesium' must be a table ([magnesium]), not 2"),
        ("name", 3, "'name' must be text, not 3"),
        ("k2.accepted_form", _DELETE, "missing 'k2.accepted_form'"),
    ],
)
def test_a_wrong_value_is_named_exactly(path: str, value: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        protocol_from_mapping(_with(path, value), "my.toml")
    assert str(raised.value) == f"protocol file my.toml: {message}"


runner = CliRunner()


def _run(tmp_path: Path, protocol: Path) -> tuple[int, str]:
    labels = tmp_path / "labels"
    labels.mkdir(exist_ok=True)
    write_simple_csv([sample_product("sample-bone-matrix")], labels / "match.csv")
    result = audit_cli(labels, tmp_path / "out", tmp_path / "w", "--protocol", str(protocol))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8").replace('"MK-7"', '"MK7"', 1),
            ": 'k2.accepted_form' must be one of MK-7, MK-4, not 'MK7' (did you mean 'MK-7'?)",
        ),
        (
            DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8").replace(
                "k2_form = 20", "k2_form = inf"
            ),
            ": 'weights.k2_form' must be a finite number, not inf",
        ),
        (
            DEFAULT_PROTOCOL_FILE.read_text(encoding="utf-8").replace(
                'required_for_match = ["k2_present", "k2_form", "k2_ratio"]',
                "required_for_match = 5",
            ),
            ": 'verdicts.required_for_match' must be a list of check names, not 5",
        ),
    ],
)
def test_a_bad_protocol_file_is_one_line_exit_1(tmp_path: Path, text: str, message: str) -> None:
    protocol = tmp_path / "p.toml"
    protocol.write_text(text, encoding="utf-8")
    code, output = _run(tmp_path, protocol)
    assert code == 1
    assert output.strip().splitlines() == [f"labelaudit: error: protocol file {protocol}{message}"]
    assert not (tmp_path / "out" / "audit.html").exists()


def test_a_protocol_that_is_a_folder_or_not_utf8_is_one_line_exit_1(tmp_path: Path) -> None:
    code, output = _run(tmp_path, tmp_path)
    assert code == 1
    assert output.strip().splitlines() == [
        f"labelaudit: error: protocol file {tmp_path} is a folder, not a file"
    ]
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Kalzium für Knochen"\n'.encode("latin-1"))
    code, output = _run(tmp_path, latin)
    assert code == 1
    assert output.strip().splitlines() == [
        f"labelaudit: error: protocol file {latin} is not UTF-8 text (byte 18: invalid start byte)"
    ]
