"""Shared fixtures, and the kind of each test from its folder: tests/unit, tests/integration,
tests/accuracy and tests/browser mark their tests `unit`, `integration`, `accuracy` and
`browser` (so `pytest -m "not accuracy"` works from anywhere). Tests marked `ocr` run the
real Tesseract: skipped with a reason when it is not installed, except in CI (env CI set),
where they run and fail without it. Builders are in builders.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labelgen.pdf_layouts import render_pdf
from labelgen.products import sample_product
from pipeline.validate import Validator

KINDS = ("unit", "integration", "accuracy", "browser")
NO_TESSERACT = pytest.mark.skip(
    reason="tesseract-ocr is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip_ocr = shutil.which("tesseract") is None and not os.environ.get("CI")
    for item in items:
        kind = Path(str(item.path)).parent.name
        if kind in KINDS:
            item.add_marker(kind)
        if skip_ocr and item.get_closest_marker("ocr"):
            item.add_marker(NO_TESSERACT)


@pytest.fixture(scope="session")
def bone_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bone-matrix sample product as a ruled text PDF."""
    path = tmp_path_factory.mktemp("bone") / "ruled-bone-matrix.pdf"
    render_pdf([sample_product("sample-bone-matrix")], path, "ruled")
    return path


@pytest.fixture(scope="session")
def validator() -> Validator:
    """The GX validator (its suites built once for the whole run)."""
    return Validator()
