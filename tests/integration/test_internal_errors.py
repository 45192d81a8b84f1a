"""An internal error in one file or one product never loses the rest of the run: the file
is rejected (or its card says so) with the error, and the run exits 0 with the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from labelgen.dsld_formats import write_simple_csv
from labelgen.products import sample_product
from pipeline import normalize, report, report_scores, score
from tests.builders import audit_cli, two_product_folder

runner = CliRunner()


def _labels(tmp_path: Path) -> Path:
    labels = two_product_folder(tmp_path / "labels")
    odd = sample_product("sample-daily-calcium-k2")
    odd["product_name"] = "Odd One"
    write_simple_csv([odd], labels / "odd.csv")
    return labels


def _audit(tmp_path: Path) -> tuple[int, str, dict[str, Any]]:
    result = audit_cli(_labels(tmp_path), tmp_path / "out", tmp_path / "work")
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    return result.exit_code, result.output, audit


def test_a_file_that_breaks_normalizing_is_rejected_and_the_rest_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = normalize.normalize_batch

    def breaks_on_odd(labels: pd.DataFrame, rows: pd.DataFrame) -> Any:
        if "odd.csv" in set(labels["source_file"]):
            raise RuntimeError("unit table broken")
        return real(labels, rows)

    monkeypatch.setattr(normalize, "normalize_batch", breaks_on_odd)
    code, output, audit = _audit(tmp_path)
    assert code == 0, output
    assert sorted(p["source_file"] for p in audit["products"]) == ["caldenex.json", "match.csv"]
    assert audit["rejected"] == [
        {
            "source_file": "odd.csv",
            "reason": "internal error while normalizing: RuntimeError: unit table broken",
        }
    ]
    assert audit["summary"]["files"] == 3
    assert (tmp_path / "out" / "audit.html").read_text(encoding="utf-8").endswith("</html>")


def test_a_product_that_breaks_scoring_is_rejected_and_the_rest_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = score.score_products

    def breaks_on_odd(products: list[dict[str, Any]], *args: Any) -> Any:
        if any(p["product_name"] == "Odd One" for p in products):
            raise ZeroDivisionError("float division by zero")
        return real(products, *args)

    monkeypatch.setattr(report_scores, "score_products", breaks_on_odd)
    code, output, audit = _audit(tmp_path)
    assert code == 0, output
    assert [p["product_name"] for p in audit["products"]] == [
        "Bone Matrix Calcium + K2",
        "CalDenex",
    ]
    assert audit["rejected"] == [
        {
            "source_file": "odd.csv",
            "reason": "product 'Odd One': internal error while scoring: ZeroDivisionError: "
            "float division by zero",
        }
    ]
    assert audit["summary"]["files"] == 3


def test_a_card_that_cannot_be_rendered_says_so_and_the_page_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = report.ProductPieces._render

    def breaks_on_odd(self: report.ProductPieces, product: Any) -> str:
        if product["product_name"] == "Odd One":
            raise TypeError("unsupported operand")
        return real(self, product)

    monkeypatch.setattr(report.ProductPieces, "_render", breaks_on_odd)
    code, output, audit = _audit(tmp_path)
    assert code == 0, output
    assert len(audit["products"]) == 3
    html = (tmp_path / "out" / "audit.html").read_text(encoding="utf-8")
    assert html.count("This card could not be built") == 1
    assert (
        "This card could not be built (internal error: TypeError: unsupported operand); "
        "the product's data is in audit.json." in html
    )
    assert html.endswith("</html>")


def test_json_safe_makes_what_json_cannot_hold_plain() -> None:
    value = {"a": float("nan"), "b": [float("inf"), 1.5, {"c": Path("x")}], "d": (1, None)}
    assert report._json_safe(value) == {"a": None, "b": [None, 1.5, {"c": "x"}], "d": [1, None]}
