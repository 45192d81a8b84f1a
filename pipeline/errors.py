"""Domain errors. Each names the file and, where known, the page or row and what was wrong.

A `LabelError` raised while reading one file rejects that file (it is listed in the
report with `str(error)` as its reason) and the run goes on. `AuditError` stops a run:
the CLI prints it as one line and exits non-zero.
"""

from __future__ import annotations

#: Exit codes of a run, for schedulers (pipeline.infra.exits.exit_code_for):
#: the run completed (findings may exist, but no `--fail-on` condition tripped);
EXIT_OK = 0
#: the run could not complete (an `AuditError`: missing folder, bad protocol file, ...);
EXIT_ERROR = 1
# (2 is left to typer/click: a usage error, an unknown option or a bad value;)
#: another labelaudit run holds the lock on the work or reports folder: nothing was done, and a
#: scheduler may simply try again later (`RunLocked`);
EXIT_LOCKED = 3
#: the run completed and a `--fail-on` condition tripped.
EXIT_FINDINGS = 4


class AuditError(Exception):
    """The audit could not run at all (missing folder, no label files, bad protocol file)."""


class LabelError(Exception):
    """One label file could not be read. The file is rejected with this reason."""

    def __init__(
        self,
        detail: str,
        *,
        source_file: str = "",
        page: int | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.source_file = source_file
        self.page = page
        self.row = row

    @property
    def reason(self) -> str:
        """The rejection reason shown to the user: where, then what was wrong."""
        where = []
        if self.page is not None:
            where.append(f"page {self.page}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.detail}" if where else self.detail

    def __str__(self) -> str:
        return f"{self.source_file}: {self.reason}" if self.source_file else self.reason


class UnreadableFile(LabelError):
    """The file is corrupt, encrypted, empty or not of the type its name says."""


class NoPanel(LabelError):
    """The file was read but holds no Supplement Facts panel."""


class BadTable(LabelError):
    """A CSV or JSON label lacks the columns/fields the audit needs."""


class NeedsOcr(LabelError):
    """The file has no text layer and OCR is not available."""


class LimitExceeded(LabelError):
    """The file is over one of the per-file limits (pipeline.config.FileLimits), or its
    reader was stopped (out of time or memory, or its worker died). The reason names the
    limit. Such a reading is not cached: the next run tries the file again."""


class CannotWrite(AuditError, OSError):
    """An artifact or report could not be written (disk full, read-only folder): the run
    stops with one line, and the previous files are left as they were. It is an OSError
    too, so that code which treats a failed write as a miss (a cache) still does."""

    def __init__(self, path: object, error: OSError) -> None:
        reason = error.strerror or str(error)
        super().__init__(error.errno, reason)
        self.path = path
        self.message = f"cannot write {path}: {reason}"

    def __str__(self) -> str:
        return self.message


class ProtocolError(AuditError):
    """The protocol settings file is missing a value or holds an invalid one."""


class RunLocked(AuditError):
    """Another labelaudit run holds the work or reports folder (exit with EXIT_LOCKED)."""

    def __init__(
        self, message: str, *, pid: int | None, host: str | None, started_at: str | None
    ) -> None:
        super().__init__(message)
        self.pid = pid
        self.host = host
        self.started_at = started_at
