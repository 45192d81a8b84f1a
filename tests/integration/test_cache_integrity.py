"""The cache can be wrong only if the file is: what is cached is what was read, and every
kept piece (cache entries, report pieces, stage artifacts, their markers, the validation
state, the chart) carries a checksum checked on use. A damaged one is rebuilt with a
warning, and the report is the same as a clean run's."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline import extract
from pipeline.audit import run_audit
from pipeline.infra.cache import cache_key, file_digest
from pipeline.infra.versions import extractor_version
from pipeline.label_tables import TABLE_KEYS_FILE
from pipeline.protocol import load_protocol
from pipeline.sources import inputs
from tests.hostile import good_folder, simple_csv

PROTOCOL = load_protocol(None)


def _run(labels: Path, root: Path) -> dict[str, Any]:
    run_audit(labels, root / "out", root / "work", PROTOCOL, jobs=2, progress=False)
    return _report(root)


def _report(root: Path) -> dict[str, Any]:
    """What a run wrote, but the time it was written."""
    audit = json.loads((root / "out" / "audit.json").read_text(encoding="utf-8"))
    del audit["generated_at"]
    html = (root / "out" / "audit.html").read_text(encoding="utf-8")
    generated = json.loads((root / "out" / "audit.json").read_text())["generated_at"]
    return {
        "audit": audit,
        "csv": (root / "out" / "ranking.csv").read_text(encoding="utf-8"),
        "html": html.replace(generated, "GENERATED"),
    }


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("pipeline")
    ]


@pytest.fixture
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A labels folder and the report of a clean run over it (its second run: "changes"
    empty, as after any later run)."""
    root = tmp_path_factory.mktemp("clean")
    labels = good_folder(root / "labels")
    _run(labels, root)
    return labels, _run(labels, root)


def _rerun_after(
    clean: tuple[Path, dict[str, Any]],
    root: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], object],
    level: int = logging.WARNING,
) -> tuple[list[str], dict[str, Any]]:
    """A run over the clean folder, `damage(work folder)`, and a run again: the warnings of
    that run, and its report."""
    labels, _ = clean
    _run(labels, root)
    damage(root / "work")
    with caplog.at_level(level):
        report = _run(labels, root)
    return _warnings(caplog), report


def _entries(work: Path) -> list[Path]:
    return sorted((work / "cache" / f"extract-v{extractor_version()}").glob("*.json"))


def _entry_of(work: Path, source_file: str) -> Path:
    found = [p for p in _entries(work) if f'"source_file": "{source_file}"' in p.read_text()]
    assert len(found) == 1
    return found[0]


# ---- what is cached is what was read ------------------------------------------------------


def test_a_file_changed_before_it_is_read_is_cached_as_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The run hashes a file, then it changes before its worker reads it (and is restored
    after the run): the reading is of the new content, cached under that content's
    digest; the next run, on the restored file, reads it again and is right."""
    labels = tmp_path / "labels"
    labels.mkdir()
    before, during = simple_csv("Alpha Cal", 500), simple_csv("Beta Cal", 600)
    (labels / "a.csv").write_text(before, encoding="utf-8")
    (labels / "b.csv").write_text(simple_csv("Other Cal"), encoding="utf-8")
    real = file_digest

    def digest_then_change(path: Path) -> str:
        digest = real(path)
        if path.name == "a.csv":
            path.write_text(during, encoding="utf-8")  # after the run hashed it
        return digest

    monkeypatch.setattr(inputs, "file_digest", digest_then_change)
    with caplog.at_level(logging.WARNING):
        audit = _run(labels, tmp_path)["audit"]
    assert _warnings(caplog) == [
        "a.csv changed while it was being read: its reading is of the content read, "
        "and is cached under that content's digest"
    ]
    assert [p["product_name"] for p in audit["products"] if p["source_file"] == "a.csv"] == [
        "Beta Cal"
    ]
    entry = _entry_of(tmp_path / "work", "a.csv")
    key = cache_key("a.csv", [file_digest(labels / "a.csv")], extractor_version=extractor_version())
    assert entry.name == f"{key}.json"  # the digest of "Beta Cal", the bytes read
    assert "Beta Cal" in entry.read_text()

    monkeypatch.setattr(inputs, "file_digest", real)
    (labels / "a.csv").write_text(before, encoding="utf-8")  # restored
    audit = _run(labels, tmp_path)["audit"]
    meta = json.loads((tmp_path / "work" / "run.json").read_text())
    assert (meta["parsed"], meta["cached"]) == (1, 1)
    products = {p["source_file"]: p for p in audit["products"]}
    assert (products["a.csv"]["product_name"], products["a.csv"]["calcium_mg"]) == (
        "Alpha Cal",
        500.0,
    )


def test_a_file_changed_while_its_reader_runs_is_read_again_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file changes on disk while the reader works on the bytes read: the reading (of
    those bytes) is cached under their digest, and the next run reads the new content."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.csv").write_text(simple_csv("Alpha Cal", 500), encoding="utf-8")
    (labels / "b.csv").write_text(simple_csv("Other Cal"), encoding="utf-8")
    real = extract.read_label_values

    def change_mid_read(
        path: Path, source_file: str, data: bytes | None = None, companions: Any = ()
    ) -> Any:
        if path.name == "a.csv":  # (path: the input's name; the bytes are given)
            (labels / path.name).write_text(simple_csv("Beta Cal", 600), encoding="utf-8")
        return real(path, source_file, data, companions)

    monkeypatch.setattr(extract, "read_label_values", change_mid_read)
    audit = _run(labels, tmp_path)["audit"]
    names = {p["source_file"]: p["product_name"] for p in audit["products"]}
    assert names == {"a.csv": "Alpha Cal", "b.csv": "Other Cal"}
    monkeypatch.setattr(extract, "read_label_values", real)
    audit = _run(labels, tmp_path)["audit"]
    names = {p["source_file"]: p["product_name"] for p in audit["products"]}
    assert names == {"a.csv": "Beta Cal", "b.csv": "Other Cal"}
    meta = json.loads((tmp_path / "work" / "run.json").read_text())
    assert (meta["parsed"], meta["cached"]) == (1, 1)


# ---- extraction cache entries --------------------------------------------------------------


@pytest.mark.parametrize("damage", ["edited", "truncated", "header"])
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(
    clean: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    entry = _entry_of(tmp_path / "work", "good.csv")
    raw = entry.read_bytes()
    if damage == "edited":  # still valid JSON, a different amount
        assert raw.count(b'"500"') == 1  # the amount (an entry holds each record's values)
        entry.write_bytes(raw.replace(b'"500"', b'"900"'))
        json.loads(entry.read_bytes().partition(b"\n")[2])
    elif damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    else:
        entry.write_bytes(b"[" + raw[1:])
    # entries are checked when used: when the label tables are made again from the cache
    # (an unchanged folder keeps its tables, an unchanged file its rows, and reads no entry)
    (tmp_path / "work" / ".extract.done").unlink()
    (tmp_path / "work" / TABLE_KEYS_FILE).unlink()
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    said = (
        f"cache entry {entry} is damaged: the file is read again"
        if damage == "header"
        else f"cache entry {entry} does not match its checksum (damaged or edited): "
        "the file is read again"
    )
    assert _warnings(caplog) == [said]
    meta = json.loads((tmp_path / "work" / "run.json").read_text())
    assert (meta["parsed"], meta["cached"]) == (1, 2)
    assert report == expected
    assert b'"500"' in entry.read_bytes()  # rebuilt


# ---- report pieces --------------------------------------------------------------------------


def test_one_byte_changed_in_report_pieces_is_rendered_again(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def change_one_byte(work: Path) -> None:
        raw = bytearray((work / "report_pieces.sqlite").read_bytes())
        at = raw.find(b'"product_name": "Good Cal"')
        assert at > 0
        raw[at + len(b'"product_name": "')] = ord("F")  # "Food Cal": still valid JSON
        (work / "report_pieces.sqlite").write_bytes(bytes(raw))

    said, report = _rerun_after(clean, tmp_path, caplog, change_one_byte)
    store = tmp_path / "work" / "report_pieces.sqlite"
    assert said == [
        f"report cache {store}: a piece does not match its checksum: it is rendered again"
    ]
    assert report == clean[1]


def _undecodable_salt(work: Path) -> None:
    with sqlite3.connect(work / "report_pieces.sqlite") as db:
        db.execute("UPDATE salt SET value = CAST(x'ff00fe' AS TEXT)")


def _overwritten(work: Path) -> None:
    raw = bytearray((work / "report_pieces.sqlite").read_bytes())
    raw[50 : len(raw) - 100] = b"\x5a" * (len(raw) - 150)
    (work / "report_pieces.sqlite").write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(_undecodable_salt, "(Could not decode to UTF-8"), (_overwritten, "(")],
    ids=["undecodable", "partly-overwritten"],
)
def test_a_damaged_report_cache_is_discarded(
    clean: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    reason: str,
) -> None:
    said, report = _rerun_after(clean, tmp_path, caplog, damage)
    store = tmp_path / "work" / "report_pieces.sqlite"
    assert len(said) == 1
    assert said[0].startswith(f"report cache {store} is damaged {reason}")
    assert said[0].endswith("): it is rebuilt")
    assert report == clean[1]
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert _run(clean[0], tmp_path) == clean[1]
    assert _warnings(caplog) == []  # rebuilt, and sound again


# ---- stage artifacts and their done markers ------------------------------------------------


def test_a_broken_stage_parquet_is_redone_never_reused(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def break_nutrients(work: Path) -> None:
        raw = (work / "nutrients.parquet").read_bytes()
        (work / "nutrients.parquet").write_bytes(raw[:100] + b"\0" * 64 + raw[164:])

    said, report = _rerun_after(clean, tmp_path, caplog, break_nutrients, logging.INFO)
    assert said == [
        "normalize: nutrients.parquet is not the file the stage wrote (damaged or replaced): "
        "the stage is run again"
    ]
    assert "normalize: inputs unchanged, outputs reused" not in caplog.messages
    assert report == clean[1]


def test_a_stale_outcomes_parquet_is_redone(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """outcomes.parquet of another run (one product fewer) put back in the work folder:
    the summary must still count what the products show."""
    labels, expected = clean
    fewer = tmp_path / "fewer"
    shutil.copytree(labels, fewer / "labels")
    (fewer / "labels" / "good.csv").unlink()
    _run(fewer / "labels", fewer)
    _run(labels, tmp_path)
    shutil.copy(fewer / "work" / "outcomes.parquet", tmp_path / "work" / "outcomes.parquet")
    with caplog.at_level(logging.INFO):
        report = _run(labels, tmp_path)
    assert _warnings(caplog) == [
        "validate: outcomes.parquet is not the file the stage wrote (damaged or replaced): "
        "the stage is run again",
        "outcomes.parquet is not the file validation_state.json was written with (damaged or "
        "replaced): every product is validated again",
    ]
    assert "validate: inputs unchanged, outputs reused" not in caplog.messages
    assert report == expected
    verdicts = expected["audit"]["summary"]["verdicts"]
    shown = pd.Series([p["verdict"] for p in expected["audit"]["products"]]).value_counts()
    assert {k: v for k, v in verdicts.items() if v} == shown.to_dict()


def test_an_edited_validation_state_is_not_trusted(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def edit_state(work: Path) -> None:
        state = json.loads((work / "validation_state.json").read_text())
        state["products"][sorted(state["products"])[0]] = "0" * 64
        (work / "validation_state.json").write_text(json.dumps(state))

    said, report = _rerun_after(clean, tmp_path, caplog, edit_state)
    assert said == [
        "validate: validation_state.json is not the file the stage wrote (damaged or "
        "replaced): the stage is run again",
        "validation_state.json is damaged: every product is validated again",
    ]
    assert report == clean[1]


def test_an_edited_chart_cache_is_drawn_again(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chart = tmp_path / "work" / "chart.json"

    def edit_chart(work: Path) -> None:
        stored = json.loads(chart.read_text())
        stored["svg"] = stored["svg"].replace("<svg", "<svg data-x='1'", 1)
        chart.write_text(json.dumps(stored))

    said, report = _rerun_after(clean, tmp_path, caplog, edit_chart)
    assert said == [f"chart cache {chart} does not match its checksum: the chart is drawn again"]
    assert report == clean[1]
    assert "data-x" not in chart.read_text()
