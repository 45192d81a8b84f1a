"""The report step scores again only the products whose kept results are not theirs
(pipeline.report_scores): same ranking and checks as scoring all, fewer products scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from pipeline import report_scores
from pipeline.protocol import CHECKS, load_protocol
from pipeline.report_scores import CHECKS_SCHEMA, score_all, scores_salt
from pipeline.score import SCORE_INPUT_COLUMNS

FINDINGS = pd.DataFrame(columns=["product_id", "check", "blocking", "detail"])


def _product(pid: str, calcium: float, k2: float) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in SCORE_INPUT_COLUMNS}
    row.update(
        product_id=pid,
        product_name=f"Cal {pid}",
        source_file=f"{pid}.json",
        calcium_mg=calcium,
        vitamin_k2_mcg=k2,
        k2_form="MK-7",
        k2_mcg_per_500mg_ca=k2 * 500 / calcium,
        magnesium_mg=calcium / 2,
        ca_to_mg_ratio=2.0,
        vitamin_d_mcg=25.0,
        has_anticoagulant_caution=False,
        has_fat_guidance=False,
    )
    return row


def _tables(k2_of_b: float) -> tuple[pa.Table, pa.Table]:
    products = pa.Table.from_pylist(
        [_product("a", 500.0, 120.0), _product("b", 600.0, k2_of_b), _product("c", 1000.0, 45.0)]
    )
    outcomes = pa.table(
        {
            "product_id": pa.array([], pa.string()),
            "check": pa.array([], pa.string()),
            "passed": pa.array([], pa.bool_()),
        }
    )
    return products, outcomes


def _run(tmp: Path, keys: dict[str, str], salt: str, k2_of_b: float = 150.0) -> tuple[Any, ...]:
    products, outcomes = _tables(k2_of_b)
    tmp.mkdir(parents=True, exist_ok=True)
    ranking, failed, scored = score_all(
        products,
        outcomes,
        FINDINGS,
        load_protocol(),
        checks_file=tmp / "checks.parquet",
        keys=keys,
        kept=tmp / "scores.parquet",
        salt=salt,
    )
    assert failed == []
    order = ["product_id", "check"]
    checks = pq.read_table(tmp / "checks.parquet")
    assert checks.schema == CHECKS_SCHEMA
    frame = checks.to_pandas().sort_values(order).reset_index(drop=True)
    return ranking, frame, scored


def test_kept_scores_are_used_only_for_the_same_key_and_salt(tmp_path: Path) -> None:
    keys = {"a": "ka", "b": "kb", "c": "kc"}
    salt = scores_salt("v1", load_protocol())
    ranking, checks, scored = _run(tmp_path, keys, salt)
    assert scored == 3
    assert list(ranking["product_id"]) != []
    again = _run(tmp_path, keys, salt)
    assert again[2] == 0  # every product kept
    pd.testing.assert_frame_equal(again[0], ranking)
    pd.testing.assert_frame_equal(again[1], checks)

    changed = _run(tmp_path, {**keys, "b": "kb2"}, salt, k2_of_b=20.0)
    assert changed[2] == 1  # only b, whose key changed
    fresh = _run(tmp_path / "fresh", {**keys, "b": "kb2"}, salt, k2_of_b=20.0)
    pd.testing.assert_frame_equal(changed[0], fresh[0])
    pd.testing.assert_frame_equal(changed[1], fresh[1])

    assert _run(tmp_path, {**keys, "b": "kb2"}, scores_salt("v2", load_protocol()), 20.0)[2] == 3


def test_kept_scores_read_two_rows_at_a_time_give_the_same_ranking_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {"a": "ka", "b": "kb", "c": "kc"}
    salt = scores_salt("v1", load_protocol())
    ranking, checks, scored = _run(tmp_path, keys, salt)
    assert scored == 3
    assert list(ranking["product_id"]) == ["a", "b", "c"]
    assert len(checks) == 3 * len(CHECKS)
    monkeypatch.setattr(report_scores, "READ_ROWS", 2)
    again = _run(tmp_path, keys, salt)
    assert again[2] == 0
    pd.testing.assert_frame_equal(again[0], ranking)
    pd.testing.assert_frame_equal(again[1], checks)
    kept = pq.read_table(tmp_path / "scores.parquet")
    assert kept.schema.metadata[b"labelaudit.salt"] == salt.encode()
    assert kept.num_rows == 3 * len(CHECKS)
    assert sorted(set(kept.column("key").to_pylist())) == ["ka", "kb", "kc"]


def test_unreadable_kept_scores_score_every_product(tmp_path: Path) -> None:
    keys = {"a": "ka", "b": "kb", "c": "kc"}
    salt = scores_salt("v1", load_protocol())
    ranking, checks, _ = _run(tmp_path, keys, salt)
    (tmp_path / "scores.parquet").write_bytes(b"not parquet")
    again = _run(tmp_path, keys, salt)
    assert again[2] == 3
    pd.testing.assert_frame_equal(again[0], ranking)
    pd.testing.assert_frame_equal(again[1], checks)
