"""A stage in a fresh interpreter, fed a pickled job on stdin, answering one JSON line.

`StageProcess(target, warm_up)` starts `python -c STAGE_PROCESS_CODE` at once: the child
turns the cyclic garbage collector off, imports what `warm_up` names ("module:function",
called with no argument; what it returns is handed to the target) and waits. `run(job)`
pickles the job to its stdin, calls `while_waiting` (work of the parent's own meanwhile)
and reads the answer: {"result": ...} or {"error": "<one line>", "tb": "<traceback>"}. A
new process never re-imports the caller's main module and shares nothing with it, so its
memory goes with it; `stop` (also on leaving a `with` block) ends it if it still runs. A
failure in the child is one AuditError line, its traceback in the debug log.

The audit runs its stages this way on large inputs (pipeline.audit): extraction and
normalization in one process (what they leave in the heap, ~200 MB after 200,000 labels,
goes with it), validation in another, started early, so that GX's import (~2 s) overlaps
the reading.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import logging
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

from pipeline import config
from pipeline.errors import AuditError

log = logging.getLogger(__name__)

#: What the child runs: the collector off while it imports (pandas, Great Expectations:
#: hundreds of thousands of objects that live as long as the process; collecting among
#: them is wasted work: the validation process is ready in ~1.9 s, not ~3.1 s).
STAGE_PROCESS_CODE = (
    "import gc, sys; gc.disable(); from pipeline.infra.stage_process import serve; "
    "raise SystemExit(serve(sys.argv[1], sys.argv[2]))"
)


def _named(target: str) -> Callable[..., Any]:
    """The function "module:function" names."""
    module, _, function = target.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return found


def serve(target: str, warm_up: str) -> int:
    """The child's side: warm up, read the job on stdin (nothing: exit, it was not needed
    after all), write the answer on stdout. Objects alive after the warm-up are frozen
    (later collections need not scan them)."""
    gc.disable()
    ready: Any = None
    failed: BaseException | None = None
    try:
        ready = _named(warm_up)()
    except Exception as exc:  # reported when the job comes
        failed = exc
    finally:
        gc.freeze()
        gc.enable()
    data = sys.stdin.buffer.read()
    if not data:
        return 0
    try:
        if failed is not None:
            raise failed
        answer: dict[str, Any] = {"result": _named(target)(pickle.loads(data), ready)}
    except AuditError as exc:
        answer = {"error": str(exc), "tb": traceback.format_exc()}
    except Exception as exc:
        said = " ".join(str(exc).split())  # one line
        stage = target.partition(":")[0].rpartition(".")[2]
        answer = {"error": f"{stage}: {type(exc).__name__}: {said}", "tb": traceback.format_exc()}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


class StageProcess:
    """`target(job, warm_up())` in a fresh interpreter (see the module's docstring).
    `log_through`: the child writes its stderr (its log, progress lines) on the parent's,
    as it goes; else its stderr is kept and shown (debug log) only when it fails."""

    def __init__(self, target: str, warm_up: str, what: str, *, log_through: bool = False) -> None:
        self.what = what
        env = dict(os.environ)
        package_root = str(config.PACKAGE_DIR.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", STAGE_PROCESS_CODE, target, warm_up],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if log_through else subprocess.PIPE,
            env=env,
        )
        self._reaped = False

    def __enter__(self) -> StageProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(
        self,
        job: Any,
        while_waiting: Callable[[], None] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> Any:
        """Send `job`, call `while_waiting`, then wait for the child's result; with
        `on_event` (a `log_through` process only), call it with each event the child tells
        (`tell_parent`) as it comes."""
        try:
            if on_event is not None and self._proc.stderr is not None:
                raise ValueError("on_event needs a log_through process (its stderr not piped)")
            stdin, self._proc.stdin = self._proc.stdin, None  # communicate() leaves it be
            assert stdin is not None
            with contextlib.suppress(BrokenPipeError):  # it died: its stderr says why
                stdin.write(pickle.dumps(job))
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
            if while_waiting is not None:
                while_waiting()
            if on_event is None:
                stdout, stderr_bytes = self._proc.communicate()
            else:
                stdout, stderr_bytes = self._answer_lines(on_event), None
            self._reaped = True
        finally:
            self.stop()
        stderr = "" if stderr_bytes is None else stderr_bytes.decode("utf-8", "replace")
        try:
            answer = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            log.debug("%s process output:\n%s", self.what, stderr)
            lines = stderr.strip().splitlines()
            last = lines[-1] if lines else f"exit code {self._proc.returncode}"
            raise AuditError(f"{self.what}: the {self.what} process failed: {last}") from None
        if "error" in answer:
            log.debug("%s process:\n%s", self.what, answer.get("tb") or stderr)
            raise AuditError(str(answer["error"]))
        return answer["result"]

    def _answer_lines(self, on_event: Callable[[str], None]) -> bytes:
        """The child's stdout but its event lines, each handed to `on_event` as it comes."""
        assert self._proc.stdout is not None
        kept: list[bytes] = []
        for line in self._proc.stdout:
            event = _event_of(line)
            if event is None:
                kept.append(line)
            else:
                on_event(event)
        self._proc.wait()
        return b"".join(kept)

    def stop(self) -> None:
        """End the process if it still runs (it is only importing, or waiting)."""
        if self._reaped:
            return
        self._reaped = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()  # closes the pipes, reaps the process


def tell_parent(event: str) -> None:
    """The child's side of `StageProcess.run(on_event=...)`: an event line on stdout."""
    sys.stdout.write(json.dumps({"event": event}) + "\n")
    sys.stdout.flush()


def _event_of(line: bytes) -> str | None:
    """The event a line of the child's stdout tells, if it is one."""
    if not line.startswith(b'{"event"'):
        return None
    try:
        told = json.loads(line)
    except ValueError:
        return None
    event = told.get("event") if isinstance(told, dict) and len(told) == 1 else None
    return event if isinstance(event, str) else None
