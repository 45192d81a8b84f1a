"""Preprocessing of label images for OCR: what survives real labels.

Product-page images and photos of bottles are not scans of black text on white paper:
the panel is boxed and ruled, printed white on a dark or coloured ground (a wrap mixes
both), lit unevenly, headed by text three times the size of its rows, and often only a
few hundred pixels wide. Each step here is a function of pixels to pixels (numpy and
scipy.ndimage; no OCR engine involved):

1. `normalize_polarity`: the local background of every part of the image (the median
   of its block, blocks about 1/24 of the image) says whether that part is printed dark
   on light or light on dark; the dark-ground parts are inverted, so the whole image is
   dark text on a light ground. Then the lighting is flattened: each pixel divided by
   its neighbourhood's background (a bright percentile, smoothed), which also turns a
   coloured or graded ground white.
2. `ink_components`: the binarized ink (Otsu on the flattened image) split into
   connected components. Box edges, table rules, filled blocks and pictures are told
   from letters by their shape (long and thin, or large and hollow, or large and
   filled) and are dropped before anything is measured.
3. `text_height`: the median height of the letter-like components, which is the size
   of the panel's body text (a panel has many more small letters than heading letters:
   the heading no longer sets the scale).
4. The image is scaled so that this height is `TARGET_TEXT_PX` (the size Tesseract
   reads best; small web images are upscaled up to `MAX_UPSCALE`), and binarized again
   at that scale with the non-text components removed.

`analyse` returns the measurements (text height, how much of the image was inverted)
so the caller can say why an image cannot be read ("panel text 5 px high").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from pipeline.sources.ocr_pixels import _bbox, estimate_skew, otsu_threshold, remove_rules

#: The median height (pixels) of a letter of the panel's text that OCR reads best: about
#: a 10 pt cap height at 300 dpi. Images are scaled so their body text reaches it.
#: Measured against 21 px with the panel reader's rules of this release (the real-label
#: dev set: protocol fields 21/26 against 19/26, rows 105/132 both; 21 px lost a
#: softgel panel's serving size and its take-with-food line), though 21 px costs a third
#: fewer pixels to preprocess and OCR.
TARGET_TEXT_PX = 26.0
#: The letter heights of further readings, when one leaves panel rows unread: the same
#: font can be misread at one scale and read at another ("{0" for "10" at 26 px, "10"
#: at 30 px), so an image with unread rows is read again at these sizes in turn and the
#: best reading is kept (`pipeline.sources.ocr.read_image`).
RETRY_TEXT_PX: tuple[float, ...] = (32.0, 21.0)
#: Upscaling stops here (a 6 px text would need more, and is not readable anyway).
MAX_UPSCALE = 4.0
#: Downscaling stops here (a close-up photo).
MIN_SCALE = 0.35
#: A scale within this share of 1 is left as 1 (the image is not resized for so little).
SAME_SCALE = 0.08
#: Body text smaller than this (pixels, median letter height) cannot be read.
MIN_READABLE_PX = 6.0
#: Analysis is done on a copy at most this many pixels on its long side.
ANALYSIS_SIDE = 1200
#: A block is "dark ground" when its median is below this share of the brightest blocks.
DARK_GROUND = 0.5


@dataclass(frozen=True)
class Analysis:
    """What the measuring pass found in one page image (in its own pixels)."""

    text_px: float | None  # median letter height of the text, None when no text found
    inverted_share: float  # share of the image that was light on dark
    letters: int  # letter-like components counted
    dark: np.ndarray  # the dark-ground mask, at the analysis copy's size
    noisy: bool = False  # many specks (a scan's noise): worth a median filter
    ink: np.ndarray | None = None  # the ink (`page_masks`), at the analysis copy's size
    factor: float = 1.0  # the analysis copy's size over the image's


def _block_grid(arr: np.ndarray, blocks: int, q: float) -> np.ndarray:
    """The q-th percentile of each of about blocks x blocks tiles of `arr`."""
    h, w = arr.shape
    bh = max(1, h // blocks)
    bw = max(1, w // blocks)
    nh, nw = max(1, h // bh), max(1, w // bw)
    tiles = arr[: nh * bh, : nw * bw].reshape(nh, bh, nw, bw).transpose(0, 2, 1, 3)
    return np.percentile(tiles.reshape(nh, nw, -1), q, axis=2)


def _upsample(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(grid.astype(np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def component_areas(labels: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Pixels of each of the `n` components of `labels` (`ndimage.label` of `mask`), by
    id (index 0, the background, counts none): counted over the mask's pixels only,
    which is the same as `np.bincount(labels.ravel())` without its background."""
    return np.bincount(labels[mask], minlength=n + 1)


def of_components(flags: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`flags[labels]` (bool, one flag a component id) where `labels` is the labelling
    of `mask`, False off the mask: looked up at the mask's pixels only (`flags[0]`, the
    background's, must be False, as it is read nowhere)."""
    out = np.zeros(labels.shape, dtype=bool)
    out[mask] = flags[labels[mask]]
    return out


def dark_ground_mask(arr: np.ndarray) -> np.ndarray:
    """True where the ground is dark (light text on dark), pixel by pixel: the large
    connected dark areas of the image (a dark background, a heading bar, a dark panel)
    together with the small light areas they enclose (their letters). Large light areas
    a dark area encloses (a white panel inside a black frame) are light ground; so are
    a thin frame or rule (large, but enclosing no letters), which only turn white."""
    h, w = arr.shape
    level = otsu_threshold(arr.astype(np.uint8))
    dark = arr < level
    labels, n = ndimage.label(dark, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return dark
    areas = component_areas(labels, dark, n)
    slices = ndimage.find_objects(labels)
    min_side = 0.06 * min(h, w)
    heights = np.array([sl[0].stop - sl[0].start for sl in slices])
    widths = np.array([sl[1].stop - sl[1].start for sl in slices])
    # a ground: a large dark area, long one way (a heading bar is wide, not tall)
    big = np.concatenate(
        (
            [False],
            (areas[1:] >= 0.004 * h * w)
            & (np.maximum(heights, widths) >= 2 * min_side)
            & (np.minimum(heights, widths) >= 0.25 * min_side),
        )
    )
    ground = of_components(big, labels, dark)
    if not ground.any():
        return ground
    # light strokes narrower than `size` inside the dark ground (letters, and the thin
    # light rules between rows that letters touch) go with it: a closing
    size = max(5, round(0.012 * min(h, w))) | 1
    ground |= _closing(ground, size)
    return _fill_small_holes(ground, 0.002 * h * w + 50)


def _closing(mask: np.ndarray, size: int) -> np.ndarray:
    """The closing of `mask` by a `size` x `size` square (maximum then minimum filter,
    edges `nearest`), computed in the box around the mask's pixels widened by `size`+1
    (outside it the dilation is empty already, so the result is the same everywhere)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    out = np.zeros(mask.shape, dtype=bool)
    if rows.size == 0:
        return out
    pad = size + 1
    r0, r1 = max(0, int(rows[0]) - pad), min(mask.shape[0], int(rows[-1]) + pad + 1)
    c0, c1 = max(0, int(cols[0]) - pad), min(mask.shape[1], int(cols[-1]) + pad + 1)
    part = mask[r0:r1, c0:c1].astype(np.uint8)
    grown = ndimage.maximum_filter(part, size=size, mode="nearest")
    out[r0:r1, c0:c1] = ndimage.minimum_filter(grown, size=size, mode="nearest").astype(bool)
    return out


def _fill_small_holes(mask: np.ndarray, max_area: float) -> np.ndarray:
    """`mask` with its holes of at most `max_area` pixels filled: the 4-connected parts
    of the rest that touch no edge of the image (what `ndimage.binary_fill_holes` fills),
    labelled once."""
    light = ~mask
    labels, n = ndimage.label(light)
    if n == 0:
        return mask
    small = component_areas(labels, light, n) <= max_area
    small[0] = False
    edges = np.concatenate((labels[0], labels[-1], labels[:, 0], labels[:, -1]))
    small[edges] = False
    return mask | of_components(small, labels, light)


def normalize_polarity(
    gray: np.ndarray, dark: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """`gray` (uint8) as dark text on a white ground everywhere: dark-ground parts
    inverted (`dark`, measured by `dark_ground_mask` when not given), then lighting
    flattened. Returns the image, the inverted share and the dark-ground mask."""
    arr = gray.astype(np.float32)
    if dark is None:
        dark = dark_ground_mask(arr)
    share = float(dark.mean())
    if share > 0:
        arr = np.where(dark, 255.0 - arr, arr)
    # the ground's brightness, locally: a bright percentile of each block, smoothed
    bg = _block_grid(arr, 24, 90)
    bg = ndimage.grey_dilation(bg, size=3)
    bg = ndimage.uniform_filter(bg, size=3, mode="nearest")
    ground = np.maximum(_upsample(bg, arr.shape), 1.0)
    flat = np.clip(arr / ground * 255.0, 0, 255)
    return flat.astype(np.uint8), share, dark


#: Faint print: a block whose darkest ink is at least this many grey levels darker than
#: its ground holds print (or a picture); less is noise (JPEG) and stays as it is.
MIN_CONTRAST = 40.0
#: Faint print is darkened until its darkest ink is this many levels below white.
STRETCH_DEPTH = 215.0


def stretch_contrast(flat: np.ndarray) -> np.ndarray:
    """`flat` (uint8, dark text on white: lighting flattened) with faint print (light
    grey or gold text) darkened: in each of 24 x 24 blocks the depth of the darkest ink
    below white (its 1st percentile) is measured; where it is at least MIN_CONTRAST, the
    darkness of every pixel is multiplied so that this depth becomes STRETCH_DEPTH
    (never lightened: ordinary print stays as it is). The gain is interpolated between
    blocks."""
    arr = flat.astype(np.float32)
    depth = 255.0 - _block_grid(arr, 24, 1)
    gain = np.where(depth >= MIN_CONTRAST, np.maximum(1.0, STRETCH_DEPTH / np.maximum(depth, 1)), 1)
    out = 255.0 - (255.0 - arr) * _upsample(gain, arr.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def binarize(flat: np.ndarray) -> np.ndarray:
    """Ink of a flattened image: Otsu, but never above 200 (a page with little ink)
    nor below 90. (Measured against a per-block threshold halfway to each block's
    darkest ink: that kept faint grey text but broke up white-on-dark letters; 19 rows
    against 32 on the real-label dev set.)"""
    t = min(200, max(90, otsu_threshold(flat)))
    return flat < t


@dataclass(frozen=True)
class Components:
    """Connected components of an ink mask and which of them are letters."""

    labels: np.ndarray  # component id per pixel (0 = background)
    heights: np.ndarray  # per component (index id-1)
    widths: np.ndarray
    letter: np.ndarray  # bool per component: letter-like
    drop: np.ndarray  # bool per component: a rule, box edge, picture or speck
    fill: np.ndarray  # share of its box the component's ink covers


def ink_components(ink: np.ndarray) -> Components:
    """The ink's components (8-connected) classified by shape."""
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        empty = np.zeros(0)
        return Components(labels, empty, empty, empty.astype(bool), empty.astype(bool), empty)
    slices = ndimage.find_objects(labels)
    heights = np.array([s[0].stop - s[0].start for s in slices], dtype=np.float64)
    widths = np.array([s[1].stop - s[1].start for s in slices], dtype=np.float64)
    areas = component_areas(labels, ink, n)[1:].astype(np.float64)
    fill = areas / np.maximum(heights * widths, 1.0)
    h = ink.shape[0]
    # first guess of the text size: the median of mid-sized, reasonably filled blobs
    plausible = (
        (heights >= 4)
        & (heights <= h / 6)
        & (widths <= 3.0 * heights)
        & (widths >= 0.08 * heights)
        & (fill >= 0.1)
    )
    guess = float(np.median(heights[plausible])) if plausible.any() else 10.0
    # rules: far longer than a letter and thin (an "l" or a dash is not)
    thin_h = (
        (widths >= 8 * np.maximum(heights, 1))
        & (widths >= 3 * guess)
        & (heights <= max(3.0, 0.8 * guess))
    )
    thin_v = (
        (heights >= 6 * np.maximum(widths, 1))
        & (heights >= 2.5 * guess)
        & (widths <= max(3.0, 0.35 * guess))
    )
    big = (heights > 5 * guess) | (widths > 25 * guess)
    hollow = big & (fill < 0.2)  # a box, a frame
    blob = big & (fill >= 0.2)  # a picture, a logo, a filled bar
    speck = (heights < max(2.0, 0.15 * guess)) & (widths < max(2.0, 0.15 * guess))
    drop = thin_h | thin_v | hollow | blob | speck | _dashes(slices, heights, widths, guess)
    letter = (
        ~drop
        & (heights >= max(3.0, 0.4 * guess))
        & (heights <= 3.5 * guess)
        & (widths <= 2.5 * heights)
        & (fill >= 0.12)
    )
    return Components(labels, heights, widths, letter, drop, fill)


def _dashes(
    slices: list[tuple[slice, slice]], heights: np.ndarray, widths: np.ndarray, guess: float
) -> np.ndarray:
    """Flat pieces (a dash's shape) of which at least DASH_RUN sit on one row: what is
    left of a dashed or broken rule. A hyphen in text has no such row of twins."""
    flat = (heights <= max(3.0, 0.35 * guess)) & (widths >= np.maximum(3.0, 2.5 * heights))
    out = np.zeros(heights.shape, dtype=bool)
    if flat.sum() < DASH_RUN:
        return out
    idx = np.nonzero(flat)[0]
    centre = np.array([(slices[i][0].start + slices[i][0].stop) / 2 for i in idx])
    band = np.round(centre / max(2.0, 0.3 * guess)).astype(np.int64)
    for b in np.unique(band):
        members = idx[(band >= b - 1) & (band <= b + 1)]
        if members.size >= DASH_RUN:
            out[members] = True
    return out


#: Flat pieces on one row that make a broken rule.
DASH_RUN = 6


def text_height(comps: Components) -> float | None:
    """Median height of the letter-like components; None when fewer than 12."""
    if comps.letter.sum() < 12:
        return None
    return float(np.median(comps.heights[comps.letter]))


def _to_analysis(gray: Image.Image) -> tuple[np.ndarray, float]:
    side = max(gray.size)
    factor = 1.0
    if side > ANALYSIS_SIDE:
        factor = ANALYSIS_SIDE / side
        size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
        gray = gray.resize(size, Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.uint8), factor


def page_masks(
    gray: Image.Image, faint: bool = False
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The ink of a page image at the analysis scale (`ANALYSIS_SIDE`): polarity and
    lighting normalized, faint print darkened when `faint`, binarized. Returns the ink,
    the inverted share, the dark-ground mask and the analysis scale's factor."""
    arr, factor = _to_analysis(gray)
    flat, share, dark = normalize_polarity(arr)
    if faint:
        flat = stretch_contrast(flat)
    return binarize(flat), share, dark, factor


def analyse(gray: Image.Image, faint: bool = False) -> Analysis:
    """Measure a page image: text height (in the image's own pixels) and inversion;
    `faint`: with faint print darkened first (`stretch_contrast`)."""
    ink, share, dark, factor = page_masks(gray, faint)
    comps = ink_components(ink)
    height = text_height(comps)
    return Analysis(
        text_px=None if height is None else height / factor,
        inverted_share=share,
        letters=int(comps.letter.sum()),
        dark=dark,
        noisy=bool(((comps.heights <= 2) & (comps.widths <= 2)).sum() > 0.3 * comps.letter.sum()),
        ink=ink,
        factor=factor,
    )


def scale_for(text_px: float | None, target: float = TARGET_TEXT_PX) -> float:
    """The factor that brings `text_px` to `target` (TARGET_TEXT_PX), within the limits."""
    if text_px is None or text_px <= 0:
        return 1.0
    scale = target / text_px
    scale = min(MAX_UPSCALE, max(MIN_SCALE, scale))
    return 1.0 if abs(scale - 1.0) < SAME_SCALE else scale


def _flatten(gray: Image.Image, measured: Analysis, faint: bool) -> np.ndarray:
    """`gray` as dark text on white (`normalize_polarity`), faint print darkened when
    `faint`. The dark ground is measured again at this scale where there is one (its
    edges must fall between letters, pixel for pixel); a page with none skips that."""
    dark = None if measured.dark.any() else np.zeros((gray.height, gray.width), dtype=bool)
    flat, _, _ = normalize_polarity(np.asarray(gray, dtype=np.uint8), dark)
    return stretch_contrast(flat) if faint else flat


def clean_page(
    gray: Image.Image, scale: float, measured: Analysis, faint: bool = False
) -> tuple[np.ndarray, float]:
    """The page at `scale` as ink (bool): polarity normalized, lighting flattened,
    faint print darkened when `faint` (`stretch_contrast`), deskewed (`estimate_skew`),
    table rules removed (`remove_rules`), then box edges, pictures and specks dropped
    by shape. Returns the ink and the skew undone."""

    # a scan's specks, enlarged with the image, would break letters apart: a median
    # filter where the analysis found many (it also thins a small clean image's
    # strokes, so only there), before enlarging where the text is large (cheaper)
    early = measured.noisy and measured.text_px is not None and measured.text_px >= 14
    if early:
        gray = gray.filter(ImageFilter.MedianFilter(3))
    if scale != 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
        gray = gray.resize(size, resample)
    if measured.noisy and not early:
        gray = gray.filter(ImageFilter.MedianFilter(3))
    flat_arr = _flatten(gray, measured, faint)
    ink = binarize(flat_arr)
    factor = max(1, max(ink.shape) // 1200)
    small = ink[::factor, ::factor]
    skew, _ = estimate_skew(small)
    if abs(skew) >= 0.1:
        flat = Image.fromarray(flat_arr).rotate(
            -skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255
        )
        flat_arr = np.asarray(flat, dtype=np.uint8)
        ink = binarize(flat_arr)
    # rules that touch letters are one component with them: cut them out by their runs
    # first, then drop what is left of boxes, bars, pictures and specks by shape
    # solid bars and frames alone first (cutting a thick bar by its runs leaves dashes)
    comps = ink_components(ink)
    solid = np.concatenate(([False], comps.drop & (comps.fill >= 0.6)))
    ink = ink & ~of_components(solid, comps.labels, ink)
    text_px = measured.text_px
    line_px = 1.4 * (text_px * scale if text_px else TARGET_TEXT_PX)
    ink = remove_rules(ink, line_px)
    comps = ink_components(ink)
    if comps.drop.any():
        drop_ids = np.concatenate(([False], comps.drop))
        ink = ink & ~of_components(drop_ids, comps.labels, ink)
    return ink, skew


@dataclass(frozen=True)
class Prepared:
    """A page ready for Tesseract and how its pixels map back to points."""

    image: Image.Image
    dpi: float  # pixels per inch of `image`
    offset: tuple[float, float]  # where `image` starts in the page, in `dpi` pixels
    skew: float
    text_px: float | None = None  # median letter height measured in the page as given


def preprocess(
    gray: Image.Image,
    dpi: float,
    target: float = TARGET_TEXT_PX,
    faint: bool = False,
    measured: Analysis | None = None,
) -> Prepared:
    """Measure the text (`analyse`, unless `measured` gives it), scale it to `target` px
    (the size OCR reads best), normalize polarity and lighting (and darken faint print
    when `faint`), deskew, remove rules, boxes, pictures and specks, binarize and crop to
    the ink."""
    if measured is None:
        measured = analyse(gray, faint)
    scale = scale_for(measured.text_px, target)
    ink, skew = clean_page(gray, scale, measured, faint)
    x0, y0, x1, y1 = _bbox(ink, 24)
    binary = Image.fromarray(np.where(ink[y0:y1, x0:x1], 0, 255).astype(np.uint8)).convert("1")
    return Prepared(binary, dpi * scale, (float(x0), float(y0)), skew, measured.text_px)
