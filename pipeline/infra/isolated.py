"""Each item in a box: worker processes with limits, a dead worker loses only its item.

`map_isolated(fn, items, ...)` is `[fn(item) for item in items]` with each item read in a
forked worker process within the limits of a `WorkerBox` (time: an alarm in the worker, and
a kill from the parent; memory: RLIMIT_AS); a worker that dies (killed, out of memory, a
crash in C code) loses only its item, which becomes `lost(item, reason)`. Workers die with
their parent (PR_SET_PDEATHSIG).

Why not `concurrent.futures.ProcessPoolExecutor`: a worker that dies breaks the whole pool
(`BrokenProcessPool` fails every pending future, and says nothing of which item killed it),
and a future cannot be stopped once running. Both are what a hostile label file does, so
the workers here are `multiprocessing` processes over pipes, one item at a time each.
Distributed runs use dask.distributed instead (pipeline.infra.executors).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import faulthandler
import gc
import logging
import multiprocessing
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import AuditError
from pipeline.infra.lock import HELD_LOCK_FDS
from pipeline.infra.progress import RunProgress

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class TaskFailed(AuditError):
    """An unexpected exception while processing one item (a bug, not a bad label file).

    The message names the stage and the item: "extract: pdf/a.pdf: ValueError: ...".
    The worker's traceback is in `worker_traceback` (and chained as the cause).
    """

    def __init__(self, message: str, worker_traceback: str = "") -> None:
        super().__init__(message)
        self.worker_traceback = worker_traceback


class WorkerTraceback(Exception):
    """The formatted traceback of an exception raised in a worker process."""

    def __str__(self) -> str:
        return f"\n\n--- in the worker process ---\n{self.args[0]}"


def describe_exception(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fork_context() -> Any:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()  # pragma: no cover - not Linux/macOS


@dataclasses.dataclass(frozen=True)
class WorkerBox:
    """What a worker of `map_isolated` may take for one item.

    `timeout_s`: wall time per item (an alarm in the worker; the parent kills a worker
    that does not answer `KILL_GRACE_SECONDS` later); `memory_mb`: address space the
    worker may take on top of what it starts with (RLIMIT_AS); `setup`: called in each
    worker once it starts (a top-level function and its argument: picklable).
    """

    timeout_s: float | None = None
    memory_mb: int | None = None
    setup: Callable[[Any], None] | None = None
    setup_arg: Any = None


#: A worker whose item's alarm did not stop it this long after its timeout is killed.
KILL_GRACE_SECONDS = 10.0


class ItemTimeout(BaseException):
    """Raised in a worker when its item's time is up (a BaseException: a reader's
    `except Exception` does not swallow it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise ItemTimeout


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux prctl
    PR_SET_PDEATHSIG), and exit now if the parent is already gone. No-op elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def _address_space_bytes() -> int | None:
    """This process's current address space (VmSize), in bytes (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at what it uses now plus `extra_mb` (RLIMIT_AS):
    an allocation beyond raises MemoryError instead of growing without bound."""
    current = _address_space_bytes()
    if current is None:  # pragma: no cover - not Linux
        return
    limit = current + extra_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(
    conn: Any, fn: Callable[[Any], Any], box: WorkerBox, parent_pid: int, close: list[int]
) -> None:
    """A worker of `map_isolated`: (index, item) in, (index, kind, value) out, until None.

    kind "ok": fn's result; "timeout" / "memory": the item was stopped; "error": fn
    raised (value: (description, traceback)). After a MemoryError the worker exits (its
    heap may be in pieces); the parent starts another."""
    die_with_parent(parent_pid)
    # What the worker inherits is never garbage here: a collection that walked it would
    # touch (and so copy) every page of the parent's heap.
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    faulthandler.disable()  # a crash is the item's rejection, not a dump on stderr
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    if box.memory_mb:
        limit_memory(box.memory_mb)
    if box.setup is not None:
        box.setup(box.setup_arg)
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, item = message
        retire = False
        try:
            try:
                if box.timeout_s:
                    signal.setitimer(signal.ITIMER_REAL, box.timeout_s)
                answer: tuple[Any, ...] = (index, "ok", fn(item))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except ItemTimeout:
            answer = (index, "timeout", None)
        except MemoryError:
            answer, retire = (index, "memory", None), True
        except Exception as exc:
            answer = (index, "error", (describe_exception(exc), traceback.format_exc()))
        try:
            conn.send(answer)
        except MemoryError:
            conn.send((index, "memory", None))
            retire = True
        if retire:
            return


@dataclasses.dataclass
class _Worker:
    process: Any
    conn: Any
    index: int | None = None  # the item it is working on
    deadline: float | None = None


def map_isolated(fn: Callable[[T], R], items: Sequence[T], **options: Any) -> list[R]:
    """`[fn(item) for item in items]`, each item in a worker process (never in this one),
    `jobs` workers at a time; results in input order: `imap_isolated`'s (its `options`),
    all at once."""
    return list(imap_isolated(fn, items, **options))


def imap_isolated(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int,
    describe: Callable[[T], str],
    lost: Callable[[T, str], R],
    box: WorkerBox | None = None,
    reasons: Mapping[str, str] | None = None,
    progress: bool | None = None,
    label: str = "extract",
    unit: str = "files",
    window: int | None = None,
    weight: Callable[[T], int] | None = None,
) -> Iterator[R]:
    """`fn(item)` for each of `items`, each item in a worker process (never in this one),
    `jobs` workers at a time; the results given in input order as they are ready.

    `window`: no item is started more than `window` items ahead of the next result to be
    given, so what waits to be taken is at most `window` results (None: no bound).
    `weight`: how many `unit`s an item counts for in the progress (default 1).

    Each worker takes one item at a time, within the limits of `box`. An item that runs out
    of time or memory, or whose worker dies (killed, out of memory, a crash in C code),
    gives `lost(item, reason)` and only that item is lost: another worker takes the next
    items. `reasons` words them: keys "timeout", "memory" and "died" (the last with
    "{how}", e.g. "signal 9"). An exception from `fn` stops the map: `TaskFailed` naming
    the item, as `map_in_processes`. Workers are SIGKILLed when this process dies, and
    killed when the map ends early (an error, Ctrl-C).
    """
    box = box or WorkerBox()
    words = {
        "timeout": "took more than {timeout} s",
        "memory": "ran out of memory (limit {memory} MB)",
        "died": "its worker process died ({how})",
        **(reasons or {}),
    }
    total = len(items)
    if progress is None:
        progress = sys.stderr.isatty()
    if total == 0:
        return
    results: dict[int, Any] = {}
    given = 0  # the results given so far (the next to give is items[given])
    todo = list(range(total - 1, -1, -1))  # popped from the end: input order
    ctx = _fork_context()
    workers: list[_Worker] = []
    parent = os.getpid()

    def reason(kind: str, how: str = "") -> str:
        return words[kind].format(timeout=f"{box.timeout_s or 0:g}", memory=box.memory_mb, how=how)

    def spawn() -> None:
        mine, theirs = ctx.Pipe(duplex=True)
        close = sorted(HELD_LOCK_FDS | {w.conn.fileno() for w in workers} | {mine.fileno()})
        process = ctx.Process(
            target=_worker_main, args=(theirs, fn, box, parent, close), daemon=True
        )
        process.start()
        theirs.close()
        workers.append(_Worker(process, mine))

    def give(worker: _Worker) -> None:
        index = todo.pop()
        worker.index = index
        worker.deadline = (
            time.monotonic() + box.timeout_s + KILL_GRACE_SECONDS if box.timeout_s else None
        )
        worker.conn.send((index, items[index]))

    def retire(worker: _Worker) -> None:
        workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()

    def lose(worker: _Worker, why: str) -> None:
        assert worker.index is not None
        index, worker.index = worker.index, None
        log_reason = f"{label}: {describe(items[index])}: {why}"
        logger.warning("%s", log_reason)
        results[index] = lost(items[index], why)
        bar.advance(units(index))

    def units(index: int) -> int:
        return 1 if weight is None else weight(items[index])

    def may_give() -> bool:
        return bool(todo) and (window is None or todo[-1] < given + max(1, window))

    done = 0
    size = total if weight is None else sum(weight(item) for item in items)
    with RunProgress(label, unit, size, use_bar=progress) as bar:
        try:
            for _ in range(min(max(1, jobs), total)):
                spawn()
            bar.start()
            while done < total:
                while given in results:
                    yield results.pop(given)
                    given += 1
                for worker in list(workers):
                    if worker.index is None and may_give():
                        give(worker)
                    elif worker.index is None and not todo:
                        worker.conn.send(None)
                        retire(worker)
                deadlines = [w.deadline for w in workers if w.deadline is not None]
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                by_handle: dict[Any, _Worker] = {}
                for worker in workers:
                    by_handle[worker.conn] = worker
                    by_handle[worker.process.sentinel] = worker
                ready = wait_any(list(by_handle), timeout=timeout)
                handled: set[int] = set()
                for handle in ready:
                    worker = by_handle[handle]
                    if id(worker) in handled:
                        continue
                    handled.add(id(worker))
                    answer = None
                    try:
                        if worker.conn.poll():
                            answer = worker.conn.recv()
                    except (EOFError, OSError):
                        answer = None
                    if answer is not None:
                        index, kind, value = answer
                        worker.index = worker.deadline = None
                        if kind == "ok":
                            results[index] = value
                            bar.advance(units(index))
                        elif kind == "error":
                            error, tb = value
                            raise TaskFailed(
                                f"{label}: {describe(items[index])}: {error}", tb
                            ) from WorkerTraceback(tb)
                        else:
                            worker.index = index
                            lose(worker, reason(kind))
                        done += 1
                        if kind != "memory":
                            continue
                    # The worker ended (or its pipe broke): its item, if any, is lost.
                    worker.process.join(timeout=5)
                    code = worker.process.exitcode
                    if worker.index is not None:
                        how = (
                            f"signal {-code}"
                            if code is not None and code < 0
                            else (f"exit code {code}")
                        )
                        lose(worker, reason("died", how))
                        done += 1
                    retire(worker)
                    if todo:
                        spawn()
                now = time.monotonic()
                for worker in list(workers):
                    if worker.deadline is not None and now >= worker.deadline:
                        lose(worker, reason("timeout"))
                        done += 1
                        retire(worker)
                        if todo:
                            spawn()
        finally:
            for worker in list(workers):
                retire(worker)
    while given in results:
        yield results.pop(given)
        given += 1
