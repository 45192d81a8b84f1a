"""Pixel operations for OCR: grayscale loading, Otsu threshold, skew and text line
height by projection profiles, table rules removed, the ink's bounding box."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

#: Skew search range and steps (degrees).
MAX_SKEW = 5.0
SKEW_STEP = 0.5
SKEW_FINE_STEP = 0.1


# --- preprocessing ------------------------------------------------------------------


def to_gray(image: Image.Image) -> Image.Image:
    """Grayscale with EXIF orientation applied and transparency flattened on white."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        image = background
    if image.mode == "I;16" or image.mode.startswith("I;16"):
        arr = np.asarray(image, dtype=np.float64)
        return Image.fromarray((arr / max(arr.max(), 1.0) * 255).astype(np.uint8))
    return image.convert("L")


def otsu_threshold(gray: np.ndarray) -> int:
    """Otsu's threshold of an 8-bit grayscale array."""
    if gray.dtype == np.uint8 and gray.ndim == 2 and gray.size:
        # PIL's histogram counts the same without widening every pixel to 64 bits
        hist = np.array(Image.fromarray(gray).histogram(), dtype=np.float64)
    else:
        hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128
    levels = np.arange(256, dtype=np.float64)
    weight0 = np.cumsum(hist)
    mean0 = np.cumsum(hist * levels)
    weight1 = total - weight0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean0[-1] * weight0 / total - mean0) ** 2 / (weight0 * weight1)
    between = np.nan_to_num(between, nan=0.0, posinf=0.0)
    return int(np.argmax(between))


def flatten_lighting(gray: Image.Image) -> Image.Image:
    """Divide out uneven lighting (the paper's brightness, block by block) when the
    background brightness varies by more than a fifth across the image."""
    small = gray.reduce(max(1, min(gray.size) // 256)) if min(gray.size) > 256 else gray
    arr = np.asarray(small, dtype=np.float64)
    blocks = 16
    h, w = arr.shape
    if h < blocks or w < blocks:
        return gray
    bh, bw = h // blocks, w // blocks
    grid = np.empty((blocks, blocks))
    for r in range(blocks):
        for c in range(blocks):
            grid[r, c] = np.percentile(arr[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw], 95)
    bright = grid[grid > 0.25 * grid.max()]
    if bright.size == 0 or bright.max() - bright.min() <= 0.2 * bright.max():
        return gray
    background = Image.fromarray(np.clip(grid, 1, 255).astype(np.uint8)).resize(
        gray.size, Image.Resampling.BILINEAR
    )
    bg = np.asarray(background, dtype=np.float64)
    norm = np.asarray(gray, dtype=np.float64) / np.maximum(bg, 1.0) * 255.0
    return Image.fromarray(np.clip(norm, 0, 255).astype(np.uint8))


def _score_angle(ys: np.ndarray, xs: np.ndarray, angle: float) -> np.ndarray:
    """Rows of ink when the page is turned back by `angle` (a projection profile)."""
    proj = ys + xs * math.tan(math.radians(angle))
    return np.bincount(np.round(proj - proj.min()).astype(np.int64))


def estimate_skew(ink: np.ndarray) -> tuple[float, float | None]:
    """The angle (degrees, counter-clockwise) the text lines are rotated by, and the
    text line height (pixels), from a projection-profile search over
    -MAX_SKEW..MAX_SKEW: the angle at which the ink falls into the fewest, darkest
    rows. The height is the median band of rows holding ink at that angle."""
    ys, xs = np.nonzero(ink)
    if ys.size < 50:
        return 0.0, None
    ys_f = ys.astype(np.float64)
    xs_f = xs.astype(np.float64) - xs.mean()

    def score(angle: float) -> float:
        return float(np.sum(_score_angle(ys_f, xs_f, angle).astype(np.float64) ** 2))

    coarse = np.arange(-MAX_SKEW, MAX_SKEW + 1e-9, SKEW_STEP)
    best = float(max(coarse, key=score))
    fine = np.arange(best - SKEW_STEP, best + SKEW_STEP + 1e-9, SKEW_FINE_STEP)
    angle = round(float(max(fine, key=score)), 2)
    profile = _score_angle(ys_f, xs_f, angle)
    return angle, line_height(profile > max(2, ink.shape[1] // 400))


def line_height(rows: np.ndarray) -> float | None:
    """The median height of the bands of consecutive True rows (text lines)."""
    padded = np.concatenate(([False], rows.astype(bool), [False])).astype(np.int8)
    diff = np.diff(padded)
    heights = np.nonzero(diff == -1)[0] - np.nonzero(diff == 1)[0]
    heights = heights[heights >= 3]  # rules and specks are not text lines
    return float(np.median(heights)) if heights.size else None


def _runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """The pixels of `mask` (2-D bool) in horizontal runs at least `min_len` long: a
    morphological opening with a 1 x min_len line (running min then max filters)."""
    if min_len <= 1:
        return mask.astype(bool)
    binary = mask.dtype == np.bool_
    # a bool mask is filtered as its bytes (0 and 1), not copied to uint8 and back
    m = mask.view(np.uint8) if binary else mask.astype(np.uint8)
    eroded = ndimage.minimum_filter1d(m, min_len, axis=1, mode="constant", cval=0)
    origin = 0 if min_len % 2 else -1  # the erosion's window, mirrored
    opened = ndimage.maximum_filter1d(
        eroded, min_len, axis=1, mode="constant", cval=0, origin=origin
    )
    return opened.view(np.bool_) if binary else opened.astype(bool)


def _close_gaps(mask: np.ndarray, gap: int) -> np.ndarray:
    """`mask` with horizontal gaps of at most `gap` pixels between two runs filled."""
    if gap <= 0:
        return mask
    h, w = mask.shape
    padded = np.zeros((h, w + 2 * (gap + 1)), dtype=bool)
    padded[:, gap + 1 : gap + 1 + w] = mask
    filled = ~_runs(~padded, gap + 1)  # gaps of gap+1 or more stay open
    return filled[:, gap + 1 : gap + 1 + w]


def _rules(ink: np.ndarray, line_px: float) -> np.ndarray:
    """Horizontal rules in `ink`, solid or dashed: pieces longer than most letter
    strokes, joined over short gaps into a run longer than a long word."""
    pieces = _runs(_close_gaps(ink, 2), max(8, round(0.9 * line_px)))
    joined = _close_gaps(pieces, round(1.5 * line_px))
    return _runs(joined, max(40, round(6 * line_px))) & pieces


def remove_rules(ink: np.ndarray, line_px: float) -> np.ndarray:
    """`ink` without table rules (horizontal ones solid or dashed, vertical ones taller
    than two text lines): Tesseract misreads text lines that touch them. Where a
    letter crosses a rule (a descender), the crossing is kept: only rule pixels whose
    ink across the rule is thinner than 0.3 text lines go. Thicker rules (a heavy
    bar) stay whole: Tesseract ignores those itself."""
    thin = max(3, round(0.3 * line_px))
    horizontal = _rules(ink, line_px)
    vertical = _runs(np.ascontiguousarray(ink.T), max(10, round(2 * line_px))).T
    grown_h = horizontal.copy()  # one pixel more across the rule: its anti-aliased fringe
    grown_h[1:, :] |= horizontal[:-1, :]
    grown_h[:-1, :] |= horizontal[1:, :]
    grown_v = vertical.copy()
    grown_v[:, 1:] |= vertical[:, :-1]
    grown_v[:, :-1] |= vertical[:, 1:]
    tall = _near_rules(ink.T, grown_h.T, thin).T  # ink more than `thin` high
    wide = _near_rules(ink, grown_v, thin)
    # a & ~b as a > b (bools): the same pixels, fewer temporary images
    cut = np.greater(grown_h, tall)
    cut |= np.greater(grown_v, wide)
    return np.greater(ink, cut)


def _near_rules(ink: np.ndarray, rules: np.ndarray, thin: int) -> np.ndarray:
    """`_runs(ink, thin)` (runs along axis 1) where it is needed: in the columns that hold
    a pixel of `rules` (False elsewhere). Each stretch of such columns is measured with
    `thin` columns of context either side, so the runs that cross it are exact; a page
    without rules costs nothing."""
    out = np.zeros(ink.shape, dtype=bool)
    cols = np.flatnonzero(rules.any(axis=0))
    if cols.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(cols) > 2 * thin)
    for first, last in zip(
        np.concatenate(([cols[0]], cols[breaks + 1])),
        np.concatenate((cols[breaks], [cols[-1]])),
        strict=True,
    ):
        lo, hi = max(0, int(first) - thin), min(ink.shape[1], int(last) + thin + 1)
        out[:, lo:hi] = _runs(np.ascontiguousarray(ink[:, lo:hi]), thin)
    return out


def _ink(gray: Image.Image) -> np.ndarray:
    arr = np.asarray(gray)
    return arr < otsu_threshold(arr)


def _bbox(ink: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """The box around the ink (at least 2 ink pixels a row/column) plus `margin`."""
    rows = np.nonzero(ink.sum(axis=1) >= 2)[0]
    cols = np.nonzero(ink.sum(axis=0) >= 2)[0]
    h, w = ink.shape
    if not rows.size or not cols.size:
        return 0, 0, w, h
    return (
        max(0, int(cols[0]) - margin),
        max(0, int(rows[0]) - margin),
        min(w, int(cols[-1]) + 1 + margin),
        min(h, int(rows[-1]) + 1 + margin),
    )
