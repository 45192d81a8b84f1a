"""Start-up time: what a run that proves unchanged imports (pipeline.audit and the CLI's
modules) is light; pandas, pyarrow, the report's modules and rich come with their stage."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "pyarrow", "rich", "jinja2", "matplotlib", "great_expectations")
LAZY = ("pipeline.report", "pipeline.document", "pipeline.validate", "pipeline.normalize")


def _imported_by(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_the_audit_module_and_the_cli_import_no_stage_library() -> None:
    found = _imported_by(
        "import pipeline.cli, pipeline.audit, pipeline.rerun_stage, pipeline.protocol\n"
        "import pipeline.infra.executors, pipeline.infra.validation"
    )
    assert sorted(m for m in HEAVY if m in found) == []
    assert sorted(m for m in LAZY if m in found) == []


def test_a_progress_log_imports_no_rich_and_a_bar_does() -> None:
    log_only = "from pipeline.infra.progress import RunProgress\nRunProgress('x', 'f', 3, False)"
    assert "rich" not in _imported_by(log_only)
    bar = "from pipeline.infra.progress import RunProgress\nRunProgress('x', 'f', 3, True)"
    assert "rich.progress" in _imported_by(bar)
