"""The vectorized preprocessing steps give what the slower algorithms they replace gave."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pipeline.sources.ocr_prep import _closing, _fill_small_holes, dark_ground_mask


def _grid(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def test_fill_small_holes_fills_enclosed_holes_up_to_the_area() -> None:
    mask = _grid(
        [
            "#####.....",
            "#.#.#.###.",
            "#####.#.#.",
            "......###.",
            "#######...",
            "#.....#...",
            "#######...",
        ]
    )
    # holes: two of 1 pixel (top left box), one of 1 (right box), one of 5 (bottom box);
    # the ground touching the edges is no hole
    assert _fill_small_holes(mask, 1).sum() == mask.sum() + 3
    filled = _fill_small_holes(mask, 5)
    assert filled.sum() == mask.sum() + 8
    assert filled[5, 1:6].all() and not filled[3, 0] and not filled[0, 9]


def test_fill_small_holes_is_binary_fill_holes_with_a_size_limit() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        mask = rng.random((30, 41)) > 0.45
        for max_area in (1, 4, 50):
            holes = ndimage.binary_fill_holes(mask) & ~mask
            labels, n = ndimage.label(holes)
            areas = np.bincount(labels.ravel(), minlength=n + 1)
            small = areas <= max_area
            small[0] = False
            assert np.array_equal(_fill_small_holes(mask, max_area), mask | small[labels])


def test_closing_in_the_mask_box_is_the_whole_image_closing() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        mask = np.zeros((60, 70), dtype=bool)
        r, c = rng.integers(0, 49, size=2)
        mask[r : r + 12, c : c + 15] = rng.random((12, 15)) > 0.3
        for size in (3, 5, 7):
            whole = ndimage.minimum_filter(
                ndimage.maximum_filter(mask.astype(np.uint8), size=size, mode="nearest"),
                size=size,
                mode="nearest",
            ).astype(bool)
            assert np.array_equal(_closing(mask, size), whole)
    assert not _closing(np.zeros((5, 5), dtype=bool), 3).any()


def test_dark_ground_mask_takes_a_dark_bar_with_its_letters() -> None:
    arr = np.full((200, 300), 240.0, dtype=np.float32)
    arr[20:60, 10:290] = 20.0  # a dark heading bar
    arr[30:50, 40:44] = 230.0  # a light letter stroke in it
    arr[120:124, 50:54] = 21.0  # a dark speck on the light ground (too small a ground)
    mask = dark_ground_mask(arr)
    assert mask.sum() == 40 * 280
    assert mask[20:60, 10:290].all() and not mask[120:124, 50:54].any()
