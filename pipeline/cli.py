"""The `labelaudit` command: `audit` runs every stage; each stage is a subcommand too.

Thin on purpose: options in, stage functions (pipeline.audit) called, one line out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline import config
from pipeline.errors import EXIT_ERROR, EXIT_LOCKED, AuditError, RunLocked
from pipeline.infra.exits import exit_code_for
from pipeline.infra.logs import log_level, setup_logging

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Audit supplement label files against the calcium + vitamin K2 (MK-7) protocol.",
)

log = logging.getLogger("labelaudit")

# Start-up time: each command imports what it runs when it runs, so `--help` and usage
# errors answer at once. Measured (python -X importtime, after this module, which takes
# ~0.2 s): pipeline.audit (the stages: pandas, pyarrow, the readers) ~3.0 s,
# pipeline.infra.executors ~1.8 s, pipeline.corrections (pandas) ~1.6 s, pipeline.protocol
# (the rule registry, tomllib) ~0.1 s.


class FailOn(StrEnum):
    fails = "fails"
    data_quality = "data-quality"
    compliance = "compliance"


LabelsDir = Annotated[
    Path,
    typer.Argument(help="Folder of label files (PDF, CSV, DSLD JSON, images), read recursively."),
]
OutDir = Annotated[
    Path, typer.Option("--out", "-o", help="Where audit.html, audit.json, ranking.csv go.")
]
WorkDir = Annotated[
    Path, typer.Option("--work", "-w", help="Folder of stage artifacts and the extraction cache.")
]
ProtocolFile = Annotated[
    Path | None,
    typer.Option("--protocol", "-p", help="Protocol settings (TOML); default: the bundled one."),
]
Jobs = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Processes for extraction (default: all cores)."),
]
Full = Annotated[bool, typer.Option("--full", help="Ignore the cache: read every file again.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]
Debug = Annotated[
    bool, typer.Option("--debug", help="Debug log, and the traceback of an error as well.")
]


class ExecutorKind(StrEnum):
    local = "local"
    dask = "dask"


class OcrEngine(StrEnum):
    tesseract = "tesseract"
    rapidocr = "rapidocr"


OcrEngineOpt = Annotated[
    OcrEngine | None,
    typer.Option(
        "--ocr-engine",
        help="OCR engine for images and scanned PDF pages (default: tesseract; rapidocr "
        "needs the rapidocr extra).",
    ),
]


def _use_ocr_engine(engine: OcrEngine | None) -> None:
    """Put the engine where the extract stage's worker processes read it."""
    if engine is not None:
        os.environ[config.OCR_ENGINE_ENV] = engine.value


def _setup_logging(quiet: bool, debug: bool = False) -> None:
    setup_logging(log_level(quiet, debug))


#: A temp file of pipeline.infra.atomic's writes (`.name.<random>.tmp`): named by its target.
_TEMP_NAME = re.compile(r"(^|/)\.([^/]+)\.[0-9a-f]{12}\.tmp$")


def describe_error(exc: BaseException) -> str:
    """One line for an error that stopped the run: an AuditError as it says; a system error
    with the file it is about ("/srv/report/audit.html: No space left on device"); any other
    with its type (the traceback is in the debug log)."""
    if isinstance(exc, AuditError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        if exc.filename is None:
            return str(exc.strerror)
        name = _TEMP_NAME.sub(r"\1\2", os.fsdecode(exc.filename))
        return f"{name.encode('utf-8', 'backslashreplace').decode('utf-8')}: {exc.strerror}"
    text = " ".join(str(exc).split()) or "(no message)"
    return f"unexpected {type(exc).__name__}: {text} (--debug shows the traceback)"


@contextlib.contextmanager
def _one_line_errors(debug: bool) -> Iterator[None]:
    """Every failure of the command: one line on stderr and its exit code (RunLocked 3,
    anything else 1), never a traceback unless `debug`."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        code = EXIT_LOCKED if isinstance(exc, RunLocked) else EXIT_ERROR
        typer.echo(f"labelaudit: error: {describe_error(exc)}", err=True)
        raise typer.Exit(code) from None


def _jobs(jobs: int | None) -> int:
    """--jobs, capped at the cores this process may use (default: all of them)."""
    cores = config.default_jobs()
    if jobs is not None and jobs > cores:
        log.info("--jobs %d capped at the %d cores this run may use", jobs, cores)
        return cores
    return jobs or cores


@app.command()
def audit(
    labels_dir: LabelsDir = config.DEFAULT_LABELS_DIR,
    out: OutDir = config.DEFAULT_REPORTS_DIR,
    work: WorkDir = config.DEFAULT_WORK_DIR,
    protocol: ProtocolFile = None,
    jobs: Jobs = None,
    full: Full = False,
    fail_on: Annotated[
        list[FailOn] | None,
        typer.Option(
            "--fail-on",
            help="Also exit 4 when any product fails, or any data-quality finding appears.",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for another run on the same work folder.")
    ] = 0.0,
    data_docs: Annotated[
        bool, typer.Option("--data-docs", help="Also render GX Data Docs into OUT/data-docs/.")
    ] = False,
    quiet: Quiet = False,
    debug: Debug = False,
    # Per-file limits (pipeline.config.FileLimits): a file over one is rejected, naming it.
    max_file_mb: Annotated[
        int, typer.Option(min=1, help="Per-file limit: file size (MB).")
    ] = config.FILE_LIMITS.max_file_mb,
    max_pages: Annotated[
        int, typer.Option(min=1, help="Per-file limit: pages (PDF) or frames (TIFF).")
    ] = config.FILE_LIMITS.max_pages,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Per-file limit: pixels of an image or rendered page.")
    ] = config.FILE_LIMITS.max_pixels,
    max_rows: Annotated[
        int, typer.Option(min=1, help="Per-file limit: data rows of a CSV.")
    ] = config.FILE_LIMITS.max_rows,
    file_timeout: Annotated[
        float, typer.Option(min=1, help="Per-file limit: seconds to read one file.")
    ] = config.FILE_LIMITS.file_timeout,
    max_memory_mb: Annotated[
        int, typer.Option(min=64, help="Per-file limit: memory of its reader (MB).")
    ] = config.FILE_LIMITS.max_memory_mb,
    ocr_engine: OcrEngineOpt = None,
    executor: Annotated[
        ExecutorKind,
        typer.Option(
            help="Where files are read: local processes, or a dask.distributed cluster "
            "(needs --scheduler and the dask extra)."
        ),
    ] = ExecutorKind.local,
    scheduler: Annotated[
        str | None,
        typer.Option(help="The dask scheduler's address (tcp://HOST:8786), with --executor dask."),
    ] = None,
) -> None:
    """Run the whole audit: extract, normalize, validate, score and report.

    Exit codes: 0 the audit completed (whatever the verdicts); 1 it could not run;
    3 another run holds the work folder; 4 --fail-on tripped.
    """
    _use_ocr_engine(ocr_engine)
    _setup_logging(quiet, debug)
    with _one_line_errors(debug):
        # (start-up time: see the top of this module; the validation process of a large
        # input is started by the audit once its files are read: pipeline.audit)
        from pipeline.audit import run_audit
        from pipeline.infra.executors import Executor
        from pipeline.protocol import load_protocol

        settings = load_protocol(protocol)
        where = Executor(executor.value, scheduler)
        document = run_audit(
            labels_dir,
            out,
            work,
            settings,
            jobs=_jobs(jobs),
            full=full,
            lock_wait_s=wait,
            data_docs=data_docs,
            limits=config.FileLimits(
                max_file_mb, max_pages, max_pixels, max_rows, file_timeout, max_memory_mb
            ),
            executor=where,
        )

    summary = document["summary"]
    verdicts = ", ".join(f"{n} {v}" for v, n in summary["verdicts"].items())
    not_labels = summary.get("not_label_files", 0)
    typer.echo(
        f"audited {summary['files']} files: {summary['products']} products ({verdicts}), "
        f"{summary['rejected_files']} rejected, "
        + (f"{not_labels} not labels, " if not_labels else "")
        + f"{summary['data_quality_findings']} data-quality "
        f"findings -> {config.ReportPaths(out).html}"
    )
    code = exit_code_for(document, {f.value for f in fail_on or []})
    if code:
        raise typer.Exit(code)


@app.command()
def extract(
    labels_dir: LabelsDir = config.DEFAULT_LABELS_DIR,
    work: WorkDir = config.DEFAULT_WORK_DIR,
    jobs: Jobs = None,
    full: Full = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Read every label file into label tables (work folder, Parquet)."""
    from pipeline.audit import run_extract  # (start-up time: see the top of this module)

    _setup_logging(quiet, debug)
    with _one_line_errors(debug):
        meta = run_extract(labels_dir, config.WorkPaths(work), jobs=_jobs(jobs), full=full)
    typer.echo(
        f"extracted {len(meta['files'])} files ({meta['parsed']} read, {meta['cached']} cached)"
    )


@app.command()
def normalize(
    work: WorkDir = config.DEFAULT_WORK_DIR, quiet: Quiet = False, debug: Debug = False
) -> None:
    """Canonical nutrients and units, then one row per product with the protocol metrics."""
    from pipeline.audit import run_normalize  # (start-up time: see the top of this module)

    _setup_logging(quiet, debug)
    with _one_line_errors(debug):
        rows, products = run_normalize(config.WorkPaths(work))
    typer.echo(f"normalized {rows} label rows into {products} products")


@app.command()
def validate(
    work: WorkDir = config.DEFAULT_WORK_DIR,
    protocol: ProtocolFile = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Run the Great Expectations protocol and data-quality suites over the products."""
    # (start-up time: see the top of this module)
    from pipeline.audit import run_validate, validation_counts
    from pipeline.protocol import load_protocol

    _setup_logging(quiet, debug)
    with _one_line_errors(debug):
        paths = config.WorkPaths(work)
        run_validate(paths, load_protocol(protocol))
        failed, findings = validation_counts(paths)
    typer.echo(f"validated: {failed} failed checks, {findings} data-quality findings")


@app.command()
def report(
    work: WorkDir = config.DEFAULT_WORK_DIR,
    out: OutDir = config.DEFAULT_REPORTS_DIR,
    protocol: ProtocolFile = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Score and rank the products, then write audit.html, audit.json and ranking.csv."""
    from pipeline.audit import run_report  # (start-up time: see the top of this module)
    from pipeline.protocol import load_protocol

    _setup_logging(quiet, debug)
    with _one_line_errors(debug):
        run_report(config.WorkPaths(work), config.ReportPaths(out), load_protocol(protocol))
    typer.echo(f"wrote {config.ReportPaths(out).html}")


LabelsOpt = Annotated[
    Path, typer.Option("--labels", help="The labels folder (corrections.csv is written there).")
]
SourceFile = Annotated[
    str, typer.Argument(help="The label file as audit.json names it (relative to --labels).")
]
LineOpt = Annotated[int, typer.Option("--line", help="The panel line (audit.json line_no).")]
LabelOpt = Annotated[
    int, typer.Option("--label", min=0, help="The product in the file, 0 first (default 0).")
]
ByOpt = Annotated[str, typer.Option("--by", help="Who checked the label.")]
WhyOpt = Annotated[str, typer.Option("--why", help="What the label says, or how it was checked.")]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="The date of the check (default: today, UTC).")
]


def _record(
    labels: Path,
    work: Path,
    source_file: str,
    *,
    field: str,
    amount: str | None = None,
    unit: str | None = None,
    **how: Any,
) -> None:
    """Append one line to LABELS/corrections.csv (pipeline.corrections) and say so. The row
    must be one the last audit read (when its work folder is there); a confirmation records
    the value as read."""
    from pipeline import corrections  # (start-up time: see the top of this module)

    with _one_line_errors(False):
        rows = config.WorkPaths(work).label_rows
        read = corrections.row_as_read(rows, source_file, how["label"], how["line"])
        if amount is None:
            amount, unit = read if read is not None else (None, None)
        line = corrections.new_line(
            labels, source_file, field=field, value=amount or "", unit=unit or "", **how
        )
        path = corrections.append(labels, line)
    typer.echo(
        f"{path}: {source_file} line {line.line}: {line.describe()} (applied by the next audit)"
    )


@app.command()
def correct(
    source_file: SourceFile,
    line: LineOpt,
    amount: Annotated[str, typer.Option("--amount", help="The amount the label prints.")],
    unit: Annotated[str, typer.Option("--unit", help="Its unit as printed: mg, mcg, IU.")],
    by: ByOpt,
    why: WhyOpt,
    labels: LabelsOpt = config.DEFAULT_LABELS_DIR,
    label: LabelOpt = 0,
    work: WorkDir = config.DEFAULT_WORK_DIR,
    date: DateOpt = None,
) -> None:
    """Record that a label row was misread: the next audit uses AMOUNT UNIT instead."""
    how: dict[str, Any] = {"line": line, "label": label, "by": by, "why": why, "date": date}
    _record(labels, work, source_file, field="amount", amount=amount, unit=unit, **how)


@app.command()
def confirm(
    source_file: SourceFile,
    line: LineOpt,
    by: ByOpt,
    why: WhyOpt,
    labels: LabelsOpt = config.DEFAULT_LABELS_DIR,
    label: LabelOpt = 0,
    work: WorkDir = config.DEFAULT_WORK_DIR,
    date: DateOpt = None,
) -> None:
    """Record that a flagged label row was checked and is right (its flag is cleared)."""
    how: dict[str, Any] = {"line": line, "label": label, "by": by, "why": why, "date": date}
    _record(labels, work, source_file, field="confirmed", **how)


def main() -> None:
    """The `labelaudit` command (and `python -m pipeline`): the CLI, then a hard exit.

    When a command returns, everything it wrote is complete, synced and closed; what is
    left is the interpreter tearing down every module and object, ~0.3 s after an audit
    of 2,000 files. Like mypy, the command skips it: it flushes the log and the standard
    streams and ends the process with the command's exit code (os._exit). Tests call
    `app` instead, in-process.
    """
    try:
        app(prog_name="labelaudit")
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:  # sys.exit("message")
            print(exc.code, file=sys.stderr)
            code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
