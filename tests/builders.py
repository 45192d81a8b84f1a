"""What the tests share: the paths of the committed fixtures, and builders of label rows,
label tables, reader rejections and audit runs. Plain functions, so that module-level
parametrize lists can use them too; the fixtures built on them are in conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas
from typer.testing import CliRunner, Result

from labelgen.dsld_formats import write_dsld_json, write_simple_csv
from labelgen.products import dsld_label, sample_product
from labelgen.raster import Scan, write_image
from pipeline import config, report_catalog, report_pieces
from pipeline.cli import app
from pipeline.corrections import Correction, apply_to_rows
from pipeline.errors import LabelError
from pipeline.infra.atomic import atomic_write_parquet
from pipeline.normalize import (
    PROTOCOL_AMOUNT_COLUMNS,
    PROTOCOL_METRIC_COLUMNS,
    nutrients_to_products,
    rows_to_nutrients,
)
from pipeline.protocol import Protocol, load_protocol
from pipeline.quality import FINDING_COLUMNS, findings_frame, gx_findings, read_findings
from pipeline.records import FileExtraction, Label, LabelRow, ReadIssue, records_to_frame
from pipeline.score import rank_products, score_products
from pipeline.validate import Validator, products_to_outcomes

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: Committed fixtures: regression PDFs, OCR images, reader fixtures and the example audit.
PDFS = TESTS / "pdfs"
OCR_FIXTURES = TESTS / "ocr"
DATA = TESTS / "data"
AUDIT_EXAMPLE = DATA / "audit_example.json"
#: The sample labels of `make audit`.
SAMPLES = REPO / "data" / "raw"

#: The protocol fields of a product compared with the truth (amounts, then the K2 form).
PROTOCOL_FIELDS: tuple[str, ...] = (*PROTOCOL_AMOUNT_COLUMNS, "k2_form")
#: ... and the protocol metrics computed from them.
PROTOCOL_COLUMNS: tuple[str, ...] = (*PROTOCOL_FIELDS, *PROTOCOL_METRIC_COLUMNS)

#: The raw fields of a label row as a reader gives them.
ROW_FIELDS = ("name_raw", "amount_raw", "unit_raw", "dv_raw", "form_raw", "parent")

runner = CliRunner()


# ---- label rows and label tables ----------------------------------------------------------


def rows_of(extraction: FileExtraction, label_index: int = 0) -> list[dict[str, Any]]:
    """The ROW_FIELDS of one label's rows, in reading order."""
    return [
        {field: getattr(r, field) for field in ROW_FIELDS}
        for r in extraction.rows
        if r.label_index == label_index
    ]


def row(extraction: FileExtraction, name: str, label_index: int = 0) -> LabelRow:
    """The one row of a label printed with `name`."""
    (found,) = [r for r in extraction.rows if r.label_index == label_index and r.name_raw == name]
    return found


def cells(
    extraction: FileExtraction, name: str, *fields: str, label_index: int = 0
) -> tuple[Any, ...]:
    """The `fields` (LabelRow attributes) of the one row of a label printed with `name`."""
    found = row(extraction, name, label_index)
    return tuple(getattr(found, field) for field in fields)


def only_label(extraction: FileExtraction) -> Label:
    """The one label of a reading with no read issues."""
    assert extraction.issues == ()
    (label,) = extraction.labels
    return label


def heading(label: Label) -> tuple[str | None, ...]:
    """What a panel's heading gives: the product name, the brand, the serving size."""
    return (label.product_name, label.brand, label.serving_size)


def two_column_rows(
    extraction: FileExtraction,
) -> list[tuple[str | None, ...]]:
    """The rows of a panel with a second amount column: name, amount, unit, %DV, and the
    second column's amount and unit."""
    return [
        (r.name_raw, r.amount_raw, r.unit_raw, r.dv_raw, r.amount_alt_raw, r.unit_alt_raw)
        for r in extraction.rows
    ]


def label_tables(
    labels: Sequence[Label], rows: Sequence[LabelRow], corrections: Sequence[Correction] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels and rows as the readers give them (with `corrections` applied as normalize
    applies them) -> (labels, nutrients, products) frames."""
    label_frame = records_to_frame(list(labels), Label)
    row_frame = records_to_frame(list(rows), LabelRow)
    if corrections:
        row_frame = apply_to_rows(row_frame, list(corrections))
    nutrients = rows_to_nutrients(row_frame, label_frame)
    return label_frame, nutrients, nutrients_to_products(nutrients, label_frame)


def write_work(
    root: Path, labels: Sequence[Label], rows: Sequence[LabelRow], issues: Sequence[ReadIssue] = ()
) -> config.WorkPaths:
    """A work folder holding what normalize writes for these labels and rows (and issues)."""
    work = config.WorkPaths(root)
    _, nutrients, products = label_tables(labels, rows)
    atomic_write_parquet(work.nutrients, nutrients)
    atomic_write_parquet(work.products, products)
    atomic_write_parquet(work.read_issues, records_to_frame(list(issues), ReadIssue))
    return work


def tables_to_findings(
    nutrients: pd.DataFrame,
    products: pd.DataFrame,
    read_issues: pd.DataFrame,
    validator: Validator,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The data-quality findings of whole tables, from the functions the validate stage runs
    on each chunk (pipeline.quality): one per unexpected row, plus every read issue."""
    found, results = gx_findings(nutrients, products, validator)
    frame = findings_frame([*read_findings(products, read_issues), *found])
    return frame[FINDING_COLUMNS], results


def outcomes_to_ranking(
    products: pd.DataFrame, outcomes: pd.DataFrame, findings: pd.DataFrame, protocol: Protocol
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score, verdict, reason and rank per product and the scored checks, from the functions
    the report stage runs (pipeline.score)."""
    records = [{str(k): v for k, v in r.items()} for r in products.to_dict("records")]
    scored, checks = score_products(records, outcomes, findings, protocol)
    return rank_products(scored), checks


def score_records(
    labels: Sequence[Label],
    rows: Sequence[LabelRow],
    validator: Validator,
    corrections: Sequence[Correction] = (),
) -> dict[str, Any]:
    """Labels and rows normalized (with `corrections`), validated and scored with the default
    protocol: the products, outcomes, findings, ranking and checks frames, and "ids" (product
    name -> id)."""
    _, nutrients, products = label_tables(labels, rows, corrections)
    protocol = load_protocol()
    outcomes, _ = products_to_outcomes(products, protocol, validator)
    findings, _ = tables_to_findings(
        nutrients, products, records_to_frame([], ReadIssue), validator
    )
    ranking, checks = outcomes_to_ranking(products, outcomes, findings, protocol)
    ids = dict(zip(products["product_name"], products["product_id"], strict=True))
    return {
        "products": products,
        "outcomes": outcomes,
        "findings": findings,
        "ranking": ranking,
        "checks": checks,
        "ids": ids,
    }


def products_of(extraction: FileExtraction) -> pd.DataFrame:
    """The normalized products of one file's reading."""
    return label_tables(extraction.labels, extraction.rows)[2]


def same_value(a: object, b: object) -> bool:
    """Equal, with None and NaN (a missing value in a frame) equal to each other only."""
    if a is None or (isinstance(a, float) and pd.isna(a)):
        return b is None or (isinstance(b, float) and pd.isna(b))
    return bool(a == b)


# ---- scanned pages ---------------------------------------------------------------------


def mixed_pdf(tmp_path: Path, bone_pdf: Path) -> Path:
    """Page 1: text (no panel); page 2: the bone-matrix panel, scanned (an image)."""
    scan = write_image(bone_pdf, tmp_path / "page.png", Scan(dpi=200.0, angle=-1.5, seed=4))
    mixed = tmp_path / "mixed.pdf"
    c = Canvas(str(mixed), pagesize=letter, invariant=1)
    c.setFont("Helvetica", 11)
    c.drawString(72, 700, "Northfield Labs product brochure: the label is scanned on page 2.")
    c.showPage()
    with Image.open(scan) as im:
        w, h = im.size
    c.drawImage(str(scan), 36, 792 - 36 - h * 72 / 200, width=w * 72 / 200, height=h * 72 / 200)
    c.showPage()
    c.save()
    return mixed


# ---- rejections -----------------------------------------------------------------------------


def assert_rejected(read: Callable[[], object], error: type[LabelError], reason: str) -> LabelError:
    """`read()` raises exactly `error` (not a subclass) with exactly `reason`; the error."""
    with pytest.raises(error) as caught:
        read()
    assert type(caught.value) is error
    assert caught.value.reason == reason
    return caught.value


# ---- audit runs through the CLI -------------------------------------------------------------


def two_product_folder(folder: Path) -> Path:
    """A labels folder of two products: match.csv (the bone-matrix sample as a simple CSV)
    and caldenex.json (DSLD label 11249, vitamin K1 only)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_simple_csv([sample_product("sample-bone-matrix")], folder / "match.csv")
    write_dsld_json(dsld_label("11249"), folder / "caldenex.json")
    return folder


def audit_cli(labels: Path, out: Path, work: Path, *extra: str) -> Result:
    """`labelaudit audit LABELS --out OUT --work WORK -j 1 EXTRA...`, in process."""
    return runner.invoke(
        app, ["audit", str(labels), "--out", str(out), "--work", str(work), "-j", "1", *extra]
    )


def run_stages(labels: Path, tmp: Path, said: tuple[str, str, str, str]) -> None:
    """`extract`, `normalize`, `validate` and `report` run one by one (work folder tmp/work,
    reports tmp/out): each exits 0 and says what `said` gives for it."""
    work, out = str(tmp / "work"), str(tmp / "out")
    commands = [
        ["extract", str(labels), "--work", work, "-j", "1"],
        ["normalize", "--work", work],
        ["validate", "--work", work],
        ["report", "--work", work, "--out", out],
    ]
    for args, says in zip(commands, said, strict=True):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert says in result.output


def at_catalog_scale(monkeypatch: pytest.MonkeyPatch, scale: str, cards_per_page: int) -> None:
    """With `scale` "catalog": reports of more than 3 products written as above 1,000
    (pipeline.report_catalog: cards on pages of their own, `cards_per_page` a page)."""
    if scale == "catalog":
        monkeypatch.setattr(report_catalog, "REPORT_INLINE_PRODUCTS", 3)
        monkeypatch.setattr(report_pieces, "REPORT_INLINE_PRODUCTS", 3)
        monkeypatch.setattr(report_catalog, "REPORT_CARDS_PER_PAGE", cards_per_page)
