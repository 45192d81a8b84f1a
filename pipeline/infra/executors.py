"""Where the per-file work runs: local worker processes (the default) or a dask.distributed
cluster (`labelaudit audit --executor dask --scheduler tcp://HOST:8786`).

`map_files(executor, fn, items, ...)` is `[fn(item) for item in items]` in input order:

* `local`: pipeline.infra.isolated.map_isolated, each item in a forked worker within the
  limits of its `WorkerBox` (time, memory); a worker that dies loses only its item.
* `dask`: each item is a task on the cluster the scheduler runs (the `dask` extra:
  `pip install 'labelaudit[dask]'`). The workers must see the labels folder and the work
  folder at the same paths (a shared filesystem): each task reads its file and stores its
  reading in the work folder's extraction cache, as a local worker does. The box's setup
  runs in the task; the readers' own limits (size, pages, pixels, rows) hold there too.
  The time and memory of a task are the cluster's to bound (`dask worker --memory-limit`):
  a task whose workers die `distributed.scheduler.allowed-failures` times gives
  `lost(item, reason("died"))`, the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.errors import AuditError
from pipeline.infra.isolated import (
    TaskFailed,
    WorkerBox,
    describe_exception,
    imap_isolated,
    map_isolated,
)
from pipeline.infra.progress import RunProgress

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Executor:
    """`kind` "local" (processes on this machine, `jobs` at a time) or "dask" (the cluster
    whose scheduler is at `scheduler`, e.g. "tcp://10.0.0.5:8786")."""

    kind: str = "local"
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise AuditError(f"unknown executor {self.kind!r}: expected local or dask")
        if self.kind == "dask" and not self.scheduler:
            raise AuditError("--executor dask needs --scheduler tcp://HOST:PORT")


LOCAL = Executor()


def map_files(
    executor: Executor, fn: Callable[[T], R], items: Sequence[T], **options: Any
) -> list[R]:
    """`fn` over `items` on `executor` (see the module's docstring); results in order.
    `options`: those of `map_isolated` (jobs, describe, lost, box, reasons, progress); on
    dask, `jobs` is the cluster's and the box's limits other than its setup are not used."""
    if executor.kind == "local":
        return map_isolated(fn, items, **options)
    assert executor.scheduler is not None
    reasons: Mapping[str, str] = options.get("reasons") or {}
    return map_on_dask(
        fn,
        items,
        scheduler=executor.scheduler,
        describe=options["describe"],
        lost=options["lost"],
        box=options.get("box") or WorkerBox(),
        died=reasons.get("died", "its worker process died ({how})"),
        progress=options.get("progress"),
    )


def imap_files(
    executor: Executor,
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    window: int,
    weight: Callable[[T], int] | None = None,
    **options: Any,
) -> Iterator[R]:
    """`map_files`, the results given in input order as they are ready, never more than
    `window` items ahead of the one taken last (pipeline.infra.isolated.imap_isolated; on
    dask, `window` items at a time); `weight`: what an item counts for in the progress."""
    if executor.kind == "local":
        yield from imap_isolated(fn, items, window=window, weight=weight, **options)
        return
    step = max(1, window)
    for start in range(0, len(items), step):
        yield from map_files(executor, fn, items[start : start + step], **options)


def _in_task(item: Any, fn: Callable[[Any], Any], box: WorkerBox) -> Any:
    """A dask task: the box's setup (cheap, idempotent), then `fn(item)`."""
    if box.setup is not None:
        box.setup(box.setup_arg)
    return fn(item)


def map_on_dask(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    scheduler: str,
    describe: Callable[[T], str],
    lost: Callable[[T, str], R],
    box: WorkerBox,
    died: str,
    progress: bool | None = None,
    label: str = "extract",
    unit: str = "files",
) -> list[R]:
    """`fn` over `items` as tasks of the dask.distributed cluster at `scheduler`."""
    if not items:
        return []
    # The optional `dask` extra, imported only for --executor dask (it is not installed by
    # default, and its import takes ~1 s).
    import distributed

    results: list[Any] = [None] * len(items)
    with (
        distributed.Client(scheduler, set_as_default=False) as client,
        RunProgress(label, unit, len(items), use_bar=bool(progress)) as bar,
    ):
        futures = client.map(_in_task, list(items), fn=fn, box=box, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        bar.start()
        for future in distributed.as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                results[i] = future.result()
            except distributed.KilledWorker:
                why = died.format(how="on the dask cluster")
                logger.warning("%s: %s: %s", label, describe(items[i]), why)
                results[i] = lost(items[i], why)
            except Exception as exc:
                for other in futures:
                    other.cancel()
                raise TaskFailed(
                    f"{label}: {describe(items[i])}: {describe_exception(exc)}"
                ) from exc
            bar.advance(1)
    return results
