"""The extract and normalize stages stream: batches of files in, row groups out.

What they write must be what the whole-table code gives (same columns, dtypes, values and
order), whatever the batch size, and every batch must keep the table's one schema.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import config
from pipeline.audit import run_extract, run_normalize
from pipeline.extract import KeptFile, extract_in_batches, find_label_files
from pipeline.infra import cache as cache_module
from pipeline.infra.atomic import ParquetTables
from pipeline.infra.cache import file_digest
from pipeline.infra.versions import extractor_version
from pipeline.label_tables import LABEL_TABLES, TABLE_KEYS_FILE, write_label_tables
from pipeline.normalize import (
    NUTRIENTS_SCHEMA,
    PRODUCTS_SCHEMA,
    label_batches,
    nutrients_to_products,
    rows_to_nutrients,
)
from pipeline.records import (
    FileExtraction,
    FileValues,
    Label,
    LabelRow,
    concat_extractions,
    frame_to_table,
    record_dtypes,
    record_schema,
    records_to_frame,
    records_to_table,
    values_extraction,
)
from tests.builders import SAMPLES

#: data/raw: 12 label files (ProductOverview.csv is a companion, read with its export).
SAMPLE_FILES = 12


def _paths(work: config.WorkPaths) -> dict[str, Path]:
    return {
        "labels": work.labels,
        "rows": work.label_rows,
        "issues": work.read_issues,
        "rejections": work.rejections,
    }


def _assert_same_frame(streamed: pd.DataFrame, frame: pd.DataFrame, dtypes: dict[str, str]) -> None:
    """`streamed` is what the whole-table stage wrote for `frame` (`to_parquet`, read back):
    the same values, dtypes and order, except that a column all missing in the whole table
    has its schema's dtype instead of an object column of None."""
    whole = pd.read_parquet(io.BytesIO(frame.to_parquet()))
    assert list(streamed.columns) == list(whole.columns)
    assert len(streamed) == len(whole)
    for column in whole.columns:
        if whole[column].isna().all():
            assert streamed[column].isna().all(), column
            expected = "float64" if dtypes[column] == "int64" and len(whole) else dtypes[column]
            assert str(streamed[column].dtype) == expected, column
        else:
            pd.testing.assert_series_equal(
                streamed[column].reset_index(drop=True),
                whole[column].reset_index(drop=True),
                check_exact=True,
            )


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> config.WorkPaths:
    """data/raw extracted two files per batch (six batches), then normalized."""
    root = tmp_path_factory.mktemp("stream")
    shutil.copytree(SAMPLES, root / "labels")
    work = config.WorkPaths(root / "work")
    stats = write_label_tables(root / "labels", work, jobs=1, progress=False, batch_files=2)
    assert (stats.files, stats.parsed, stats.cached) == (SAMPLE_FILES, SAMPLE_FILES, 0)
    assert run_normalize(work) == (
        pq.ParquetFile(work.nutrients).metadata.num_rows,
        pq.ParquetFile(work.products).metadata.num_rows,
    )
    return work


def test_streamed_label_tables_are_the_readings_of_every_file(
    streamed: config.WorkPaths,
) -> None:
    labels_dir = streamed.root.parent / "labels"
    extractions: list[FileExtraction] = []

    def take(batch: list[FileValues | KeptFile]) -> None:
        extractions.extend(values_extraction(v) for v in batch if isinstance(v, FileValues))

    stats = extract_in_batches(labels_dir, streamed, take, progress=False)
    assert (stats.parsed, stats.cached) == (0, SAMPLE_FILES)  # all from the cache now
    assert stats.source_files == tuple(e.source_file for e in extractions)
    assert stats.source_files[:3] == (
        "bad/spring-catalogue-no-panel.pdf",
        "bad/truncated-download.pdf",
        "csv/dsld-export/DietarySupplementFacts.csv",
    )
    assert stats.companions == ("csv/dsld-export/ProductOverview.csv",)
    records = dict(zip(LABEL_TABLES, concat_extractions(extractions), strict=True))
    whole = SimpleNamespace(
        **{name: records_to_frame(records[name], kind) for name, kind in LABEL_TABLES.items()}
    )
    for name, path in _paths(streamed).items():
        table = pq.ParquetFile(path)
        assert table.num_row_groups == math.ceil(SAMPLE_FILES / 2), name  # one per batch
        assert (
            table.schema_arrow.remove_metadata()
            == record_schema(LABEL_TABLES[name]).remove_metadata()
        )
        _assert_same_frame(
            pd.read_parquet(path), getattr(whole, name), record_dtypes(LABEL_TABLES[name])
        )
    sizes = {name: len(getattr(whole, name)) for name in LABEL_TABLES}
    assert sizes == {"labels": 13, "rows": 164, "issues": 0, "rejections": 2}


def test_streamed_normalize_is_the_whole_table_normalization(
    streamed: config.WorkPaths,
) -> None:
    labels, rows = pd.read_parquet(streamed.labels), pd.read_parquet(streamed.label_rows)
    assert len(list(label_batches(streamed.labels, streamed.label_rows))) == 6
    nutrients = rows_to_nutrients(rows, labels)
    products = nutrients_to_products(nutrients, labels)
    for path, whole, schema in (
        (streamed.nutrients, nutrients, NUTRIENTS_SCHEMA),
        (streamed.products, products, PRODUCTS_SCHEMA),
    ):
        got = pd.read_parquet(path)
        assert pq.ParquetFile(path).num_row_groups == 6
        pd.testing.assert_frame_equal(got, frame_to_table(whole, schema).to_pandas())
        dtypes = {f.name: str(got[f.name].dtype) for f in schema}
        _assert_same_frame(got, whole, dtypes)
    assert (len(nutrients), len(products)) == (164, 13)


def _write_tables(
    work: config.WorkPaths, files: list[list[Label]], rows: list[list[LabelRow]]
) -> None:
    """labels.parquet and label_rows.parquet with one row group per item of `files`."""
    targets = {
        "labels": (work.labels, record_schema(Label)),
        "rows": (work.label_rows, record_schema(LabelRow)),
    }
    with ParquetTables(targets) as out:
        for batch_labels, batch_rows in zip(files, rows, strict=True):
            out.write("labels", records_to_table(batch_labels, Label))
            out.write("rows", records_to_table(batch_rows, LabelRow))


def test_one_file_per_batch_normalizes_as_the_whole_table(tmp_path: Path) -> None:
    """Batches whose columns are all None, with no usable row, or with a repeated product
    name give what the whole table gives."""
    work = config.WorkPaths(tmp_path)
    files = [
        [
            Label(
                "a.pdf",
                0,
                "Bone K2",
                serving_size="2 Capsules",
                directions="Take 2 capsules twice daily with a meal.",
            ),
            Label("a.pdf", 1, "Bone K2", serving_size="1 Capsule"),  # same name: id gets "-2"
        ],
        [
            Label(
                "b.csv",
                0,
                "Plain",
                max_daily_servings=3.0,
                warnings="Ask your doctor if you take warfarin.",
            )
        ],
        [Label("c.json", 0, "Fish oil", other_ingredients="olive oil")],
    ]
    rows = [
        [
            LabelRow("a.pdf", 0, 1, "Calcium", "500", "mg", dv_raw="38%", page=1),
            LabelRow("a.pdf", 0, 2, "Vitamin K2", "90", "mcg", form_raw="as MK-7", page=1),
            LabelRow("a.pdf", 1, 1, "Vitamin K2", "45", "mcg", form_raw="as MK-4", page=2),
            LabelRow("a.pdf", 1, 2, "Vitamin K2", "45", "mcg", form_raw="as MK-7", page=2),
        ],
        [LabelRow("b.csv", 0, 1, "Magnesium", "<1", "g", confidence=88.5, repairs="O->0")],
        [],  # no rows at all: its product has no usable nutrient
    ]
    _write_tables(work, files, rows)
    assert run_normalize(work) == (5, 4)

    labels, label_rows = pd.read_parquet(work.labels), pd.read_parquet(work.label_rows)
    nutrients = rows_to_nutrients(label_rows, labels)
    products = nutrients_to_products(nutrients, labels)
    got_nutrients, got_products = pd.read_parquet(work.nutrients), pd.read_parquet(work.products)
    assert pq.ParquetFile(work.products).num_row_groups == 3
    pd.testing.assert_frame_equal(
        got_nutrients, frame_to_table(nutrients, NUTRIENTS_SCHEMA).to_pandas()
    )
    pd.testing.assert_frame_equal(
        got_products, frame_to_table(products, PRODUCTS_SCHEMA).to_pandas()
    )
    assert got_products["product_id"].tolist()[1].endswith("-2")
    assert got_products["k2_form"].tolist()[:2] == ["MK-7", "mixed"]
    assert got_products["calcium_mg"].tolist()[0] == 500.0
    assert got_products["has_anticoagulant_caution"].tolist() == [False, False, True, False]
    assert got_products["servings_per_day"].tolist() == [2.0, 1.0, 3.0, 1.0]
    # a column all None in one batch keeps its type in the file
    assert got_nutrients["confidence"].isna().tolist() == [True, True, True, True, False]
    assert got_nutrients["confidence"].tolist()[4] == 88.5
    assert got_nutrients["amount_operator"].tolist()[4] == "<"
    assert got_nutrients["dv_consistent"].dtype == "boolean"


def test_rows_in_another_row_group_than_their_labels_are_normalized_whole(tmp_path: Path) -> None:
    work = config.WorkPaths(tmp_path)
    files = [[Label("a.pdf", 0, "A")], [Label("b.pdf", 0, "B")]]
    rows = [
        [LabelRow("b.pdf", 0, 1, "Calcium", "5", "mg")],
        [LabelRow("a.pdf", 0, 1, "Calcium", "7", "mg")],
    ]
    _write_tables(work, files, rows)
    batches = list(label_batches(work.labels, work.label_rows))
    assert [(len(labels), len(rows)) for labels, rows in batches] == [(2, 2)]
    run_normalize(work)
    products = pd.read_parquet(work.products)
    assert products["calcium_mg"].tolist() == [7.0, 5.0]


def test_a_batch_with_only_none_keeps_the_table_schema(tmp_path: Path) -> None:
    """Without one fixed schema, the first batch would make `confidence` a null column and
    the second batch's numbers could not be appended."""
    path = tmp_path / "rows.parquet"
    first = [LabelRow("a.pdf", 0, 1, "Calcium", None, None)]
    second = [LabelRow("b.pdf", 0, 1, "Calcium", "5", "mg", page=2, confidence=91.5)]
    with ParquetTables({"rows": (path, record_schema(LabelRow))}) as out:
        out.write("rows", records_to_table(first, LabelRow))
        out.write("rows", records_to_table(second, LabelRow))
        out.write("rows", records_to_table([], LabelRow))
    assert out.rows == {"rows": 2}
    assert pq.ParquetFile(path).num_row_groups == 3
    frame = pd.read_parquet(path)
    assert frame["confidence"].dtype == "float64"
    assert frame["confidence"].isna().tolist() == [True, False]
    assert frame["confidence"].tolist()[1] == 91.5
    assert frame["page"].tolist()[1] == 2.0
    assert frame["amount_raw"].isna().tolist() == [True, False]
    assert frame["unit_raw"].tolist()[1] == "mg"


def test_parquet_tables_leave_the_old_files_on_an_error(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    path.write_bytes(b"old")
    with (
        pytest.raises(RuntimeError, match="stage failed"),
        ParquetTables({"labels": (path, record_schema(Label))}) as out,
    ):
        out.write("labels", records_to_table([Label("a.pdf", 0, "A")], Label))
        raise RuntimeError("stage failed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.parquet"]


def _sample_folder(tmp_path: Path) -> Path:
    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("simple-layout.csv",):
        shutil.copy(SAMPLES / "csv" / name, labels / name)
    shutil.copy(SAMPLES / "json" / "dsld-11243-mega-daily-4-for-men.json", labels / "m.json")
    shutil.copy(SAMPLES / "bad" / "truncated-download.pdf", labels / "t.pdf")
    return labels


def test_run_extract_records_the_run_and_rewrites_identical_tables(tmp_path: Path) -> None:
    labels, work = _sample_folder(tmp_path), config.WorkPaths(tmp_path / "work")
    first = run_extract(labels, work, progress=False)
    assert first == {
        "labels_dir": str(labels),
        "labels_path": str(labels.resolve()),  # where the report draws the crops from
        "files": ["m.json", "simple-layout.csv", "t.pdf"],
        "companion_files": [],
        "not_labels": [],
        "parsed": 3,
        "cached": 0,
    }
    assert json.loads(work.run_meta.read_text()) == first
    digests = {name: file_digest(p) for name, p in _paths(work).items()}
    second = run_extract(labels, work, progress=False)
    assert (second["parsed"], second["cached"]) == (0, 3)
    # the same bytes: the normalize stage sees its inputs unchanged
    assert {name: file_digest(p) for name, p in _paths(work).items()} == digests


def test_a_broken_cache_entry_is_read_again(tmp_path: Path) -> None:
    labels, work = _sample_folder(tmp_path), config.WorkPaths(tmp_path / "work")
    run_extract(labels, work, progress=False)
    before = {name: pd.read_parquet(p) for name, p in _paths(work).items()}
    entries = sorted((work.cache_dir / f"extract-v{extractor_version()}").glob("*.json"))
    assert len(entries) == 3
    entries[0].write_text("{broken")
    # the label tables are those of these inputs: kept, no cache entry is read
    assert (run_extract(labels, work, progress=False)["parsed"]) == 0
    (work.root / ".extract.done").unlink()  # the tables must be made again,
    (work.root / TABLE_KEYS_FILE).unlink()  # from the cache (not from the last tables)
    meta = run_extract(labels, work, progress=False)
    assert (meta["parsed"], meta["cached"]) == (1, 2)
    for name, p in _paths(work).items():
        pd.testing.assert_frame_equal(pd.read_parquet(p), before[name])


def test_readings_that_cannot_be_cached_still_reach_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels, work = _sample_folder(tmp_path), config.WorkPaths(tmp_path / "work")

    def no_space(path: Path, data: bytes, durable: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "atomic_write_bytes", no_space)
    stats = write_label_tables(labels, work, progress=False)
    assert (stats.parsed, stats.cached) == (3, 0)
    assert len(list(work.cache_dir.rglob("*.json"))) == 0
    assert pd.read_parquet(work.labels)["source_file"].tolist()[0] == "m.json"
    assert pd.read_parquet(work.rejections)["source_file"].tolist() == ["t.pdf"]
    assert len(find_label_files(labels)) == 3


def test_a_table_never_written_is_an_empty_table_with_its_schema(tmp_path: Path) -> None:
    targets = {
        "labels": (tmp_path / "labels.parquet", record_schema(Label)),
        "rows": (tmp_path / "rows.parquet", record_schema(LabelRow)),
    }
    with ParquetTables(targets) as out:
        assert list(tmp_path.iterdir()) == []  # nothing is opened before the first write
        out.write("labels", records_to_table([Label("a.pdf", 0, "A")], Label))
    rows = pq.ParquetFile(tmp_path / "rows.parquet")
    assert (rows.metadata.num_rows, rows.metadata.num_row_groups) == (0, 0)
    assert rows.schema_arrow.names == record_schema(LabelRow).names
    assert pd.read_parquet(tmp_path / "labels.parquet")["product_name"].tolist() == ["A"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.parquet", "rows.parquet"]
