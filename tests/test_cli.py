"""The `labelaudit` command: exit codes, one-line errors, stages, protocol files, nightly runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape as html_escape
from typer.testing import CliRunner

from labelgen.dsld_formats import write_dsld_json, write_simple_csv
from labelgen.products import dsld_label, sample_product
from pipeline.cli import app
from pipeline.infra.history import read_history

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def _labels(folder: Path) -> Path:
    """A small folder: a match (simple CSV), a K1 product (JSON), a bad JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    write_simple_csv([sample_product("sample-bone-matrix")], folder / "match.csv")
    write_dsld_json(dsld_label("11249"), folder / "caldenex.json")
    (folder / "broken.json").write_text('{"id": 1', encoding="utf-8")
    return folder


def _audit(tmp: Path, *extra: str, labels: Path | None = None) -> tuple[int, str, dict[str, Any]]:
    labels = labels or tmp / "labels"
    result = runner.invoke(
        app,
        [
            "audit",
            str(labels),
            "--out",
            str(tmp / "out"),
            "--work",
            str(tmp / "work"),
            "-j",
            "1",
            *extra,
        ],
    )
    report = tmp / "out" / "audit.json"
    audit = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result.exit_code, result.output, audit


def _hold_lock(work: Path, *, seconds: float) -> subprocess.Popen[str]:
    """Another process that holds the work folder's lock for `seconds` (prints "held")."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from pipeline.infra.lock import RunLock\n"
            "with RunLock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(float(sys.argv[2]))",
            str(work / ".labelaudit.lock"),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _meta(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "work" / "run.json").read_text(encoding="utf-8"))


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "audit" in result.output and "extract" in result.output


def test_missing_folder_is_one_line_error_exit_1(tmp_path: Path) -> None:
    code, output, _ = _audit(tmp_path, labels=tmp_path / "nope")
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        f"labelaudit: error: labels folder {tmp_path / 'nope'} does not exist or is not a folder"
    )


def test_folder_without_label_files_exit_1(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "notes.txt").write_text("hello")
    (tmp_path / "labels" / ".hidden.pdf").write_text("hidden files are ignored")
    code, output, _ = _audit(tmp_path)
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        "labelaudit: error: no label files (*.pdf, *.csv, *.json, images) under "
        f"{tmp_path / 'labels'}"
    )


def test_bad_protocol_file_exit_1(tmp_path: Path) -> None:
    _labels(tmp_path / "labels")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[k2]\naccepted_form = 'MK-7'\n", encoding="utf-8")
    code, output, _ = _audit(tmp_path, "--protocol", str(bad))
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        f"labelaudit: error: protocol file {bad}: missing 'weights'"
    )


def test_audit_exits_0_whatever_the_verdicts_and_accounts_for_every_file(tmp_path: Path) -> None:
    _labels(tmp_path / "labels")
    code, output, audit = _audit(tmp_path)
    assert code == 0, output
    assert [(p["product_name"], p["verdict"]) for p in audit["products"]] == [
        ("Bone Matrix Calcium + K2", "matches"),
        ("CalDenex", "fails"),
    ]
    assert audit["rejected"] == [
        {
            "source_file": "broken.json",
            "reason": "not valid JSON: Expecting ',' delimiter: line 1 column 9 (char 8)",
        }
    ]
    assert audit["summary"]["files"] == 3
    assert "audited 3 files: 2 products (1 matches, 0 partial, 1 fails, 0 not_assessable)" in output


def test_fail_on_exit_codes(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    assert _audit(tmp_path, "--fail-on", "fails")[0] == 4
    assert _audit(tmp_path, "--fail-on", "data-quality")[0] == 0
    write_dsld_json(dsld_label("209214"), labels / "dv-mismatch.json")
    assert _audit(tmp_path, "--fail-on", "data-quality")[0] == 4
    only_match = tmp_path / "clean"
    only_match.mkdir()
    write_simple_csv([sample_product("sample-bone-matrix")], only_match / "match.csv")
    assert _audit(tmp_path / "c", "--fail-on", "fails", labels=only_match)[0] == 0


def test_a_product_named_with_html_shows_as_text(tmp_path: Path) -> None:
    label = sample_product("sample-bone-matrix")
    label["product_name"] = "<script>alert(1)</script>"
    label["brand"] = '<img src=x onerror="alert(2)">'
    (tmp_path / "labels").mkdir()
    write_simple_csv([label], tmp_path / "labels" / "x.csv")
    code, _, audit = _audit(tmp_path)
    assert code == 0
    html = (tmp_path / "out" / "audit.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert audit["products"][0]["product_name"] == "<script>alert(1)</script>"


def test_another_protocol_file_changes_the_verdicts(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    write_simple_csv([sample_product("sample-daily-calcium-k2")], labels / "low-k2.csv")
    assert _audit(tmp_path)[2]["products"][0]["verdict"] == "partial"
    lenient = (REPO / "pipeline" / "protocol.toml").read_text(encoding="utf-8")
    lenient = lenient.replace(
        "ratio_mcg_per_500mg_calcium = [100.0, 180.0]",
        "ratio_mcg_per_500mg_calcium = [50.0, 180.0]",
    )
    path = tmp_path / "lenient.toml"
    path.write_text(lenient, encoding="utf-8")
    _, _, audit = _audit(tmp_path, "--protocol", str(path))
    product = audit["products"][0]
    assert (product["verdict"], product["score"]) == ("matches", 100.0)
    ratio = next(c for c in product["checks"] if c["name"] == "k2_ratio")
    assert ratio["detail"].endswith("the protocol asks 50-180")


def test_stages_run_one_by_one(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    work, out = str(tmp_path / "work"), str(tmp_path / "out")
    steps = [
        (
            ["extract", str(labels), "--work", work, "-j", "1"],
            "extracted 3 files (3 read, 0 cached)",
        ),
        (["normalize", "--work", work], "normalized 11 label rows into 2 products"),
        (["validate", "--work", work], "validated:"),
        (["report", "--work", work, "--out", out], "wrote"),
    ]
    for args, said in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert said in result.output
    assert (tmp_path / "out" / "audit.html").exists()


def test_a_stage_without_its_input_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["normalize", "--work", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "labels.parquet does not exist: run the earlier stage first" in result.output


def test_second_run_parses_no_file_and_changes_are_tracked(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    _audit(tmp_path)
    assert (_meta(tmp_path)["parsed"], _meta(tmp_path)["cached"]) == (3, 0)
    code, _, audit = _audit(tmp_path)
    assert code == 0
    assert (_meta(tmp_path)["parsed"], _meta(tmp_path)["cached"]) == (0, 3)
    assert audit["changes"] == {"added": [], "removed": [], "verdict_changed": []}
    # what the next run reads to start the validation process early (pipeline.audit)
    assert _meta(tmp_path)["validation"] == {
        "products_validated": 0,
        "products_reused": audit["summary"]["products"],
        "label_rows_validated": 0,
    }

    # touch one (same content: still cached), change one, add one, remove one
    os.utime(labels / "caldenex.json")
    better = sample_product("sample-daily-calcium-k2")
    better["product_name"] = "Bone Matrix Calcium + K2"
    better["brand"] = "Northfield Labs"
    write_simple_csv([better], labels / "match.csv")  # same product, now too little K2
    write_simple_csv([sample_product("sample-k2-calcium-softgel")], labels / "new.csv")
    (labels / "broken.json").unlink()
    code, _, audit = _audit(tmp_path)
    assert code == 0
    assert (_meta(tmp_path)["parsed"], _meta(tmp_path)["cached"]) == (2, 1)
    changes = audit["changes"]
    assert [i["product_name"] for i in changes["added"]] == ["Calcium K2 Softgels"]
    assert changes["removed"] == []
    assert [(i["product_name"], i["from"], i["to"]) for i in changes["verdict_changed"]] == [
        ("Bone Matrix Calcium + K2", "matches", "partial")
    ]
    assert audit["rejected"] == []
    assert len(read_history(tmp_path / "out" / "history.jsonl")) == 3

    (labels / "new.csv").unlink()
    _, _, audit = _audit(tmp_path)
    assert [i["product_name"] for i in audit["changes"]["removed"]] == ["Calcium K2 Softgels"]

    _audit(tmp_path, "--full")
    assert (_meta(tmp_path)["parsed"], _meta(tmp_path)["cached"]) == (2, 0)


def test_a_second_run_on_the_same_work_folder_is_refused_exit_3(tmp_path: Path) -> None:
    _labels(tmp_path / "labels")
    (tmp_path / "work").mkdir()
    holder = _hold_lock(tmp_path / "work", seconds=30)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, output, _ = _audit(tmp_path)
        assert code == 3
        assert f"(pid {holder.pid}, started" in output
        assert (
            output.strip().splitlines()[-1].startswith("labelaudit: error: another labelaudit run")
        )
    finally:
        holder.kill()
        holder.wait()
    assert _audit(tmp_path)[0] == 0  # the dead holder's lock is taken over


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_python_dash_m_pipeline_runs_the_same_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "audit", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0
    assert "--fail-on" in result.stdout


def test_an_audit_imports_no_pandas_before_its_validation_process_can_start() -> None:
    """The CLI starts the validation process (pipeline.infra.validation) before it imports
    the stages (pipeline.audit)."""
    code = (
        "import sys, pipeline.cli, pipeline.infra.validation; "
        "print(sorted({'pandas', 'pyarrow', 'great_expectations'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("setting", "pool"), [(None, "system"), ("jemalloc", "jemalloc")])
def test_a_run_allocates_arrow_memory_with_malloc_unless_told(
    setting: str | None, pool: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if setting is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = setting
    code = "import pipeline.cli, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True
    )
    assert result.stdout.strip() == pool


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["audit", "--help"], 0, "--fail-on"),
        (["audit", "/no/such/folder"], 1, "does not exist or is not a folder"),
        (["audit", "--no-such-option"], 2, "No such option"),
    ],
)
def test_the_command_exits_with_the_code_and_says_it(args: list[str], code: int, says: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == code
    assert says in result.stdout + result.stderr


def test_a_second_run_with_wait_runs_once_the_first_is_done(tmp_path: Path) -> None:
    _labels(tmp_path / "labels")
    (tmp_path / "work").mkdir()
    holder = _hold_lock(tmp_path / "work", seconds=1.5)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, output, audit = _audit(tmp_path, "--wait", "60")
        assert code == 0, output
        assert holder.poll() is not None  # it only ran after the holder let go
        assert len(audit["products"]) == 2
    finally:
        holder.kill()
        holder.wait()


def test_a_run_killed_half_way_leaves_the_previous_report_intact(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    assert _audit(tmp_path)[0] == 0
    before = {
        name: (tmp_path / "out" / name).read_bytes()
        for name in ("audit.html", "audit.json", "ranking.csv")
    }
    for n in range(40):  # more work, so the kill lands mid-run
        write_simple_csv([sample_product("sample-daily-calcium-k2")], labels / f"more-{n}.csv")
    for delay in (0.5, 1.5, 3.0):
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "audit", str(labels), "--out", str(tmp_path / "out"),
             "--work", str(tmp_path / "work"), "-j", "2", "--full", "-q"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            run.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
        out = tmp_path / "out"
        visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        assert visible == ["audit.html", "audit.json", "history.jsonl", "ranking.csv"]
        audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))  # still valid JSON
        if run.returncode != 0:  # killed: the old report, byte for byte
            assert {n: (out / n).read_bytes() for n in before} == before
        else:  # finished first: a complete new report
            assert audit["summary"]["files"] == 43
        before = {n: (out / n).read_bytes() for n in before}


def test_data_docs_are_written_and_linked(tmp_path: Path) -> None:
    _labels(tmp_path / "labels")
    code, output, audit = _audit(tmp_path, "--data-docs")
    assert code == 0, output
    assert audit["data_docs"] == "data-docs/index.html"
    assert (tmp_path / "out" / "data-docs" / "index.html").exists()
    html = (tmp_path / "out" / "audit.html").read_text(encoding="utf-8")
    assert 'href="data-docs/index.html"' in html


def test_data_quality_findings_reach_audit_json_and_the_report(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    dv_off = sample_product("sample-bone-matrix")
    dv_off["product_name"] = "DV Off"
    dv_off["ingredients"][2]["daily_value_percent"] = 90.0  # 500 mg calcium is 38% or 50%
    odd_unit = sample_product("sample-bone-matrix")
    odd_unit["product_name"] = "Odd Unit"
    odd_unit["ingredients"][3]["unit"] = "mgs."  # magnesium in a unit the table does not know
    too_much = sample_product("sample-bone-matrix")
    too_much["product_name"] = "Too Much D"
    too_much["ingredients"][0].update(quantity=125.0, daily_value_percent=625.0)
    write_simple_csv([dv_off, odd_unit, too_much], labels / "dq.csv")
    code, output, audit = _audit(tmp_path)
    assert code == 0, output
    found = {(f["check"], f["severity"], f["detail"]) for f in audit["data_quality"]}
    assert found == {
        (
            "dv_consistent",
            "warning",
            "Calcium: declared 90% DV for 500 mg, expected 38% (current DV 1,300 mg) "
            "or 50% (older DV 1,000 mg)",
        ),
        (
            "unit_known",
            "error",
            "line 4: 'Magnesium' 250 mgs.: unknown unit 'mgs.': kept as printed",
        ),
        (
            "upper_limit",
            "safety",
            "Vitamin D: 125 mcg per day (1 serving(s) a day, directions: "
            '"2 capsules daily with a meal that contains fat") '
            "is above the adult upper limit of 100 mcg (4000 IU)/day",
        ),
    }
    verdicts = {p["product_name"]: p["verdict"] for p in audit["products"]}
    assert verdicts == {"DV Off": "matches", "Odd Unit": "not_assessable", "Too Much D": "matches"}
    html = (tmp_path / "out" / "audit.html").read_text(encoding="utf-8")
    for _, _, detail in found:
        assert html_escape(detail) in html


def test_report_pieces_are_keyed_by_validation_only_while_it_is_up_to_date(
    tmp_path: Path,
) -> None:
    import pandas as pd

    from pipeline import audit as stages
    from pipeline.config import WorkPaths
    from pipeline.protocol import load_protocol

    _labels(tmp_path / "labels")
    code, _, document = _audit(tmp_path)
    assert code == 0
    work = WorkPaths(tmp_path / "work")
    findings = pd.read_parquet(work.data_quality)
    keys = stages._product_keys(work, load_protocol(), findings)
    assert keys is not None
    assert sorted(keys) == sorted(p["product_id"] for p in document["products"])
    assert (tmp_path / "work" / "report_pieces.sqlite").exists()

    # a product's key changes with its findings
    pid = sorted(keys)[0]
    finding = {c: None for c in findings.columns} | {"product_id": pid, "detail": "new"}
    more = pd.concat([findings, pd.DataFrame([finding])], ignore_index=True)
    changed = stages._product_keys(work, load_protocol(), more)
    assert changed is not None
    assert [p for p in keys if changed[p] != keys[p]] == [pid]

    # validated with another protocol, or tables changed since: no keys
    other = tmp_path / "other.toml"
    text = (REPO / "pipeline" / "protocol.toml").read_text(encoding="utf-8")
    assert "[100.0, 180.0]" in text
    other.write_text(text.replace("[100.0, 180.0]", "[90.0, 180.0]"), encoding="utf-8")
    assert stages._product_keys(work, load_protocol(other), findings) is None
    pd.read_parquet(work.products).iloc[:1].to_parquet(work.products)
    assert stages._product_keys(work, load_protocol(), findings) is None
