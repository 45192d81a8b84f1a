"""The panel reader's tolerances, in text heights (`ReaderSettings`, `SETTINGS`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReaderSettings:
    """Every tolerance of the panel reader, in text heights (a word's or a line's height,
    bottom - top) unless it says otherwise, so one reader serves a 6 pt PDF and a 2,000 px
    photo alike."""

    line_overlap: float = 0.5  # share of the shorter height two words overlap to share a line
    cell_gap: float = 0.75  # x gap that separates table cells
    indent: float = 0.6  # x offset that counts as an indent
    end_gap: float = 2.6  # vertical gap (in line heights) that ends an unboxed panel
    title_ratio: float = 1.2  # a product name is this much taller than the panel's rows
    title_confidence: float = 60.0  # an OCR'd word of a product name is read with this (%)
    title_share: float = 0.75  # share of an OCR'd title's letters and digits in such words
    heading_pair_gap: float = 1.5  # most x gap between "Supplement" and "Facts"
    heading_pair_dy: float = 0.3  # most top offset between "Supplement" and "Facts"
    side_gutter: float = 2.0  # x gap on the heading's line that may part two page columns
    header_word_gap: float = 1.0  # x gap that parts two column headings on one line
    wrapped_header_indent: float = 2.0  # a wrapped heading line starts this far right
    wrapped_header_gap: float = 0.8  # most vertical gap to the heading line it continues
    taller_line: float = 1.3  # a line this much taller than the rows ends an unboxed panel
    taller_row: float = 1.6  # unless it is a row up to this much taller (`text._row_like`)
    stray_confidence: float = 50.0  # a lone short word below this (OCR %) is a rule or speck
    amount_confidence: float = 20.0  # an amount read below this (OCR %) is not taken
    panel_edge: float = 2.0  # a line this far outside the panel's x range ends it
    value_left_slack: float = 0.3  # a value word may start this far left of its column
    statement_gap: float = 1.2  # most vertical gap between lines of one statement
    statement_height: float = 0.2  # most relative height change within one statement
    box_min_height: float = 4.0  # a panel box is at least this tall (heading heights)
    box_min_width: float = 8.0  # and this wide (heading heights)
    box_margin: float = 0.3  # words this far outside a box's edge still count as inside
    box_reach: float = 3.0  # a panel's heading is at most this far below its box's top
    group_gutter: float = 1.0  # an x gap crossed by no body word that may part column groups
    group_min_lines: float = 0.3  # share of body lines with words on both sides of the gutter
    group_names: float = 0.6  # share of the right side's lines that start with a name
    rule_width: float = 0.5  # a vertical rule is at most this wide (page's median text height)


SETTINGS = ReaderSettings()
_S = SETTINGS
_LINE_OVERLAP = _S.line_overlap
_CELL_GAP = _S.cell_gap
_INDENT = _S.indent
_END_GAP = _S.end_gap
_TITLE_RATIO = _S.title_ratio
