"""pipeline.infra: atomic writes, extraction cache, progress, run lock, history, exit codes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_LOCKED, EXIT_OK, AuditError, RunLocked
from pipeline.infra import atomic
from pipeline.infra import cache as cache_module
from pipeline.infra.atomic import atomic_write_bytes, atomic_write_parquet, atomic_write_text
from pipeline.infra.cache import ExtractionCache, cache_key, file_digest
from pipeline.infra.exits import exit_code_for
from pipeline.infra.history import (
    append_history_record,
    changes_between,
    previous_products,
    read_history,
    read_previous_ranking,
)
from pipeline.infra.isolated import map_isolated
from pipeline.infra.lock import RunLock
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue, Rejection
from tests.builders import REPO

AUDIT_EXAMPLE = REPO / "tests" / "data" / "audit_example.json"


def _child(script: str) -> subprocess.Popen[str]:
    """A Python child process running `script` with the repo importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


def test_atomic_write_bytes_replaces_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "dir" / "labels.bin"  # folders are created
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["labels.bin"]


def test_atomic_write_text_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "Vitamin K2 120 µg\n")
    assert target.read_bytes() == "Vitamin K2 120 µg\n".encode()


def test_atomic_write_uses_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def test_failed_replace_keeps_old_file_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "audit.json"
    target.write_bytes(b'{"old": true}')

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write_bytes(target, b'{"new": true}')
    assert target.read_bytes() == b'{"old": true}'
    assert os.listdir(tmp_path) == ["audit.json"]


def test_failed_parquet_write_keeps_old_frame_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "labels.parquet"
    old = pd.DataFrame({"source_file": ["a.pdf", "b.csv"], "calcium_mg": [500.0, 250.0]})
    atomic_write_parquet(target, old)

    # An object column pyarrow cannot convert: the write fails half-way.
    bad = pd.DataFrame({"x": [object()]})
    with pytest.raises(Exception, match="object"):
        atomic_write_parquet(target, bad)
    assert os.listdir(tmp_path) == ["labels.parquet"]
    back = pd.read_parquet(target)
    assert back["source_file"].tolist() == ["a.pdf", "b.csv"]
    assert back["calcium_mg"].tolist() == [500.0, 250.0]


def test_atomic_write_parquet_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({"product_id": ["p1", "p2"], "k2_mcg": [120.0, None], "servings": [2, 1]})
    atomic_write_parquet(tmp_path / "p.parquet", frame)
    back = pd.read_parquet(tmp_path / "p.parquet")
    assert back["product_id"].tolist() == ["p1", "p2"]
    assert back["k2_mcg"].tolist()[0] == 120.0
    assert pd.isna(back["k2_mcg"].tolist()[1])
    assert back["servings"].tolist() == [2, 1]
    assert list(back.index) == [0, 1]


def test_killed_writer_leaves_old_parquet_readable(tmp_path: Path) -> None:
    """A run SIGKILLed after writing the new content but before the rename."""
    target = tmp_path / "products.parquet"
    atomic_write_parquet(target, pd.DataFrame({"score": [100.0, 42.5]}))
    child = _child(
        f"""
        import os, sys, time
        import pandas as pd
        from pipeline.infra import atomic

        real_fsync = os.fsync
        def fsync_then_hang(fd):
            real_fsync(fd)
            print("written", flush=True)
            time.sleep(60)  # killed here, between fsync and os.replace
        atomic.os.fsync = fsync_then_hang
        atomic.atomic_write_parquet(
            __import__("pathlib").Path({str(target)!r}),
            pd.DataFrame({{"score": [float(i) for i in range(200_000)]}}),
        )
        """
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "written\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert pd.read_parquet(target)["score"].tolist() == [100.0, 42.5]
    names = sorted(os.listdir(tmp_path))
    assert names[1] == "products.parquet"
    assert len(names) == 2
    assert names[0].startswith(".products.parquet.") and names[0].endswith(".tmp")
    # The half-done run's file holds the new content, under a hidden temp name only.
    assert len(pd.read_parquet(tmp_path / names[0])) == 200_000


# --------------------------------------------------------------------------------------
# Extraction cache
# --------------------------------------------------------------------------------------


def test_file_digest_is_sha256_of_content(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    assert file_digest(small) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    data = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB and a bit: three chunks
    big = tmp_path / "big"
    big.write_bytes(data)
    assert file_digest(big) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_digest(empty) == hashlib.sha256(b"").hexdigest()


def test_cache_key_depends_on_version_path_and_digests() -> None:
    base = cache_key("pdf/a.pdf", ["d1"], extractor_version="1")
    assert len(base) == 64 and int(base, 16) >= 0
    assert cache_key("pdf/a.pdf", ["d1"], extractor_version="1") == base
    others = {
        cache_key("pdf/a.pdf", ["d1"], extractor_version="2"),
        cache_key("pdf/b.pdf", ["d1"], extractor_version="1"),
        cache_key("pdf/a.pdf", ["d2"], extractor_version="1"),
        cache_key("pdf/a.pdf", ["d1", "companion"], extractor_version="1"),
        cache_key("pdf/a.pdf", ["companion", "d1"], extractor_version="1"),
    }
    assert len(others) == 5 and base not in others
    cache = ExtractionCache(Path("/nonexistent"), "1")
    assert cache.cache_key("pdf/a.pdf", ["d1"]) == base
    with pytest.raises(TypeError, match="not one string"):
        cache_key("pdf/a.pdf", "d1", extractor_version="1")


def _extraction() -> FileExtraction:
    return FileExtraction(
        source_file="pdf/bone-matrix.pdf",
        labels=(
            Label(
                source_file="pdf/bone-matrix.pdf",
                label_index=0,
                product_name="Bone Matrix Calcium + K2",
                brand="Northfield Labs",
                serving_size="2 Capsules",
                max_daily_servings=2.0,
                directions="Take 2 capsules daily with a meal that contains fat.",
                source_format="pdf-ocr",
                pages="1-2",
                ocr_confidence=91.25,
            ),
        ),
        rows=(
            LabelRow(
                source_file="pdf/bone-matrix.pdf",
                label_index=0,
                line_no=1,
                name_raw="Vitamin K2",
                amount_raw="120",
                unit_raw="µg",
                dv_raw="100%",
                form_raw="menaquinone-7 (MenaQ7)",
                page=1,
                raw_text="Vitamin K2 (as menaquinone-7 (MenaQ7)) 120 µg 100%",
                confidence=0.1 + 0.2,
                repairs="meg->mcg",
            ),
            LabelRow(
                source_file="pdf/bone-matrix.pdf",
                label_index=0,
                line_no=2,
                name_raw="Calcium",
                amount_raw=None,
                unit_raw=None,
            ),
        ),
        issues=(ReadIssue("pdf/bone-matrix.pdf", 0, 2, 7, "amount not readable: 'l2O mg'"),),
    )


def test_cache_round_trip_is_exact(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "cache", "1")
    original = _extraction()
    rejected = FileExtraction(
        source_file="bad/corrupt.pdf",
        rejection=Rejection("bad/corrupt.pdf", "cannot open PDF: the file is damaged"),
    )
    cache.put("aa11", original)
    cache.put("bb22", rejected)
    again = ExtractionCache(tmp_path / "cache", "1")
    assert again.get("aa11") == original
    assert again.get("bb22") == rejected
    got = again.get("aa11")
    assert got is not None and got.rows[0].confidence == 0.1 + 0.2
    assert isinstance(got.labels, tuple) and isinstance(got.rows, tuple)
    assert (again.hits, again.misses, again.corrupt) == (2 + 1, 0, 0)
    assert (cache.writes, cache.hits) == (2, 0)
    assert sorted(p.name for p in (tmp_path / "cache" / "extract-v1").iterdir()) == [
        "aa11.json",
        "bb22.json",
    ]


def _parse_counting(path: Path, calls: list[str]) -> FileExtraction:
    calls.append(path.name)
    return FileExtraction(
        source_file=path.name,
        labels=(Label(path.name, 0, path.read_text()),),
    )


def _cached_run(folder: Path, cache_dir: Path, version: str) -> tuple[ExtractionCache, list[str]]:
    """What the extract stage does: digest, get, parse on a miss, put, prune."""
    cache = ExtractionCache(cache_dir, version)
    parsed: list[str] = []
    keys: set[str] = set()
    for path in sorted(folder.iterdir()):
        key = cache.cache_key(path.name, [file_digest(path)])
        keys.add(key)
        extraction = cache.get(key)
        if extraction is None:
            extraction = _parse_counting(path, parsed)
            cache.put(key, extraction)
        assert extraction.labels[0].product_name == path.read_text()
    cache.prune(keys)
    return cache, parsed


def test_second_run_parses_no_file_and_changes_are_read_again(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (labels / name).write_text(f"product {name}")
    cache_dir = tmp_path / "cache"

    first, parsed = _cached_run(labels, cache_dir, "1")
    assert parsed == ["a.csv", "b.csv", "c.csv"]
    assert (first.hits, first.misses, first.writes) == (0, 3, 3)

    second, parsed = _cached_run(labels, cache_dir, "1")
    assert parsed == []
    assert (second.hits, second.misses, second.writes) == (3, 0, 0)

    (labels / "b.csv").write_text("product b, new label")
    (labels / "c.csv").unlink()
    third, parsed = _cached_run(labels, cache_dir, "1")
    assert parsed == ["b.csv"]
    assert (third.hits, third.misses) == (1, 1)
    # the old b.csv entry and the removed c.csv's entry are pruned
    assert len(list((cache_dir / "extract-v1").glob("*.json"))) == 2

    bumped, parsed = _cached_run(labels, cache_dir, "2")
    assert parsed == ["a.csv", "b.csv"]
    assert (bumped.hits, bumped.misses) == (0, 2)
    assert sorted(p.name for p in cache_dir.iterdir()) == ["extract-v2"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'{"key": "abc1", "extractor_version": "1", "extraction": {"source_file": "a"}}',
        b'{"key": "abc1", "extractor_version": "1", "extraction": {"source_file": "a",'
        b' "labels": [{"source_file": "a"}], "rows": [], "issues": [], "rejection": null}}',
        b'{"key": "other", "extractor_version": "1", "extraction": {"source_file": "a",'
        b' "labels": [], "rows": [], "issues": [], "rejection": null}}',
        b'{"key": "abc1", "extractor_version": "0", "extraction": {"source_file": "a",'
        b' "labels": [], "rows": [], "issues": [], "rejection": null}}',
    ],
)
def test_corrupt_cache_entry_is_a_miss(tmp_path: Path, content: bytes) -> None:
    cache = ExtractionCache(tmp_path, "1")
    cache.entries_dir.mkdir(parents=True)
    (cache.entries_dir / "abc1.json").write_bytes(content)
    assert cache.get("abc1") is None
    assert (cache.hits, cache.misses, cache.corrupt) == (0, 1, 1)
    # a put over it repairs it
    cache.put("abc1", FileExtraction(source_file="a"))
    assert cache.get("abc1") == FileExtraction(source_file="a")


def _entry(key: str, version: str, body: bytes, sha: str | None = None) -> bytes:
    """A cache entry written by hand: its header line, then the extraction's JSON."""
    sha = sha or hashlib.sha256(body).hexdigest()
    header = {"key": key, "extractor_version": version, "sha256": sha}
    return json.dumps(header).encode() + b"\n" + body


EMPTY_BODY = b'{"source_file": "a", "labels": [], "rows": [], "issues": [], "rejection": null}'


def test_valid_entry_of_the_corrupt_test_shape_is_a_hit(tmp_path: Path) -> None:
    """The control for the test above: the same hand-written shape, correct, is a hit."""
    cache = ExtractionCache(tmp_path, "1")
    cache.entries_dir.mkdir(parents=True)
    (cache.entries_dir / "abc1.json").write_bytes(_entry("abc1", "1", EMPTY_BODY))
    assert cache.verify("abc1") is True
    assert cache.get("abc1") == FileExtraction(source_file="a")
    assert (cache.hits, cache.misses) == (1, 0)


@pytest.mark.parametrize(
    "content",
    [
        _entry(
            "abc1", "1", EMPTY_BODY.replace(b'"a"', b'"b"'), hashlib.sha256(EMPTY_BODY).hexdigest()
        ),
        _entry("abc1", "1", EMPTY_BODY)[:-1],
        _entry("other", "1", EMPTY_BODY),
        _entry("abc1", "0", EMPTY_BODY),
        EMPTY_BODY,
    ],
    ids=["edited-still-parses", "truncated", "other-key", "other-version", "no-header"],
)
def test_entry_failing_its_checks_is_a_miss_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ExtractionCache(tmp_path, "1")
    cache.entries_dir.mkdir(parents=True)
    (cache.entries_dir / "abc1.json").write_bytes(content)
    path = cache.entries_dir / "abc1.json"
    with caplog.at_level(logging.WARNING, logger="pipeline.infra.cache"):
        assert cache.verify("abc1") is False
        assert cache.get("abc1") is None
    edited = content.startswith(b'{"key": "abc1", "extractor_version": "1"')
    said = (
        f"cache entry {path} does not match its checksum (damaged or edited): "
        "the file is read again"
        if edited
        else f"cache entry {path} is damaged: the file is read again"
    )
    assert [r.getMessage() for r in caplog.records] == [said, said]
    assert (cache.hits, cache.misses, cache.corrupt) == (0, 1, 2)


def test_missing_entry_is_a_plain_miss(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path / "never-created", "1")
    assert cache.get("abcd") is None
    assert (cache.hits, cache.misses, cache.corrupt) == (0, 1, 0)
    assert cache.prune(set()) == 0
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get("../escape")


def test_failed_cache_write_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full_disk(path: Path, data: bytes, durable: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "atomic_write_bytes", full_disk)
    cache = ExtractionCache(tmp_path, "1")
    with caplog.at_level(logging.WARNING, logger="pipeline.infra.cache"):
        cache.put("ab", FileExtraction(source_file="a"))
    assert cache.writes == 0
    assert "No space left on device" in caplog.text


def test_prune_keeps_only_used_entries_and_removes_temp_files(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path, "1")
    for key in ("aa", "bb", "cc"):
        cache.put(key, FileExtraction(source_file=key))
    (cache.entries_dir / ".cc.json.0123456789ab.tmp").write_bytes(b"half")
    old = ExtractionCache(tmp_path, "0")
    old.put("dd", FileExtraction(source_file="dd"))
    assert cache.prune({"bb"}) == 3  # aa, cc and the old version's dd
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extract-v1"]
    assert sorted(p.name for p in cache.entries_dir.iterdir()) == ["bb.json"]


# --------------------------------------------------------------------------------------
# Parallel map
# --------------------------------------------------------------------------------------


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError(f"bad item {x}")
    return x


def die_on_three(x: int) -> int:
    if x == 3:
        os._exit(1)
    return x


def _describe(x: int) -> str:
    return f"item-{x}"


def _lost(x: int, why: str) -> tuple[int, int]:
    return (-1, -1)


def test_progress_log_lines_about_every_tenth(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pipeline.infra.progress"):
        map_isolated(
            square_with_pid, list(range(20)), jobs=1, describe=_describe, lost=_lost, progress=False
        )
    assert [r.getMessage() for r in caplog.records] == [
        f"extract: {n}/20 files ({n * 5}%)" for n in range(2, 21, 2)
    ]


def test_progress_log_lines_with_workers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pipeline.infra.progress"):
        map_isolated(
            square_with_pid,
            list(range(80)),
            jobs=2,
            describe=_describe,
            lost=_lost,
            progress=False,
            label="normalize",
            unit="labels",
        )
    assert [r.getMessage() for r in caplog.records] == [
        f"normalize: {n}/80 labels ({n * 100 // 80}%)" for n in range(8, 81, 8)
    ]


def test_progress_bar_logs_nothing(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO, logger="pipeline.infra.progress"):
        out = map_isolated(
            square_with_pid, list(range(20)), jobs=2, describe=_describe, lost=_lost, progress=True
        )
    assert len(out) == 20
    assert caplog.records == []
    assert "20/20" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Run lock
# --------------------------------------------------------------------------------------


def _lock_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def test_lock_written_and_released(tmp_path: Path) -> None:
    lock_path = tmp_path / "work" / ".labelaudit.lock"
    with RunLock(lock_path) as lock:
        assert lock.held
        data = _lock_json(lock_path)
        assert data["pid"] == os.getpid()
        assert data["host"] == socket.gethostname()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["started_at"])
    assert not lock.held
    assert lock_path.read_text() == ""  # emptied, and free
    with pytest.raises(RuntimeError, match="boom"), RunLock(lock_path):
        assert _lock_json(lock_path)["pid"] == os.getpid()
        raise RuntimeError("boom")
    assert lock_path.read_text() == ""
    with RunLock(lock_path) as again:
        assert again.held


def _refused(lock_path: Path) -> tuple[RunLocked, str]:
    """What a RunLock of `lock_path` raises while it is held, and when the holder started."""
    started = _lock_json(lock_path)["started_at"]
    with pytest.raises(RunLocked) as info, RunLock(lock_path):
        pass
    return info.value, started


def _in_use(pid: int, started: str, folder: Path) -> str:
    return (
        f"another labelaudit run (pid {pid}, started {started}) is using {folder}; "
        "try again when it ends"
    )


def test_a_second_lock_in_the_same_process_refuses(tmp_path: Path) -> None:
    lock_path = tmp_path / ".labelaudit.lock"
    with RunLock(lock_path):
        refused, started = _refused(lock_path)
    assert str(refused) == _in_use(os.getpid(), started, tmp_path)


def _holder(lock_path: Path) -> subprocess.Popen[str]:
    child = _child(
        f"""
        import sys
        from pathlib import Path
        from pipeline.infra.lock import RunLock
        with RunLock(Path({str(lock_path)!r})):
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "locked\n"
    return child


def test_lock_held_by_another_process_refuses(tmp_path: Path) -> None:
    lock_path = tmp_path / ".labelaudit.lock"
    child = _holder(lock_path)
    try:
        assert child.stdin is not None
        refused, started = _refused(lock_path)
        assert str(refused) == _in_use(child.pid, started, tmp_path)
        assert (refused.pid, refused.started_at) == (child.pid, started)
        assert isinstance(refused, AuditError)
        assert _lock_json(lock_path)["pid"] == child.pid  # untouched
        child.stdin.close()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with RunLock(lock_path):
        assert _lock_json(lock_path)["pid"] == os.getpid()


def test_lock_of_a_killed_holder_is_free_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The kernel releases a dead holder's flock: no stale lock, nothing to take over."""
    lock_path = tmp_path / ".labelaudit.lock"
    child = _holder(lock_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert _lock_json(lock_path)["pid"] == child.pid  # the dead run's file, as it left it
    with caplog.at_level(logging.WARNING, logger="pipeline.infra.cache"), RunLock(lock_path):
        assert _lock_json(lock_path)["pid"] == os.getpid()
    assert caplog.records == []


@pytest.mark.parametrize("content", ["", "{half", '{"pid": 1, "host": "HOST"}'])
def test_lock_file_naming_a_live_pid_of_another_program_is_free(
    tmp_path: Path, content: str
) -> None:
    """A pid reused by another program (pid 1 is alive: init), or a file left half
    written, holds nothing: only a live flock does."""
    lock_path = tmp_path / ".labelaudit.lock"
    lock_path.write_text(content.replace("HOST", socket.gethostname()))
    with RunLock(lock_path) as lock:
        assert lock.held
        assert _lock_json(lock_path)["pid"] == os.getpid()


def test_wait_polls_until_the_lock_is_free(tmp_path: Path) -> None:
    lock_path = tmp_path / ".labelaudit.lock"
    child = _holder(lock_path)
    assert child.stdin is not None
    threading.Timer(0.5, child.stdin.close).start()  # the other run ends in 0.5 s
    try:
        started = time.monotonic()
        with RunLock(lock_path, wait_seconds=60, poll_seconds=0.05):
            assert _lock_json(lock_path)["pid"] == os.getpid()
        assert 0.4 < time.monotonic() - started < 30
    finally:
        child.kill()
        child.wait()


def test_wait_gives_up_after_wait_seconds(tmp_path: Path) -> None:
    lock_path = tmp_path / ".labelaudit.lock"
    child = _holder(lock_path)
    try:
        with pytest.raises(RunLocked, match=rf"\(pid {child.pid}, started "):
            RunLock(lock_path, wait_seconds=0.1, poll_seconds=0.02).acquire()
        assert _lock_json(lock_path)["pid"] == child.pid
    finally:
        child.kill()
        child.wait()


def test_taking_the_lock_removes_temp_files_a_killed_run_left(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "history").mkdir(parents=True)
    left = [
        reports / ".audit.html.0123456789ab.tmp",
        reports / "history" / ".20261125T093000000000Z.json.0123456789ab.tmp",
    ]
    kept = [reports / "audit.html", reports / ".hidden", reports / "notes.tmp"]
    for path in left + kept:
        path.write_text("x")
    with RunLock(reports / ".labelaudit.lock"):
        assert [p.exists() for p in left] == [False, False]
        assert [p.exists() for p in kept] == [True, True, True]


# --------------------------------------------------------------------------------------
# History and changes
# --------------------------------------------------------------------------------------


def test_history_is_appended_one_json_line_per_run(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    at = datetime(2020, 11, 25, 9, 30, 0, 123456, tzinfo=UTC)
    append_history_record(history, {"run": 1, "labels_dir": Path("data/raw")})
    append_history_record(history, {"run": 2, "at": at})
    assert history.read_text(encoding="utf-8").splitlines() == [
        '{"run": 1, "labels_dir": "data/raw"}',
        '{"run": 2, "at": "2020-11-25T09:30:00.123456+00:00"}',
    ]
    assert read_history(history) == [
        {"run": 1, "labels_dir": "data/raw"},
        {"run": 2, "at": "2020-11-25T09:30:00.123456+00:00"},
    ]


def test_history_after_a_killed_append_and_the_old_one_file_per_run_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"run": 1}\n{"run": 2, "fil', encoding="utf-8")  # killed mid-line
    append_history_record(history, {"run": 3})
    assert history.read_text(encoding="utf-8") == '{"run": 1}\n{"run": 2, "fil\n{"run": 3}\n'
    old = tmp_path / "history"
    old.mkdir()
    (old / "20201125T093000000001Z.json").write_text('{\n  "run": 0\n}\n', encoding="utf-8")
    (old / "20201124T093000000001Z.json").write_text('{"run": -1}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pipeline.infra.history"):
        records = read_history(history, old)
    assert records == [{"run": -1}, {"run": 0}, {"run": 1}, {"run": 3}]
    assert caplog.messages == [f"{history}: a run record that is not a JSON object is skipped"]


def _product(pid: str, verdict: str, name: str | None = None) -> dict[str, Any]:
    return {
        "product_id": pid,
        "source_file": f"pdf/{pid}.pdf",
        "product_name": name or pid.title(),
        "verdict": verdict,
        "score": 50.0,
    }


def test_previous_products_come_from_ranking_csv_else_audit_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    csv_path, json_path = tmp_path / "ranking.csv", tmp_path / "audit.json"
    assert previous_products(json_path, csv_path) is None  # a first run
    json_path.write_text(
        json.dumps({"products": [{**_product("from-json", "fails"), "checks": []}]}),
        encoding="utf-8",
    )
    from_json = [
        {
            "product_id": "from-json",
            "source_file": "pdf/from-json.pdf",
            "product_name": "From-Json",
            "verdict": "fails",
        }
    ]
    assert previous_products(json_path, csv_path) == from_json
    csv_path.write_text(
        "rank,product_id,source_file,product_name,brand,verdict,score\n"
        '1,a-1,a.pdf,"Calcium, K2 ""Plus""",B,matches,90.5\n'
        "2,nameless,n.pdf,,,not_assessable,\n"
        "3,NA,NA.pdf,NA,,fails,1\n",
        encoding="utf-8",
    )
    expected = [
        {
            "product_id": "a-1",
            "source_file": "a.pdf",
            "product_name": 'Calcium, K2 "Plus"',
            "verdict": "matches",
        },
        {
            "product_id": "nameless",
            "source_file": "n.pdf",
            "product_name": None,
            "verdict": "not_assessable",
        },
        {"product_id": "NA", "source_file": "NA.pdf", "product_name": "NA", "verdict": "fails"},
    ]
    assert read_previous_ranking(csv_path) == expected
    assert previous_products(json_path, csv_path) == expected
    csv_path.write_text("rank,product_id\n1,a-1\n", encoding="utf-8")  # not a ranking.csv
    with caplog.at_level(logging.WARNING):
        assert read_previous_ranking(csv_path) is None
    assert "previous ranking" in caplog.text
    assert previous_products(json_path, csv_path) == from_json


def test_changes_between_runs() -> None:
    previous = [
        _product("zeta", "fails"),
        _product("alpha", "matches"),
        _product("gone-b", "partial"),
        _product("gone-a", "fails"),
        _product("same", "partial"),
    ]
    current = [
        _product("same", "partial", name="Same, renamed"),
        _product("zeta", "matches"),
        _product("new-2", "fails"),
        _product("alpha", "not_assessable"),
        _product("new-1", "matches"),
    ]
    assert changes_between(previous, current) == {
        "added": [
            {"product_id": "new-1", "source_file": "pdf/new-1.pdf", "product_name": "New-1"},
            {"product_id": "new-2", "source_file": "pdf/new-2.pdf", "product_name": "New-2"},
        ],
        "removed": [
            {"product_id": "gone-a", "source_file": "pdf/gone-a.pdf", "product_name": "Gone-A"},
            {"product_id": "gone-b", "source_file": "pdf/gone-b.pdf", "product_name": "Gone-B"},
        ],
        "verdict_changed": [
            {
                "product_id": "alpha",
                "source_file": "pdf/alpha.pdf",
                "product_name": "Alpha",
                "from": "matches",
                "to": "not_assessable",
            },
            {
                "product_id": "zeta",
                "source_file": "pdf/zeta.pdf",
                "product_name": "Zeta",
                "from": "fails",
                "to": "matches",
            },
        ],
    }


def test_first_run_has_no_changes() -> None:
    current = [_product("a", "matches")]
    assert changes_between(None, current) == {"added": [], "removed": [], "verdict_changed": []}
    assert changes_between([], current)["added"] == [
        {"product_id": "a", "source_file": "pdf/a.pdf", "product_name": "A"}
    ]


def test_changes_ignore_products_without_id() -> None:
    previous = [{"source_file": "x.pdf", "verdict": "fails"}, _product("a", "fails")]
    current = [_product("a", "fails"), {"product_id": None, "verdict": "matches"}]
    assert changes_between(previous, current) == {
        "added": [],
        "removed": [],
        "verdict_changed": [],
    }


# --------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------


def test_exit_code_values() -> None:
    assert (EXIT_OK, EXIT_ERROR, EXIT_LOCKED, EXIT_FINDINGS) == (0, 1, 3, 4)


def test_exit_code_for_example_audit() -> None:
    audit = json.loads(AUDIT_EXAMPLE.read_text())  # one "fails", two data-quality findings
    assert exit_code_for(audit, set()) == EXIT_OK
    assert exit_code_for(audit, {"fails"}) == EXIT_FINDINGS
    assert exit_code_for(audit, {"data-quality"}) == EXIT_FINDINGS
    assert exit_code_for(audit, {"fails", "data-quality"}) == EXIT_FINDINGS


def test_exit_code_for_clean_audit() -> None:
    audit = {
        "products": [_product("a", "matches"), _product("b", "partial")],
        "data_quality": [],
    }
    assert exit_code_for(audit, {"fails", "data-quality"}) == EXIT_OK
    only_dq = {**audit, "data_quality": [{"check": "dv_consistent"}]}
    assert exit_code_for(only_dq, {"fails"}) == EXIT_OK
    assert exit_code_for(only_dq, {"data-quality"}) == EXIT_FINDINGS
    with_fail = {**audit, "products": [_product("c", "fails")]}
    assert exit_code_for(with_fail, {"data-quality"}) == EXIT_OK
    assert exit_code_for(with_fail, {"fails"}) == EXIT_FINDINGS
    with pytest.raises(ValueError, match="unknown --fail-on value"):
        exit_code_for(audit, {"warnings"})
