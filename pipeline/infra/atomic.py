"""Atomic writes: the new content goes to a hidden temp file in the same folder, is flushed
and fsynced, then renamed over the target with `os.replace`. A run killed at any moment
leaves either the previous file or the new one, never half of one.

`atomic_write_bytes`, `atomic_write_text`, `atomic_write_parquet`, `atomic_write_table`;
`atomic_write_chunks` for several text files written from chunks, all or nothing;
`ParquetTables` for tables written batch by batch; `remove_temp_files` for the temp
files a killed run left. A failed write is one `CannotWrite` line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pipeline.errors import CannotWrite

if TYPE_CHECKING:  # (imported when a table is written: a run that writes none needs neither)
    import pandas as pd
    import pyarrow as pa  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)


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
    """Write a new temp sibling of `path` with `write`, flushed and fsynced.

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


#: Rows `atomic_write_cast` casts at a time.
CAST_SLICE_ROWS = 65536


def atomic_write_cast(path: Path, table: pa.Table, schema: pa.Schema) -> None:
    """Write `table` cast to `schema` (with its metadata: say pandas' description of the
    columns) as Parquet to `path` atomically, CAST_SLICE_ROWS rows at a time (a row group
    each): a dictionary-encoded column becomes plain text one slice at a time, never all
    at once."""
    with ParquetTables({"table": (path, schema)}) as out:
        for start in range(0, table.num_rows, CAST_SLICE_ROWS):
            part = table.slice(start, CAST_SLICE_ROWS).select(schema.names)
            out.write("table", part.cast(schema))


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
