"""Folders a nightly run meets: only bad files, links, odd names, its own outputs inside.

Every entry under the labels folder ends up in audit.json as products, as a rejection or
under "not_labels" with why; the report is written whatever the stages find.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelgen.dsld_formats import write_dsld_json, write_simple_csv
from labelgen.products import dsld_label, sample_product
from pipeline import extract
from tests.builders import PDFS, audit_cli, run_stages

runner = CliRunner()
DAMAGED_PDF = "cannot open PDF: the file is damaged or is not a PDF"


def _audit(labels: Path, out: Path, work: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    result = audit_cli(labels, out, work, *extra)
    report = out / "audit.json"
    audit = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result.exit_code, result.output, audit


def _html(out: Path) -> str:
    return (out / "audit.html").read_text(encoding="utf-8")


def test_the_samples_two_bad_files_alone_give_a_report(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("corrupt.pdf", "no-panel-brochure.pdf"):
        shutil.copy(PDFS / name, labels / name)
    for _ in range(2):  # the second run reuses every stage's (empty) outputs
        code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
        assert code == 0, output
        assert audit["rejected"] == [
            {"source_file": "corrupt.pdf", "reason": DAMAGED_PDF},
            {
                "source_file": "no-panel-brochure.pdf",
                "reason": "no Supplement Facts panel found in 1 page(s)",
            },
        ]
        assert audit["products"] == []
        assert audit["summary"]["files"] == 2
        assert audit["summary"]["rejected_files"] == 2
        assert audit["summary"]["verdicts"] == {
            "matches": 0,
            "partial": 0,
            "fails": 0,
            "not_assessable": 0,
        }
        assert "audited 2 files: 0 products" in output
        assert _html(tmp_path / "out").endswith("</html>")
    ranking = (tmp_path / "out" / "ranking.csv").read_text(encoding="utf-8").splitlines()
    assert len(ranking) == 1 and ranking[0].startswith("rank,product_id,source_file")


def test_a_folder_of_four_bad_files_gives_a_report_with_each_reason(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "empty.pdf").write_bytes(b"")
    (labels / "page.pdf").write_text("<html><body>Not a PDF</body></html>\n", encoding="utf-8")
    (labels / "geo.json").write_text('{"type": "FeatureCollection", "features": []}')
    (labels / "cities.csv").write_text("city,population\nParis,2100000\n", encoding="utf-8")
    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    assert audit["rejected"] == [
        {
            "source_file": "cities.csv",
            "reason": "the CSV header matches neither the DSLD export layout nor the simple "
            "layout: missing column(s) product_name, ingredient, amount, unit",
        },
        {"source_file": "empty.pdf", "reason": DAMAGED_PDF},
        {"source_file": "geo.json", "reason": "not a DSLD label JSON: missing 'ingredientRows'"},
        {"source_file": "page.pdf", "reason": DAMAGED_PDF},
    ]
    assert (audit["summary"]["files"], audit["summary"]["products"]) == (4, 0)
    html = _html(tmp_path / "out")
    assert html.endswith("</html>")
    assert '<th scope="row" class="file">geo.json</th>' in html


def _label(folder: Path, name: str) -> Path:
    write_simple_csv([sample_product("sample-bone-matrix")], folder / name)
    return folder / name


def test_links_are_not_followed_out_of_the_folder_and_every_entry_is_listed(
    tmp_path: Path,
) -> None:
    labels = tmp_path / "labels"
    (labels / "sub").mkdir(parents=True)
    outside = _label(tmp_path, "outside.csv")  # a valid label, but not under the folder
    _label(labels / "sub", "inside.csv")
    (labels / "outside.csv").symlink_to(outside)
    (labels / "passwd.csv").symlink_to("/etc/passwd")
    (labels / "dangling.pdf").symlink_to(labels / "gone.pdf")
    (labels / "loop-a.pdf").symlink_to(labels / "loop-b.pdf")
    (labels / "loop-b.pdf").symlink_to(labels / "loop-a.pdf")
    (labels / "sub-link").symlink_to(labels / "sub", target_is_directory=True)
    (labels / "alias.csv").symlink_to(labels / "sub" / "inside.csv")  # inside: read
    (labels / "notes.txt").write_text("not a label", encoding="utf-8")
    (labels / "photo.svg").write_text("<svg/>", encoding="utf-8")
    (labels / ".DS_Store").write_bytes(b"\0")
    (labels / ".git").mkdir()
    (labels / ".git" / "HEAD.json").write_text("{}", encoding="utf-8")
    os.mkfifo(labels / "pipe.pdf")  # opening it would block the run

    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    assert sorted(p["source_file"] for p in audit["products"]) == ["alias.csv", "sub/inside.csv"]
    assert audit["rejected"] == []
    assert audit["not_labels"] == [
        {"source_file": ".DS_Store", "reason": "hidden file"},
        {"source_file": ".git/", "reason": "hidden folder"},
        {"source_file": "dangling.pdf", "reason": "dangling symlink"},
        {"source_file": "loop-a.pdf", "reason": "symlink loop"},
        {"source_file": "loop-b.pdf", "reason": "symlink loop"},
        {"source_file": "notes.txt", "reason": "not a label file type"},
        {"source_file": "outside.csv", "reason": "symlink outside the labels folder"},
        {"source_file": "passwd.csv", "reason": "symlink outside the labels folder"},
        {"source_file": "photo.svg", "reason": "not a label file type"},
        {"source_file": "pipe.pdf", "reason": "not a regular file"},
        {"source_file": "sub-link", "reason": "symlink to a folder (not followed)"},
    ]
    summary = audit["summary"]
    assert (summary["files"], summary["products"], summary["not_label_files"]) == (13, 2, 11)
    assert "2 rejected" not in output and "11 not labels" in output
    html = _html(tmp_path / "out")
    assert (
        '<th scope="row" class="file">passwd.csv</th><td>symlink outside the labels folder' in html
    )
    assert "root:" not in html and "root:" not in json.dumps(audit)


def test_an_unreadable_subfolder_is_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (as root a chmod cannot make a folder unreadable: the walk's listing is made to fail)
    labels = tmp_path / "labels"
    (labels / "locked").mkdir(parents=True)
    _label(labels / "locked", "hidden-away.csv")
    _label(labels, "ok.csv")
    real_scandir = os.scandir

    def scandir(path: str) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(extract, "_scandir", scandir)
    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    assert [p["source_file"] for p in audit["products"]] == ["ok.csv"]
    assert audit["not_labels"] == [{"source_file": "locked/", "reason": "unreadable folder"}]
    assert audit["summary"]["files"] == 2


def test_an_unreadable_labels_folder_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()

    def scandir(path: str) -> Any:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(extract, "_scandir", scandir)
    code, output, _ = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 1
    assert output.strip().splitlines()[-1] == (
        f"labelaudit: error: labels folder {labels} cannot be read: Permission denied"
    )


def test_the_reports_and_work_folders_inside_the_labels_folder_are_never_read(
    tmp_path: Path,
) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    _label(labels, "match.csv")
    (labels / "broken.json").write_text('{"id": 1', encoding="utf-8")
    results = [_audit(labels, labels / "reports", labels / "work") for _ in range(3)]
    for code, output, _ in results:
        assert code == 0, output
    first, third = results[0][2], results[2][2]
    assert [p["source_file"] for p in third["products"]] == ["match.csv"]
    assert (
        third["rejected"]
        == first["rejected"]
        == [
            {
                "source_file": "broken.json",
                "reason": "not valid JSON: Expecting ',' delimiter: line 1 column 9 (char 8)",
            }
        ]
    )
    assert third["not_labels"] == [
        {"source_file": "reports/", "reason": "the reports folder"},
        {"source_file": "work/", "reason": "the work folder"},
    ]
    assert third["summary"]["files"] == 4


def test_a_file_name_that_is_not_utf8_is_read_and_shown_escaped(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    write_dsld_json(dsld_label("11249"), tmp_path / "k1.json")
    odd = os.path.join(os.fsencode(labels), b"caf\xe9.json")
    shutil.copy(tmp_path / "k1.json", odd)
    with open(os.path.join(os.fsencode(labels), b"notes-\xff.txt"), "wb") as fh:
        fh.write(b"x")
    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    assert [p["source_file"] for p in audit["products"]] == ["caf\\xe9.json"]
    assert audit["not_labels"] == [
        {"source_file": "notes-\\xff.txt", "reason": "not a label file type"}
    ]
    html = _html(tmp_path / "out")
    assert '<span class="file">caf\\xe9.json</span>' in html
    csv_text = (tmp_path / "out" / "ranking.csv").read_text(encoding="utf-8")
    assert next(csv.DictReader(io.StringIO(csv_text)))["source_file"] == "caf\\xe9.json"


def test_ranking_csv_cells_that_start_like_a_formula_are_neutralized(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    one = sample_product("sample-bone-matrix")
    one["product_name"] = '=HYPERLINK("http://x.invalid","click")'
    one["brand"] = "@SUM(A1:A2)"
    two = sample_product("sample-daily-calcium-k2")
    two["product_name"] = "+cmd|' /C calc'!A0"
    two["brand"] = "-2+3"
    write_simple_csv([one], labels / "one.csv")
    write_simple_csv([two], labels / "two.csv")
    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    text = (tmp_path / "out" / "ranking.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["product_name"], r["brand"]) for r in rows] == [
        ('\'=HYPERLINK("http://x.invalid","click")', "'@SUM(A1:A2)"),
        ("'+cmd|' /C calc'!A0", "'-2+3"),
    ]
    assert [r["score"] for r in rows] == ["100.0", "90.5"]  # numbers stay numbers
    # audit.json keeps the names as printed; the next run's changes read them back right
    assert [p["product_name"] for p in audit["products"]] == [
        '=HYPERLINK("http://x.invalid","click")',
        "+cmd|' /C calc'!A0",
    ]
    (labels / "two.csv").unlink()
    _, _, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert [i["product_name"] for i in audit["changes"]["removed"]] == ["+cmd|' /C calc'!A0"]


def test_a_negative_number_stays_a_number_in_ranking_csv() -> None:
    from pipeline.report import ranking_csv

    text = ranking_csv(
        {"products": [{"rank": 1, "product_name": "-5 mg", "score": -1.5, "calcium_mg": -2.0}]}
    )
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["product_name"], row["score"], row["calcium_mg"]) == ("'-5 mg", "-1.5", "-2.0")


def test_each_stage_takes_an_empty_input_as_data(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    labels = tmp_path / "labels"
    labels.mkdir()
    shutil.copy(PDFS / "corrupt.pdf", labels / "corrupt.pdf")
    said = (
        "extracted 1 files (1 read, 0 cached)",
        "normalized 0 label rows into 0 products",
        "validated: 0 failed checks, 0 data-quality findings",
        "wrote",
    )
    run_stages(labels, tmp_path, said)
    for name, column, kind in [
        ("labels", "product_name", "large_string"),
        ("products", "product_id", "large_string"),
        ("nutrients", "amount_normalized", "double"),
        ("checks", "passed", "bool"),
        ("ranking", "rank", "int64"),
    ]:
        table = pq.read_table(tmp_path / "work" / f"{name}.parquet")
        assert (table.num_rows, str(table.schema.field(column).type)) == (0, kind), name
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert audit["rejected"] == [{"source_file": "corrupt.pdf", "reason": DAMAGED_PDF}]
    assert audit["products"] == [] and audit["not_labels"] == []


def test_an_unreadable_file_is_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    _label(labels, "ok.csv")
    _label(labels, "secret.csv")
    real_open = os.open

    def refuse_secret(path: str, flags: int, *args: Any) -> int:
        if Path(path).name == "secret.csv":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(extract, "_open", refuse_secret)
    code, output, audit = _audit(labels, tmp_path / "out", tmp_path / "work")
    assert code == 0, output
    assert [p["source_file"] for p in audit["products"]] == ["ok.csv"]
    assert audit["not_labels"] == [
        {"source_file": "secret.csv", "reason": "unreadable file: Permission denied"}
    ]
    assert audit["summary"]["files"] == 2
