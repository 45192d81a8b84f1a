"""The compliance rule pack (21 CFR 101.36): each rule broken by a generated label gives
exactly its finding, a clean label gives none, the suite is built from the rule table, and
--fail-on compliance trips on them. (In runs: tests/integration/test_compliance_audit.py.)"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from labelgen.compliance_cases import CASES, CLEAN, render_case
from pipeline import compliance
from pipeline.errors import EXIT_FINDINGS, EXIT_OK, NoPanel
from pipeline.infra.exits import exit_code_for
from pipeline.records import Label, LabelRow
from pipeline.sources.pdf import read_pdf
from pipeline.validate import Validator
from tests.builders import AUDIT_EXAMPLE, REPO, label_tables

sys.path.insert(0, str(REPO / "scripts"))
import compliance_counts


def _findings(path: Path, validator: Validator) -> list[tuple[str, str, str, str]]:
    extraction = read_pdf(path, path.name)
    _, nutrients, products = label_tables(extraction.labels, extraction.rows)
    found = compliance.tables_to_compliance(nutrients, products, validator)
    return [(f.rule, f.citation, f.severity, f.detail) for f in found.itertuples()]


def _cite(rule: str) -> str:
    return compliance.RULES_BY_NAME[rule].citation


EXPECTED: dict[str, list[tuple[str, str, str, str]]] = {
    "serving_size": [
        (
            "serving_size",
            _cite("serving_size"),
            "error",
            'the panel states no serving size: expected "Serving Size ..."',
        )
    ],
    "servings_per_container": [
        (
            "servings_per_container",
            _cite("servings_per_container"),
            "warning",
            'the panel states no "Servings Per Container": expected it, unless the net '
            "quantity of contents states the number of servings (the net quantity is not "
            "read: check it on the label)",
        )
    ],
    "units": [
        (
            "units",
            _cite("units"),
            "error",
            "line 2, page 1 'Vitamin D': 1,000 IU: expected Vitamin D in mcg (IU only in "
            "parentheses after it; IU alone is the pre-2016 unit)",
        )
    ],
    "dv_declared": [
        (
            "dv_declared",
            _cite("dv_declared"),
            "error",
            "line 5, page 1 'Magnesium': 210 mg has a Daily Value (420 mg) but its %DV "
            "column gives no %DV: expected a %DV",
        )
    ],
    "dv_2016": [
        (
            "dv_2016",
            _cite("dv_2016"),
            "warning",
            "line 4, page 1 'Calcium': declared 50% for 500 mg matches the pre-2016 Daily "
            "Value (1,000 mg, 50%), not the 2016 one (1,300 mg, expected 38%)",
        )
    ],
    "no_dv_symbol": [
        (
            "no_dv_symbol",
            _cite("no_dv_symbol"),
            "error",
            "line 9, page 1 'Boron' has no Daily Value and no symbol in the %DV column: "
            "expected a symbol (*) that refers to 'Daily Value not established'",
        )
    ],
    "dv_not_established_footnote": [
        (
            "dv_not_established_footnote",
            _cite("dv_not_established_footnote"),
            "error",
            "line 6, page 1 'Proprietary Blend' has no Daily Value, but the panel has no "
            "footnote 'Daily Value not established' for its symbol to refer to",
        )
    ],
    "order": [
        (
            "order",
            _cite("order"),
            "error",
            "line 5, page 1 'Calcium' is listed after line 4, page 1 'Magnesium': expected "
            "calcium before magnesium (the order of 101.36(b)(2)(i)(B))",
        )
    ],
    "zero": [
        (
            "zero",
            _cite("zero"),
            "error",
            "line 6, page 1 'Zinc' is declared at zero (0 mg): expected it left off the panel",
        )
    ],
    "blend": [
        (
            "blend",
            _cite("blend"),
            "error",
            "line 6, page 1 'Proprietary Blend': the blend gives no amount: expected its "
            "name and total weight (e.g. 500 mg)",
        )
    ],
    "calorie_footnote": [
        (
            "calorie_footnote",
            _cite("calorie_footnote"),
            "error",
            "line 1, page 1 'Total Carbohydrate' gives a %DV, but the panel has no footnote "
            "'Percent Daily Values are based on a 2,000 calorie diet'",
        )
    ],
}


def test_every_rule_but_the_heading_has_a_breaking_case() -> None:
    assert set(CASES) == {rule.name for rule in compliance.RULES}
    assert set(EXPECTED) == set(CASES) - {"heading"}


def test_the_clean_label_has_no_findings(validator: Validator, tmp_path: Path) -> None:
    assert _findings(render_case(CLEAN, tmp_path / "clean.pdf"), validator) == []


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_a_label_breaking_one_rule_gives_exactly_its_finding(
    rule: str, validator: Validator, tmp_path: Path
) -> None:
    path = render_case(CASES[rule], tmp_path / f"{rule}.pdf")
    assert _findings(path, validator) == EXPECTED[rule]


def test_a_panel_not_headed_supplement_facts_is_a_rejected_file(tmp_path: Path) -> None:
    path = render_case(CASES["heading"], tmp_path / "heading.pdf")
    with pytest.raises(NoPanel) as err:
        read_pdf(path, path.name)
    assert err.value.reason == (
        "no Supplement Facts panel found in 1 page(s): page 1 has a panel headed 'Nutrition "
        "Facts' (a dietary supplement's panel is headed 'Supplement Facts', 21 CFR 101.36(e))"
    )


def test_the_footnotes_are_kept_from_the_panel(tmp_path: Path) -> None:
    extraction = read_pdf(render_case(CLEAN, tmp_path / "clean.pdf"), "clean.pdf")
    assert extraction.labels[0].footnotes == (
        "*Percent Daily Values are based on a 2,000 calorie diet. ** Daily Value not established."
    )


def test_the_suites_hold_one_expectation_per_rule_with_its_citation() -> None:
    suites = [compliance.compliance_suite(level) for level in ("row", "product")]
    metas = [e.meta for suite in suites for e in suite.expectations]
    assert sorted(m["rule"] for m in metas) == sorted(r.name for r in compliance.RULES)
    assert all(m["citation"] == compliance.RULES_BY_NAME[m["rule"]].citation for m in metas)
    columns = [e.column for suite in suites for e in suite.expectations]  # type: ignore[attr-defined]
    assert sorted(columns) == sorted(f"ok_{r.name}" for r in compliance.RULES)


def test_names_resolve_to_the_regulations_nutrients() -> None:
    names = {
        "Vitamin K2 (as menaquinone-7)": "vitamin_k",
        "(6S)-5-Methylfolate": "folate",
        "Folic Acid": "folate",
        "Niacinamide": "niacin",
        "Phosphorous": "phosphorus",
        "Total Carbohydrate": "total_carbohydrate",
        "Calcium Citrate": None,
        "Melatonin": None,
    }
    found = {name: getattr(compliance.regulated(name), "key", None) for name in names}
    assert found == names
    assert compliance.names_a_nutrient_form("Calcium Citrate")
    assert not compliance.names_a_nutrient_form("Melatonin")


def test_dsld_zero_percent_on_a_tiny_amount_reads_as_less_than_one_percent(
    validator: Validator,
) -> None:
    label = Label("dsld/x.json", 0, "Tiny", serving_size="1 Tablet", source_format="dsld-json")
    label = dataclasses.replace(label, servings_per_container="30")
    rows = [
        LabelRow("dsld/x.json", 0, 1, "Zinc", "11", "mg", "0%"),  # 100%: DSLD's "no %DV"
        LabelRow("dsld/x.json", 0, 2, "Potassium", "4", "mg", "0%"),  # 0.09%: DSLD's "<1%"
        LabelRow("dsld/x.json", 0, 3, "Melatonin", "3", "mg", "0%"),  # no DV: DSLD's "*"
    ]
    found = compliance.tables_to_compliance(*label_tables([label], rows)[1:], validator)
    assert found[["rule", "detail"]].values.tolist() == [
        [
            "dv_declared",
            "line 1 'Zinc': 11 mg has a Daily Value (11 mg) but its %DV column gives no %DV: "
            "expected a %DV",
        ]
    ]


def test_counts_over_the_committed_real_dsld_labels() -> None:
    """The README's table (scripts/compliance_counts.py); every finding was read by hand."""
    counts = compliance_counts.counts(compliance_counts.dsld_findings())
    counted = {name: (found, warnings, labels) for name, _, found, warnings, labels in counts}
    # as the table has it: the rules with findings, then "the other 7 rules" with none
    assert {name: c for name, c in counted.items() if c != (0, 0, 0)} == {
        "units": (60, 0, 39),
        "dv_declared": (19, 0, 2),
        "dv_2016": (230, 218, 66),
        "order": (12, 0, 9),
        "blend": (5, 0, 5),
    }
    assert len(counted) == 12


def test_fail_on_compliance_trips_on_any_finding() -> None:
    finding: dict[str, Any] = {"rule": "zero", "detail": "line 6 'Zinc' ..."}
    assert exit_code_for({"compliance": [finding]}, {"compliance"}) == EXIT_FINDINGS
    assert exit_code_for({"compliance": []}, {"compliance"}) == EXIT_OK
    assert exit_code_for({"compliance": [finding]}, {"fails"}) == EXIT_OK


def test_printed_percent_daily_values_read_as_numbers() -> None:
    read = {dv: compliance.declared_pct(dv) for dv in ("38%", "<1%*", "4,167%", "0.5%", "**", "")}
    assert read == {"38%": 38.0, "<1%*": 1.0, "4,167%": 4167.0, "0.5%": 0.5, "**": None, "": None}


def test_the_report_lists_compliance_findings_in_their_own_section() -> None:
    from pipeline.report import render_html

    example = AUDIT_EXAMPLE
    audit = json.loads(example.read_text(encoding="utf-8"))
    html = render_html(audit)
    start = html.index('<section id="compliance"')
    part = html[start : html.index("</section>", start)]
    assert "1 compliance finding<" in part
    assert "<code>units</code>" in part and "21 CFR 101.9(c)(8)(iv); 101.36(b)(2)(ii)(B)" in part
    assert "900 IU: expected Vitamin D in mcg" in part
    assert '<section id="data-quality"' not in part
    audit["compliance"] = []
    assert "No compliance findings." in render_html(audit)
