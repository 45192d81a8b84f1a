"""pipeline.rerun.may_be_unchanged: a record names its label files' size and modification
time; a label file written anew tells the CLI at once that the run is not unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline import rerun


def _recorded(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A work folder whose record names one label zip, its report's three files there."""
    work, reports, labels = tmp_path / "work", tmp_path / "reports", tmp_path / "labels"
    for folder in (work, reports, labels):
        folder.mkdir()
    for name in ("audit.html", "audit.json", "ranking.csv"):
        (reports / name).write_text("{}", encoding="utf-8")
    label = labels / "DSLD-full-database-JSON.zip"
    label.write_bytes(b"zip one")
    os.utime(label, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    text = rerun.record_text("key-1", work, reports, {"summary": {}}, {}, [label])
    assert text is not None
    rerun.record_path(work).write_text(text, encoding="utf-8")
    return work, reports, label


def test_record_names_each_label_file_with_its_size_and_time(tmp_path: Path) -> None:
    work, reports, label = _recorded(tmp_path)
    record = json.loads(rerun.record_path(work).read_text(encoding="utf-8"))
    assert record["label_files"] == {str(label.absolute()): [7, 1_700_000_000_000_000_000]}
    assert rerun.may_be_unchanged(work, reports) is True


def test_a_label_file_written_anew_is_not_unchanged(tmp_path: Path) -> None:
    work, reports, label = _recorded(tmp_path)
    label.write_bytes(b"zip two, one percent changed")
    assert rerun.may_be_unchanged(work, reports) is False


def test_same_size_other_time_is_not_unchanged(tmp_path: Path) -> None:
    work, reports, label = _recorded(tmp_path)
    os.utime(label, ns=(1_700_000_000_000_000_001, 1_700_000_000_000_000_001))
    assert rerun.may_be_unchanged(work, reports) is False


def test_a_removed_label_file_is_not_unchanged(tmp_path: Path) -> None:
    work, reports, label = _recorded(tmp_path)
    label.unlink()
    assert rerun.may_be_unchanged(work, reports) is False


def test_a_record_without_label_files_may_be_unchanged(tmp_path: Path) -> None:
    work, reports, _ = _recorded(tmp_path)
    record = json.loads(rerun.record_path(work).read_text(encoding="utf-8"))
    del record["label_files"]
    record["sha256"] = rerun._checksum(record)
    rerun.record_path(work).write_text(json.dumps(record), encoding="utf-8")
    assert rerun.may_be_unchanged(work, reports) is True


def test_more_files_than_kept_may_be_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rerun, "LABEL_STATS_MAX_FILES", 0)
    work, reports, label = _recorded(tmp_path)
    record = json.loads(rerun.record_path(work).read_text(encoding="utf-8"))
    assert record["label_files"] is None
    label.write_bytes(b"zip two")
    assert rerun.may_be_unchanged(work, reports) is True


def test_a_label_file_name_that_is_not_utf8_is_recorded_and_read_back(tmp_path: Path) -> None:
    work, reports, labels = tmp_path / "work", tmp_path / "reports", tmp_path / "labels"
    for folder in (work, reports, labels):
        folder.mkdir()
    for name in ("audit.html", "audit.json", "ranking.csv"):
        (reports / name).write_text("{}", encoding="utf-8")
    label = Path(os.fsdecode(os.path.join(os.fsencode(labels), b"caf\xe9.json")))
    label.write_bytes(b"{}")
    text = rerun.record_text("key-1", work, reports, {"summary": {}}, {}, [label])
    assert text is not None and text.isascii()
    rerun.record_path(work).write_text(text, encoding="utf-8")
    record = json.loads(rerun.record_path(work).read_text(encoding="utf-8"))
    assert record["label_files"] == {str(label.absolute()): [2, label.stat().st_mtime_ns]}
    assert rerun.may_be_unchanged(work, reports) is True
