"""A label image with two column groups side by side, like a gummy's product-page panel:
nutrition rows (Calories, Total Fat ...) on the left, a long ingredient list with its own
amounts on the right, the rows of the two groups not level with each other (names
wrapped onto a second line on one side only), a footnote under the right group while the
left one goes on, and the other ingredients across the whole width below.

`write_side_groups(path)` draws it (PNG, Pillow, DejaVu fonts) and `SIDE_GROUP_ROWS`
is its truth: every row's (name, amount, unit) as printed.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from labelgen.image_styles import _font

Row = tuple[str, str, str, str, str, int]
#: (name, second line or "", amount, unit, %DV, indent) of each row; the left group's rows
#: first, then from `RIGHT_FROM` on the right group's, each top to bottom.
ROWS: tuple[Row, ...] = (
    ("Total Fat", "", "0", "g", "0%", 0),
    ("Saturated Fat", "", "0", "g", "0%", 1),
    ("Cholesterol", "", "0", "mg", "0%", 0),
    ("Sodium", "", "5", "mg", "<1%", 0),
    ("Total Carbohydrate", "", "4", "g", "2%", 0),
    ("Total Sugars", "", "3", "g", "", 1),
    ("Protein", "", "0", "g", "0%", 0),
    ("Maca Root Powder", "(Lepidium meyenii)", "100", "mg", "†", 0),
    ("Horny Goat Weed", "(Epimedium sagittatum)", "83", "mg", "†", 0),
    ("Cordyceps Mycelium Powder", "(Cordyceps sinensis)", "75", "mg", "†", 0),
    # the right group
    ("Vitamin D3 (as Cholecalciferol)", "", "25", "mcg", "125%", 0),
    ("Maitake Mushroom Powder", "(Grifola frondosa)", "58", "mg", "†", 0),
    ("Zinc (as Zinc Glycinate)", "", "50", "mg", "455%", 0),
    ("Panax Ginseng Root Extract", "", "25", "mg", "†", 0),
    ("Calcium (as Calcium Carbonate)", "", "20", "mg", "2%", 0),
    ("Fenugreek Seed Extract", "(Trigonella foenum-graecum)", "16", "mg", "†", 0),
    ("Magnesium", "(as Magnesium Citrate)", "5", "mg", "1%", 0),
    ("Vitamin K2 (as Menaquinone-7)", "", "90", "mcg", "75%", 0),
    ("Tribulus Terrestris", "", "3", "mg", "†", 0),
)
RIGHT_FROM = 10
LEFT, RIGHT = ROWS[:RIGHT_FROM], ROWS[RIGHT_FROM:]
#: What the image prints: (the row's name before any parenthesis, amount, unit), the left
#: group then the right group, each top to bottom.
SIDE_GROUP_ROWS: tuple[tuple[str, str, str], ...] = tuple(
    (name.split(" (")[0], amount, unit) for name, _s, amount, unit, _dv, _i in ROWS
)

#: Body text size (px) and the widths of the drawing.
BODY = 15
GROUP = 380  # a group's width
GUTTER = 24  # the white between the groups
MARGIN = 12


def _group(draw: ImageDraw.ImageDraw, x: int, y: int, rows: tuple[Row, ...]) -> int:
    """One column group from (x, y): its heading and rows; returns the y below it."""
    body, bold, small = _font(BODY), _font(BODY, bold=True), _font(BODY - 4)
    amount_right, dv_right = x + GROUP - 56, x + GROUP
    draw.text((amount_right, y), "Amount Per Serving", font=bold, fill=0, anchor="ra")
    draw.text((dv_right, y + 3), "%DV*", font=small, fill=0, anchor="ra")
    y += BODY + 10
    for name, second, amount, unit, dv, indent in rows:
        draw.line((x, y, x + GROUP, y), fill=0, width=1)
        y += 4
        main, _, form = name.partition(" (")
        at = x + 14 * indent
        draw.text((at, y), main, font=body if indent else bold, fill=0)
        if form:  # "(as Zinc Glycinate)" in the regular face after the bold name
            at += round(draw.textlength(main + " ", font=bold))
            draw.text((at, y), f"({form}", font=body, fill=0)
        draw.text((amount_right, y), f"{amount}{unit}", font=body, fill=0, anchor="ra")
        draw.text((dv_right, y), dv, font=bold, fill=0, anchor="ra")
        y += BODY + 3
        if second:
            draw.text((x + 2, y), second, font=_font(BODY - 2), fill=0)
            y += BODY + 1
        y += 2
    draw.line((x, y, x + GROUP, y), fill=0, width=3)
    return y + 6


def write_side_groups(path: Path) -> Path:
    """The side-by-side panel as a PNG at `path`."""
    width = 2 * MARGIN + 2 * GROUP + GUTTER
    image = Image.new("L", (width, 560), 255)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 8), "Supplement Facts", font=_font(34, bold=True), fill=0)
    draw.text((MARGIN, 52), "Serving Size: 2 Gummies (6g)", font=_font(BODY), fill=0)
    draw.text((MARGIN, 70), "Servings Per Container: 30", font=_font(BODY), fill=0)
    draw.rectangle((MARGIN, 92, width - MARGIN, 99), fill=0)
    top = 106
    left_end = _group(draw, MARGIN, top, LEFT)
    right_x = MARGIN + GROUP + GUTTER
    right_end = _group(draw, right_x, top, RIGHT)
    foot = _font(BODY - 4)
    draw.text((right_x, right_end), "† Daily Value not established.", font=foot, fill=0)
    draw.text(
        (right_x, right_end + BODY),
        "* Percent Daily Values are based on a 2,000",
        font=foot,
        fill=0,
    )
    y = max(left_end, right_end + 2 * BODY) + 14
    other = "Other Ingredients: Tapioca Syrup, Beet Sugar, Water, Pectin, Citric Acid."
    draw.text((MARGIN, y), other, font=_font(BODY), fill=0)
    image = image.crop((0, 0, width, y + BODY + 16))
    image.save(path, format="PNG")
    return path
