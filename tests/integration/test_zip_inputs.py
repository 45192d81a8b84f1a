"""Zips in the labels folder, read member by member (pipeline.sources.inputs)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labelgen.dsld_formats import to_dsld_api_json
from labelgen.products import dsld_label
from pipeline import config, extract
from pipeline.extract import ExtractStats, extract_in_batches
from pipeline.records import FileExtraction, FileValues, values_extraction
from pipeline.sources.csv import read_csv

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "raw"
ZIP = "DSLD-full-database-JSON.zip"


def _label_json(dsld_id: str, **changes: Any) -> bytes:
    document = to_dsld_api_json(dsld_label(dsld_id))
    document.update(changes)
    return json.dumps(document).encode("utf-8")


def _write_zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _extract(
    labels: Path, work: Path, limits: config.FileLimits = config.FILE_LIMITS
) -> tuple[ExtractStats, list[FileExtraction]]:
    got: list[FileExtraction] = []

    def take(batch: list[FileValues | extract.KeptFile]) -> None:
        got.extend(values_extraction(v) for v in batch if isinstance(v, FileValues))

    stats = extract_in_batches(
        labels, config.WorkPaths(work), take, jobs=2, progress=False, limits=limits
    )
    return stats, got


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_zip_with_good_bad_and_duplicate_members(tmp_path: Path) -> None:
    two = json.dumps([to_dsld_api_json(dsld_label("1027")), to_dsld_api_json(dsld_label("3094"))])
    members = [
        ("DSLD/11243.json", _label_json("11243")),
        ("DSLD/two.json", two.encode()),
        ("DSLD/broken.json", b'{"fullName": "x", '),
        ("DSLD/11243.json", _label_json("11243", fullName="Second copy")),
        ("DSLD/readme.txt", b"not a label"),
        ("__MACOSX/DSLD/._11243.json", b"\x00\x05"),
        ("DSLD/", b""),
        (
            "pdf/bone-matrix-calcium-k2.pdf",
            (SAMPLES / "pdf/bone-matrix-calcium-k2.pdf").read_bytes(),
        ),
        (
            "csv/DietarySupplementFacts.csv",
            (SAMPLES / "csv/dsld-export/DietarySupplementFacts.csv").read_bytes(),
        ),
        ("csv/ProductOverview.csv", (SAMPLES / "csv/dsld-export/ProductOverview.csv").read_bytes()),
    ]
    _write_zip(tmp_path / "labels" / ZIP, members)
    stats, got = _extract(tmp_path / "labels", tmp_path / "work")

    assert stats.source_files == (
        f"{ZIP}!DSLD/11243.json",
        f"{ZIP}!DSLD/11243.json#2",
        f"{ZIP}!DSLD/broken.json",
        f"{ZIP}!DSLD/two.json",
        f"{ZIP}!csv/DietarySupplementFacts.csv",
        f"{ZIP}!pdf/bone-matrix-calcium-k2.pdf",
    )
    assert (stats.files, stats.parsed, stats.cached) == (6, 6, 0)
    assert stats.companions == (f"{ZIP}!csv/ProductOverview.csv",)
    assert [(n.source_file, n.reason) for n in stats.not_labels] == [
        (f"{ZIP}!DSLD/readme.txt", "not a label file type"),
        (f"{ZIP}!__MACOSX/DSLD/._11243.json", "hidden folder"),
    ]
    rejected = {e.source_file: e.rejection.reason for e in got if e.rejection is not None}
    assert rejected == {
        f"{ZIP}!DSLD/11243.json#2": "a second member named DSLD/11243.json in the archive: "
        "only the first is read",
        f"{ZIP}!DSLD/broken.json": "not valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 19 (char 18)",
    }
    on_disk = read_csv(SAMPLES / "csv/dsld-export/DietarySupplementFacts.csv", "f.csv")
    names = {e.source_file: [lb.product_name for lb in e.labels] for e in got if e.labels}
    assert names == {
        f"{ZIP}!DSLD/11243.json": ["Mega Daily 4 for Men"],
        f"{ZIP}!DSLD/two.json": [
            "Ultra Zinc Lozenges Orange Flavor",
            dsld_label("3094")["product_name"],
        ],
        f"{ZIP}!csv/DietarySupplementFacts.csv": names[f"{ZIP}!csv/DietarySupplementFacts.csv"],
        f"{ZIP}!pdf/bone-matrix-calcium-k2.pdf": ["Bone Matrix Calcium + K2"],
    }
    export = next(e for e in got if e.source_file.endswith("DietarySupplementFacts.csv"))
    # the brands come from the companion ProductOverview.csv, as from the folder
    assert [lb.brand for lb in export.labels] == [lb.brand for lb in on_disk.labels]
    assert export.labels[0].brand == "Eckson Labs"
    mega = next(e for e in got if e.source_file == f"{ZIP}!DSLD/11243.json")
    calcium = next(r for r in mega.rows if r.name_raw == "Calcium")
    assert (calcium.amount_raw, calcium.unit_raw, calcium.source_file) == (
        "800",
        "mg",
        f"{ZIP}!DSLD/11243.json",
    )


def test_a_member_changed_in_a_new_zip_is_the_only_one_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = ["11243", "1027", "3094", "37499"]
    labels = tmp_path / "labels"
    _write_zip(labels / ZIP, [(f"DSLD/{i}.json", _label_json(i)) for i in ids])
    log = tmp_path / "parsed.log"
    real = extract.read_label_values

    def reader(
        path: Path, source_file: str, data: bytes | None = None, companions: Any = ()
    ) -> FileValues:
        with log.open("a", encoding="utf-8") as handle:  # (workers are other processes)
            handle.write(source_file + "\n")
        return real(path, source_file, data, companions)

    monkeypatch.setattr(extract, "read_label_values", reader)
    first, _ = _extract(labels, tmp_path / "work")
    assert (first.parsed, first.cached) == (4, 0)
    changed = to_dsld_api_json(dsld_label("1027"))
    changed["fullName"] = "Ultra Zinc Lozenges, new label"
    members = [(f"DSLD/{i}.json", _label_json(i)) for i in ids]
    members[1] = ("DSLD/1027.json", json.dumps(changed).encode("utf-8"))
    (labels / ZIP).unlink()
    _write_zip(labels / ZIP, members)  # a new download, one label changed
    log.unlink()
    second, got = _extract(labels, tmp_path / "work")
    assert (second.parsed, second.cached) == (1, 3)
    assert log.read_text(encoding="utf-8").splitlines() == [f"{ZIP}!DSLD/1027.json"]
    assert [lb.product_name for e in got for lb in e.labels if "1027" in e.source_file] == [
        "Ultra Zinc Lozenges, new label"
    ]


def test_a_zip_bomb_member_is_rejected_by_the_size_limit(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    bomb = b"[" + b" " * (3 * 1024 * 1024) + b"]"  # 3 MB that deflate to ~3 KB
    _write_zip(labels / "labels.zip", [("a.json", _label_json("11243")), ("bomb.json", bomb)])
    assert (labels / "labels.zip").stat().st_size < 10_000
    stats, got = _extract(labels, tmp_path / "work", config.FileLimits(max_file_mb=1))
    rejected = {e.source_file: e.rejection.reason for e in got if e.rejection is not None}
    assert rejected == {
        "labels.zip!bomb.json": "the file is 3.0 MB: more than 1 MB (limit --max-file-mb)"
    }
    assert (stats.files, stats.parsed) == (2, 2)


def test_a_file_named_zip_that_is_not_one_is_a_rejection(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "labels.zip").write_bytes(b"PK not really")
    (labels / "a.json").write_bytes(_label_json("11243"))
    _, got = _extract(labels, tmp_path / "work")
    rejected = {e.source_file: e.rejection.reason for e in got if e.rejection is not None}
    assert rejected == {"labels.zip": "not a readable zip archive: File is not a zip file"}
