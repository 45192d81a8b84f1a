"""How the audit logs: one format, on stderr, at one level, in every process of a run
(the CLI's, and a stage's own process: pipeline.infra.stage_process)."""

from __future__ import annotations

import logging
import sys

#: Libraries whose INFO and WARNING lines are theirs, not the audit's.
NOISY_LOGGERS = ("great_expectations", "pdfminer", "matplotlib", "fontTools")


def log_level(quiet: bool, debug: bool = False) -> int:
    """--debug: everything; --quiet: warnings and errors; else progress (INFO) as well."""
    return logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO


def setup_logging(level: int) -> None:
    """Log lines "<time> <LEVEL> <message>" at `level` on stderr (replacing any setup)."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.ERROR)
