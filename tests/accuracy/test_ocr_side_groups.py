"""Two column groups side by side in one image (labelgen.side_groups, like a gummy's
product-page panel): nutrition rows on the left, an ingredient list with its own amounts
on the right, rows not level between the groups. Every amount is read, in both groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgen.side_groups import SIDE_GROUP_ROWS, write_side_groups
from pipeline.sources import ocr
from tests.builders import products_of


@pytest.mark.ocr
def test_each_row_of_both_side_by_side_groups_is_read(tmp_path: Path) -> None:
    image = write_side_groups(tmp_path / "side-groups.png")
    ex = ocr.read_image(image, image.name)
    got = tuple((r.name_raw.split(" (")[0], r.amount_raw, r.unit_raw) for r in ex.rows)
    assert got == SIDE_GROUP_ROWS
    assert ex.issues == ()
    product = products_of(ex).iloc[0]
    assert (product["calcium_mg"], product["magnesium_mg"]) == (20.0, 5.0)
    assert (product["vitamin_d_mcg"], product["vitamin_k2_mcg"]) == (25.0, 90.0)
