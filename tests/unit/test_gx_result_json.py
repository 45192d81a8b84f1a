"""pipeline.infra.gx.result_json: the dict GX's to_json_dict gives, on real results."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline import expectations as ex
from pipeline.compliance import compliance_findings
from pipeline.infra.gx import Validator, _json_value, result_json
from pipeline.protocol import load_protocol
from pipeline.quality import quality_rows_table
from pipeline.rules.quality import QUALITY_CHECKS
from pipeline.validate import protocol_table
from tests.builders import label_tables


def _results(validator: Validator) -> list[Any]:
    """Every suite's GX result over the real DSLD labels."""
    _, nutrients, products = label_tables(*records_of(dsld_labels()))
    rows = quality_rows_table(nutrients).reset_index(drop=True)
    rows["row_id"] = rows.index
    ran: list[Any] = []

    class Recording(Validator):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            ran.append(super().run(*args, **kwargs))
            return ran[-1]

    # the compliance rule pack's two suites, with the frames compliance_findings builds
    compliance_findings(nutrients, products, Recording(context=validator.context))
    return [
        validator.run(ex.protocol_suite(load_protocol()), protocol_table(products), ["product_id"]),
        validator.run(ex.rows_quality_suite(), rows, ["row_id"]),
        validator.run(ex.products_quality_suite(), products, ["product_id"]),
        *ran,
    ]


def test_result_json_is_to_json_dict(validator: Validator) -> None:
    unexpected = 0
    results = _results(validator)
    for result in results:
        expected = result.to_json_dict()
        got = result_json(result)
        assert got == expected
        assert json.dumps(got) == json.dumps(expected)  # keys in the same order too
        assert result.to_json_dict() == expected  # the result is left as it was
        unexpected += sum(len(r["result"].get("unexpected_list") or []) for r in got["results"])
    assert len(results) == 5
    assert unexpected > 0  # the unexpected lists were compared too


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "a"),
        (3, 3),
        (True, True),
        (None, None),
        (1.5, 1.5),
        (float("nan"), None),
        ((1, "x", float("nan")), [1, "x", None]),
        ({1: [2.0, None], "k": {"v": float("nan")}}, {"1": [2.0, None], "k": {"v": None}}),
        (np.int64(7), 7),
        (np.float64("nan"), None),
        (np.bool_(True), True),
        ({"a"}, ["a"]),
    ],
)
def test_json_value(value: Any, expected: Any) -> None:
    got = _json_value(value)
    assert got == expected
    assert type(got) is type(expected)


def test_configurations_built_once_in_the_block_only() -> None:
    from great_expectations.expectations.expectation import Expectation

    from pipeline.infra.gx import _configurations_built_once

    gx_property = Expectation.__dict__["configuration"]
    expect = ex.gx_expectation(
        next(e for check in QUALITY_CHECKS for e in check.expects), check="c"
    )
    assert expect.configuration is not expect.configuration  # GX builds it at each read
    with _configurations_built_once():
        first = expect.configuration
        assert expect.configuration is first
        assert first == gx_property.fget(expect)
        other = ex.gx_expectation(QUALITY_CHECKS[-1].expects[-1], check="d")
        assert other.configuration is other.configuration is not first
    assert Expectation.__dict__["configuration"] is gx_property
    assert expect.configuration is not first


def test_a_validator_without_docs_saves_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    context = Validator().context

    def save() -> None:
        raise AssertionError("the configuration was saved")

    monkeypatch.setattr(context.variables, "save", save)
    source = context.data_sources.add_pandas("saved-or-not")
    source.add_dataframe_asset("a").add_batch_definition_whole_dataframe("whole")
    context.data_sources.delete(source.name)
