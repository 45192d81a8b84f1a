"""Finding the panel on a label image (`pipeline.sources.ocr_locate`) and darkening
faint print (`ocr_prep.stretch_contrast`): pure functions of pixels, exact values."""

from __future__ import annotations

import numpy as np

from pipeline.records import Word
from pipeline.sources import ocr_locate as loc
from pipeline.sources.ocr_locate import PanelRegion
from pipeline.sources.ocr_prep import stretch_contrast

HEAD = (60.0, 30.0, 200.0, 45.0)  # x0, top, x1, bottom: a heading 15 px high


def _heading(ink: np.ndarray, x0: int, top: int, x1: int, bottom: int) -> None:
    for x in range(x0, x1, 14):
        ink[top:bottom, x : x + 10] = True  # heading letters


def _rows(ink: np.ndarray, x0: int, x1: int, top: int, bottom: int) -> None:
    for y in range(top, bottom, 12):
        for x in range(x0, x1, 8):
            ink[y : y + 6, x : x + 5] = True  # letters of a row


def boxed_panel() -> np.ndarray:
    """A 2 px box (x 50..250, y 20..181) holding a heading and rows."""
    ink = np.zeros((200, 300), dtype=bool)
    ink[20:22, 50:251] = ink[180:182, 50:251] = True
    ink[20:182, 50:52] = ink[20:182, 249:251] = True
    _heading(ink, 60, 30, 200, 45)
    _rows(ink, 60, 240, 60, 170)
    return ink


def test_a_boxed_panel_is_the_inside_of_its_box() -> None:
    ink = boxed_panel()
    dark = np.zeros_like(ink)
    assert loc.boxed_region(ink, dark, HEAD) == PanelRegion(51, 21, 250, 182, boxed=True)
    assert loc.panel_region(ink, dark, HEAD) == PanelRegion(51, 21, 250, 182, boxed=True)


def test_a_light_panel_on_a_dark_wrap_is_bounded_by_the_dark_ground() -> None:
    ink = np.zeros((200, 300), dtype=bool)
    _heading(ink, 60, 30, 200, 45)
    dark = np.zeros_like(ink)
    dark[:, :40] = dark[:, 260:] = True
    # no row of ink above the heading: the box's top is a heading height above it
    assert loc.boxed_region(ink, dark, HEAD) == PanelRegion(39, 15, 261, 200, boxed=True)


def test_a_panel_without_a_box_is_its_column_up_to_the_gutter() -> None:
    ink = np.zeros((200, 300), dtype=bool)
    _rows(ink, 5, 80, 40, 190)  # directions left of the panel, x 5..81
    _heading(ink, 120, 20, 200, 35)
    _rows(ink, 120, 290, 45, 190)
    head = (120.0, 20.0, 200.0, 35.0)
    assert loc.boxed_region(ink, np.zeros_like(ink), head) is None
    # the 38 px gutter (2 heading heights: 30 px) ends the column; half a heading
    # height of margin (8 px); the column runs to the image's right edge and bottom
    assert loc.column_region(ink, head) == PanelRegion(112, 12, 300, 200, boxed=False)
    assert loc.panel_region(ink, np.zeros_like(ink), head) == PanelRegion(112, 12, 300, 200, False)


def test_a_wide_heading_whose_column_is_the_whole_picture_gives_its_own_width() -> None:
    ink = np.zeros((200, 300), dtype=bool)
    _heading(ink, 20, 10, 160, 40)  # 140 of 300 px wide: at least WIDE_HEADING
    _rows(ink, 20, 140, 50, 190)
    _rows(ink, 150, 296, 60, 190)  # a photo's edge right beside the panel
    head = (20.0, 10.0, 160.0, 40.0)
    assert loc.column_region(ink, head) == PanelRegion(5, 0, 300, 200, boxed=False)
    assert loc.panel_region(ink, np.zeros_like(ink), head) == PanelRegion(17, 7, 163, 200, False)
    assert loc.heading_column((100.0, 10.0, 300.0, 60.0), (400, 500)) == PanelRegion(
        95, 5, 305, 400, boxed=False
    )


def test_regions_below_the_heading_scaled_and_worth_reading_alone() -> None:
    region = PanelRegion(10, 20, 110, 220, boxed=True)
    assert loc.below(region, 40.4) == PanelRegion(10, 41, 110, 220, boxed=True)
    assert region.area == 20_000
    assert loc.worth_reading_alone(region, (300, 300))  # 22% of the image
    assert not loc.worth_reading_alone(region, (200, 120))  # 83%: it is the picture
    assert loc.scaled(region, 0.5, (100, 100)) == PanelRegion(5, 10, 55, 100, boxed=True)


def _word(text: str, x0: float, top: float, x1: float, bottom: float) -> Word:
    return Word(text=text, x0=x0, x1=x1, top=top, bottom=bottom, page=1, confidence=90.0)


def test_heading_spans_run_from_supplement_to_facts() -> None:
    words = [
        _word("Bone", 10, 2, 40, 10),
        _word("Supplement", 10, 20, 80, 32),
        _word("Facts", 86, 21, 120, 33),
        _word("Serving", 10, 40, 40, 46),
    ]
    assert loc.heading_spans(words) == [(10, 20, 120, 33)]
    assert loc.heading_spans(words[:2]) == []


def test_a_word_is_in_or_level_with_a_region_by_its_middle() -> None:
    region = PanelRegion(100, 100, 200, 300, boxed=True)
    # 2 px a point: the word's middle is at (150, 140) px, then (30, 140) px
    assert loc.holds(region, _word("Calcium", 70, 65, 80, 75), 2.0)
    outside = _word("Directions", 10, 65, 20, 75)
    assert not loc.holds(region, outside, 2.0)
    assert loc.level_with(region, outside, 2.0)
    assert not loc.level_with(region, _word("Name", 70, 10, 80, 20), 2.0)


def test_faint_print_is_darkened_and_ordinary_print_and_noise_are_not() -> None:
    page = np.full((240, 240), 255, dtype=np.uint8)
    page[::10, :] = 185  # faint print: 70 levels below white
    page[::10, 120:] = 0  # black print on the right half
    page[5::10, 200:] = 230  # a lighter stroke among the black print
    out = stretch_contrast(page)
    # 70 levels deep becomes STRETCH_DEPTH (215) deep: 255 - 215 = 40
    assert out[0, 0] == 40
    assert out[0, 130] == 0
    assert out[5, 210] == 230  # a block with black print keeps its gain of 1
    assert out[5, 10] == 255  # the ground stays white
    noise = np.full((240, 240), 255, dtype=np.uint8)
    noise[::10, :] = 230  # 25 levels: less than MIN_CONTRAST, JPEG noise
    assert (stretch_contrast(noise) == noise).all()
