"""A second reading of a located panel by RapidOCR, for the rows Tesseract left unread.

Tesseract reads the names of a panel's rows in small type well and misreads their digits
("50 mg" as "Somg", "125 mg" as "zsmg", "415 mg" as "41S mg": a read issue each), where
RapidOCR (PP-OCR, `pipeline.sources.ocr_rapid`) reads the amount column nearly whole and
mangles the names ("Blotin", "Mogoeslum"). When Tesseract's reading of a located panel
(`pipeline.sources.ocr.read_page`, the panel read alone) leaves at least
`config.SECOND_READING_UNREAD` rows unread (no amount, and a read issue on the line or
in no blend), or one protocol row, the band of the panel's
crop that holds those rows (`band_of`: the panel's width, from the first unread row to the
last, a row's height more each side), its text upscaled with LANCZOS to
`config.SECOND_READING_TEXT_PX`, is read by RapidOCR (one engine a process; a band inside
one read already for the page, at another text size, is not read again).

Rows are aligned by geometry, never by name: RapidOCR's boxes are mapped back to the
page's points, and an amount it read ("125.mg", a number and a unit, `amounts_in`) fills
the line of an unread row it lies level with (half its height or more) and right of the
row's first word (`fill_rows`). Tesseract's garbled amount words under it are replaced
by RapidOCR's, its names kept, and the panel reader reads the words again, so a filled
amount goes through every check any OCR amount does (`pipeline.panel.ocr_doubts`, the
amount confidence). The filled row carries RapidOCR's confidence (the lowest on its line
as always) and says in its repairs where its amount came from (`FILLED`), so its card
flags it. Never a guess:

- an amount RapidOCR read below `config.SECOND_READING_CONFIDENCE`, with a unit that is
  none, or two of them level with one row, fills nothing;
- a row whose garbled text holds digits RapidOCR's number does not ("24" beside "2 g")
  stays unread: the engines disagree;
- an amount Tesseract did read that RapidOCR read otherwise on the same line (in that
  band) is withheld, a read issue naming both (`withhold_disagreements`), never picked between.

Without the rapidocr_onnxruntime package the second reading is skipped, with one log line.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from PIL import Image

from pipeline import config
from pipeline.nutrients import PROTOCOL_NUTRIENTS, resolve
from pipeline.panel.ocr_dv import point_put_back
from pipeline.records import Label, LabelRow, ReadIssue, Word
from pipeline.sources.ocr_amount import UNITS as UNITS
from pipeline.sources.ocr_amount import Amount, level_spans, unit_of
from pipeline.sources.ocr_locate import PanelRegion, holds
from pipeline.sources.ocr_rapid import RapidLine, available, detect_lines
from pipeline.sources.ocr_rapid_panel import whole_reading
from pipeline.sources.ocr_readings import amount_key, withheld
from pipeline.sources.ocr_tiny import Line, candidates, confirm, in_points, named_words, tiny

log = logging.getLogger("labelaudit")

#: The repair a row filled by the second reading lists.
FILLED = "amount read by RapidOCR: Tesseract left it unread"
#: A number and its unit in RapidOCR's text, which glues words ("300mcg1000%") and reads a
#: gap as a point ("125.mg": the point with no digit after it is dropped, and said so).
_AMOUNT_RE = re.compile(
    r"(?<![\d.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?P<point>\.)?"
    r"\s?(?P<unit>[A-Za-zµμ]{1,4})(?![A-Za-zµμ])"
)
#: Tesseract words under an amount: their centre within this many line heights of it.
UNDER = 0.3
#: The most upscaling of a panel's crop for RapidOCR.
MAX_UPSCALE = 4.0
#: RapidOCR readings kept (per process): the page's readings at each text size share one.
_CACHE: dict[tuple[str, tuple[int, int, int, int]], list[RapidLine]] = {}
_CACHE_SIZE = 4


def amounts_in(
    lines: Sequence[RapidLine], scale: float, origin: tuple[float, float], dpi: float
) -> list[Amount]:
    """The amounts (a number, then a unit) in RapidOCR's `lines` of a crop upscaled
    `scale` times whose top left corner is `origin` in the page's pixels (`dpi` a
    inch), in page points, each placed by its characters' share of its line's width."""
    to_pt = 72.0 / dpi
    found: list[Amount] = []
    for box, text, score in lines:
        xs = [origin[0] + float(p[0]) / scale for p in box]
        ys = [origin[1] + float(p[1]) / scale for p in box]
        per_char = (max(xs) - min(xs)) / max(1, len(text))
        for m in _AMOUNT_RE.finditer(text):
            unit = unit_of(m.group("unit"))
            if unit is None:
                continue
            note = None
            if m.group("point") or unit != m.group("unit"):
                note = f"'{m.group(0)}' read as {m.group('num')} {unit}"
            found.append(
                Amount(
                    m.group("num"),
                    unit,
                    round((min(xs) + m.start() * per_char) * to_pt, 2),
                    round((min(xs) + m.end() * per_char) * to_pt, 2),
                    round(min(ys) * to_pt, 2),
                    round(max(ys) * to_pt, 2),
                    round(100.0 * score, 2),
                    note,
                )
            )
    return found


def row_lines(row: LabelRow, words: Sequence[Word]) -> list[list[Word]]:
    """The words of `row` (those whose centre lies in its box, in points) in lines, top
    to bottom, each left to right."""
    if row.bbox_x0 is None or row.bbox_units != "pt":
        return []
    x0, top = row.bbox_x0, row.bbox_top or 0.0
    x1, bottom = row.bbox_x1 or 0.0, row.bbox_bottom or 0.0
    inside = [
        w
        for w in words
        if w.page == (row.page or 1)
        and x0 <= (w.x0 + w.x1) / 2 <= x1
        and top <= (w.top + w.bottom) / 2 <= bottom
    ]
    lines: list[list[Word]] = []
    for w in sorted(inside, key=lambda w: (w.top, w.x0)):
        line = next(
            (li for li in lines if level_spans(li[0].top, li[0].bottom, w.top, w.bottom)), None
        )
        if line is None:
            lines.append([w])
        else:
            line.append(w)
    return [sorted(li, key=lambda w: w.x0) for li in lines]


def amount_on(line: Sequence[Word], amounts: Sequence[Amount]) -> Amount | None:
    """The one amount level with `line` and right of its first word; None when there is
    none or more than one."""
    top, bottom = min(w.top for w in line), max(w.bottom for w in line)
    level = [
        a
        for a in amounts
        if level_spans(top, bottom, a.top, a.bottom) and (a.x0 + a.x1) / 2 > line[0].x1
    ]
    return level[0] if len(level) == 1 else None


def _under(line: Sequence[Word], amount: Amount) -> list[Word]:
    """The words of `line` under `amount` (their centre within UNDER line heights)."""
    tol = UNDER * (max(w.bottom for w in line) - min(w.top for w in line))
    return [w for w in line[1:] if amount.x0 - tol <= (w.x0 + w.x1) / 2 <= amount.x1 + tol]


def _digits_within(read: str, number: str) -> bool:
    """Whether the digits of `read` (Tesseract's garbled text) are, in order, among those
    of `number` (RapidOCR's): "41S" within "415", "24" not within "2"."""
    digits = iter(c for c in number if c.isdigit())
    return all(c in digits for c in read if c.isdigit())


def _placed(line: Sequence[Word], amount: Amount) -> tuple[Word, Word]:
    """`amount` as two words (number, unit) on `line`'s height."""
    top, bottom = min(w.top for w in line), max(w.bottom for w in line)
    width = amount.x1 - amount.x0
    split = amount.x0 + width * len(amount.number) / (len(amount.number) + 1 + len(amount.unit))
    page = line[0].page
    number = Word(amount.number, amount.x0, round(split, 2), top, bottom, page, amount.confidence)
    gap = width / (len(amount.number) + 1 + len(amount.unit))
    unit = Word(amount.unit, round(split + gap, 2), amount.x1, top, bottom, page, amount.confidence)
    return number, unit


def _unread(rows: Sequence[LabelRow], issues: Sequence[ReadIssue]) -> list[LabelRow]:
    """Rows with no amount and a read issue on their line, or in no blend."""
    marked = {(i.label_index, i.line_no) for i in issues}
    return [
        r
        for r in rows
        if r.amount_raw is None and ((r.label_index, r.line_no) in marked or r.parent is None)
    ]


def triggered(
    rows: Sequence[LabelRow], issues: Sequence[ReadIssue], text_px: float | None = None
) -> bool:
    """Whether a panel reading calls for the second reading: at least
    SECOND_READING_UNREAD rows unread, or one protocol row, or any row of a panel whose
    body text (`text_px`) is tiny (`ocr_tiny.tiny`)."""
    unread = _unread(rows, issues)
    protocol = any(resolve(r.name_raw, r.form_raw).nutrient in PROTOCOL_NUTRIENTS for r in unread)
    many = len(unread) >= config.SECOND_READING_UNREAD
    return bool(unread) and (many or protocol or tiny(text_px))


#: What `fill_rows` asks of an amount before it fills a row: (row, amount, Tesseract's
#: words under it) -> the amount as it fills, or None.
Check = Callable[[LabelRow, Amount, Sequence[Word]], Amount | None]


def fill_rows(
    words: Sequence[Word],
    repairs: Mapping[Word, str],
    rows: Sequence[LabelRow],
    issues: Sequence[ReadIssue],
    amounts: Sequence[Amount],
    check: Check | None = None,
) -> tuple[list[Word], dict[Word, str], int]:
    """`words` (a page's, points) with the amount words of each unread row (`rows`,
    `issues`: the panel reader's reading of them) replaced by the one amount of
    `amounts` level with its line, where the row's garbled digits are among that
    amount's; the repairs with FILLED (and RapidOCR's own repair) on each new number
    word; and how many rows were filled. Without `check`, amounts below
    SECOND_READING_CONFIDENCE fill nothing; with it, every amount is level-matched and
    `check` (row, amount, Tesseract's words under it) says what fills, if anything
    (`ocr_tiny.confirm`)."""
    out = list(words)
    fixes = dict(repairs)
    filled = 0
    usable = list(amounts)
    if check is None:
        usable = [a for a in amounts if a.confidence >= config.SECOND_READING_CONFIDENCE]
    for row in _unread(rows, issues):
        for line in row_lines(row, out):
            amount = amount_on(line, usable)
            if amount is None:
                continue
            under = _under(line, amount)
            if not _digits_within("".join(w.text for w in under), amount.number):
                break  # both engines read digits here, and not the same: stays unread
            if check is not None:
                confirmed = check(row, amount, under)
                if confirmed is None:
                    break  # not read surely, and nothing confirms it: stays unread
                amount = confirmed
            old, new = named_words(line, under, amount)  # RapidOCR's name (`ocr_tiny`)
            if new:
                first = out.index(old[0])
                out = [w for w in out if w not in old]
                out[first:first] = new
                for w in old:
                    fixes.pop(w, None)
                was = " ".join(w.text for w in old)
                fixes[new[0]] = f"name read by RapidOCR '{amount.name}': Tesseract read '{was}'"
            number, unit = _placed(line, amount)
            at = min(
                (out.index(w) for w in under), default=out.index(new[-1] if new else line[-1]) + 1
            )
            out = [w for w in out if w not in under]
            out[at:at] = [number, unit]
            for w in under:
                fixes.pop(w, None)
            fixes[number] = "; ".join(n for n in (FILLED, amount.note) if n)
            filled += 1
            break
    return out, fixes, filled


def withhold_disagreements(
    rows: Sequence[LabelRow],
    issues: Sequence[ReadIssue],
    words: Sequence[Word],
    amounts: Sequence[Amount],
) -> tuple[list[LabelRow], list[ReadIssue]]:
    """`rows` with each amount Tesseract read that RapidOCR read otherwise (the one amount
    of `amounts` level with the row's first line, at any confidence) withheld: a read
    issue naming both (blocking the verdict on a protocol row), never a pick."""
    out: list[LabelRow] = []
    found = list(issues)
    for row in rows:
        key = amount_key(row.amount_raw, row.unit_raw)
        lines = row_lines(row, words)
        other = amount_on(lines[0], amounts) if lines and key is not None else None
        if (
            other is None
            or amount_key(other.number, other.unit) == key
            or (
                unit_of(other.unit) == unit_of(row.unit_raw or "")
                and point_put_back(row.amount_raw, row.repairs, other.number)
            )
        ):
            out.append(row)
            continue
        row, issue = withheld(row, f"by Tesseract and as {other.number} {other.unit} by RapidOCR")
        out.append(row)
        found.append(issue)
    return out, found


@functools.lru_cache(maxsize=1)
def _missing_logged() -> None:
    log.info(
        "second OCR reading skipped: rapidocr_onnxruntime is not installed "
        "(pip install rapidocr_onnxruntime)"
    )


#: Around the unread rows' band a crop for RapidOCR reaches this many rows' heights more.
BAND_MARGIN = 1.0


def band_of(
    rows: Sequence[LabelRow], body: PanelRegion, dpi: float
) -> tuple[int, int, int, int] | None:
    """The part of `body` (pixels) that holds `rows` (boxes in points at `dpi`): its full
    width, from the first row's top to the last one's bottom, a row's height more each
    side; None when no row has a box."""
    boxed = [r for r in rows if r.bbox_top is not None and r.bbox_bottom is not None]
    if not boxed:
        return None
    to_px = dpi / 72.0
    top = min(r.bbox_top or 0.0 for r in boxed) * to_px
    bottom = max(r.bbox_bottom or 0.0 for r in boxed) * to_px
    pad = BAND_MARGIN * min((r.bbox_bottom or 0.0) - (r.bbox_top or 0.0) for r in boxed) * to_px
    y0, y1 = max(body.top, round(top - pad)), min(body.bottom, round(bottom + pad))
    if y1 <= y0:
        return None
    return round(body.x0), y0, round(body.x1), y1


def rapid_lines(
    gray: Image.Image, box: tuple[int, int, int, int], text_px: float | None
) -> list[RapidLine] | None:
    """RapidOCR's lines (boxes in the page's pixels) of the part `box` of the page image
    `gray`, upscaled so its text (`text_px` high) reaches SECOND_READING_TEXT_PX
    (LANCZOS, at most MAX_UPSCALE times); None when RapidOCR is not installed. A part
    inside one read already for this page is not read again (the page's readings at its
    other text sizes)."""
    if not available():
        _missing_logged()
        return None
    digest = hashlib.blake2b(gray.tobytes(), digest_size=16).hexdigest()
    for (seen, (x0, y0, x1, y1)), lines in _CACHE.items():
        if seen == digest and x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1:
            return lines
    scale = min(MAX_UPSCALE, max(1.0, config.SECOND_READING_TEXT_PX / (text_px or 1e9)))
    with gray.crop(box) as crop:
        size = (round(crop.width * scale), round(crop.height * scale))
        with crop.resize(size, Image.Resampling.LANCZOS) as big:
            found = detect_lines(big, as_is=True)
    lines = [
        ([(box[0] + float(p[0]) / scale, box[1] + float(p[1]) / scale) for p in corners], t, c)
        for corners, t, c in found
    ]
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[(digest, box)] = lines
    return lines


Parsed = tuple[list[Label], list[LabelRow], list[ReadIssue]]


def _confirmed(
    lines: Sequence[Line], row: LabelRow, amount: Amount, under: Sequence[Word]
) -> Amount | None:
    return confirm(row, lines, amount, under)


class Reading(Protocol):
    """What `second_reading` needs of a page's reading (`ocr.PageRead`)."""

    @property
    def words(self) -> list[Word]: ...
    @property
    def repairs(self) -> dict[Word, str]: ...
    @property
    def text_px(self) -> float | None: ...
    @property
    def panels(self) -> Any: ...
    @property
    def parsed(self) -> Parsed | None: ...


R = TypeVar("R", bound=Reading)


def second_reading(
    done: R,
    gray: Image.Image,
    body: PanelRegion,
    dpi: float,
    parse: Callable[..., Parsed],
    source_file: str,
    fallback_name: str,
) -> R:
    """`done`, a reading of the page image `gray` (`dpi`) whose panel below its heading is
    `body` (pixels), with its unread rows filled from RapidOCR's reading of that part
    (`fill_rows`) and read again by the panel reader (`parse`, as `ocr._parse`), then
    amounts the engines read differently withheld; `done` itself when not `triggered` or
    when RapidOCR is not installed."""
    if done.parsed is None or not done.parsed[0]:
        return done
    _, rows, issues = done.parsed
    if not triggered(rows, issues, done.text_px):
        return done
    band = band_of(_unread(rows, issues), body, dpi)
    lines = rapid_lines(gray, band, done.text_px) if band is not None else None
    if lines is None:
        return done
    amounts = amounts_in(lines, 1.0, (0.0, 0.0), dpi)
    fills, check = amounts, None
    if tiny(done.text_px):  # read less surely: each amount confirmed (`ocr_tiny`)
        points = in_points(lines, dpi)
        fills = candidates(points)
        check = functools.partial(_confirmed, points)
    words, repairs, filled = fill_rows(done.words, done.repairs, rows, issues, fills, check)
    labels = done.parsed[0]
    if filled:
        labels, rows, issues = parse([words], repairs, source_file, fallback_name, [done.panels])
    rows, issues = withhold_disagreements(rows, issues, words, amounts)
    done = dataclasses.replace(  # type: ignore[type-var]
        done, words=words, repairs=repairs, parsed=(labels, rows, issues)
    )
    if not tiny(done.text_px):
        return done
    # a tiny panel read whole by RapidOCR too, kept where it reads more (`ocr_rapid_panel`)
    whole = rapid_lines(gray, (round(body.x0), body.top, round(body.x1), body.bottom), done.text_px)
    inside = functools.partial(holds, body, to_px=dpi / 72.0)
    kept: R = whole_reading(done, whole or [], inside, dpi, parse, source_file, fallback_name)
    return kept
