"""Which of several OCR readings of one image is kept, and what two readings disagree on.

An image is read more than once where one reading may miss what another gets: the panel
cut out and read on its own beside the whole page (`pipeline.sources.ocr.read_page`), and
the page again at other text sizes when a reading leaves rows unread
(`pipeline.sources.ocr.read_image`). Both choices use the one rule here,
`reading_score`: a reading that finds a panel beats one that finds none; then the one
with more protocol nutrients read with an amount and its unit (a reading that reads
more rows but loses a protocol amount, a column group merged into the rows beside it, is
the worse one); then the one with more rows read with an amount and unit minus read
issues. The earlier reading is kept on a tie.

`whole_picture_body`: where the panel is the whole picture (`ocr_locate.region_of` finds
no part worth reading alone) and its text is small (below `BLOCK_TEXT_PX`: a small
product-page image, upscaled three times or more), the page below its heading is read on
its own all the same, as one block of text (`pipeline.sources.ocr.PANEL_PSM`), and
`reading_score` chooses between that and the whole page's reading. Measured on the
generated small web image (text 7 px high, upscaled 3.7 times): mode 4 on the whole page
read "Icium" for "Calcium", merged two indented rows into one tall line and lost the
panel's rows below it (4 of 13 read); one block read all 13. The same panel at 150 dpi
(text 9.5 px) and more reads all 13 in mode 4, as the 10 px boxed and two-column styles
do: they are read once (a second reading there cost a third more CPU and changed no
field, of those styles nor of the dev set).
A panel read alone whose text is the page's text size (the whole picture's, or a region
whose own text measures within `SAME_SCALE` of the page's scale) is not prepared for OCR
a second time (`part_of`): the page's own preparation is cut below the heading.

`withhold_disagreements`: a row's amount that another reading of the same image read
differently is withheld (a read issue naming both), never guessed between.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PIL import Image

from pipeline.nutrients import PROTOCOL_NUTRIENTS, clean_name, resolve
from pipeline.records import FileExtraction, LabelRow, ReadIssue, Word
from pipeline.sources.ocr_locate import PanelRegion, below, heading_spans, worth_reading_alone
from pipeline.sources.ocr_prep import SAME_SCALE, Prepared, analyse, scale_for
from pipeline.units import parse_amount

#: (a panel was found, protocol amounts read, rows read minus read issues)
Score = tuple[int, int, int]
#: The score of a reading that found no panel.
NO_PANEL: Score = (0, 0, 0)


def reading_score(rows: Sequence[LabelRow], issues: Sequence[ReadIssue]) -> Score:
    """How well a reading that found a panel went (higher is better): (1, protocol
    nutrients read with an amount and its unit, rows read with an amount and its unit
    minus read issues)."""
    read = [r for r in rows if r.amount_raw is not None and r.unit_raw is not None]
    protocol = sum(resolve(r.name_raw, r.form_raw).nutrient in PROTOCOL_NUTRIENTS for r in read)
    return 1, protocol, len(read) - len(issues)


def whole_picture_body(
    words: Sequence[Word], dpi: float, shape: tuple[int, int], text_px: float | None
) -> tuple[PanelRegion, PanelRegion] | None:
    """The panel region of a page image of `shape` (h, w) whose panel is the whole
    picture: the page from the top of its one "Supplement Facts" heading among `words`
    (points, `dpi` pixels an inch) down, full width, and the part of it below the
    heading (pixels); None without exactly one heading, or when the page's text
    (`text_px`, measured) is BLOCK_TEXT_PX or more (or not measured)."""
    heads = heading_spans(words)
    if len(heads) != 1 or text_px is None or text_px >= BLOCK_TEXT_PX:
        return None
    h, w = shape
    to_px = dpi / 72.0
    _, top, _, bottom = (v * to_px for v in heads[0])
    region = PanelRegion(0, max(0, min(h, round(top))), w, h, boxed=False)
    return region, below(region, bottom)


#: A whole-picture panel whose text measures below this (pixels) is read as one block too.
BLOCK_TEXT_PX = 9.0
#: White added around a part cut from a page's preparation (pixels), as `preprocess`
#: leaves around the ink it crops to.
PART_MARGIN = 24


def part_of(
    page: Prepared | None,
    located: tuple[PanelRegion, PanelRegion],
    target: float,
    dpi: float,
    shape: tuple[int, int],
    crop: Image.Image,
    faint: bool,
) -> Prepared | None:
    """`page`, the preparation (text scaled to `target`) of a whole page image of
    `shape` (h, w) at `dpi`, cut to the body of the panel region `located` (region, body:
    page pixels; `crop`: the body's pixels, `faint`: faint print darkened), when the
    region's text is the page's: the region is the whole picture (not
    `worth_reading_alone`), or its own text would be scaled within SAME_SCALE of the
    page's scale (the page's preparation scaled, deskewed and cleaned it already). Else
    None: the region is prepared at the size of its own text. The part's offset counts
    from the body's top left corner, as a preparation of `crop` would."""
    region, body = located
    if page is None:
        return None
    scale = page.dpi / dpi
    if worth_reading_alone(region, shape):
        own = scale_for(analyse(crop, faint).text_px, target)
        if abs(own / scale - 1.0) >= SAME_SCALE:
            return None
    x0 = max(0, round(body.x0 * scale - page.offset[0]))
    y0 = max(0, round(body.top * scale - page.offset[1]))
    x1 = min(page.image.width, round(body.x1 * scale - page.offset[0]))
    y1 = min(page.image.height, round(body.bottom * scale - page.offset[1]))
    if x1 <= x0 or y1 <= y0:
        return None
    framed = Image.new("1", (x1 - x0 + 2 * PART_MARGIN, y1 - y0 + 2 * PART_MARGIN), 255)
    with page.image.crop((x0, y0, x1, y1)) as cut:
        framed.paste(cut, (PART_MARGIN, PART_MARGIN))
    offset = (
        page.offset[0] + x0 - PART_MARGIN - body.x0 * scale,
        page.offset[1] + y0 - PART_MARGIN - body.top * scale,
    )
    return Prepared(framed, page.dpi, offset, page.skew, page.text_px)


def extraction_score(extraction: FileExtraction | None) -> Score:
    """`reading_score` of a file's reading; NO_PANEL when it found none (None)."""
    if extraction is None:
        return NO_PANEL
    return reading_score(extraction.rows, extraction.issues)


def amount_key(amount: str | None, unit: str | None) -> tuple[float | str, str] | None:
    """A row's amount as two readings are compared: its value (the text where it does not
    parse) and its unit in lower case; None when the row has no amount."""
    if amount is None:
        return None
    parsed = parse_amount(amount)
    value: float | str = parsed.value if parsed is not None else amount.strip()
    return value, (unit or "").strip().lower()


def withheld(row: LabelRow, elsewhere: str) -> tuple[LabelRow, ReadIssue]:
    """`row` with its amount withheld, and the read issue saying it was read as it is and
    otherwise `elsewhere` ("at one text size and as 2 mg at another"): one that blocks the
    verdict when the row is a protocol nutrient."""
    read = f"{row.amount_raw} {row.unit_raw or ''}".strip()
    issue = ReadIssue(
        row.source_file,
        row.label_index,
        row.page,
        row.line_no,
        f"page {row.page or 1}, line {row.line_no}: '{row.name_raw}' read as {read} "
        f"{elsewhere}: the amount is not taken (check the label)",
        blocks_verdict=resolve(row.name_raw, row.form_raw).nutrient in PROTOCOL_NUTRIENTS,
    )
    return dataclasses.replace(row, amount_raw=None, unit_raw=None), issue


def withhold_disagreements(
    kept: FileExtraction, others: Sequence[FileExtraction | None]
) -> FileExtraction:
    """`kept` with the amount of each row that another reading of the same image (at
    another text size) read differently withheld: a read issue naming both readings (one
    that blocks the verdict when the row is a protocol nutrient), never a guess between
    them. Rows are matched by label and name; a row the other reading lacks is kept."""
    shown: dict[tuple[int, str], dict[tuple[float | str, str], str]] = {}
    for other in others:
        for row in other.rows if other is not None else ():
            key = amount_key(row.amount_raw, row.unit_raw)
            if key is not None:
                name = (row.label_index, clean_name(row.name_raw))
                text = f"{row.amount_raw} {row.unit_raw or ''}".strip()
                shown.setdefault(name, {})[key] = text
    rows: list[LabelRow] = []
    issues = list(kept.issues)
    for row in kept.rows:
        key = amount_key(row.amount_raw, row.unit_raw)
        elsewhere = shown.get((row.label_index, clean_name(row.name_raw)), {})
        differ = sorted(text for k, text in elsewhere.items() if k != key)
        if key is None or not differ:
            rows.append(row)
            continue
        row, issue = withheld(row, f"at one text size and as {' or '.join(differ)} at another")
        rows.append(row)
        issues.append(issue)
    if len(issues) == len(kept.issues):
        return kept
    return dataclasses.replace(kept, rows=tuple(rows), issues=tuple(issues))
