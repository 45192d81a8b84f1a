"""Each file in a box: per-file limits, and a worker that dies loses only its own file."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from pipeline import config, extract
from pipeline.audit import run_extract
from pipeline.infra import isolated
from pipeline.records import FileValues
from tests.hostile import GOOD_PDF, flate_bomb, good_folder, raw_pdf, simple_csv

GOOD = ["good.csv", "good.pdf", "m.json"]


def _extract(
    labels: Path, tmp_path: Path, limits: config.FileLimits = config.FILE_LIMITS, jobs: int = 2
) -> tuple[dict[str, str], list[str], dict[str, object]]:
    """Extract `labels`: the rejections (file -> reason), the files that gave products, and
    run.json."""
    work = config.WorkPaths(tmp_path / "work")
    meta = run_extract(labels, work, jobs=jobs, progress=False, limits=limits)
    rejections = pd.read_parquet(work.rejections)
    products = sorted(set(pd.read_parquet(work.labels)["source_file"]))
    return dict(zip(rejections["source_file"], rejections["reason"], strict=True)), products, meta


def test_the_hostile_files_of_the_issue_are_rejected_naming_the_limit(tmp_path: Path) -> None:
    labels = good_folder(tmp_path / "labels")
    # 1.3 KB... here 0.4 KB: one blank 14,400 pt page, no text layer: OCR would render it
    # at 300 dpi into 3.6 G pixels. Refused before rendering.
    (labels / "huge-page.pdf").write_bytes(raw_pdf([(14400, 14400, b"", False)]))
    (labels / "blank-500.pdf").write_bytes(raw_pdf([(612, 792, b"", False)] * 500))
    rows = ["product_name,ingredient,amount,unit", "Big,Calcium,500,mg"]
    rows += ["Big,Vitamin C,1,mg"] * 1_000_000
    (labels / "million-rows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert (labels / "huge-page.pdf").stat().st_size < 1300
    rejected, products, _ = _extract(labels, tmp_path)
    assert rejected == {
        "huge-page.pdf": "page 1 is 14400 x 14400 pt: rendering it at 300 dpi would take "
        "3,600,000,000 pixels, more than 120,000,000 (limit --max-pixels)",
        "blank-500.pdf": "500 pages: more than 200 pages (limit --max-pages)",
        "million-rows.csv": "more than 500,000 rows (limit --max-rows)",
    }
    assert products == GOOD
    # a reading stopped by a limit is not cached: the next run tries again (the limit
    # may have been raised)
    again = _extract(labels, tmp_path)
    assert again[0] == rejected
    assert (again[2]["parsed"], again[2]["cached"]) == (3, 3)


def test_a_flate_bomb_runs_out_of_the_workers_memory(tmp_path: Path) -> None:
    labels = good_folder(tmp_path / "labels")
    (labels / "bomb.pdf").write_bytes(raw_pdf([(612, 792, flate_bomb(600), True)]))
    assert (labels / "bomb.pdf").stat().st_size < 1024 * 1024
    limits = config.FileLimits(max_memory_mb=256)
    rejected, products, _ = _extract(labels, tmp_path, limits)
    assert rejected == {"bomb.pdf": "the reader ran out of memory (limit 256 MB, --max-memory-mb)"}
    assert products == GOOD


def test_file_size_and_image_pixel_limits(tmp_path: Path) -> None:
    labels = good_folder(tmp_path / "labels")
    shutil.copy(GOOD_PDF, labels / "big.pdf")
    with (labels / "big.pdf").open("ab") as fh:
        fh.write(b"\0" * (3 * 1024 * 1024))
    Image.new("L", (5000, 3000), 255).save(labels / "poster.png")
    limits = config.FileLimits(max_file_mb=2, max_pixels=10_000_000)
    rejected, products, _ = _extract(labels, tmp_path, limits)
    size = (labels / "big.pdf").stat().st_size / 1024 / 1024
    assert rejected == {
        "big.pdf": f"the file is {size:.1f} MB: more than 2 MB (limit --max-file-mb)",
        "poster.png": "the image is 5000 x 3000 pixels: more than 10,000,000 pixels "
        "(limit --max-pixels)",
    }
    assert products == GOOD


def _misbehave(how: str) -> None:
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "segfault":
        ctypes.string_at(0)
    elif how == "memory":
        bytearray(64 * 1024**3)
    elif how == "sleep":
        time.sleep(60)
    elif how == "deaf":  # stuck where the alarm cannot reach it (C code, say)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("sigkill", "the worker reading it died (signal 9)"),
        ("segfault", "the worker reading it died (signal 11)"),
        ("memory", "the reader ran out of memory (limit 256 MB, --max-memory-mb)"),
        ("sleep", "reading took more than 1 s (limit --file-timeout)"),
        ("deaf", "reading took more than 1 s (limit --file-timeout)"),
    ],
)
def test_a_worker_that_dies_or_hangs_loses_only_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, reason: str
) -> None:
    labels = good_folder(tmp_path / "labels")
    for name in ("bad-1.csv", "z-after.csv"):
        (labels / name).write_text(simple_csv(name.removesuffix(".csv")), encoding="utf-8")
    real = extract.read_label_values

    def reader(
        path: Path, source_file: str, data: bytes | None = None, companions: Any = ()
    ) -> FileValues:
        if source_file == "bad-1.csv":
            _misbehave(how)
        return real(path, source_file, data, companions)

    monkeypatch.setattr(extract, "read_label_values", reader)
    monkeypatch.setattr(isolated, "KILL_GRACE_SECONDS", 0.5)
    limits = config.FileLimits(file_timeout=1, max_memory_mb=256)
    started = time.monotonic()
    rejected, products, meta = _extract(labels, tmp_path, limits)
    assert rejected == {"bad-1.csv": reason}
    assert products == sorted([*GOOD, "z-after.csv"])
    assert (meta["parsed"], meta["cached"]) == (5, 0)
    assert time.monotonic() - started < 30


def test_one_job_reads_in_a_worker_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = good_folder(tmp_path / "labels")
    (labels / "bad-1.csv").write_text(simple_csv("Bad"), encoding="utf-8")
    real = extract.read_label_values

    def reader(
        path: Path, source_file: str, data: bytes | None = None, companions: Any = ()
    ) -> FileValues:
        if source_file == "bad-1.csv":
            _misbehave("sigkill")
        return real(path, source_file, data, companions)

    monkeypatch.setattr(extract, "read_label_values", reader)
    rejected, products, _ = _extract(labels, tmp_path, jobs=1)
    assert rejected == {"bad-1.csv": "the worker reading it died (signal 9)"}
    assert products == GOOD


# ---- map_isolated ------------------------------------------------------------------------


def _square_or_die(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 5:
        raise ValueError("five")
    return x * x


def test_map_isolated_keeps_order_and_loses_only_the_dead_item() -> None:
    items = [0, 1, 2, 3, 4, 6, 7, 8]
    out = isolated.map_isolated(
        _square_or_die,
        items,
        jobs=2,
        describe=str,
        lost=lambda item, why: -item if why == "its worker process died (signal 9)" else None,
        progress=False,
    )
    assert out == [0, 1, 4, -3, 16, 36, 49, 64]
    assert (
        isolated.map_isolated(_square_or_die, [], jobs=2, describe=str, lost=lambda i, w: 0) == []
    )


def test_map_isolated_raises_task_failed_for_an_exception() -> None:
    with pytest.raises(isolated.TaskFailed, match=r"^extract: item 5: ValueError: five$"):
        isolated.map_isolated(
            _square_or_die,
            [1, 5, 6],
            jobs=2,
            describe=lambda x: f"item {x}",
            lost=lambda i, w: 0,
            progress=False,
        )
