"""Progress of a long map: a rich progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import math
from typing import Any

logger = logging.getLogger(__name__)


class RunProgress:
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
            # (rich imported only for a bar: ~50 ms of start-up for every run otherwise)
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

    def __enter__(self) -> RunProgress:
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
