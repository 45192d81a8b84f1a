"""The validate stage's own process (pipeline.infra.stage_process), and how many products
the last validation covered.

This module is light (no pandas, no pyarrow). The audit starts the process when a large
input's files are read (pipeline.audit.read_in_child), so that the child's import of Great
Expectations (~2-3 s) overlaps normalization, not the reading and its workers.
"""

from __future__ import annotations

import json

from pipeline import config
from pipeline.infra.stage_process import StageProcess

#: From this many products on, Great Expectations runs in a separate process (a fresh
#: interpreter, not a fork: pyarrow's threads are running), so that its ~160 MB are freed
#: before the report is built. Below it the memory does not matter and a fresh interpreter
#: importing pandas and GX (~3 s) would double the time of a small audit.
VALIDATE_IN_CHILD_MIN_PRODUCTS = 500


def validation_process() -> StageProcess:
    """pipeline.validate.validate_work in a process of its own, warmed up (GX imported)."""
    return StageProcess("pipeline.validate:validate_work", "pipeline.validate:warm_up", "validate")


def products_last_validated(work: config.WorkPaths) -> int:
    """How many products the last validation here covered (run.json's "validation"), 0 if
    unknown; read without pandas or pyarrow."""
    try:
        counts = json.loads(work.run_meta.read_text(encoding="utf-8"))["validation"]
        return int(counts["products_validated"]) + int(counts["products_reused"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
