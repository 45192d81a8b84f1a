"""The GX result files name each unexpected row by its product (pipeline.infra.gx.keyed_by)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from labelgen.dsld_formats import records_of
from labelgen.products import dsld_labels
from pipeline.protocol import load_protocol
from pipeline.validate import ValidationJob, Validator, validate_work
from tests.builders import write_work


def test_unexpected_rows_are_named_by_product_id_and_row_id(
    tmp_path: Path, validator: Validator
) -> None:
    labels, rows = records_of(dsld_labels()[:12])
    work = write_work(tmp_path / "w", labels, rows)
    validate_work(ValidationJob(str(work.root), load_protocol(), salt="s", full=True), validator)
    products = set(pd.read_parquet(work.products)["product_id"])
    outcomes = pd.read_parquet(work.outcomes)
    protocol = json.loads(work.gx_protocol_result.read_text(encoding="utf-8"))
    named = {pid for r in protocol["results"] for pid in r["result"]["unexpected_index_list"]}
    failed = set(outcomes.loc[outcomes["passed"] == False, "product_id"])  # noqa: E712
    assert named == failed
    assert named <= products and named
    quality = json.loads(work.gx_data_quality_result.read_text(encoding="utf-8"))
    row_ids = [i for r in quality["results"][:6] for i in r["result"]["unexpected_index_list"]]
    assert all(isinstance(i, int) and 0 <= i < len(rows) for i in row_ids)
