"""Read scanned and photographed labels: Tesseract OCR into the panel reader.

Images (png, jpg, jpeg, tif, tiff; every frame of a multi-page TIFF) and PDF pages with
no usable text layer are OCR'd page by page, one `tesseract` call per page:

1. Load: EXIF orientation applied, transparency flattened on white, grayscale. PDF
   pages are rendered at 300 dpi (pypdfium2).
2. Preprocess: uneven lighting flattened (a photo's shadow); skew and text line height
   measured together by a projection-profile search over -5..5 degrees; cropped to
   the ink; small text upscaled so a text line is at least `MIN_LINE_PX` pixels tall
   (huge text downscaled); skew undone; noise removed (median filter); binarized
   (Otsu); table rules removed (solid or dashed; letters crossing them kept).
3. OCR: the `tesseract` command line (TSV output, `--psm 4`, one call per page, one
   thread: files are read in parallel processes already) gives positioned words with
   confidences. Pixels are scaled to points (72 per inch of the page as rendered or
   as the image's dpi says, 300 dpi when it says nothing), so the panel reader's
   tolerances (all relative to word heights) fit as for a text PDF; each word gets
   the height of its line, as a text layer's font box.
4. Repairs: typical misreads of panel values are repaired where they are safe and
   visible (tables `UNIT_REPAIRS`, `CONFUSABLE_DIGITS`, `PERCENT_REPAIRS`,
   `MARK_REPAIRS`, `KEYWORDS`): a unit only right after a number ("500 rng"), a
   digit only inside a token that is otherwise a number right before a unit
   ("1O0 mg"), a "%" or "*" artefact only after an amount, a panel keyword only one
   letter off ("Serming" -> "Serving"). A token that stays ambiguous is left as
   read, so the panel reader reports the amount as unreadable: never a guessed
   number. Each repair is recorded in the row's `LabelRow.repairs` ("meg->mcg").
   Rule remains ("|") and low-confidence punctuation specks are dropped.
5. `pipeline.panel.words_to_labels(..., source_format="image-ocr" | "pdf-ocr")`; the
   panel reader sets `LabelRow.confidence` (lowest word confidence on the line) and
   `Label.ocr_confidence` (mean word confidence of the panel).

The CLI is called directly (no Python binding): it is the only thing pytesseract
would run, and calling it keeps the dependency list, the timeout and the "is it
installed" check in one place. Without it, an image is rejected with
`NEEDS_TESSERACT_IMAGE` and a PDF without text with `NEEDS_TESSERACT_PDF`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
import shutil
import statistics
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from pipeline.errors import LabelError, NeedsOcr, NoPanel, UnreadableFile
from pipeline.panel import words_to_labels
from pipeline.records import FileExtraction, Word, bbox_in_pixels
from pipeline.sources import check_image_pixels, check_pages, check_render_pixels, read_bytes

NEEDS_TESSERACT_IMAGE = "needs OCR: install tesseract-ocr"
NEEDS_TESSERACT_PDF = "needs OCR: install tesseract-ocr (the file has no text layer)"
DAMAGED_IMAGE = "cannot open image: the file is damaged or is not an image"
NO_TEXT = "no text found by OCR"
CANNOT_RENDER = "cannot render the PDF's pages for OCR: the file is damaged"

#: Resolution PDF pages are rendered at, and assumed for an image that gives none.
RENDER_DPI = 300.0
#: A text line shorter than this (pixels, ascender to descender) is upscaled to it.
MIN_LINE_PX = 36.0
#: A text line taller than this is downscaled (a close-up photo: OCR is as good and faster).
MAX_LINE_PX = 90.0
MAX_UPSCALE = 4.0
#: Skew search range and steps (degrees).
MAX_SKEW = 5.0
SKEW_STEP = 0.5
SKEW_FINE_STEP = 0.1
#: Tesseract page segmentation mode 4 (one column of text of varying sizes). Measured
#: against 6 (one uniform block) on the scanned test panels: the same fields right after
#: rule removal, but 4 also finds table lines itself, where 6 misread ruled rows.
PSM = 4
#: Seconds one page may take before OCR gives up on the file.
OCR_TIMEOUT = 180.0
#: A PDF page with fewer text-layer characters than this has no usable text layer.
MIN_TEXT_CHARS = 20

# --- repairs (data) -----------------------------------------------------------------

#: OCR misreads of a unit printed right after a number -> the unit.
UNIT_REPAIRS: dict[str, str] = {
    "meg": "mcg",
    "mcq": "mcg",
    "meq": "mcg",
    "rncg": "mcg",
    "rneg": "mcg",
    "rncq": "mcg",
    "mcy": "mcg",
    "mog": "mcg",
    "pg": "µg",
    "yg": "µg",
    "jig": "µg",
    "µq": "µg",
    "rng": "mg",
    "mq": "mg",
    "rnq": "mg",
    "lU": "IU",
    "1U": "IU",
    "!U": "IU",
    "IlU": "IU",
    "iV": "IU",
    "IV": "IU",
    "lV": "IU",
    "iU": "IU",
}
#: Letters read for digits inside a token that is otherwise a number next to a unit.
CONFUSABLE_DIGITS: dict[str, str] = {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1"}
#: A lone letter read for the digit 0 glued to a mass unit ("Og", "Omg": a nutrition
#: row's zero, the commonest amount of "Total Fat" and its kind): repaired to "0".
ZERO_MISREADS: frozenset[str] = frozenset({"O", "o"})
ZERO_UNITS: frozenset[str] = frozenset({"g", "mg", "mcg"})
#: Misreads of "%" after a %DV number.
PERCENT_REPAIRS: tuple[str, ...] = ("°/o", "º/o", "o/o", "0/0", "%o", "°%", "Yo")
#: Misreads of a footnote mark ("*") printed after an amount ("25 mcg*" or in the %DV
#: column): a lone glyph after "number unit", or the tail of the unit.
MARK_REPAIRS: dict[str, str] = {
    "°": "*",
    "•": "*",
    "·": "*",
    ".": "*",
    "'": "*",
    "’": "*",
    "‘": "*",
    '"': "*",
    "”": "*",
    "“": "*",
    "x": "*",
}
#: Misreads of a dagger ("†": Daily Value not established) or of the arrow some panels
#: print in its place, as a lone token right after "number unit": repaired to "†".
DAGGER_REPAIRS: frozenset[str] = frozenset({"t", "T", "Tt", "tT", "TT", "+", "¢", "f", "ft"})
#: Panel words whose misreads (same length, one letter off; two for long words) are
#: repaired: the words the panel reader keys on, and the protocol nutrients.
KEYWORDS: tuple[str, ...] = (
    "Supplement",
    "Facts",
    "Serving",
    "Servings",
    "Container",
    "Amount",
    "Daily",
    "Value",
    "Calcium",
    "Magnesium",
    "Vitamin",
    "Menaquinone",
    "Phylloquinone",
    "Cholecalciferol",
    "Ingredients",
    "Suggested",
    "Directions",
    "Warnings",
)

#: A lower-case word ending in "!": Tesseract's misread of a final "l" (a panel prints
#: no exclamation marks).
_BANG_L_RE = re.compile(r"^[a-z]{3,}!$")
_WRAP_RE = re.compile(r"^(?P<pre>[(\[{]*)(?P<core>.*?)(?P<post>[)\]},;:]*)$")
_NUMBER_RE = re.compile(r"^[<>]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)$")
_UNIT_RE = re.compile(r"^(?:mcg|µg|μg|ug|mg|g|IU|kcal|mL|mEq|CFU)$", re.IGNORECASE)
_CONFUSABLE = re.escape("".join(CONFUSABLE_DIGITS))
_NUMERIC_ISH_RE = re.compile(rf"^[<>]?[\d{_CONFUSABLE},.]+$")
_DV_RE = re.compile(
    r"^(?P<num>[<>]?\d+(?:\.\d+)?)(?P<pct>"
    + "|".join(re.escape(p) for p in PERCENT_REPAIRS)
    + r")$"
)
_MARK_TAIL = "".join(k for k in MARK_REPAIRS if len(k) == 1 and not k.isalnum() and k != ".")
#: Words that are the remains of a table rule or box edge, not text: dropped; so are
#: words of punctuation only read with less than NOISE_CONFIDENCE (specks).
_RULE_GLYPHS_RE = re.compile(r"^[|¦_]+$")
_PUNCT_ONLY_RE = re.compile(r"^[^\w%*†‡<>]+$")
NOISE_CONFIDENCE = 50.0
#: A line box taller than this many times its words' ink is clipped to the ink.
LINE_CLIP = 1.15
#: A line less tall than this share of the page's median line is specks, not text.
MIN_LINE_SHARE = 0.45


def _split_wrap(text: str) -> tuple[str, str, str]:
    m = _WRAP_RE.match(text)
    assert m is not None  # the pattern matches any text
    return m.group("pre"), m.group("core"), m.group("post")


def _is_number(text: str) -> bool:
    return bool(_NUMBER_RE.match(_split_wrap(text)[1]))


def _fix_number(core: str) -> str | None:
    """`core` with confusable letters read as digits, when that makes a clean number
    and the token holds at least one real digit; else None (left as read)."""
    if not _NUMERIC_ISH_RE.match(core) or not any(c.isdigit() for c in core):
        return None
    fixed = "".join(CONFUSABLE_DIGITS.get(c, c) for c in core)
    return fixed if fixed != core and _NUMBER_RE.match(fixed) else None


def _fix_unit(core: str) -> tuple[str, str] | None:
    """(unit, footnote mark) for a unit as read ("meg", "mcg’"), or None when `core`
    is no unit. The mark is "" when there is none."""
    mark = ""
    if len(core) > 1 and core[-1] in _MARK_TAIL:
        mark = MARK_REPAIRS[core[-1]]
        core = core[:-1]
    if _UNIT_RE.match(core):
        return core, mark
    if core in UNIT_REPAIRS:
        return UNIT_REPAIRS[core], mark
    return None


def _fix_glued(core: str) -> str | None:
    """A number glued to its unit ("1O0meg"), repaired ("100mcg"); None when `core`
    is not one (or is one as printed)."""
    for k in range(len(core) - 1, 0, -1):
        num, unit = core[:k], core[k:]
        if any(c.isdigit() for c in unit):
            continue
        fixed_unit = _fix_unit(unit)
        fixed_num = num if _NUMBER_RE.match(num) else _fix_number(num)
        if num in ZERO_MISREADS and fixed_unit is not None and fixed_unit[0] in ZERO_UNITS:
            fixed_num = "0"  # "Og", "Omg": a nutrition row's zero
        if fixed_unit is not None and fixed_num is not None:
            fixed = fixed_num + fixed_unit[0] + fixed_unit[1]
            return fixed if fixed != core else None
    return None


def _is_glued(text: str) -> bool:
    core = _split_wrap(text)[1]
    return _fix_glued(core) is not None or any(
        _NUMBER_RE.match(core[:k]) and _fix_unit(core[k:]) for k in range(1, len(core))
    )


def _is_numberish(text: str) -> bool:
    core = _split_wrap(text)[1]
    return bool(_NUMBER_RE.match(core)) or _fix_number(core) is not None


def _fix_keyword(core: str) -> str | None:
    """The keyword `core` is a misread of (same length, letters off by at most one,
    two from eight letters on), in `core`'s case; None when it is none or is one."""
    if len(core) < 5 or not core.isalpha():
        return None
    low = core.lower()
    for word in KEYWORDS:
        key = word.lower()
        if len(key) != len(low) or key == low:
            continue
        off = sum(a != b for a, b in zip(key, low, strict=True))
        if off <= (2 if len(key) >= 8 else 1) and key[0] == low[0]:
            if core.isupper():
                return word.upper()
            return word if core[0].isupper() else key
    return None


def repair_line(texts: Sequence[str]) -> list[tuple[str, str | None]]:
    """The words of one OCR line with safe repairs: (text, "old->new" or None) each.

    A unit is repaired only right after a number, a number only right before a unit
    (or glued to one: "1O0meg" -> "100mcg"), a "%" artefact or a footnote mark only
    after digits or "number unit", a panel keyword only by one letter (`KEYWORDS`).
    What stays ambiguous is left as read.
    """
    out = list(texts)

    def unit_at(i: int) -> bool:
        return 0 <= i < len(out) and _fix_unit(_split_wrap(out[i])[1]) is not None

    for i, text in enumerate(texts):
        pre, core, post = _split_wrap(text)
        m = _DV_RE.match(core)
        if m:
            core = m.group("num") + "%"
        elif _fix_glued(core) is not None:
            core = _fix_glued(core) or core
        elif i > 0 and _is_numberish(texts[i - 1]) and _fix_unit(core) is not None:
            unit, mark = _fix_unit(core) or ("", "")
            core = unit + mark
        elif unit_at(i + 1) and _fix_number(core) is not None:
            core = _fix_number(core) or core
        elif (
            (core in MARK_REPAIRS or core in DAGGER_REPAIRS)
            and not pre
            and not post
            and i >= 1
            and (
                (unit_at(i - 1) and i >= 2 and _is_numberish(texts[i - 2]))
                or _is_glued(texts[i - 1])
            )
        ):
            core = MARK_REPAIRS.get(core, "†")
        elif _BANG_L_RE.match(core):
            core = core[:-1] + "l"  # "cholecalcifero!": a final "l" read as "!"
        else:
            core = _fix_keyword(core) or core
        out[i] = pre + core + post
    return [
        (new, None if new == old else f"{old}->{new}") for old, new in zip(texts, out, strict=True)
    ]


# --- tesseract ----------------------------------------------------------------------


def needs_tesseract_pages(pages: int) -> str:
    """The rejection of a text PDF with no panel in its text and `pages` scanned pages
    left unread for want of Tesseract."""
    return f"needs OCR: install tesseract-ocr ({pages} page(s) of the file have no text layer)"


def tesseract_path() -> str | None:
    """The tesseract executable, or None when it is not installed."""
    return shutil.which("tesseract")


@dataclass(frozen=True)
class OcrWord:
    """One word as Tesseract read it, in page pixels. `top` and `height` are those of
    its line (ascender to descender), as a text layer's font box is: a word's own ink
    box is taller or shorter with its letters ("mcg" vs "500") and the panel reader
    compares line heights."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    line_key: tuple[int, int, int]  # (block, paragraph, line)
    ink: tuple[int, int] | None = None  # the word's own (top, bottom), when known


def run_tesseract(image: Image.Image, dpi: float, *, exe: str) -> list[OcrWord]:
    """Tesseract's words (TSV) for one preprocessed page image."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    cmd = [exe, "stdin", "stdout", "--psm", str(PSM), "--dpi", str(round(dpi)), "-l", "eng", "tsv"]
    try:
        done = subprocess.run(
            cmd,
            input=buf.getvalue(),
            capture_output=True,
            timeout=OCR_TIMEOUT,
            check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # files are read in parallel already
        )
    except subprocess.TimeoutExpired as exc:
        raise UnreadableFile(f"OCR gave up after {OCR_TIMEOUT:.0f} s on one page") from exc
    except OSError as exc:  # not executable, vanished
        raise NeedsOcr(NEEDS_TESSERACT_IMAGE) from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UnreadableFile(f"OCR failed: {err[-1] if err else f'exit {done.returncode}'}")
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> list[OcrWord]:
    """The words (level 5 rows with text) of Tesseract's TSV output, each with the
    vertical extent of its line (level 4 row)."""
    words: list[OcrWord] = []
    lines: dict[tuple[int, int, int], tuple[int, int]] = {}
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        level = row.get("level")
        if level not in ("4", "5"):
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        top, height = int(row["top"]), int(row["height"])
        if level == "4":
            lines[key] = (top, height)
            continue
        text = (row.get("text") or "").strip()
        if not text:
            continue
        own = (top, top + height)
        top, height = lines.get(key, (top, height))
        words.append(
            OcrWord(
                text=text,
                left=int(row["left"]),
                top=top,
                width=int(row["width"]),
                height=height,
                confidence=max(0.0, float(row["conf"])),
                line_key=key,
                ink=own,
            )
        )
    return words


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
    from scipy import ndimage

    m = mask.astype(np.uint8)
    eroded = ndimage.minimum_filter1d(m, min_len, axis=1, mode="constant", cval=0)
    origin = 0 if min_len % 2 else -1  # the erosion's window, mirrored
    opened = ndimage.maximum_filter1d(
        eroded, min_len, axis=1, mode="constant", cval=0, origin=origin
    )
    return opened.astype(bool)


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
    tall = _runs(np.ascontiguousarray(ink.T), thin).T  # ink more than `thin` high
    wide = _runs(ink, thin)
    return ink & ~((grown_h & ~tall) | (grown_v & ~wide))


@dataclass(frozen=True)
class Prepared:
    """A page ready for Tesseract and how its pixels map back to points."""

    image: Image.Image
    dpi: float  # pixels per inch of `image`
    offset: tuple[float, float]  # where `image` starts in the page, in `dpi` pixels
    skew: float
    text_px: float | None = None  # median letter height measured in the page as given


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


def preprocess(gray: Image.Image, dpi: float) -> Prepared:
    """Measure the text (pipeline.sources.ocr_prep.analyse), scale it to the size OCR
    reads best, normalize polarity and lighting, deskew, remove rules, boxes, pictures
    and specks, binarize and crop to the ink."""
    from pipeline.sources import ocr_prep

    measured = ocr_prep.analyse(gray)
    scale = ocr_prep.scale_for(measured.text_px)
    ink, skew = ocr_prep.clean_page(gray, scale, measured)
    x0, y0, x1, y1 = _bbox(ink, 24)
    binary = Image.fromarray(np.where(ink[y0:y1, x0:x1], 0, 255).astype(np.uint8)).convert("1")
    return Prepared(binary, dpi * scale, (float(x0), float(y0)), skew, measured.text_px)


#: Words OCR glues together when the space between them is narrow (a tight heading):
#: split apart again, each part with its share of the box.
_GLUED_HEADING_RE = re.compile(r"^(supplement)(facts\W*)$", re.IGNORECASE)
#: A quote mark glued to the first word of a line is the remains of a box edge.
_EDGE_QUOTES = "'‘’\"“”`"


def split_word(w: OcrWord, parts: Sequence[str]) -> list[OcrWord]:
    """`w` split into `parts` (which join to its text), each with a share of its width
    proportional to its characters: positioned words from a glued token (or from a
    line of text an engine gives as one box)."""
    total = max(1, sum(len(p) for p in parts))
    out: list[OcrWord] = []
    start = 0
    for part in parts:
        left = w.left + round(w.width * start / total)
        right = w.left + round(w.width * (start + len(part)) / total)
        out.append(
            OcrWord(
                part, left, w.top, max(1, right - left), w.height, w.confidence, w.line_key, w.ink
            )
        )
        start += len(part)
    return out


def astuple_rest(w: OcrWord) -> tuple[Any, ...]:
    """An OcrWord's fields after its text (to rebuild it with another text)."""
    return (w.left, w.top, w.width, w.height, w.confidence, w.line_key, w.ink)


def unglue_line(line: Sequence[OcrWord]) -> list[OcrWord]:
    """A line's words with a box-edge quote dropped from its first word and a glued
    "SupplementFacts" heading split in two."""
    out: list[OcrWord] = []
    for i, w in enumerate(line):
        if w.text.strip("_") != w.text and w.text.strip("_"):
            # a rule's remains touching the word ("mg_"): a panel prints no underscore
            w = OcrWord(w.text.strip("_"), *astuple_rest(w))
        text = w.text
        if i == 0 and len(text) > 2 and text[0] in _EDGE_QUOTES and text[1].isalpha():
            cut = len(text) - len(text.lstrip(_EDGE_QUOTES))
            w = split_word(w, [text[:cut], text[cut:]])[1]
            text = w.text
        m = _GLUED_HEADING_RE.match(text)
        out.extend(split_word(w, [m.group(1), m.group(2)]) if m else [w])
    return _join_split_keywords(out)


def _join_split_keywords(line: list[OcrWord]) -> list[OcrWord]:
    """Two neighbouring words that together spell a panel keyword ("Su" "pplement"),
    joined into one (the box spanning both; the lower confidence)."""
    keys = {k.lower() for k in KEYWORDS}
    out: list[OcrWord] = []
    for w in line:
        prev = out[-1] if out else None
        if prev is not None and (prev.text + w.text).lower() in keys:
            out[-1] = OcrWord(
                prev.text + w.text,
                prev.left,
                min(prev.top, w.top),
                w.left + w.width - prev.left,
                max(prev.height, w.height),
                min(prev.confidence, w.confidence),
                prev.line_key,
                None
                if prev.ink is None or w.ink is None
                else (min(prev.ink[0], w.ink[0]), max(prev.ink[1], w.ink[1])),
            )
        else:
            out.append(w)
    return out


def ocr_words_to_words(
    found: Sequence[OcrWord], dpi: float, offset: tuple[float, float], page: int
) -> tuple[list[Word], dict[Word, str]]:
    """Tesseract's words as panel-reader words: noise dropped (rule remains, low
    confidence punctuation), repaired line by line (`repair_line`), pixels of an image
    at `dpi` starting at `offset` turned into points. Returns the words and the
    repair made to each repaired word ("meg->mcg")."""
    to_pt = 72.0 / dpi
    ox, oy = offset
    words: list[Word] = []
    repairs: dict[Word, str] = {}
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    body = statistics.median([w.height for w in found]) if found else 0.0
    for w in found:
        if _RULE_GLYPHS_RE.match(w.text) or (
            _PUNCT_ONLY_RE.match(w.text) and w.confidence < NOISE_CONFIDENCE
        ):
            continue
        if w.height < MIN_LINE_SHARE * body:  # a line of specks (a box corner), not text
            continue
        lines.setdefault(w.line_key, []).append(w)
    for line in lines.values():
        line.sort(key=lambda w: w.left)
        line = unglue_line(line)
        # the line's extent: Tesseract's line box, clipped to its words' own ink where
        # the box is much taller (a speck or a rule's remains counted in the line)
        top, bottom = line[0].top, line[0].top + line[0].height
        inks = [w.ink for w in line if w.ink is not None]
        if inks and len(inks) == len(line):
            ink_top, ink_bottom = min(i[0] for i in inks), max(i[1] for i in inks)
            if ink_bottom > ink_top and bottom - top > LINE_CLIP * (ink_bottom - ink_top):
                top, bottom = max(top, ink_top), min(bottom, ink_bottom)
        for w, (text, note) in zip(line, repair_line([w.text for w in line]), strict=True):
            word = Word(
                text=text,
                x0=round((w.left + ox) * to_pt, 2),
                x1=round((w.left + w.width + ox) * to_pt, 2),
                top=round((top + oy) * to_pt, 2),
                bottom=round((bottom + oy) * to_pt, 2),
                page=page,
                confidence=w.confidence,
            )
            words.append(word)
            if note is not None:
                repairs[word] = note
    return words, repairs


def _headings(words: Sequence[Word]) -> list[Word]:
    """The "Supplement" words followed by "Facts" on the same line (OCR'd headings)."""
    out = []
    for w in words:
        if _split_wrap(w.text)[1].lower() != "supplement":
            continue
        h = w.bottom - w.top
        if any(
            _split_wrap(v.text)[1].lower().startswith("facts")
            and abs(v.top - w.top) < 0.5 * h
            and 0 <= v.x0 - w.x1 < 2 * h
            for v in words
        ):
            out.append(w)
    return out


def panel_words(words: Sequence[Word]) -> list[Word]:
    """The words of a page with the text beside a panel left out: when a page holds
    one "Supplement Facts" heading and text left of it (a wrap's marketing block, its
    directions column), the words that end left of the heading's left edge, from the
    heading's line down, are dropped when a gutter parts them from the panel; the panel
    reader then sees the panel alone.
    Words above the heading (the product's name) and pages with no heading or several
    (several panels) are kept whole."""
    heads = _headings(words)
    if len(heads) != 1:
        return list(words)
    head = heads[0]
    h = head.bottom - head.top
    edge = head.x0 - 0.5 * h
    below = [w for w in words if w.bottom > head.top]
    beside = [w for w in below if w.x1 < edge]
    panel = [w for w in below if w.x1 >= edge]
    if len(beside) < 3 or not panel:
        return list(words)
    # only across a gutter: a centred heading has its panel's rows start left of it
    gutter = min(w.x0 for w in panel) - max(w.x1 for w in beside)
    if gutter < 1.5 * h:
        return list(words)
    return [w for w in words if not (w.x1 < edge and w.bottom > head.top)]


@dataclass(frozen=True)
class PageRead:
    """One OCR'd page: its words in points (repaired), the repairs, and what the
    measuring pass found (for a rejection a person can act on)."""

    words: list[Word]
    repairs: dict[Word, str]
    text_px: float | None  # median letter height in the page image's own pixels
    width: int  # the page image's width in pixels


def read_page(
    gray: Image.Image, dpi: float, page: int, *, exe: str | None, engine: str
) -> PageRead:
    """OCR one page image at `dpi` with `engine` ("tesseract": preprocessed here, then
    the tesseract command `exe`; "rapidocr": the image as it is, see ocr_rapid)."""
    from pipeline.sources import ocr_prep

    if engine == "rapidocr":
        from pipeline.sources.ocr_rapid import run_rapidocr

        measured = ocr_prep.analyse(gray)
        words, repairs = ocr_words_to_words(run_rapidocr(gray), dpi, (0.0, 0.0), page)
        return PageRead(panel_words(words), repairs, measured.text_px, gray.width)
    if exe is None:
        raise NeedsOcr(NEEDS_TESSERACT_IMAGE)
    prepared = preprocess(gray, dpi)
    try:
        found = run_tesseract(prepared.image, prepared.dpi, exe=exe)
    finally:
        prepared.image.close()
    words, repairs = ocr_words_to_words(found, prepared.dpi, prepared.offset, page)
    return PageRead(panel_words(words), repairs, prepared.text_px, gray.width)


def page_words(
    gray: Image.Image, dpi: float, page: int, *, exe: str
) -> tuple[list[Word], dict[Word, str]]:
    """OCR one page image at `dpi` with Tesseract: its words in points (repaired) and
    the repairs."""
    done = read_page(gray, dpi, page, exe=exe, engine="tesseract")
    return done.words, done.repairs


def engine_ready(engine: str) -> tuple[str | None, str | None]:
    """(tesseract path or None, the rejection reason when `engine` cannot run here)."""
    if engine == "rapidocr":
        from pipeline.sources.ocr_rapid import NEEDS_RAPIDOCR, available

        return None, None if available() else NEEDS_RAPIDOCR
    exe = tesseract_path()
    return exe, None if exe is not None else NEEDS_TESSERACT_IMAGE


# --- sources ------------------------------------------------------------------------


def _image_dpi(image: Image.Image) -> float:
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else float(dpi) if dpi else 0.0
    except (TypeError, ValueError):
        value = 0.0
    return value if 100.0 <= value <= 1200.0 else RENDER_DPI


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF phone photos (pillow-heif), once per process."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - a dependency; without it HEIC is "damaged"
        return
    pillow_heif.register_heif_opener()


def open_image(path: Path, data: bytes | None = None) -> Image.Image:
    """The image file opened by Pillow (any format it or pillow-heif reads), from `data`
    (the file's bytes) if given."""
    if path.suffix.lower() in (".heic", ".heif"):
        _register_heif()
    return Image.open(path if data is None else io.BytesIO(data))


def image_frames(
    path: Path, source_file: str, data: bytes | None = None
) -> Iterator[tuple[Image.Image, float]]:
    """Each frame of an image file (grayscale) and its dpi, from `data` (the file's bytes)
    if given; raises UnreadableFile, or LimitExceeded for an image over the pixel limit."""
    Image.MAX_IMAGE_PIXELS = None  # the pixel limit is checked here, frame by frame
    try:
        with open_image(path, data) as image:
            check_pages(getattr(image, "n_frames", 1), source_file)
            for frame in ImageSequence.Iterator(image):
                check_image_pixels(frame.width, frame.height, source_file)
                frame.load()
                gray = to_gray(frame)
                try:
                    yield gray, _image_dpi(image)
                finally:
                    gray.close()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file) from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file) from exc


def _mean_confidence(pages: Sequence[Sequence[Word]]) -> float | None:
    values = [w.confidence for page in pages for w in page if w.confidence is not None]
    return statistics.mean(values) if values else None


def _has_heading(pages: Sequence[Sequence[Word]]) -> bool:
    """Whether any page holds "Supplement" followed by "Facts" (a heading)."""
    return any(_headings(page) for page in pages)


def _no_panel_detail(pages: Sequence[Sequence[Word]], where: str) -> str:
    mean = _mean_confidence(pages)
    if mean is None:
        return f"{NO_TEXT}{where}"
    if not _has_heading(pages):
        n = sum(len(page) for page in pages)
        return (
            f"text found but no Supplement Facts heading{where} "
            f"({n} words, mean confidence {mean:.0f}%)"
        )
    return f"no Supplement Facts panel found by OCR{where} (mean confidence {mean:.0f}%)"


def _fallback_name(path: Path) -> str:
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())


def _extraction(
    pages: list[list[Word]],
    repairs: dict[Word, str],
    source_file: str,
    path: Path,
    source_format: str,
) -> FileExtraction | None:
    labels, rows, issues = words_to_labels(
        pages,
        source_file,
        fallback_name=_fallback_name(path),
        source_format=source_format,
        repairs=repairs,
    )
    if not labels:
        return None
    return FileExtraction(
        source_file=source_file, labels=tuple(labels), rows=tuple(rows), issues=tuple(issues)
    )


def too_small(width: int, text_px: float | None) -> str | None:
    """The rejection of an image whose text is too small to read, or None."""
    from pipeline.sources.ocr_prep import MIN_READABLE_PX

    if text_px is None or text_px >= MIN_READABLE_PX:
        return None
    return f"image {width} px wide: panel text {text_px:.0f} px high, too small to read"


def read_image(path: Path, source_file: str, data: bytes | None = None) -> FileExtraction:
    """The labels of a scanned or photographed label image (raises a LabelError); `data`:
    the file's bytes as read by the extract stage (default: read from `path`)."""
    from pipeline import config

    if data is None:
        data = read_bytes(path, source_file)
    if not data:
        raise UnreadableFile(DAMAGED_IMAGE, source_file=source_file)
    engine = config.ocr_engine()
    exe, missing = engine_ready(engine)
    pages: list[list[Word]] = []
    repairs: dict[Word, str] = {}
    small: str | None = None
    dpis: dict[int, float] = {}
    for number, (gray, dpi) in enumerate(image_frames(path, source_file, data), start=1):
        if missing is not None:
            raise NeedsOcr(missing, source_file=source_file)
        try:
            done = read_page(gray, dpi, number, exe=exe, engine=engine)
        except LabelError as exc:
            exc.source_file = source_file
            raise
        pages.append(done.words)
        repairs.update(done.repairs)
        small = small or too_small(done.width, done.text_px)
        dpis[number] = dpi
    extraction = _extraction(pages, repairs, source_file, path, "image-ocr")
    if extraction is None:
        raise NoPanel(small or _no_panel_detail(pages, ""), source_file=source_file)
    # each row's bbox in the image's own pixels (the panel reader works in points)
    rows = tuple(bbox_in_pixels(r, dpis.get(r.page or 1, RENDER_DPI)) for r in extraction.rows)
    return dataclasses.replace(extraction, rows=rows)


# --- PDFs ---------------------------------------------------------------------------


def pages_to_ocr(
    path: Path, pages: Sequence[Sequence[Word]], data: bytes | None = None
) -> list[int]:
    """0-based pages of a PDF to OCR: all of them when no page has a usable text layer
    (fewer than MIN_TEXT_CHARS characters in all), else the pages with almost no text
    that carry an image (a scanned page in a text PDF)."""
    chars = [sum(len(w.text) for w in page) for page in pages]
    if sum(chars) < MIN_TEXT_CHARS:
        return list(range(len(pages)))
    low = [i for i, n in enumerate(chars) if n < MIN_TEXT_CHARS]
    if not low:
        return []
    import pdfplumber

    with pdfplumber.open(path if data is None else io.BytesIO(data)) as pdf:
        return [i for i in low if pdf.pages[i].images]


def ocr_pdf_pages(
    path: Path,
    pages: list[list[Word]],
    todo: Sequence[int],
    source_file: str,
    data: bytes | None = None,
) -> tuple[list[list[Word]], dict[Word, str]]:
    """`pages` with the pages in `todo` (0-based) replaced by their OCR'd words.

    Raises NeedsOcr when tesseract is not installed.
    """
    import pypdfium2 as pdfium

    from pipeline import config

    engine = config.ocr_engine()
    exe, missing = engine_ready(engine)
    if missing is not None:
        reason = NEEDS_TESSERACT_PDF if engine == "tesseract" else missing
        raise NeedsOcr(reason, source_file=source_file)
    out = [list(p) for p in pages]
    repairs: dict[Word, str] = {}
    try:
        pdf = pdfium.PdfDocument(str(path) if data is None else data)
    except pdfium.PdfiumError as exc:
        raise UnreadableFile(CANNOT_RENDER, source_file=source_file) from exc
    try:
        for index in todo:
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise UnreadableFile(CANNOT_RENDER, source_file=source_file) from exc
            try:
                width, height = page.get_size()
                check_render_pixels(index + 1, width, height, RENDER_DPI, source_file)
                bitmap = page.render(scale=RENDER_DPI / 72.0, grayscale=True)
                gray = bitmap.to_pil().convert("L")
                bitmap.close()
            finally:
                page.close()
            try:
                done = read_page(gray, RENDER_DPI, index + 1, exe=exe, engine=engine)
                words, fixed = done.words, done.repairs
            except LabelError as exc:
                exc.source_file = source_file
                exc.page = index + 1
                raise
            finally:
                gray.close()
            out[index] = words
            repairs.update(fixed)
    finally:
        pdf.close()
    return out, repairs


def read_ocr_pdf(
    path: Path,
    pages: list[list[Word]],
    todo: Sequence[int],
    source_file: str,
    data: bytes | None = None,
) -> FileExtraction:
    """A PDF whose pages in `todo` have no usable text layer: OCR them, then read the
    whole document (text-layer pages as they are)."""
    ocr_pages, repairs = ocr_pdf_pages(path, pages, todo, source_file, data)
    extraction = _extraction(ocr_pages, repairs, source_file, path, "pdf-ocr")
    if extraction is None:
        ocr_only = [ocr_pages[i] for i in todo]
        where = f" in {len(todo)} page(s)"
        raise NoPanel(_no_panel_detail(ocr_only, where), source_file=source_file)
    return extraction
