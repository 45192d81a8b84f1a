"""What makes nightly runs incremental, parallel and safe.

* Atomic writes (`atomic_write_bytes`, `atomic_write_text`, `atomic_write_parquet`,
  `atomic_write_table`, and `ParquetTables` for tables written batch by batch): the new
  content goes to a hidden temp file in the same folder, is flushed and fsynced, then
  renamed over the target with `os.replace`. A run killed at any moment leaves either the
  previous file or the new one, never half of one.
* A content-hash cache of extracted files (`file_digest`, `ExtractionCache`): a file whose
  content (and companion files), relative path, extractor version and record schema are
  unchanged is not read again.
* `map_in_processes`: an ordered parallel map over worker processes with a progress bar on
  a terminal, or log lines otherwise. `map_isolated`: the same with each item in a box
  (`WorkerBox`: time and memory limits; a worker that dies loses only its item; workers die
  with their parent): the extract stage reads every file this way.
* `RunLock`: one run at a time per folder (an flock: the kernel frees a dead run's lock);
  taking it removes the temp files a killed run left (`remove_temp_files`).
* Checksums: a cache entry carries the sha256 of its content, checked on use; a failed write
  is one `CannotWrite` line.
* Run history and changes since the previous run (`write_history_record`,
  `previous_products`, `changes_between`).
* Exit codes for schedulers (`exit_code_for`; the `EXIT_*` codes are in pipeline.errors).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import secrets
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar

import pandas as pd

from pipeline.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    AuditError,
    CannotWrite,
    RunLocked,
)
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue, Rejection, field_names

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# --------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------

# EXIT_OK, EXIT_ERROR, EXIT_LOCKED, EXIT_FINDINGS: defined with the errors they stand for
# (pipeline.errors), so that the CLI can name them without importing this module.

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
    if "fails" in fail_on and any(
        product.get("verdict") == "fails" for product in audit.get("products") or ()
    ):
        return EXIT_FINDINGS
    if "data-quality" in fail_on and audit.get("data_quality"):
        return EXIT_FINDINGS
    if "compliance" in fail_on and audit.get("compliance"):
        return EXIT_FINDINGS
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An OSError while writing `path` (disk full, read-only folder) becomes CannotWrite:
    one line naming the file, and the run stops with the previous files intact."""
    try:
        yield
    except CannotWrite:
        raise
    except OSError as exc:
        raise CannotWrite(path, exc) from exc


def _temp_path_for(path: Path) -> Path:
    """A hidden, unique sibling of `path`: `.name.<random>.tmp`."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every OS/filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(path: Path, write: Callable[[IO[bytes]], None], durable: bool = True) -> Path:
    """Write a new temp sibling of `path` with `write`, flushed and (`durable`) fsynced.

    The temp file is removed if anything fails (also on KeyboardInterrupt); an OSError
    is raised as CannotWrite.
    """
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_path_for(path)
        # 0o666 minus the umask: the same permissions a plain open() would give.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
    return tmp


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None], durable: bool = True) -> None:
    path = Path(path)
    tmp = _write_temp(path, write, durable)
    try:
        with _writing(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def atomic_write_chunks(paths_and_chunks: Sequence[tuple[Path, Iterable[str]]]) -> list[Path]:
    """Write several text files (UTF-8) from chunks, all or nothing: every file is first
    written in full to its temp sibling, then each temp file replaces its target.

    Nothing is held in memory beyond one chunk. If producing or writing any chunk fails,
    every temp file is removed and no target is touched. Returns the targets' paths.
    """
    temps: list[tuple[Path, Path]] = []

    def writer(chunks: Iterable[str]) -> Callable[[IO[bytes]], None]:
        def write(fh: IO[bytes]) -> None:
            text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=False)
            try:
                for chunk in chunks:
                    text.write(chunk)
                text.flush()
            finally:
                text.detach()

        return write

    try:
        for path, chunks in paths_and_chunks:
            target = Path(path)
            temps.append((target, _write_temp(target, writer(chunks))))
        for target, tmp in temps:
            with _writing(target):
                os.replace(tmp, target)
    except BaseException:
        for _, tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for folder in {target.parent for target, _ in temps}:
        _fsync_dir(folder)
    return [target for target, _ in temps]


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (creating its folder if needed).

    Readers see the old content or the new, never a mix; a killed run leaves the old
    file intact (and at most a hidden `.name.<random>.tmp` sibling behind). `durable`
    False skips the fsyncs, for a file checked on use (a cache entry: after a power loss
    a torn one fails its checksum and is a miss).
    """

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    _atomic_write(path, write, durable)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """`atomic_write_bytes` for text (UTF-8 by default; newlines written as given)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_parquet(path: Path, frame: pd.DataFrame, *, index: bool | None = None) -> None:
    """Write `frame` as Parquet (pyarrow engine) to `path` atomically.

    `index` is passed to `DataFrame.to_parquet` (None: a RangeIndex is kept as
    metadata only, any other index as columns).
    """

    def write(fh: IO[bytes]) -> None:
        frame.to_parquet(fh, engine="pyarrow", index=index)

    _atomic_write(path, write)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write an Arrow table as Parquet to `path` atomically."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    def write(fh: IO[bytes]) -> None:
        pq.write_table(table, fh)

    _atomic_write(path, write)


class ParquetTables:
    """Parquet files written batch by batch and replaced all at once::

        with ParquetTables({"labels": (path, schema), ...}) as out:
            for batch in batches:
                out.write("labels", table)  # one row group per call, even an empty one

    Each file is written to a hidden temp sibling (`.name.<random>.tmp`, created at its
    first write) with one fixed schema; leaving the block without an error fsyncs them
    and renames each over its target (a table never written becomes an empty one), so
    readers see the old files or the new ones, never a part. On an error every temp file
    is removed and no target is touched. Memory is one batch, not the table.
    """

    def __init__(self, targets: Mapping[str, tuple[Path, pa.Schema]]) -> None:
        self._targets = {name: (Path(path), schema) for name, (path, schema) in targets.items()}
        self._open: dict[str, tuple[Path, IO[bytes], Any]] = {}
        self.rows = dict.fromkeys(self._targets, 0)

    def __enter__(self) -> ParquetTables:
        return self

    def _writer(self, name: str) -> Any:
        """The open ParquetWriter of `name`, created on first use."""
        if name not in self._open:
            import pyarrow.parquet as pq

            path, schema = self._targets[name]
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_path_for(path)
            fh = open(tmp, "xb")  # noqa: SIM115 - closed (and removed on an error) in _close
            self._open[name] = (tmp, fh, None)
            self._open[name] = (tmp, fh, pq.ParquetWriter(fh, schema))
        return self._open[name][2]

    def write(self, name: str, table: pa.Table) -> None:
        """Append `table` (with the target's schema) to `name` as one row group."""
        with _writing(self._targets[name][0]):
            self._writer(name).write_table(table, row_group_size=max(1, table.num_rows))
        self.rows[name] += table.num_rows

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            try:
                for name in self._targets:
                    with _writing(self._targets[name][0]):
                        self._writer(name)
            except BaseException:
                self._close(commit=False)
                raise
        self._close(commit=exc_type is None)

    def _close(self, *, commit: bool) -> None:
        opened, self._open = self._open, {}
        try:
            for name, (_, fh, writer) in opened.items():
                if commit:
                    with _writing(self._targets[name][0]):
                        if writer is not None:
                            writer.close()
                        fh.flush()
                        os.fsync(fh.fileno())
                elif writer is not None:
                    with contextlib.suppress(Exception):  # the error that got us here counts
                        writer.close()
                fh.close()
            if commit:
                for name, (tmp, _, _) in opened.items():
                    with _writing(self._targets[name][0]):
                        os.replace(tmp, self._targets[name][0])
        except BaseException:
            commit = False
            raise
        finally:
            for tmp, fh, writer in opened.values():
                if not commit and writer is not None:
                    with contextlib.suppress(Exception):  # a no-op once closed
                        writer.close()
                fh.close()
                if not commit:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
        if commit:
            for folder in {path.parent for path, _ in self._targets.values()}:
                _fsync_dir(folder)


def _json_default(value: Any) -> Any:
    """JSON for the few non-JSON values a run record may hold (paths, times, numpy scalars)."""
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default) + "\n"


# --------------------------------------------------------------------------------------
# Content-hash cache of extracted files
# --------------------------------------------------------------------------------------

_CHUNK_SIZE = 1024 * 1024

#: Field names of every record stored in the cache: a change to pipeline/records.py
#: changes every key, so entries of an older shape are never read back.
_RECORD_SCHEMA = {
    record_type.__name__: field_names(record_type)
    for record_type in (FileExtraction, Label, LabelRow, ReadIssue, Rejection)
}


def file_digest(path: Path) -> str:
    """sha256 of the file's content (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()


def cache_key(source_file: str, digests: Sequence[str], *, extractor_version: str) -> str:
    """The cache key of one label file (sha256 hex).

    It changes when the extractor version, the record schema, the file's relative path
    (`source_file`, forward slashes) or any of `digests` changes. `digests` are the
    `file_digest` of the file first, then of each companion file that affects how it is
    read (in a stable order: the order matters).
    """
    if isinstance(digests, str):
        raise TypeError("digests must be a sequence of digests, not one string")
    payload = json.dumps(
        ["labelaudit-extraction", extractor_version, _RECORD_SCHEMA, source_file, list(digests)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_PLAIN = (str, int, float, bool, type(None))


def _plain_record(record: Any) -> dict[str, Any]:
    """A flat record's fields as a dict (`dataclasses.asdict` if a field holds more than a
    plain value): asdict's deep copy was 4 ms of every DSLD label's cache write."""
    values = {name: getattr(record, name) for name in field_names(type(record))}
    if all(isinstance(v, _PLAIN) for v in values.values()):
        return values
    return dataclasses.asdict(record)


def extraction_to_json(extraction: FileExtraction) -> dict[str, Any]:
    """A FileExtraction as plain JSON values (as `dataclasses.asdict` gives them)."""
    return {
        "source_file": extraction.source_file,
        "labels": [_plain_record(r) for r in extraction.labels],
        "rows": [_plain_record(r) for r in extraction.rows],
        "issues": [_plain_record(r) for r in extraction.issues],
        "rejection": None if extraction.rejection is None else _plain_record(extraction.rejection),
    }


def _record(record_type: type[T], data: Any) -> T:
    if not isinstance(data, dict) or set(data) != set(field_names(record_type)):
        raise ValueError(f"not a {record_type.__name__}: {data!r}")
    return record_type(**data)


def extraction_from_json(data: Any) -> FileExtraction:
    """The inverse of `extraction_to_json`; ValueError/TypeError if `data` is not one."""
    if not isinstance(data, dict) or set(data) != set(field_names(FileExtraction)):
        raise ValueError("not a FileExtraction")
    source_file = data["source_file"]
    if not isinstance(source_file, str):
        raise ValueError("source_file is not a string")
    rejection = data["rejection"]
    return FileExtraction(
        source_file=source_file,
        labels=tuple(_record(Label, d) for d in data["labels"]),
        rows=tuple(_record(LabelRow, d) for d in data["rows"]),
        issues=tuple(_record(ReadIssue, d) for d in data["issues"]),
        rejection=None if rejection is None else _record(Rejection, rejection),
    )


def _slug(text: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
    return safe.strip(".") or "_"


class ExtractionCache:
    """What each label file gave, keyed by `cache_key`, one JSON file per entry.

    Entries live in `cache_dir / "extract-v<extractor_version>" / "<key>.json"`; the
    version is also part of the key, so bumping it misses everything (and `prune` then
    removes the old version's folder). An unreadable or corrupt entry is a miss, never
    an error; a failed write is logged and the run goes on (the cache only saves time).

    Counters for this run: `hits`, `misses` (`corrupt` of the misses were unreadable
    entries) and `writes`. Typical use in the extract stage::

        cache = ExtractionCache(work.cache_dir, EXTRACTOR_VERSION)
        key = cache.cache_key(rel, [file_digest(path)])
        extraction = cache.get(key)
        if extraction is None:
            extraction = read_file(path)          # in a worker
            cache.put(key, extraction)
        ...
        cache.prune(keys_of_this_run)
    """

    def __init__(self, cache_dir: Path, extractor_version: str) -> None:
        self.cache_dir = Path(cache_dir)
        self.extractor_version = extractor_version
        self.entries_dir = self.cache_dir / f"extract-v{_slug(extractor_version)}"
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.writes = 0

    def cache_key(self, source_file: str, digests: Sequence[str]) -> str:
        """`cache_key` with this cache's extractor version."""
        return cache_key(source_file, digests, extractor_version=self.extractor_version)

    def _entry_path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.entries_dir / f"{key}.json"

    def _sound_body(self, key: str, path: Path, raw: bytes) -> bytes | None:
        """The entry's extraction JSON if its header matches `key` and its checksum the
        body; else None, with a warning naming what is wrong."""
        header_text, newline, body = raw.partition(b"\n")
        try:
            header = json.loads(header_text.decode("utf-8")) if newline else None
        except (ValueError, UnicodeDecodeError):
            header = None
        if (
            not isinstance(header, dict)
            or header.get("key") != key
            or header.get("extractor_version") != self.extractor_version
            or not isinstance(header.get("sha256"), str)
        ):
            logger.warning("cache entry %s is damaged: the file is read again", path)
            return None
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            logger.warning(
                "cache entry %s does not match its checksum (damaged or edited): "
                "the file is read again",
                path,
            )
            return None
        return body

    def _raw(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cache entry %s is unreadable (%s): the file is read again", path, exc)
            return None

    def verify(self, key: str) -> bool:
        """Whether a sound entry for `key` is in the cache (present, its header matching
        and its checksum right), without parsing it. A broken entry is a miss (with a
        warning), and is counted in `corrupt`."""
        path = self._entry_path(key)
        raw = self._raw(path)
        if raw is None:
            return False
        if self._sound_body(key, path, raw) is None:
            self.corrupt += 1
            return False
        return True

    def get(self, key: str) -> FileExtraction | None:
        """The cached extraction for `key`, or None (a miss) if absent, unreadable, not of
        this key or not matching its checksum (a warning says which: the file is read
        again)."""
        path = self._entry_path(key)
        raw = self._raw(path)
        if raw is None:
            self.misses += 1
            return None
        body = self._sound_body(key, path, raw)
        try:
            if body is None:
                raise ValueError("checked")
            extraction = extraction_from_json(json.loads(body.decode("utf-8")))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            if body is not None:
                logger.warning("cache entry %s is damaged (%s): the file is read again", path, exc)
            self.misses += 1
            self.corrupt += 1
            return None
        self.hits += 1
        return extraction

    def put(self, key: str, extraction: FileExtraction, *, warn: bool = True) -> str | None:
        """Store `extraction` under `key` (atomically). An OSError is not raised: it is
        logged (with `warn`) and returned, as one line; None when stored.

        An entry is a header line (JSON: key, extractor version, the sha256 of the rest)
        and the extraction's JSON: a reader checks the one against the other."""
        path = self._entry_path(key)
        body = json.dumps(extraction_to_json(extraction), ensure_ascii=False).encode("utf-8")
        header = {
            "key": key,
            "extractor_version": self.extractor_version,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        try:
            # no fsync: an entry is checked on use (two fsyncs were 18 ms an entry)
            data = json.dumps(header).encode("utf-8") + b"\n" + body
            atomic_write_bytes(path, data, durable=False)
        except OSError as exc:
            if warn:
                logger.warning("could not write cache entry %s: %s", path, exc)
            return exc.strerror or str(exc)
        self.writes += 1
        return None

    def prune(self, keep: set[str]) -> int:
        """Delete every entry whose key is not in `keep`, other versions' folders and
        temp files left by killed runs. Returns the number of entries deleted."""
        removed = 0
        if not self.cache_dir.is_dir():
            return 0
        for child in self.cache_dir.iterdir():
            if child.is_dir() and child.name.startswith("extract-v") and child != self.entries_dir:
                removed += sum(1 for p in child.glob("*.json"))
                shutil.rmtree(child, ignore_errors=True)
        if not self.entries_dir.is_dir():
            return removed
        for entry in self.entries_dir.iterdir():
            is_temp = entry.name.startswith(".") and entry.name.endswith(".tmp")
            unused = entry.name.endswith(".json") and entry.stem not in keep
            if not (is_temp or unused):
                continue
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
            removed += unused
        return removed


# --------------------------------------------------------------------------------------
# Parallel map over processes
# --------------------------------------------------------------------------------------


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


class _ItemFailed(Exception):
    """Raised by a worker: which item failed and how (strings only: always picklable)."""

    def __init__(self, index: int, error: str, tb: str) -> None:
        super().__init__(index, error, tb)
        self.index = index
        self.error = error
        self.tb = tb


def _describe_exception(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run_chunk(fn: Callable[[T], R], chunk: list[tuple[int, T]]) -> list[tuple[int, R]]:
    """Worker side: apply `fn` to each (index, item) of one chunk."""
    out: list[tuple[int, R]] = []
    for index, item in chunk:
        try:
            out.append((index, fn(item)))
        except Exception as exc:
            raise _ItemFailed(index, _describe_exception(exc), traceback.format_exc()) from None
    return out


class _Progress:
    """A rich progress bar on stderr, or a log line about every 10% and at the end."""

    def __init__(self, label: str, unit: str, total: int, use_bar: bool) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.done = 0
        self._step = max(1, math.ceil(total / 10))
        self._bar: Any = None
        self._task: Any = None
        if use_bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> _Progress:
        return self

    def start(self) -> None:
        """Show the bar. Call it after forking workers: the bar runs a refresh thread."""
        if self._bar is not None and self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        before = self.done
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        if self.done // self._step > before // self._step or self.done == self.total:
            percent = self.done * 100 // self.total
            logger.info(
                "%s: %d/%d %s (%d%%)", self.label, self.done, self.total, self.unit, percent
            )


def default_chunksize(n_items: int, jobs: int) -> int:
    """Items per task sent to a worker: about 8 tasks per worker, at most 16 items each
    (small enough for smooth progress, large enough to amortise the pickling)."""
    return max(1, min(16, n_items // (max(1, jobs) * 8)))


def _fork_context() -> Any:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()  # pragma: no cover - not Linux/macOS


def map_in_processes(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int,
    describe: Callable[[T], str],
    progress: bool | None = None,
    label: str = "extract",
    unit: str = "files",
    chunksize: int | None = None,
) -> list[R]:
    """`[fn(item) for item in items]`, over `jobs` worker processes; results in input order.

    With `jobs <= 1` or fewer than two items, `fn` runs in this process (no pool).
    Otherwise a `ProcessPoolExecutor` (fork start method where available) runs chunks of
    `chunksize` items (default: `default_chunksize`). `fn` must be a top-level
    (picklable) function and its results picklable. `fn` is expected to turn the
    expected failures (a `LabelError` for a bad file) into results itself; any other
    exception stops the map and is raised here as `TaskFailed`, its message naming the
    item with `describe(item)`, e.g. "extract: pdf/a.pdf: KeyError: 'x'". A worker
    process that dies (killed, out of memory) also raises `TaskFailed`.

    Progress: `progress=True` shows a rich progress bar on stderr, `False` logs
    "extract: 250/2000 files (12%)" through `logging` (INFO) about every 10% and at the
    end, `None` picks the bar when stderr is a terminal. Never both.
    """
    total = len(items)
    if progress is None:
        progress = sys.stderr.isatty()
    if total == 0:
        return []
    with _Progress(label, unit, total, use_bar=progress) as bar:
        if jobs <= 1 or total == 1:
            return _map_here(fn, items, describe, label, bar)
        return _map_pool(fn, items, describe, label, bar, jobs, chunksize)


def _map_here(
    fn: Callable[[T], R],
    items: Sequence[T],
    describe: Callable[[T], str],
    label: str,
    bar: _Progress,
) -> list[R]:
    results: list[R] = []
    bar.start()
    for item in items:
        try:
            results.append(fn(item))
        except Exception as exc:
            raise TaskFailed(
                f"{label}: {describe(item)}: {_describe_exception(exc)}",
                traceback.format_exc(),
            ) from exc
        bar.advance(1)
    return results


def _map_pool(
    fn: Callable[[T], R],
    items: Sequence[T],
    describe: Callable[[T], str],
    label: str,
    bar: _Progress,
    jobs: int,
    chunksize: int | None,
) -> list[R]:
    total = len(items)
    size = max(1, chunksize or default_chunksize(total, jobs))
    indexed = list(enumerate(items))
    chunks = [indexed[i : i + size] for i in range(0, total, size)]
    results: list[Any] = [None] * total
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=_fork_context())
    try:
        # Submitting first forks the workers (fork start method) before the progress
        # bar starts its refresh thread.
        pending: dict[Future[list[tuple[int, R]]], list[tuple[int, T]]] = {
            executor.submit(_run_chunk, fn, chunk): chunk for chunk in chunks
        }
        bar.start()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = pending.pop(future)
                try:
                    out = future.result()
                except _ItemFailed as failed:
                    raise TaskFailed(
                        f"{label}: {describe(items[failed.index])}: {failed.error}", failed.tb
                    ) from WorkerTraceback(failed.tb)
                except BrokenProcessPool as exc:
                    # Every unfinished future fails now, not only the dead worker's: name
                    # the items not done yet (in input order), one of which killed it.
                    unfinished = sorted(chunk + [x for c in pending.values() for x in c])
                    names = [describe(item) for _, item in unfinished[:3]]
                    if len(unfinished) > 3:
                        names.append(f"{len(unfinished) - 3} more")
                    raise TaskFailed(
                        f"{label}: a worker process died unexpectedly (killed, out of memory "
                        f"or crashed) while processing one of: {', '.join(names)}"
                    ) from exc
                for index, result in out:
                    results[index] = result
                bar.advance(len(chunk))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return results


# --------------------------------------------------------------------------------------
# Each item in a box: worker processes with limits, a dead worker loses only its item
# --------------------------------------------------------------------------------------


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

#: Fds a forked worker must not keep open (the run locks: a worker holding a copy would
#: keep a lock after its run was killed).
_CLOSE_IN_WORKERS: set[int] = set()


class ItemTimeout(BaseException):
    """Raised in a worker when its item's time is up (a BaseException: a reader's
    `except Exception` does not swallow it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise ItemTimeout


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux prctl
    PR_SET_PDEATHSIG), and exit now if the parent is already gone. No-op elsewhere."""
    import ctypes
    import signal

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
    import resource

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
    import faulthandler
    import signal

    die_with_parent(parent_pid)
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
            answer = (index, "error", (_describe_exception(exc), traceback.format_exc()))
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


def map_isolated(
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
) -> list[R]:
    """`[fn(item) for item in items]`, each item in a worker process (never in this one),
    `jobs` workers at a time; results in input order.

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
        return []
    results: list[Any] = [None] * total
    todo = list(range(total - 1, -1, -1))  # popped from the end: input order
    ctx = _fork_context()
    workers: list[_Worker] = []
    parent = os.getpid()
    from multiprocessing.connection import wait as wait_any

    def reason(kind: str, how: str = "") -> str:
        return words[kind].format(timeout=f"{box.timeout_s or 0:g}", memory=box.memory_mb, how=how)

    def spawn() -> None:
        mine, theirs = ctx.Pipe(duplex=True)
        close = sorted(_CLOSE_IN_WORKERS | {w.conn.fileno() for w in workers} | {mine.fileno()})
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
        bar.advance(1)

    done = 0
    with _Progress(label, unit, total, use_bar=progress) as bar:
        try:
            for _ in range(min(max(1, jobs), total)):
                spawn()
            bar.start()
            while done < total:
                for worker in list(workers):
                    if worker.index is None and todo:
                        give(worker)
                    elif worker.index is None:
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
                            bar.advance(1)
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
    return results


# --------------------------------------------------------------------------------------
# Run lock
# --------------------------------------------------------------------------------------


class RunLock:
    """One labelaudit run at a time per folder (the work folder, the reports folder)::

        with RunLock(work.lock):
            ...  # the run

    Entering takes an exclusive `flock` on `lock_path` (created if needed) and writes
    JSON `{pid, host, started_at}` into it, for the message another run gives. The kernel
    releases the lock when its holder ends, however it ends (killed, crashed, rebooted),
    so a lock is never stale and there is nothing to take over: a lock file naming a pid
    that is dead, or reused by another program, is simply free. If another run holds it,
    `RunLocked` is raised with a one-line message, after polling every `poll_seconds` for
    up to `wait_seconds`. Leaving (also on an exception) empties the file and releases it
    (the file stays: removing it would race with a run opening it). Taking the lock also
    removes the temporary files (`.*.tmp`) a killed run left in the folder and its
    subfolders one level down (`clean_temps`): only the holder writes there.
    Worker processes forked meanwhile (map_isolated) close their copy of the lock.
    """

    def __init__(
        self,
        lock_path: Path,
        *,
        wait_seconds: float = 0.0,
        poll_seconds: float = 1.0,
        clean_temps: bool = True,
    ) -> None:
        self.lock_path = Path(lock_path)
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.clean_temps = clean_temps
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise `RunLocked` (after waiting up to `wait_seconds`)."""
        import fcntl

        if self._fd is not None:
            raise RuntimeError("RunLock is not re-entrant")
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, self.wait_seconds)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only folder: say so before any work is done
            raise AuditError(
                f"cannot lock {self.lock_path.parent}: {self.lock_path.name}: {exc.strerror or exc}"
            ) from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._locked_error(self._read_holder()) from None
                time.sleep(max(0.0, min(self.poll_seconds, deadline - time.monotonic())))
            content = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            with contextlib.suppress(OSError):  # only for the message (a full disk)
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(content) + "\n").encode("utf-8"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _CLOSE_IN_WORKERS.add(fd)
        if self.clean_temps:
            remove_temp_files(self.lock_path.parent)

    def release(self) -> None:
        """Empty the lock file and release the lock (no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _CLOSE_IN_WORKERS.discard(fd)
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing releases the flock

    def _read_holder(self) -> dict[str, Any]:
        """The holder's JSON; {} if it is not readable (yet)."""
        for attempt in range(3):
            try:
                data = json.loads(self.lock_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict):
                return data
            if attempt < 2:
                time.sleep(0.05)  # possibly being written right now
        return {}

    def _locked_error(self, holder: dict[str, Any]) -> RunLocked:
        pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
        host = holder.get("host") if isinstance(holder.get("host"), str) else None
        started = holder.get("started_at") if isinstance(holder.get("started_at"), str) else None
        who = f"pid {pid if pid is not None else 'unknown'}"
        if host is not None and host != socket.gethostname():
            who += f" on {host}"
        message = (
            f"another labelaudit run ({who}, started {started or 'unknown'}) is using "
            f"{self.lock_path.parent}; try again when it ends"
        )
        return RunLocked(message, pid=pid, host=host, started_at=started)


def remove_temp_files(folder: Path) -> int:
    """Remove the temporary files of atomic writes (`.name.<random>.tmp`) that a killed run
    left in `folder` and its subfolders one level down. Call it holding the folder's
    lock. Returns how many were removed (each is logged)."""
    removed = 0
    folder = Path(folder)
    try:
        places = [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())]
    except OSError:
        return 0
    for place in places:
        try:
            names = [
                p for p in place.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")
            ]
        except OSError:
            continue
        for path in names:
            if not path.is_file() or path.is_symlink():
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
                logger.info("removed %s, left by a run that was stopped", path)
    return removed


# --------------------------------------------------------------------------------------
# History and changes between runs
# --------------------------------------------------------------------------------------


def _history_name(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") + ".json"


def write_history_record(
    history_dir: Path, record: Mapping[str, Any], *, now: datetime | None = None
) -> Path:
    """Write `record` as a new JSON file in `history_dir`, named by the UTC time
    ("20261125T093000123456Z.json": names sort by time); returns its path.

    Written atomically and never over an existing file: if the name is taken, the time
    is moved on by one microsecond. `now` (default: the current time) is for tests.
    """
    history_dir = Path(history_dir)
    when = now if now is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = _dump_json(dict(record)).encode("utf-8")
    target = history_dir / _history_name(when)

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    tmp = _write_temp(target, write)
    try:
        while True:
            try:
                os.link(tmp, target)  # atomic, and fails if the name exists
                break
            except FileExistsError:
                when += timedelta(microseconds=1)
                target = history_dir / _history_name(when)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                # No hard links on this filesystem: a rename, after checking the name.
                if target.exists():
                    when += timedelta(microseconds=1)
                    target = history_dir / _history_name(when)
                    continue
                os.replace(tmp, target)
                break
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(history_dir)
    return target


def read_previous_audit(audit_json: Path) -> dict[str, Any] | None:
    """The previous run's audit.json, or None if it is missing or unreadable.

    Read it before tonight's run overwrites it. A broken file is logged as a warning
    and does not stop the run.
    """
    path = Path(audit_json)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("previous audit %s is unreadable (%s): no changes are reported", path, exc)
        return None
    if not isinstance(data, dict):
        logger.warning("previous audit %s is not a JSON object: no changes are reported", path)
        return None
    return data


#: What `changes_between` reads of each product.
PREVIOUS_KEYS = ("product_id", "source_file", "product_name", "verdict")


def _keep_product_keys(obj: dict[str, Any]) -> Any:
    """json object_hook: a product keeps the keys `changes_between` reads; its label rows,
    checks and every other object inside a product are dropped as soon as they are parsed."""
    if "products" in obj:
        return obj
    if "product_id" in obj and "verdict" in obj:
        return {k: obj.get(k) for k in PREVIOUS_KEYS}
    return None


def read_previous_products(audit_json: Path) -> list[Any] | None:
    """What `changes_between` needs of the previous run's audit.json: its products with
    product_id, source_file, product_name and verdict only, or None if the file is missing,
    unreadable or not an audit document (logged as for `read_previous_audit`).

    The previous document is never held whole (a 2,000-file audit.json is ~100 MB as
    Python objects): each label row and check is dropped as soon as it is parsed.
    """
    path = Path(audit_json)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text, object_hook=_keep_product_keys)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("previous audit %s is unreadable (%s): no changes are reported", path, exc)
        return None
    del text
    if not isinstance(data, dict):
        logger.warning("previous audit %s is not a JSON object: no changes are reported", path)
        return None
    products = data.get("products")
    return list(products) if isinstance(products, list) else []


def read_previous_ranking(ranking_csv: Path) -> list[dict[str, Any]] | None:
    """What `changes_between` needs of the previous run, from its ranking.csv (written with
    audit.json, and a hundredth of its size): PREVIOUS_KEYS of each product, or None if the
    file is missing, unreadable or lacks one of those columns (logged as a warning)."""
    path = Path(ranking_csv)
    try:
        frame = pd.read_csv(
            path, usecols=list(PREVIOUS_KEYS), dtype=str, keep_default_na=False, na_values=[]
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        logger.warning("previous ranking %s is unreadable (%s): no changes are reported", path, exc)
        return None
    from pipeline.report import csv_cell_text  # its cells were made spreadsheet-safe

    frame = frame.astype(object).where(frame != "", None)
    return [
        {str(k): v if v is None else csv_cell_text(v) for k, v in r.items()}
        for r in frame[list(PREVIOUS_KEYS)].to_dict("records")
    ]


def previous_products(audit_json: Path, ranking_csv: Path) -> list[Any] | None:
    """The previous run's products for `changes_between`: from its ranking.csv when it is
    there and readable, else from its audit.json (`read_previous_products`)."""
    if Path(ranking_csv).exists():
        found = read_previous_ranking(ranking_csv)
        if found is not None:
            return found
    return read_previous_products(audit_json)


def _by_product_id(products: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Products by id; entries without a string product_id are skipped, the first of a
    repeated id counts."""
    out: dict[str, Mapping[str, Any]] = {}
    for product in products:
        if not isinstance(product, Mapping):
            continue
        pid = product.get("product_id")
        if isinstance(pid, str) and pid not in out:
            out[pid] = product
    return out


def _change_item(product_id: str, product: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "source_file": product.get("source_file"),
        "product_name": product.get("product_name"),
    }


def changes_between(
    previous_products: Sequence[Mapping[str, Any]] | None,
    current_products: Sequence[Mapping[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """What changed since the previous run, matching products by `product_id`.

    Returns {"added": [...], "removed": [...], "verdict_changed": [...]}, each item
    {"product_id", "source_file", "product_name"} (from the current run; from the
    previous one for "removed"), plus "from" and "to" verdicts for a verdict change;
    each list sorted by product_id. With no previous run (None) all lists are empty:
    a first run is not "everything added".
    """
    changes: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "verdict_changed": []}
    if previous_products is None:
        return changes
    before = _by_product_id(previous_products)
    after = _by_product_id(current_products)
    for pid in sorted(after.keys() - before.keys()):
        changes["added"].append(_change_item(pid, after[pid]))
    for pid in sorted(before.keys() - after.keys()):
        changes["removed"].append(_change_item(pid, before[pid]))
    for pid in sorted(before.keys() & after.keys()):
        old, new = before[pid].get("verdict"), after[pid].get("verdict")
        if old != new:
            changes["verdict_changed"].append(
                {**_change_item(pid, after[pid]), "from": old, "to": new}
            )
    return changes
