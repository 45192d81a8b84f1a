"""The benchmark script on 6 files: its corpus, its 1% change, how it measures a step, and
the shape of its report (no timing is asserted)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from bench import run as bench
from labelgen.pdf_layouts import LAYOUTS
from pipeline.infra.history import read_history
from pipeline.sources.pdf import read_pdf


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corpus_cycles_layouts_and_every_file_differs(tmp_path: Path) -> None:
    paths = bench.write_corpus(tmp_path, 8)
    assert [p.name for p in paths] == [
        "label-000000-ruled.pdf",
        "label-000001-whitespace.pdf",
        "label-000002-wrapped.pdf",
        "label-000003-two-column.pdf",
        "label-000004-no-dv.pdf",
        "label-000005-embedded.pdf",
        "label-000006-multi.pdf",
        "label-000007-ruled.pdf",
    ]
    assert len({_digest(p) for p in paths}) == 8
    # file 6 prints three consecutive real labels; file 7 (ruled again) a new label
    plan = bench.file_plan(8, 163)
    assert plan[6] == ("multi", [6, 7, 8]) and plan[7] == ("ruled", [7])
    assert [layout for layout, _ in plan[:7]] == list(LAYOUTS)
    multi = read_pdf(paths[6], paths[6].name)
    labels = bench.corpus_labels()
    assert [label.product_name for label in multi.labels] == [
        f"{labels[6]['product_name']} No. 18-1",
        f"{labels[7]['product_name']} No. 19-1",
        f"{labels[8]['product_name']} No. 20-1",
    ]


def test_change_files_rewrites_one_percent_with_new_content(tmp_path: Path) -> None:
    assert bench.changed_indices(2000) == list(range(0, 2000, 100))
    assert bench.changed_indices(6) == [0]
    paths = bench.write_corpus(tmp_path, 6)
    before = {p.name: _digest(p) for p in paths}
    changed = bench.change_files(tmp_path, 6)
    assert changed == [paths[0]]
    after = {p.name: _digest(p) for p in paths}
    assert [name for name in before if before[name] != after[name]] == [paths[0].name]
    (label,) = read_pdf(paths[0], paths[0].name).labels
    assert label.product_name == f"{bench.corpus_labels()[0]['product_name']} No. 0-2"


def test_baseline_loop_reads_every_page(tmp_path: Path) -> None:
    bench.write_corpus(tmp_path, 6)
    # the "embedded" layout has a cover page: 7 pages in 6 files
    assert bench.baseline_loop(tmp_path) == (6, 7)


def test_measure_reports_the_largest_child_from_a_fresh_wrapper() -> None:
    # A child that allocates ~120 MB, and a grandchild (waited for by the child) that
    # allocates ~200 MB: ru_maxrss is the largest single process, the grandchild.
    grandchild = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    child = (
        "import subprocess, sys; a = bytearray(120 * 2**20); a[::4096] = b'x' * len(a[::4096]);"
        f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)"
    )
    step = bench.measure("probe", [sys.executable, "-c", child], files=4)
    assert step.returncode == 0
    assert 200 <= step.max_rss_mb < 260
    # files_per_s is rounded to 0.1 from the unrounded wall time, wall_s to 1 ms: up to 0.05
    # apart, plus what the wall time's rounding moves (4.2 for 4.2508 failed at abs=0.05)
    assert step.files == 4 and step.files_per_s == pytest.approx(4 / step.wall_s, abs=0.06)


def test_failed_step_raises_with_its_output() -> None:
    with pytest.raises(RuntimeError, match="exited 3"):
        bench.measure("bad", [sys.executable, "-c", "import sys; sys.exit(3)"], files=1)


def test_results_report_ratios_checks_and_json(tmp_path: Path) -> None:
    steps = {
        name: bench.Step(
            name=name,
            wall_s=wall,
            returncode=0,
            max_rss_mb=rss,
            peak_tree_pss_mb=pss,
            peak_tree_rss_mb=pss,
            cpu_s=wall,
            files=100,
            files_per_s=100 / wall,
        )
        for name, wall, rss, pss in (
            ("baseline", 10.0, 60.0, 50.0),
            ("cold", 5.0, 400.0, 450.0),
            ("warm", 0.5, 300.0, 280.0),
            ("changed", 1.5, 420.0, 380.0),
        )
    }
    machine = {"cores": 2, "cpu_model": "cpu", "memory_gb": 1.0, "python": "3", "pdfplumber": "0"}
    results = bench.Results(n=100, machine=machine, generate_s=1.0, changed_files=1, steps=steps)
    assert results.ratios == {"cold_vs_baseline": 0.5, "warm_vs_cold": 0.1, "changed_vs_cold": 0.3}
    assert results.max_memory_mb == 450.0
    assert results.checks() == {
        "cold_vs_baseline": True,
        "warm_vs_cold": True,
        "changed_vs_cold": False,
        "max_memory_mb": True,
    }
    data = json.loads(json.dumps(results.to_dict()))
    assert set(data) == {
        "n",
        "machine",
        "generate_s",
        "changed_files",
        "steps",
        "ratios",
        "max_memory_mb",
        "targets",
        "meets_targets",
    }
    assert list(data["steps"]) == ["baseline", "cold", "warm", "changed"]
    assert data["steps"]["cold"]["max_rss_mb"] == 400.0
    text = bench.format_results(results)
    assert "(d)/(b) 1% changed / cold     0.300  (target <= 0.2: over target)" in text
    assert "peak memory of the audit      450.0 MB (target < 500: ok)" in text


def test_run_bench_end_to_end_on_six_files(tmp_path: Path) -> None:
    results = bench.run_bench(6, tmp_path, jobs=2, log=False)
    assert list(results.steps) == ["baseline", "cold", "warm", "changed"]
    assert results.changed_files == 1
    assert all(step.returncode == 0 and step.files == 6 for step in results.steps.values())
    assert all(step.max_rss_mb > 0 for step in results.steps.values())
    assert "audited 6 files: 6 products" in results.steps["cold"].output
    history = read_history(tmp_path / "reports" / "history.jsonl")
    parsed = [record["parsed"] for record in history]
    assert parsed == [6, 0, 1]  # cold reads all, warm none, changed the one rewritten file
