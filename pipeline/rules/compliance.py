"""The label-compliance rules of 21 CFR 101.36 (the Supplement Facts format), one row each.

A rule pack beside the protocol, not part of its score: pipeline.compliance computes each
rule's `ok_<rule>` column from the label and runs the suite built from `Rule.expect`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.rules.base import Expect


@dataclass(frozen=True)
class Rule:
    """One label-compliance rule: its citation, statement (the methodology's sentence),
    level, the severity of its findings, what its wording was checked against, the sources
    it cannot be checked from, and (`expect`) its one expectation over its `ok_` column."""

    name: str
    citation: str
    statement: str
    level: str  # "product" (one row per product) or "row" (one row per panel line)
    severity: str  # the finding's severity: "error" or "warning"
    verified: str  # what the wording was checked against
    not_checkable: str = ""  # the sources (and why) the rule cannot be checked from

    @property
    def column(self) -> str:
        return f"ok_{self.name}"

    @property
    def expect(self) -> Expect:
        """Its column is True (False breaks the rule; missing: it does not apply)."""
        return Expect(
            "in_set",
            self.column,
            self.statement,
            f"{self.citation}: {self.statement}",
            value_set=(True,),
            meta={"rule": self.name, "citation": self.citation},
        )


_GPO_2008 = (
    "verified: 21 CFR 101.36 text (GPO, revised April 2008; paragraph unchanged by the 2016 "
    "rule as far as found)"
)
_NOT_FOUND = "not verified: the current eCFR text was not found by the search"

#: The rule pack: one row per rule, in report order.
RULES: tuple[Rule, ...] = (
    Rule(
        "heading",
        "21 CFR 101.36(b)(1)(i), (e)",
        'The panel is headed "Supplement Facts".',
        "product",
        "error",
        _GPO_2008,
        "CSV and DSLD JSON (no heading in the data); PDF and OCR panels are only found under "
        "this heading, others are rejected files (a 'Nutrition Facts' heading is named in the "
        "rejection)",
    ),
    Rule(
        "serving_size",
        "21 CFR 101.36(b)(1)(i)",
        'A "Serving Size" is stated under the heading.',
        "product",
        "error",
        _GPO_2008,
    ),
    Rule(
        "servings_per_container",
        "21 CFR 101.36(b)(1)(ii)",
        '"Servings Per Container" is stated, unless the net quantity of contents states it.',
        "product",
        "warning",
        _GPO_2008,
        "the DSLD CSV export (it has no servings per container); no reader keeps the net "
        "quantity, so a finding says to check it",
    ),
    Rule(
        "units",
        "21 CFR 101.9(c)(8)(iv); 101.36(b)(2)(ii)(B)",
        "Vitamin A in mcg RAE, vitamin D and K in mcg, vitamin E in mg, folate in mcg DFE; "
        "IU only in parentheses after the metric amount.",
        "row",
        "error",
        "units: verified against the 2016 Daily Value table (81 FR 33742 as summarized); "
        "IU in parentheses: " + _NOT_FOUND,
    ),
    Rule(
        "dv_declared",
        "21 CFR 101.36(b)(2)(iii)",
        "A %DV is given for each dietary ingredient that has a Daily Value (protein may omit it).",
        "row",
        "error",
        "FDA Dietary Supplement Labeling Guide; " + _NOT_FOUND,
        "CSV files (the %DV column is optional), OCR (misread %DV cells); blend members",
    ),
    Rule(
        "dv_2016",
        "21 CFR 101.36(b)(2)(iii)(B); 101.9(c)(8)(iv), (c)(9)",
        "A declared %DV agrees with the 2016 Daily Value within label rounding (1 point or 10%).",
        "row",
        "error",
        "Daily Values: verified against the 2016 table (81 FR 33742 as summarized); "
        "rounding: this project's tolerance, " + _NOT_FOUND,
        "amounts in IU of vitamin A or E (no agreed conversion to mcg RAE / mg)",
    ),
    Rule(
        "no_dv_symbol",
        "21 CFR 101.36(b)(2)(iii)(F), (b)(3)(iv)",
        "An ingredient without a Daily Value carries a symbol in the %DV column, and no %DV.",
        "row",
        "error",
        "FDA Dietary Supplement Labeling Guide (cites these paragraphs); " + _NOT_FOUND,
        "CSV, DSLD JSON and OCR for a missing symbol (CSV and DSLD do not keep symbols, OCR "
        "misreads them); DSLD's 0% is its way of writing none",
    ),
    Rule(
        "dv_not_established_footnote",
        "21 CFR 101.36(b)(2)(iii)(F), (b)(3)(iv)",
        'The symbol refers to the footnote "Daily Value not established".',
        "product",
        "error",
        "FDA Dietary Supplement Labeling Guide (cites these paragraphs); " + _NOT_FOUND,
        "CSV and DSLD JSON (no footnotes in the data); OCR for a missing footnote",
    ),
    Rule(
        "order",
        "21 CFR 101.36(b)(2)(i)(B)",
        "Dietary ingredients with a Daily Value are listed in the regulation's order.",
        "row",
        "error",
        "verified: 101.36(b)(2)(i)(B) as quoted by FDA's labeling guide (2005), with choline "
        "after pantothenic acid from FDA's 2016 rule Q&A",
        "blend members",
    ),
    Rule(
        "zero",
        "21 CFR 101.36(b)(2)(i)",
        "No dietary ingredient with a Daily Value is declared at zero.",
        "row",
        "error",
        _NOT_FOUND,
    ),
    Rule(
        "blend",
        "21 CFR 101.36(c)(1)-(3)",
        "A proprietary blend is named and gives its total weight on its line.",
        "row",
        "error",
        "verified against quotations of 101.36(c) (industry guidance pages); " + _NOT_FOUND,
    ),
    Rule(
        "calorie_footnote",
        "21 CFR 101.36(b)(2)(iii)(D)",
        "A %DV for total fat, saturated fat, total carbohydrate, dietary fiber or protein "
        'needs the footnote "Percent Daily Values are based on a 2,000 calorie diet".',
        "product",
        "error",
        _NOT_FOUND,
        "CSV and DSLD JSON (no footnotes in the data); OCR for a missing footnote",
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def rule_table() -> list[dict[str, str]]:
    """The rules as the report and audit.json's methodology list them."""
    return [
        {
            "rule": r.name,
            "citation": r.citation,
            "statement": r.statement,
            "severity": r.severity,
            "not_checkable": r.not_checkable,
            "verified": r.verified,
        }
        for r in RULES
    ]
