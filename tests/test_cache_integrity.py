"""The cache can be wrong only if the file is: what is cached is what was read, and every
kept piece (cache entries, report pieces, stage artifacts, their markers, the validation
state, the chart) carries a checksum checked on use. A damaged one is rebuilt with a
warning, and the report is the same as a clean run's."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hostile import good_folder, simple_csv

from pipeline import extract
from pipeline.audit import run_audit
from pipeline.infra.cache import cache_key, file_digest
from pipeline.infra.versions import extractor_version
from pipeline.protocol import load_protocol
from pipeline.sources import csv as csv_source

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

    monkeypatch.setattr(extract, "file_digest", digest_then_change)
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

    monkeypatch.setattr(extract, "file_digest", real)
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
    real = csv_source.read_csv

    def change_mid_read(path: Path, source_file: str, data: bytes | None = None) -> Any:
        if path.name == "a.csv":
            path.write_text(simple_csv("Beta Cal", 600), encoding="utf-8")
        return real(path, source_file, data)

    monkeypatch.setattr(csv_source, "read_csv", change_mid_read)
    audit = _run(labels, tmp_path)["audit"]
    names = {p["source_file"]: p["product_name"] for p in audit["products"]}
    assert names == {"a.csv": "Alpha Cal", "b.csv": "Other Cal"}
    monkeypatch.setattr(csv_source, "read_csv", real)
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
        assert raw.count(b'"amount_raw": "500"') == 1
        entry.write_bytes(raw.replace(b'"amount_raw": "500"', b'"amount_raw": "900"'))
        json.loads(entry.read_bytes().partition(b"\n")[2])
    elif damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    else:
        entry.write_bytes(b"[" + raw[1:])
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
    assert b'"amount_raw": "500"' in entry.read_bytes()  # rebuilt


# ---- report pieces --------------------------------------------------------------------------


def test_one_byte_changed_in_report_pieces_is_rendered_again(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    store = tmp_path / "work" / "report_pieces.sqlite"
    raw = bytearray(store.read_bytes())
    at = raw.find(b'"product_name": "Good Cal"')
    assert at > 0
    raw[at + len(b'"product_name": "')] = ord("F")  # "Food Cal": still valid JSON
    store.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    assert _warnings(caplog) == [
        f"report cache {store}: a piece does not match its checksum: it is rendered again"
    ]
    assert report == expected


def test_a_report_cache_that_cannot_be_decoded_is_discarded(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    store = tmp_path / "work" / "report_pieces.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("UPDATE salt SET value = CAST(x'ff00fe' AS TEXT)")
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    said = _warnings(caplog)
    assert len(said) == 1
    assert said[0].startswith(f"report cache {store} is damaged (Could not decode to UTF-8")
    assert said[0].endswith("): it is rebuilt")
    assert report == expected


def test_a_partly_overwritten_report_cache_is_discarded(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    store = tmp_path / "work" / "report_pieces.sqlite"
    raw = bytearray(store.read_bytes())
    raw[50 : len(raw) - 100] = b"\x5a" * (len(raw) - 150)
    store.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    said = _warnings(caplog)
    assert len(said) == 1
    assert said[0].startswith(f"report cache {store} is damaged (")
    assert said[0].endswith("): it is rebuilt")
    assert report == expected
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert _run(labels, tmp_path) == expected
    assert _warnings(caplog) == []  # rebuilt, and sound again


# ---- stage artifacts and their done markers ------------------------------------------------


def test_a_broken_stage_parquet_is_redone_never_reused(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    nutrients = tmp_path / "work" / "nutrients.parquet"
    raw = nutrients.read_bytes()
    nutrients.write_bytes(raw[:100] + b"\0" * 64 + raw[164:])
    with caplog.at_level(logging.INFO):
        report = _run(labels, tmp_path)
    assert _warnings(caplog) == [
        "normalize: nutrients.parquet is not the file the stage wrote (damaged or replaced): "
        "the stage is run again"
    ]
    assert "normalize: inputs unchanged, outputs reused" not in caplog.messages
    assert report == expected


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
    labels, expected = clean
    _run(labels, tmp_path)
    state_path = tmp_path / "work" / "validation_state.json"
    state = json.loads(state_path.read_text())
    pid = sorted(state["products"])[0]
    state["products"][pid] = "0" * 64
    state_path.write_text(json.dumps(state))
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    assert _warnings(caplog) == [
        "validate: validation_state.json is not the file the stage wrote (damaged or "
        "replaced): the stage is run again",
        "validation_state.json is damaged: every product is validated again",
    ]
    assert report == expected


def test_an_edited_chart_cache_is_drawn_again(
    clean: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, expected = clean
    _run(labels, tmp_path)
    chart = tmp_path / "work" / "chart.json"
    stored = json.loads(chart.read_text())
    stored["svg"] = stored["svg"].replace("<svg", "<svg data-x='1'", 1)
    chart.write_text(json.dumps(stored))
    with caplog.at_level(logging.WARNING):
        report = _run(labels, tmp_path)
    assert _warnings(caplog) == [
        f"chart cache {chart} does not match its checksum: the chart is drawn again"
    ]
    assert report == expected
    assert "data-x" not in chart.read_text()
