"""Exit codes for schedulers: which code a completed run ends with (`--fail-on`).

EXIT_OK, EXIT_ERROR, EXIT_LOCKED, EXIT_FINDINGS are defined with the errors they stand for
(pipeline.errors), so that the CLI can name them without importing this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.errors import EXIT_FINDINGS, EXIT_OK

#: Values accepted by `--fail-on`.
FAIL_ON_CHOICES = frozenset({"fails", "data-quality", "compliance"})


def exit_code_for(audit: Mapping[str, Any], fail_on: set[str]) -> int:
    """The exit code of a completed run: `EXIT_FINDINGS` if a `fail_on` condition trips.

    `"fails"` trips when any product in `audit["products"]` has verdict `"fails"`;
    `"data-quality"` trips when `audit["data_quality"]` is non-empty, `"compliance"` when
    `audit["compliance"]` is (pipeline.compliance). Otherwise
    `EXIT_OK`. An unknown condition raises ValueError (the CLI validates it first).
    """
    unknown = set(fail_on) - FAIL_ON_CHOICES
    if unknown:
        raise ValueError(
            f"unknown --fail-on value(s): {', '.join(sorted(unknown))}; "
            f"expected {' or '.join(sorted(FAIL_ON_CHOICES))}"
        )
    # With a summary (pipeline.document.build_audit), its counts: an unchanged run's
    # document (pipeline.rerun.ReusedAudit) then never reads audit.json back.
    summary = audit.get("summary")
    counts = summary if isinstance(summary, Mapping) else {}
    verdicts = counts.get("verdicts")
    if "fails" in fail_on and (
        verdicts.get("fails", 0) > 0
        if isinstance(verdicts, Mapping)
        else any(product.get("verdict") == "fails" for product in audit.get("products") or ())
    ):
        return EXIT_FINDINGS
    for condition, key, count in (
        ("data-quality", "data_quality", "data_quality_findings"),
        ("compliance", "compliance", "compliance_findings"),
    ):
        found = counts[count] > 0 if count in counts else bool(audit.get(key))
        if condition in fail_on and found:
            return EXIT_FINDINGS
    return EXIT_OK
