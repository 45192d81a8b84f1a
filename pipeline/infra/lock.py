"""One labelaudit run at a time per folder: `RunLock`, an `fcntl.flock` (the kernel frees
a dead run's lock, so a lock is never stale). Taking it removes the temp files a killed run
left (pipeline.infra.atomic.remove_temp_files)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.errors import AuditError, RunLocked
from pipeline.infra.atomic import remove_temp_files

#: The fds of the locks this process holds: a forked worker (pipeline.infra.isolated)
#: closes them, since a worker holding a copy would keep a lock after its run was killed.
HELD_LOCK_FDS: set[int] = set()


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
        HELD_LOCK_FDS.add(fd)
        if self.clean_temps:
            remove_temp_files(self.lock_path.parent)

    def release(self) -> None:
        """Empty the lock file and release the lock (no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        HELD_LOCK_FDS.discard(fd)
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
