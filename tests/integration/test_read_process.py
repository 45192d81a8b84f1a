"""Large inputs are extracted and normalized in a process of their own (pipeline.audit
.read_in_child): the audit it gives is the one the audit's own process gives, its failure
is one line, and which runs get that process."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline import audit, config
from pipeline.audit import ReadJob, read_in_child, reads_in_child, run_audit
from pipeline.errors import AuditError
from pipeline.infra.executors import LOCAL
from pipeline.infra.history import read_history
from pipeline.infra.validation import validation_process
from pipeline.protocol import load_protocol

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "raw"


def _audit_json(labels: Path, root: Path) -> dict[str, Any]:
    run_audit(labels, root / "out", root / "work", load_protocol(), jobs=2, progress=False)
    document: dict[str, Any] = json.loads((root / "out" / "audit.json").read_text("utf-8"))
    return document


def test_reading_in_its_own_process_gives_the_audit_of_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(SAMPLES, labels)
    here = _audit_json(labels, tmp_path / "here")
    monkeypatch.setattr(audit, "READ_IN_CHILD_MIN_INPUTS", 1)
    assert reads_in_child(config.WorkPaths(tmp_path / "child" / "work"), [labels / "a.pdf"])
    child = _audit_json(labels, tmp_path / "child")
    for part in ("products", "rejected", "not_labels", "data_quality", "summary"):
        assert child[part] == here[part], part
    assert len(child["products"]) == 13
    (record,) = read_history(tmp_path / "child" / "out" / "history.jsonl")
    assert (record["parsed"], record["cached"]) == (12, 0)
    # The next run (one file changed) reads that file alone, from the child's cache.
    changed = labels / "json" / "dsld-11243-mega-daily-4-for-men.json"
    changed.write_text(changed.read_text("utf-8") + "\n", encoding="utf-8")
    _audit_json(labels, tmp_path / "child")
    last = read_history(tmp_path / "child" / "out" / "history.jsonl")[-1]
    assert (last["parsed"], last["cached"]) == (1, 11)


def test_a_failure_in_the_reading_process_is_the_error_this_one_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(SAMPLES / "json", labels)

    def error(where: str) -> str:
        work = tmp_path / where
        (work / "label_rows.parquet").mkdir(parents=True)  # (the stage cannot write it)
        with pytest.raises(AuditError) as failed:
            run_audit(labels, tmp_path / f"out-{where}", work, load_protocol(), progress=False)
        return str(failed.value)

    here = error("here")
    monkeypatch.setattr(audit, "READ_IN_CHILD_MIN_INPUTS", 1)
    child = error("child")
    for where, message in (("here", here), ("child", child)):
        target = tmp_path / where / "label_rows.parquet"
        assert message == f"cannot write {target}: Is a directory"


def test_which_runs_read_in_their_own_process(tmp_path: Path) -> None:
    work = config.WorkPaths(tmp_path / "work")
    files = [tmp_path / f"{n}.json" for n in range(audit.READ_IN_CHILD_MIN_INPUTS)]
    assert reads_in_child(work, files)
    assert not reads_in_child(work, files[1:])
    # A zip counts by its size (its members are not listed to decide).
    small, large = tmp_path / "small.zip", tmp_path / "large.zip"
    small.write_bytes(b"\0" * (audit.READ_IN_CHILD_MIN_ZIP_BYTES - 1))
    large.write_bytes(b"\0" * audit.READ_IN_CHILD_MIN_ZIP_BYTES)
    assert not reads_in_child(work, [small, tmp_path / "gone.zip"])
    assert reads_in_child(work, [small, large])
    # A folder whose last run validated that many products (a catalog whose zips shrank).
    work.root.mkdir(parents=True)
    validated = {"products_validated": 1, "products_reused": audit.READ_IN_CHILD_MIN_INPUTS - 1}
    work.run_meta.write_text(json.dumps({"validation": validated}), encoding="utf-8")
    assert reads_in_child(work, [small])
    validated["products_reused"] -= 1
    work.run_meta.write_text(json.dumps({"validation": validated}), encoding="utf-8")
    assert not reads_in_child(work, [small])


def test_the_reading_process_tells_when_the_files_are_read(tmp_path: Path) -> None:
    labels, work = tmp_path / "labels", tmp_path / "work"
    shutil.copytree(SAMPLES / "json", labels)
    job = ReadJob(labels, work, 1, False, False, None, config.FILE_LIMITS, LOCAL, logging.INFO)
    told: list[tuple[bool, bool]] = []

    def extracted() -> None:  # the label tables are written, the normalized ones not yet
        told.append(((work / "label_rows.parquet").exists(), (work / "products.parquet").exists()))

    assert read_in_child(job, on_extracted=extracted) == {
        "files": 1,
        "nutrients": 27,
        "products": 1,
    }
    assert told == [(True, False)]
    # Events come from a process whose stderr is not kept only.
    with pytest.raises(ValueError, match="on_event needs a log_through process"):
        validation_process().run(job, on_event=print)
