"""Safe to schedule: no orphans, no temp files left, locks on both folders, damaged work
files never stop a run, a full disk is one line and leaves the last report."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.infra.versions import extractor_version
from pipeline.label_tables import TABLE_KEYS_FILE
from tests.hostile import REPO, good_folder

runner = CliRunner()


def _audit(tmp: Path, *extra: str, work: str = "work") -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "audit",
            str(tmp / "labels"),
            "--out",
            str(tmp / "out"),
            "--work",
            str(tmp / work),
            "-j",
            "2",
            "--quiet",
            *extra,
        ],
    )
    return result.exit_code, result.output


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_workers_die_with_the_main_process(tmp_path: Path) -> None:
    """SIGKILL the audit while its two workers read: no worker is left running."""
    labels = good_folder(tmp_path / "labels")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from pipeline import extract
        from pipeline.audit import run_audit
        from pipeline.protocol import load_protocol

        def slow(path, source_file, data=None, companions=()):
            time.sleep(120)

        extract.read_label_values = slow
        run_audit(Path({str(labels)!r}), Path({str(tmp_path / "out")!r}),
                  Path({str(tmp_path / "work")!r}), load_protocol(None), jobs=2,
                  progress=False)
        """
    )
    main = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(main.pid)
        assert len(workers) == 2
        main.send_signal(signal.SIGKILL)
        main.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in workers if _running(pid)] == []
    finally:
        if main.poll() is None:
            main.kill()
            main.wait()


def test_temp_files_left_by_a_killed_run_are_removed_by_the_next(tmp_path: Path) -> None:
    good_folder(tmp_path / "labels")
    assert _audit(tmp_path)[0] == 0
    left = [
        tmp_path / "out" / ".audit.html.0123456789ab.tmp",
        tmp_path / "out" / "history" / ".20261125T093000000000Z.json.0123456789ab.tmp",
        tmp_path / "work" / ".labels.parquet.0123456789ab.tmp",
        tmp_path / "work" / "cache" / f"extract-v{extractor_version()}" / ".ab.json.01.tmp",
    ]
    for path in left:
        path.parent.mkdir(exist_ok=True)  # history/: the folder of runs before history.jsonl
        path.write_bytes(b"half written")
    assert _audit(tmp_path)[0] == 0
    assert [path.exists() for path in left] == [False] * 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")) == [
        ".labelaudit.lock"
    ]


def test_two_work_folders_sharing_one_out_take_turns(tmp_path: Path) -> None:
    good_folder(tmp_path / "labels")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from pipeline.infra.lock import RunLock\n"
            "with RunLock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(tmp_path / "out" / ".labelaudit.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code, output = _audit(tmp_path, work="work-b")
        assert code == 3
        started = json.loads((tmp_path / "out" / ".labelaudit.lock").read_text())["started_at"]
        assert output.strip().splitlines()[-1] == (
            f"labelaudit: error: another labelaudit run (pid {holder.pid}, started {started}) "
            f"is using {tmp_path / 'out'}; try again when it ends"
        )
        assert not (tmp_path / "out" / "audit.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _audit(tmp_path, work="work-b")[0] == 0


def _without_time(path: Path) -> dict[str, object]:
    audit = json.loads(path.read_text(encoding="utf-8"))
    del audit["generated_at"]
    return audit


def test_damaged_work_files_never_stop_a_later_run(tmp_path: Path) -> None:
    good_folder(tmp_path / "labels")
    assert _audit(tmp_path)[0] == 0
    assert _audit(tmp_path)[0] == 0
    expected = _without_time(tmp_path / "out" / "audit.json")
    work = tmp_path / "work"
    products = work / "products.parquet"
    products.write_bytes(products.read_bytes()[:200])  # a broken stage Parquet
    pieces = work / "report_pieces.sqlite"
    raw = bytearray(pieces.read_bytes())
    raw[40 : len(raw) // 2] = b"\xff" * (len(raw) // 2 - 40)  # partly overwritten
    pieces.write_bytes(bytes(raw))
    entry = next((work / "cache" / f"extract-v{extractor_version()}").glob("*.json"))
    entry.write_bytes(entry.read_bytes()[:300])  # a truncated cache entry
    (work / ".extract.done").unlink()  # (else the label tables are kept: no entry is read)
    (work / TABLE_KEYS_FILE).unlink()  # (else each file's rows are kept: no entry is read)
    (work / "validation_state.json").write_text("{")
    (work / "chart.json").write_text("[]")
    code, output = _audit(tmp_path)
    assert code == 0, output
    assert "Traceback" not in output
    warned = [line.split(" WARNING ", 1)[1] for line in output.splitlines() if " WARNING " in line]
    assert warned == [
        f"cache entry {entry} does not match its checksum (damaged or edited): "
        "the file is read again",
        "normalize: products.parquet is not the file the stage wrote (damaged or replaced): "
        "the stage is run again",
        "validate: validation_state.json is not the file the stage wrote (damaged or "
        "replaced): the stage is run again",
        "validation_state.json is damaged: every product is validated again",
        f"report cache {pieces} is damaged (unsupported file format): it is rebuilt",
        f"chart cache {work / 'chart.json'} is damaged (not an object): the chart is drawn again",
    ]
    assert _without_time(tmp_path / "out" / "audit.json") == expected
    code, output = _audit(tmp_path)
    assert code == 0
    assert " WARNING " not in output  # all rebuilt: nothing to say


def test_a_full_disk_under_work_is_one_line_and_keeps_the_last_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_folder(tmp_path / "labels")
    assert _audit(tmp_path)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    (tmp_path / "labels" / "new.csv").write_text(
        "product_name,ingredient,amount,unit\nNew Cal,Calcium,500,mg\n", encoding="utf-8"
    )
    work = str(tmp_path / "work")
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(work):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    code, output = _audit(tmp_path)
    assert code == 1
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert lines[-1] == (
        f"labelaudit: error: cannot write {tmp_path / 'work' / 'labels.parquet'}: "
        "No space left on device"
    )
    # cache entries are not fsynced (each is checked on use), so only the tables fail
    assert lines[:-1] == []
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    assert after == before
