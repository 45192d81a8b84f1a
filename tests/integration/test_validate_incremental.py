"""The validate stage reuses the results of products whose rows did not change, and runs
in a separate process on large inputs; the report reads only what it needs of the last run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline import audit, config, validate
from pipeline.errors import AuditError
from pipeline.infra import parquet_batches
from pipeline.infra.history import read_previous_products
from pipeline.infra.stage_process import STAGE_PROCESS_CODE, serve
from pipeline.infra.validation import validation_process
from pipeline.protocol import CHECKS, load_protocol
from pipeline.records import Label, LabelRow, ReadIssue
from pipeline.rules.protocol import expectations
from pipeline.validate import STATE_FILE, ValidationJob, Validator, validate_work
from tests.builders import write_work

PROTOCOL = load_protocol()
LABELS = 30


def _write_work(root: Path, labels: list[Label], rows: list[LabelRow]) -> config.WorkPaths:
    issue = ReadIssue(labels[0].source_file, 0, 1, None, "page 1: a line could not be read")
    return write_work(root, labels, rows, [issue])


#: The labels and label rows of the first LABELS real DSLD labels.
Corpus = tuple[list[Label], list[LabelRow]]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return records_of(dsld_labels()[:LABELS])


def _job(work: config.WorkPaths, *, full: bool = False, salt: str = "salt-1") -> ValidationJob:
    return ValidationJob(work_root=str(work.root), protocol=PROTOCOL, salt=salt, full=full)


def _outputs(work: config.WorkPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(work.outcomes), pd.read_parquet(work.data_quality)


def test_only_changed_products_are_validated_and_results_equal_a_full_run(
    corpus: Corpus, validator: Validator, tmp_path: Path
) -> None:
    labels, rows = corpus
    work = _write_work(tmp_path / "inc", labels, rows)
    assert validate_work(_job(work), validator) == {
        "products_validated": LABELS,
        "products_reused": 0,
        "label_rows_validated": len(rows),
    }
    # One label's calcium line is reprinted with another amount; one label is gone.
    calcium = next(r for r in rows if r.name_raw == "Calcium")
    changed = calcium.source_file
    gone = next(label.source_file for label in labels if label.source_file != changed)
    new_rows = [
        dataclasses.replace(r, amount_raw="2,000") if r is calcium else r
        for r in rows
        if r.source_file != gone
    ]
    new_labels = [label for label in labels if label.source_file != gone]
    _write_work(tmp_path / "inc", new_labels, new_rows)
    changed_rows = sum(r.source_file == changed for r in new_rows)
    assert validate_work(_job(work), validator) == {
        "products_validated": 1,
        "products_reused": LABELS - 2,
        "label_rows_validated": changed_rows,
    }
    result = json.loads(work.gx_protocol_result.read_text(encoding="utf-8"))
    assert result["labelaudit"]["validated_products"] == 1
    assert result["labelaudit"]["reused_products"] == LABELS - 2
    assert {r["result"]["element_count"] for r in result["results"]} == {1}

    full = _write_work(tmp_path / "full", new_labels, new_rows)
    validate_work(_job(full, full=True), validator)
    for incremental, complete in zip(_outputs(work), _outputs(full), strict=True):
        pd.testing.assert_frame_equal(incremental, complete)
    outcomes, findings = _outputs(work)
    assert len(outcomes) == (LABELS - 1) * len(CHECKS)
    assert findings["check"].value_counts().to_dict() == {
        "unit_known": 6,
        "dv_consistent": 2,
        "read": 1,
        "upper_limit": 1,
    }
    # The new calcium amount (2,000 mg a serving) is what tripped the upper limit.
    assert findings.loc[findings["check"] == "upper_limit", "source_file"].tolist() == [changed]

    # A different salt (code or protocol changed) validates everything again.
    assert validate_work(_job(work, salt="salt-2"), validator)["products_validated"] == LABELS - 1
    # --full too, and without the state file nothing is reused.
    assert validate_work(_job(work, full=True), validator)["products_reused"] == 0
    (work.root / STATE_FILE).unlink()
    assert validate_work(_job(work), validator)["products_reused"] == 0


def test_validation_in_a_child_process_gives_the_same_outputs(
    corpus: Corpus, validator: Validator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels, rows = corpus
    here = _write_work(tmp_path / "here", labels, rows)
    validate_work(_job(here, full=True), validator)
    child = _write_work(tmp_path / "child", labels, rows)
    monkeypatch.setattr(audit, "VALIDATE_IN_CHILD_MIN_PRODUCTS", 1)
    counts = audit.run_validate(child, PROTOCOL, full=True)
    assert counts == {
        "products_validated": LABELS,
        "products_reused": 0,
        "label_rows_validated": len(rows),
    }
    for theirs, ours in zip(_outputs(here), _outputs(child), strict=True):
        pd.testing.assert_frame_equal(theirs, ours)
    failed = int((_outputs(here)[0]["passed"] == False).sum())  # noqa: E712
    assert audit.validation_counts(child) == (failed, len(_outputs(here)[1]))
    # A failure in the child is one line.
    shutil.rmtree(child.root / "products.parquet", ignore_errors=True)
    (child.root / "products.parquet").write_bytes(b"not parquet")
    with pytest.raises(AuditError) as failed:
        validation_process().run(_job(child))
    message = str(failed.value)
    assert message.startswith("validate: ArrowInvalid: ")
    assert "\n" not in message


def test_a_stopped_validation_process_is_gone() -> None:
    process = validation_process()
    process.stop()
    assert process._proc.returncode is not None
    process.stop()  # twice is fine


def test_previous_products_keep_only_what_changes_need(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    assert read_previous_products(path) is None
    product = {
        "rank": 1,
        "product_id": "a-1",
        "source_file": "a.pdf",
        "product_name": "A",
        "verdict": "fails",
        "checks": [{"name": "k2_present", "passed": False}],
        "label_rows": [{"line_no": 1, "name_raw": "Calcium"}],
    }
    path.write_text(json.dumps({"summary": {"files": 1}, "products": [product]}), encoding="utf-8")
    assert read_previous_products(path) == [
        {"product_id": "a-1", "source_file": "a.pdf", "product_name": "A", "verdict": "fails"}
    ]
    path.write_text('{"products": [', encoding="utf-8")
    assert read_previous_products(path) is None


def _gx_file(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_validating_in_chunks_gives_the_outputs_of_one_run(
    corpus: Corpus, validator: Validator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels, rows = corpus
    # Two labels in different chunks print 3,000 mg of calcium: upper-limit findings.
    calcium = [r for r in rows if r.name_raw == "Calcium"]
    high = {calcium[0].source_file, calcium[2].source_file}
    rows = [
        dataclasses.replace(r, amount_raw="3,000") if r in (calcium[0], calcium[2]) else r
        for r in rows
    ]
    one = _write_work(tmp_path / "one", labels, rows)
    assert validate_work(_job(one, full=True), validator)["products_validated"] == LABELS
    assert _gx_file(one.gx_protocol_result)["labelaudit"]["chunks"] == 1

    # Chunks of 3 products, read 7 rows at a time: chunks span batches and batches chunks.
    monkeypatch.setattr(validate, "VALIDATE_CHUNK_PRODUCTS", 3)
    monkeypatch.setattr(parquet_batches, "READ_BATCH_ROWS", 7)
    many = _write_work(tmp_path / "many", labels, rows)
    assert validate_work(_job(many, full=True), validator) == {
        "products_validated": LABELS,
        "products_reused": 0,
        "label_rows_validated": len(rows),
    }
    for chunked, whole in zip(_outputs(many), _outputs(one), strict=True):
        pd.testing.assert_frame_equal(chunked, whole)
    outcomes, findings = _outputs(many)
    assert len(outcomes) == LABELS * len(CHECKS)
    assert findings["check"].value_counts().to_dict() == {
        "unit_known": 7,
        "dv_consistent": 3,
        "upper_limit": 2,
        "read": 1,
    }
    assert set(findings.loc[findings["check"] == "upper_limit", "source_file"]) == high

    protocol = _gx_file(many.gx_protocol_result)
    assert list(protocol) == ["labelaudit", "results", "runs"]
    assert {k: v for k, v in protocol["labelaudit"].items() if k != "note"} == {
        "validated_products": LABELS,
        "reused_products": 0,
        "chunks": 10,
        "chunk_products": 3,
    }
    assert [(run["chunk"], run["products"]) for run in protocol["runs"]] == [
        (n, 3) for n in range(1, 11)
    ]
    per_run = len(expectations(load_protocol()))  # the protocol rules' expectations
    assert [run["result_range"] for run in protocol["runs"]] == [
        [per_run * n, per_run * (n + 1)] for n in range(10)
    ]
    assert {r["result"]["element_count"] for r in protocol["results"]} == {3}
    quality = _gx_file(many.gx_data_quality_result)
    assert [run.get("label_rows") for run in quality["runs"][1::2]] == [None] * 10
    assert sum(run["label_rows"] for run in quality["runs"][::2]) == len(rows)
    assert len(quality["results"]) == 10 * (6 + 6)  # 6 row expectations, 6 product ones
    # Every run's data source, suite and stored result are gone from the context.
    assert validator.context.data_sources.all() == {}
    assert validator.context.suites.all() == []
    assert validator.context.validation_results_store.list_keys() == []

    # Incremental, in chunks: the one changed label is validated again, the others reused.
    changed = calcium[3]
    rows = [dataclasses.replace(r, amount_raw="3,000") if r == changed else r for r in rows]
    _write_work(many.root, labels, rows)
    monkeypatch.setattr(validate, "VALIDATE_CHUNK_PRODUCTS", 2)
    assert validate_work(_job(many), validator) == {
        "products_validated": 1,
        "products_reused": LABELS - 1,
        "label_rows_validated": sum(r.source_file == changed.source_file for r in rows),
    }
    assert _gx_file(many.gx_protocol_result)["labelaudit"]["chunks"] == 1
    monkeypatch.setattr(validate, "VALIDATE_CHUNK_PRODUCTS", 1000)
    _write_work(one.root, labels, rows)
    validate_work(_job(one, full=True), validator)
    for chunked, whole in zip(_outputs(many), _outputs(one), strict=True):
        pd.testing.assert_frame_equal(chunked, whole)
    findings = _outputs(many)[1]
    upper = set(findings.loc[findings["check"] == "upper_limit", "source_file"])
    assert upper == high | {changed.source_file}


def test_the_validation_process_turns_the_collector_back_on_after_its_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It is started with the collector off (STAGE_PROCESS_CODE), which must
    not last past the imports: GX's validations make reference cycles."""
    import gc
    import io
    import sys

    assert STAGE_PROCESS_CODE.startswith("import gc, sys; gc.disable();")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    gc.disable()
    try:
        # no job: it was not needed after all
        assert serve("pipeline.validate:validate_work", "pipeline.validate:warm_up") == 0
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
