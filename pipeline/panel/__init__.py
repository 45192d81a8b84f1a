"""Read Supplement Facts panels from positioned words (a PDF text layer or OCR).

Modules: `grammar` (cell and statement patterns), `settings` (`ReaderSettings`), `geometry`
(steps 0-1), `text` (panel records, headings, statements, title), `cells` (step 3), `rows`
(step 4), `reader` (`words_to_labels`; every `LabelRow` is built in `_Reader._row`).

The reader never sees a whole page as one string: it works from word positions.

0. Regions (label artwork). The page's graphics (`Box`: the boxes, bars and rules
   pdf.py keeps; OCR may pass none) bound each panel: the smallest box holding a
   "Supplement Facts" heading near its top is the panel's region (`panel_regions`). Its
   words are read as one block; the other words, when they stand in page columns
   (`text_columns`: a wrap's copy and statements), a block per column, before the panel
   (`page_blocks`). Inside a box, the box ends the panel, not a gap or a wider line; a
   bar or rule in a gap is a separator, never the panel's end.
1. Lines. Dot leaders and typed rules ("......", "-----") are dropped (`drop_leaders`).
   Without a box, a panel set in a column beside other text (marketing copy, another
   panel) is cut out of the page first (`split_side_column`). The words are grouped
   into lines by vertical overlap and each line is sorted left to right.
2. Panels. A line that starts with "Supplement Facts" opens a panel (a new `Label`,
   except "Supplement Facts (continued)"). The panel's preamble gives "Serving Size",
   "Servings Per Container" and the column headings ("Amount Per Serving", "Per Day",
   "% Daily Value", "%DV"; a heading wrapped onto a second line joins it). The panel's
   left edge is the heading's or, under a centred heading, the preamble's. The panel
   ends at a footnote ("* Daily Value not
   established"), at a statement ("Other ingredients:", "Suggested use:", "Warning:",
   ...), at a line wider than the panel or taller than its text (not a row up to 1.6
   times as tall, from the panel's left edge, with its amount: a rule's remains read into
   its ink), at a wide vertical gap, or at the next heading. A panel that reaches the
   end of a page goes on at the top of the next page.
3. Columns. The left edge of the value columns is measured from the lines whose
   trailing words, after a wide gap, read as an amount with a unit (and from the
   column headings). Words right of it are values, words left of it the name.
   Values are split into cells at wide gaps and each cell is read as an amount
   ("1,000 mg", "<1 mg", "100mcg", "25 mcg (1,000 IU)", "2 mcg RAE") or a %DV
   ("38%", "<1%", "*", "†"). Cells go to the nearest heading; with two amount
   columns the second one fills `amount_alt_raw`/`unit_alt_raw`.
   Column groups: rows continued in a second name / amount / %DV group (an x gap or a
   vertical rule crossed by no row word, names right of it, amounts left of it:
   `column_gutters`) are read group by group, in order. Which of two amount columns is
   per serving comes from the headings and the serving size (`serving_column`); when
   they do not say, no amount is taken and a read issue says why. A unit printed only
   in a heading ("mg/serving", "Amount (mg)") applies to the bare numbers under it. On
   a panel with decimal commas ("4,80 mg"), "1,250 mg" is unreadable, never guessed.
4. Rows. A line continues the row above when that row has an open parenthesis or
   ends with a joining word ("/", "and", "as", "from", ...), when it brings the
   amount to a name printed without one, or when it is set tighter than the row
   pitch, but never to a nutrition row ("Calories", "Total Fat", ... : each a whole row)
   without its amount. A line indented under a row is a member of that row (a blend); lines
   without amounts under a "... Blend"/"Complex"/"Formula" total are its members too
   (a comma-separated member paragraph gives one row per member), and so do the
   members run on after a total ("Proprietary Blend 415 mg: Guggul, Bitter Melon").
5. Text after the panel: "Other ingredients", directions ("Suggested use",
   "Directions", "Recommended use") and warnings ("Warning", "Caution", "Keep out of
   reach ...") go to the label.

Product name and brand (convention): among the lines above a panel (after the previous
panel's statements; for the first panel, every line before it, including earlier
pages), the product name is the tallest line (word height, bottom - top; a title
wrapped over consecutive lines of the same height is joined), if it is at least 1.2
times as tall as the panel's rows; the brand is the short line (at most 8 words, not
a sentence) right above that title, else a line right below it that starts with "by".
An OCR'd line is a candidate only when it reads as words (`title`: a real word, most of
its letters in words read with 60% or more): a badge or picture read as "i M-63 :" is no
name. Without such a title the caller's `fallback_name` is used and the brand is None.

Every tolerance is a field of `ReaderSettings` (`SETTINGS`), in text heights.

A panel line whose amount cannot be read is kept (amount_raw None) and reported as a
`ReadIssue`; so is a name with no amount that is neither a blend member nor a blend
total.
"""

from pipeline.panel.cells import column_gutters, serving_column
from pipeline.panel.geometry import (
    Box,
    Region,
    drop_leaders,
    group_lines,
    page_blocks,
    panel_regions,
    split_side_column,
    text_columns,
)
from pipeline.panel.reader import words_to_labels
from pipeline.panel.rows import split_name
from pipeline.panel.settings import SETTINGS, ReaderSettings

__all__ = [
    "SETTINGS",
    "Box",
    "ReaderSettings",
    "Region",
    "column_gutters",
    "drop_leaders",
    "group_lines",
    "page_blocks",
    "panel_regions",
    "serving_column",
    "split_name",
    "split_side_column",
    "text_columns",
    "words_to_labels",
]
