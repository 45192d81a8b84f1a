"""Compliance findings per rule over the committed real DSLD labels (tests/data/dsld).

Each label is read as the DSLD label JSON the readers take (labelgen.dsld_formats), then
normalized and checked by the compliance rule pack. Prints a Markdown table (rule,
citation, findings, of them warnings, labels with one) for the README:
`.venv/bin/python scripts/compliance_counts.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline.compliance import RULES, tables_to_compliance
from pipeline.normalize import nutrients_to_products, rows_to_nutrients
from pipeline.records import Label, LabelRow, records_to_frame


def dsld_findings() -> pd.DataFrame:
    """The compliance findings of every committed real DSLD label."""
    labels, rows = records_of(dsld_labels())
    label_frame = records_to_frame(labels, Label)
    nutrients = rows_to_nutrients(records_to_frame(rows, LabelRow), label_frame)
    return tables_to_compliance(nutrients, nutrients_to_products(nutrients, label_frame))


def counts(findings: pd.DataFrame) -> list[tuple[str, str, int, int, int]]:
    """(rule, citation, findings, of them warnings, labels with a finding) for every rule,
    in table order."""
    out = []
    for rule in RULES:
        mine = findings[findings["rule"] == rule.name]
        warnings = int((mine["severity"] == "warning").sum())
        out.append((rule.name, rule.citation, len(mine), warnings, mine["source_file"].nunique()))
    return out


def main() -> int:
    findings = dsld_findings()
    print(f"{len(dsld_labels())} labels, {len(findings)} findings\n")
    print("| rule | citation | findings | of them warnings | labels |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, citation, found, warnings, labels in counts(findings):
        print(f"| `{name}` | {citation} | {found} | {warnings} | {labels} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
