"""Small JSON inputs read a group to a worker and cached in packs (pipeline.extract,
pipeline.infra.cache.ExtractionCache.put_many), and the streaming map they go through."""

from __future__ import annotations

import json
import logging
import os
import signal
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from labelgen.dsld_formats import to_dsld_api_json
from labelgen.products import dsld_label
from pipeline import config, extract
from pipeline.audit import run_extract
from pipeline.infra import isolated
from pipeline.infra.cache import PACK_SUFFIX, ExtractionCache
from pipeline.infra.versions import extractor_version
from pipeline.label_tables import TABLE_KEYS_FILE
from pipeline.records import FileExtraction, FileValues, Label

ZIP = "DSLD-full-database-JSON.zip"
IDS = ["1027", "11243", "3094", "37499"]  # (in source-name order)


def _write_zip(path: Path, names: dict[str, str]) -> None:
    """A zip of DSLD/<id>.json members, each label named as `names` says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for dsld_id, name in names.items():
            document = to_dsld_api_json(dsld_label(dsld_id))
            document["fullName"] = name
            archive.writestr(f"DSLD/{dsld_id}.json", json.dumps(document))


def _entries(work: config.WorkPaths) -> tuple[int, int]:
    """(packs, single entries) in the cache."""
    folder = work.cache_dir / f"extract-v{extractor_version()}"
    return len(list(folder.glob(f"*{PACK_SUFFIX}"))), len(list(folder.glob("*.json")))


def _run(labels: Path, work: config.WorkPaths) -> tuple[dict[str, Any], pd.DataFrame]:
    (work.root / ".extract.done").unlink(missing_ok=True)  # the tables made again,
    (work.root / TABLE_KEYS_FILE).unlink(missing_ok=True)  # from the cache, not the last tables
    meta = run_extract(labels, work, jobs=2, progress=False)
    return meta, pd.read_parquet(work.labels)[["source_file", "product_name"]]


def test_members_are_cached_in_packs_each_under_its_own_content(tmp_path: Path) -> None:
    labels, work = tmp_path / "labels", config.WorkPaths(tmp_path / "work")
    _write_zip(labels / ZIP, {i: f"Label {i}" for i in IDS})
    meta, first = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (4, 0)
    assert _entries(work) == (1, 0)  # one group of four: one pack
    assert first["product_name"].tolist() == [f"Label {i}" for i in IDS]

    meta, again = _run(labels, work)  # every member from the pack
    assert (meta["parsed"], meta["cached"]) == (0, 4)
    pd.testing.assert_frame_equal(again, first)

    # Three members change: they are read again (one group, a new pack); the old pack keeps
    # one live entry of four, so it is written again with that one only.
    _write_zip(labels / ZIP, {i: f"Label {i}" + ("" if i == "11243" else " new") for i in IDS})
    meta, changed = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (3, 1)
    assert changed["product_name"].tolist() == [
        "Label 1027 new",
        "Label 11243",
        "Label 3094 new",
        "Label 37499 new",
    ]
    assert _entries(work) == (2, 0)
    meta, unchanged = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (0, 4)
    pd.testing.assert_frame_equal(unchanged, changed)


def test_a_damaged_packed_entry_is_read_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels, work = tmp_path / "labels", config.WorkPaths(tmp_path / "work")
    _write_zip(labels / ZIP, {i: f"Label {i}" for i in IDS})
    _, first = _run(labels, work)
    (pack,) = (work.cache_dir / f"extract-v{extractor_version()}").glob(f"*{PACK_SUFFIX}")
    data = pack.read_bytes()
    at = data.index(b'"Label 3094"') + 2
    pack.write_bytes(data[:at] + b"X" + data[at + 1 :])  # one byte of one entry
    with caplog.at_level(logging.WARNING):
        meta, again = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (1, 3)
    pd.testing.assert_frame_equal(again, first)
    assert any("does not match its checksum" in r.getMessage() for r in caplog.records)


def test_put_many_and_get_each_entry_by_its_key(tmp_path: Path) -> None:
    cache = ExtractionCache(tmp_path, "1")
    readings = {
        k: FileExtraction(f"{k}.json", labels=(Label(f"{k}.json", 0, f"P{k}"),)) for k in "abc"
    }
    keys = {k: cache.cache_key(e.source_file, [k]) for k, e in readings.items()}
    assert cache.put_many([(keys[k], readings[k]) for k in "abc"]) is None
    fresh = ExtractionCache(tmp_path, "1")
    assert {k: fresh.get(keys[k]) for k in "abc"} == readings
    assert fresh.verify(keys["b"])
    assert ExtractionCache(tmp_path, "2").get(keys["a"]) is None  # another version
    assert fresh.prune({keys["a"], keys["b"]}) == 0  # two of three live: kept as it is
    assert fresh.prune({keys["a"]}) == 2  # one of three: written again with that one
    last = ExtractionCache(tmp_path, "1")
    assert (last.get(keys["a"]), last.get(keys["b"])) == (readings["a"], None)
    assert last.prune(set()) == 1
    assert list(last.entries_dir.iterdir()) == []


def test_a_member_that_kills_its_worker_loses_only_itself_not_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels, work = tmp_path / "labels", config.WorkPaths(tmp_path / "work")
    _write_zip(labels / ZIP, {i: f"Label {i}" for i in IDS})
    real = extract.read_label_values

    def reader(
        path: Path, source_file: str, data: bytes | None = None, companions: Any = ()
    ) -> FileValues:
        if source_file.endswith("/3094.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, source_file, data, companions)

    monkeypatch.setattr(extract, "read_label_values", reader)
    meta, products = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (4, 0)
    rejections = pd.read_parquet(work.rejections)
    assert dict(zip(rejections["source_file"], rejections["reason"], strict=True)) == {
        f"{ZIP}!DSLD/3094.json": "the worker reading it died (signal 9)"
    }
    assert products["product_name"].tolist() == ["Label 1027", "Label 11243", "Label 37499"]
    meta, _ = _run(labels, work)
    assert (meta["parsed"], meta["cached"]) == (1, 3)  # the lost one was not cached


def _started(item: tuple[int, str]) -> int:
    number, log = item
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{number}\n")
    return number * 10


def test_imap_isolated_gives_results_in_order_never_more_than_a_window_ahead(
    tmp_path: Path,
) -> None:
    log = tmp_path / "started.log"
    items = [(n, str(log)) for n in range(12)]
    results = isolated.imap_isolated(
        _started, items, jobs=2, describe=str, lost=lambda i, w: -1, progress=False, window=3
    )
    taken = []
    for result in results:
        started = [int(line) for line in log.read_text(encoding="utf-8").split()]
        assert max(started) <= len(taken) + 2  # items[len(taken)] is the one just given
        taken.append(result)
    assert taken == [n * 10 for n in range(12)]
