"""The vectorized preprocessing steps give what the slower algorithms they replace gave."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pipeline.sources.ocr_pixels import _runs, otsu_threshold, remove_rules
from pipeline.sources.ocr_prep import (
    _closing,
    _fill_small_holes,
    component_areas,
    dark_ground_mask,
    of_components,
)


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


def test_component_areas_and_flags_are_read_at_the_mask_pixels() -> None:
    mask = _grid(["##..#", "#...#", "..#..", "....#"])
    labels, n = ndimage.label(mask)
    assert n == 4
    assert component_areas(labels, mask, n).tolist() == [0, 3, 2, 1, 1]
    flags = np.array([False, True, False, True, False])
    assert np.array_equal(of_components(flags, labels, mask), flags[labels])
    assert of_components(flags, labels, mask).sum() == 4


def test_otsu_of_a_2d_uint8_array_is_the_bincount_threshold() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        gray = np.clip(rng.normal(rng.integers(60, 200), 40, size=(37, 53)), 0, 255)
        gray = gray.astype(np.uint8)
        # the same pixels as a 1-d array take the bincount path
        assert otsu_threshold(gray) == otsu_threshold(gray.ravel())
    gray = np.array([[10, 10, 200, 200], [10, 12, 198, 200]], dtype=np.uint8)
    assert otsu_threshold(gray) == 12


def test_runs_of_a_bool_mask_are_the_runs_of_its_uint8_copy() -> None:
    mask = _grid(["###.####.", "..#####..", "#.#.#.#.#"])
    assert _runs(mask, 4).astype(int).tolist() == [
        [0, 0, 0, 0, 1, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    rng = np.random.default_rng(11)
    big = rng.random((20, 60)) > 0.3
    for length in (2, 3, 6):
        assert np.array_equal(_runs(big, length), _runs(big.astype(np.uint8), length))


def test_remove_rules_cuts_a_rule_but_keeps_a_stroke_across_it() -> None:
    ink = np.zeros((40, 120), dtype=bool)
    ink[20:22, 5:115] = True  # a rule, 2 px thick
    ink[10:30, 50:53] = True  # a stroke crossing it
    ink[5:9, 80:84] = True  # a letter's dot above it
    out = remove_rules(ink, 10.0)
    # the rule goes (with no fringe to take), the stroke stays whole, the dot stays
    assert out.sum() == 20 * 3 + 16
    assert out[10:30, 50:53].all() and out[5:9, 80:84].all() and not out[20:22, 5:50].any()
