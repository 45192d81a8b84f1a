"""A failure of the run itself is one line on stderr and exit 1 (--debug adds the
traceback), and the previous report stays as it was."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

from pipeline import config
from pipeline.cli import app
from pipeline.infra import atomic
from tests.builders import audit_cli, two_product_folder

runner = CliRunner()
REPORTS = ("audit.html", "audit.json", "ranking.csv")


def _labels(tmp_path: Path) -> Path:
    return two_product_folder(tmp_path / "labels")


def _audit(tmp_path: Path, *extra: str, out: Path | None = None) -> tuple[int, list[str]]:
    result = audit_cli(_labels(tmp_path), out or tmp_path / "out", tmp_path / "work", "-q", *extra)
    return result.exit_code, result.output.strip().splitlines()


def _reports(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in REPORTS}


def _audited(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A first audit that succeeds: its reports folder, and the reports it wrote."""
    out = tmp_path / "out"
    assert _audit(tmp_path)[0] == 0
    return out, _reports(out)


def test_out_or_work_that_is_a_file_is_one_line_exit_1(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert _audit(tmp_path, out=a_file) == (
        1,
        [f"labelaudit: error: the reports folder (--out) {a_file} is a file, not a folder"],
    )
    result = runner.invoke(
        app, ["audit", str(_labels(tmp_path)), "--out", str(tmp_path / "o"), "--work", str(a_file)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"labelaudit: error: the work folder (--work) {a_file} is a file, not a folder"
    ]
    assert a_file.read_text(encoding="utf-8") == "x"


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    code, lines = _audit(tmp_path, "--debug", out=a_file)
    assert code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == (
        f"labelaudit: error: the reports folder (--out) {a_file} is a file, not a folder"
    )


def test_a_read_only_reports_folder_is_one_line_and_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (as root nothing is read-only: creating a file in the reports folder is refused)
    out, before = _audited(tmp_path)
    real_open = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(os.fsdecode(path)).parent == out:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", read_only)
    code, lines = _audit(tmp_path, "--full")
    assert code == 1
    # refused at the reports folder's lock, before any work is done
    assert lines == [f"labelaudit: error: cannot lock {out}: .labelaudit.lock: Permission denied"]
    assert _reports(out) == before


def test_a_full_disk_is_one_line_and_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = _audited(tmp_path)
    real_write_temp = atomic._write_temp

    def disk_full(path: Path, write: Callable[[IO[bytes]], None], durable: bool = True) -> Path:
        if path.name != "audit.json":
            return real_write_temp(path, write, durable)

        def half(fh: IO[bytes]) -> None:
            fh.write(b'{\n  "generated_at": ')
            raise OSError(errno.ENOSPC, "No space left on device")

        return real_write_temp(path, half)

    monkeypatch.setattr(atomic, "_write_temp", disk_full)
    code, lines = _audit(tmp_path, "--full")
    assert code == 1
    assert lines == [
        f"labelaudit: error: cannot write the report in {out}: No space left on device"
    ]
    assert _reports(out) == before
    assert sorted(p.name for p in out.iterdir()) == [
        ".labelaudit.lock",
        *sorted(REPORTS[:2]),
        "history.jsonl",
        REPORTS[2],
    ]


def test_an_unexpected_error_is_one_line_naming_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import audit

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("products")

    monkeypatch.setattr(audit, "run_report", broken)
    assert _audit(tmp_path) == (
        1,
        ["labelaudit: error: unexpected KeyError: 'products' (--debug shows the traceback)"],
    )


def test_jobs_are_capped_at_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "default_jobs", lambda: 2)
    result = audit_cli(_labels(tmp_path), tmp_path / "out", tmp_path / "work", "--jobs", "1000")
    assert result.exit_code == 0, result.output
    assert "INFO --jobs 1000 capped at the 2 cores this run may use" in result.output
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert audit["summary"]["products"] == 2
