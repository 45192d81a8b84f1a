"""`--executor dask`: the per-file extraction on a dask.distributed cluster (here a
LocalCluster of one in-process worker) gives the audit that local worker processes give."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster

from pipeline import config
from pipeline.audit import run_audit
from pipeline.errors import AuditError
from pipeline.infra.executors import Executor
from pipeline.infra.history import read_history
from pipeline.protocol import load_protocol

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "raw"


def _audit_json(labels: Path, root: Path, executor: Executor, jobs: int = 2) -> dict[str, Any]:
    run_audit(
        labels,
        root / "out",
        root / "work",
        load_protocol(),
        jobs=jobs,
        progress=False,
        executor=executor,
    )
    return json.loads((root / "out" / "audit.json").read_text(encoding="utf-8"))


def test_dask_executor_gives_the_products_of_local_processes(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(SAMPLES, labels)
    local = _audit_json(labels, tmp_path / "local", Executor())
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=2) as cluster:
        on_dask = _audit_json(
            labels, tmp_path / "dask", Executor("dask", cluster.scheduler_address)
        )
    assert on_dask["products"] == local["products"]
    assert on_dask["rejected"] == local["rejected"]
    assert on_dask["data_quality"] == local["data_quality"]
    assert on_dask["summary"] == local["summary"]
    assert [(p["product_name"], p["verdict"], p["score"]) for p in on_dask["products"]][:2] == [
        (p["product_name"], p["verdict"], p["score"]) for p in local["products"]
    ][:2]
    assert len(on_dask["products"]) == 13
    # The workers stored every reading in the work folder's cache: a local run reads none.
    (record,) = read_history(tmp_path / "dask" / "out" / "history.jsonl")
    assert (record["parsed"], record["cached"]) == (12, 0)
    again = _audit_json(labels, tmp_path / "dask", Executor())
    assert again["products"] == local["products"]
    assert [r["parsed"] for r in read_history(tmp_path / "dask" / "out" / "history.jsonl")] == [
        12,
        0,
    ]


def test_dask_executor_needs_a_scheduler() -> None:
    with pytest.raises(AuditError, match=r"^--executor dask needs --scheduler tcp://HOST:PORT$"):
        Executor("dask")
    assert Path("data/raw") == config.DEFAULT_LABELS_DIR
