"""Label artwork: whole bottle wraps and real-label panel habits, as text PDFs (dev only).

labelgen.pdf_layouts and labelgen.pdf_unseen render isolated panels. Real label files are
artwork: the whole wrap, the brand and product name in large type, marketing copy,
directions and warnings in other columns, and the boxed Supplement Facts panel somewhere
among them. This third renderer draws such artwork on a reportlab canvas, word by word,
with a seeded random generator choosing fonts, sizes, leading, column widths, positions
and the spelling of headings and serving lines, so the reader is measured on a family of
layouts, not on one renderer's habits.

Styles (`STYLES`):

- "wrap-left", "wrap-middle", "wrap-right": a landscape wrap in three columns, the boxed
  panel in the left, middle or right one; marketing copy (brand, product name in large
  type, claims) and the statements (directions, warnings, other ingredients) in the
  others, their first lines at any height (above, level with or below the heading).
- "two-groups": the panel's rows continued in a second name / amount / %DV column group
  inside the same box (each group under its own column headings).
- "dual-unit-first", "dual-serving-first": two amount columns, each with its %DV,
  headed "Per Tablet" / "Amount Per 3 Tablets" (one unit and the serving) in both
  orders; a one-unit serving is printed beside "Per 2 Tablets".
- "unit-in-heading": the unit printed only in the amount heading ("mg/serving", "Amount
  (mg)", "Amount Per Serving (mg)"): mg rows print bare numbers, other rows their unit.
- "fda-heavy-bars": the FDA format, no box: a heavy bar under the serving lines, a
  medium one under the column headings and at the end, hairlines between the rows.
- "blend-running-text": a blend's members printed as running text, wrapped over lines:
  after the blend's name and total in one run ("Bone Health Blend 150 mg: Horsetail,
  Boron, ..."), or under the blend's row across the panel's width, indented, or flush
  with the names and closer than the rows (a paragraph without a final period).
- "eu-nrv": a panel sold in the EU/UK: "Per daily dose (2 capsules)" (beside "Per
  capsule" when the dose is more than one unit) and "%NRV" headings, decimal commas
  ("4,80 mg", "1500,00 mg"), no thousands separator.

`UNREADABLE_CASES` render panels the reader must not read as if they were right (two
amount columns whose headings do not say which is per serving; a panel with no readable
row), with the outcome expected. `score_artwork` renders every label in every style,
reads it back and compares the protocol fields with the same label as DSLD JSON (as
labelgen.pdf_unseen.score_styles does). Generated PDFs are deterministic (`invariant=1`).
"""

from __future__ import annotations

import copy
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labelgen.pdf_unseen import (
    StyleScore,
    label_statements,
    panel_ingredients,
    score_styles,
    unseen_labels,
)
from labelgen.pdf_unseen import regression_product as unseen_regression_product

STYLES: tuple[str, ...] = (
    "wrap-left",
    "wrap-middle",
    "wrap-right",
    "two-groups",
    "dual-unit-first",
    "dual-serving-first",
    "unit-in-heading",
    "fda-heavy-bars",
    "blend-running-text",
    "eu-nrv",
)

Label = dict[str, Any]

#: Styles the reader must refuse to read as right (`UNREADABLE_CASES`).
UNREADABLE_STYLES: tuple[str, ...] = ("silent-dual", "garbled-amounts", "eu-grouped")
_EU = frozenset({"eu-nrv", "eu-grouped"})
_NP_UNITS = frozenset({"NP", "Not Present"})
_CALORIE_UNITS = frozenset({"{Calories}", "Calorie(s)", "Calories"})
_FAMILIES = (
    ("Helvetica", "Helvetica-Bold"),
    ("Times-Roman", "Times-Bold"),
    ("Courier", "Courier-Bold"),
)


# --- the look of one label (seeded) -------------------------------------------------


@dataclass(frozen=True)
class Look:
    """Fonts, sizes and spacing of one rendered label, drawn from a seeded RNG."""

    font: str
    bold: str
    size: float  # body text of the panel
    leading: float  # row pitch / size
    heading_size: float
    title_size: float
    panel_width: float
    dv_width: float  # width of a %DV column
    amount_width: float  # width of an amount column
    pad: float  # inside the box
    copy_size: float  # marketing and statement text
    copy_offset: float  # first line of the other columns, from the page top
    serving_form: int  # which spelling of the serving lines
    heading_form: int  # which spelling of the column headings


def look_for(seed: str, style: str) -> Look:
    rng = random.Random(f"{style}/{seed}")
    font, bold = rng.choice(_FAMILIES)
    size = rng.choice((6.5, 7.0, 7.5, 8.0, 8.5, 9.0))
    mono = font == "Courier"
    return Look(
        font=font,
        bold=bold,
        size=size,
        leading=rng.uniform(1.2, 1.6),
        heading_size=size * rng.uniform(1.8, 2.6),
        title_size=rng.uniform(18.0, 28.0),
        panel_width=size * rng.uniform(30.0, 36.0) * (1.15 if mono else 1.0),
        dv_width=size * rng.uniform(3.6, 5.0),
        amount_width=size * rng.uniform(6.5, 8.0) * (1.2 if mono else 1.0),
        pad=size * rng.uniform(0.4, 0.9),
        copy_size=rng.uniform(7.0, 10.0),
        copy_offset=rng.uniform(30.0, 140.0),
        serving_form=rng.randrange(5),
        heading_form=rng.randrange(3),
    )


# --- what is printed ----------------------------------------------------------------


def _number(q: float, *, thousands: bool = True, comma: bool = False) -> str:
    if float(q).is_integer():
        text = f"{int(q):,}" if thousands else str(int(q))
    else:
        text = f"{round(q, 3):,}" if thousands else f"{round(q, 3)}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return text.replace(".", ",") if comma else text


def _unit(unit: str, style: str) -> str:
    unit = {"Gram(s)": "g", "{Calories}": "", "Calorie(s)": "", "Calories": ""}.get(unit, unit)
    if style in _EU and unit == "mcg":
        return "µg"
    return unit


def _amount(q: float, unit: str, style: str, look: Look, bare_mg: bool = False) -> str:
    u = _unit(unit, style)
    if style == "garbled-amounts":  # a misprint or a bad scan: letters for digits
        num = _number(q).translate(str.maketrans("01", "Ol"))
        return f"{num} {u.replace('m', 'rn')}"
    if style == "eu-grouped":  # decimal commas, and a comma grouping thousands too
        num = _number(q) if float(q).is_integer() else _number(q, thousands=False, comma=True)
    elif style in _EU:
        num = _number(q, thousands=False, comma=True)
        if float(q).is_integer() and q >= 100 and look.heading_form == 1:
            num = f"{int(q)},00"  # "1500,00 mg"
    else:
        num = _number(q)
    if bare_mg and u == "mg":
        return num
    return f"{num} {u}".strip()


def _dv(ing: dict[str, Any], factor: float = 1.0, no_dv: str = "*") -> str:
    dv = ing.get("daily_value_percent")
    if not dv:
        return no_dv
    return f"{_number(round(float(dv) * factor))}%"


@dataclass(frozen=True)
class Row:
    """One printed panel row: the name, then one (amount, %DV) per amount column."""

    name: str
    values: tuple[tuple[str, str], ...]
    depth: int
    members: str = ""  # running-text members ("Horsetail, Boron")


def serving_of(label: Label) -> tuple[float, str, str]:
    """(quantity, unit singular, unit plural) of the label's serving."""
    serving = (label.get("serving_sizes") or [{}])[0]
    q = float(serving.get("quantity") or 1.0)
    unit = str(serving.get("unit") or "Serving(s)")
    if unit == "Gram(s)":
        return q, "g", "g"
    return q, unit.replace("(s)", ""), unit.replace("(s)", "s")


def serving_text(label: Label) -> str:
    q, one, many = serving_of(label)
    if one == "g":
        return f"{_number(q)} g"
    return f"{_number(q)} {one if q == 1 else many}"


def _columns(label: Label, style: str, look: Look) -> list[tuple[str, float]]:
    """The amount columns as (heading, factor on the per-serving amount)."""
    q, one, many = serving_of(label)
    qn = _number(q)
    if style in ("dual-unit-first", "dual-serving-first"):
        if one == "g":
            cols = [("Per 100 g", 100.0 / q), ("Per Serving", 1.0)]
        elif q == 1:
            cols = [(f"Per {one}", 1.0), (f"Per 2 {many}", 2.0)]
        else:
            serving = f"Amount Per {qn} {many}" if look.heading_form else f"Per {qn} {many}"
            cols = [(f"Per {one}", 1.0 / q), (serving, 1.0)]
        if style == "dual-serving-first":
            cols.reverse()
        return cols
    if style in _EU:
        dose = f"Per daily dose ({serving_text(label).lower()})"
        if q == 1 and one != "g":
            return [(f"Active ingredients per {one.lower()}", 1.0)]
        if one != "g" and look.heading_form != 2:
            return [(f"Per {one.lower()}", 1.0 / q), (dose, 1.0)]
        return [(dose, 1.0)]
    if style == "silent-dual":  # two amount columns whose headings do not say per serving
        return [("Children", 0.5), ("Adults", 1.0)]
    if style == "unit-in-heading":
        return [(("mg/serving", "Amount (mg)", "Amount Per Serving (mg)")[look.heading_form], 1.0)]
    return [("Amount Per Serving", 1.0)]


def printed_rows(label: Label, style: str, look: Look) -> list[Row]:
    """The rows `style` prints for `label` (a Not Present ingredient is left out unless it
    is a blend or a member; members of a blend print indented, or as running text)."""
    factors = [f for _, f in _columns(label, style, look)]
    no_dv = "**" if style in _EU else "†" if style == "fda-heavy-bars" else "*"
    rows: list[Row] = []
    running = style == "blend-running-text"
    for ing, printed, depth, parent, np in panel_ingredients(label):
        unit = str(ing["unit"])
        if running and parent is not None and np and rows:
            last = rows[-1]
            sep = ", " if last.members else ""
            rows[-1] = Row(last.name, last.values, last.depth, last.members + sep + printed)
            continue
        q = float(ing["quantity"])
        values: list[tuple[str, str]] = []
        for f in factors:
            if np:
                values.append(("", ""))
                continue
            bare = style == "unit-in-heading"
            value = q * f
            if f != 1.0:  # another column than the serving's: rounded as labels print it
                value = float(round(value)) if value >= 10 else round(value, 2)
            amount = _amount(value, unit, style, look, bare_mg=bare)
            values.append((amount, _dv(ing, f, no_dv)))
        rows.append(Row(printed, tuple(values), depth))
    return rows


def with_running_blend(label: Label) -> Label:
    """The label with a blend of members without amounts, when it has none (the style
    "blend-running-text" needs one; the truth is written from the same label)."""
    out = copy.deepcopy(label)
    ings = out["ingredients"]
    has_blend = any(i.get("nested_in") for i in ings)
    if has_blend:
        return out
    top = max((int(i["order"]) for i in ings), default=0)
    blend = "Bone Health Blend"
    members = ["Horsetail (stem)", "Boron Citrate", "Bamboo Extract", "Hops (flower)", "Kelp"]
    ings.append(
        {
            "order": top + 1,
            "name": blend,
            "ingredient_group": "Blend",
            "quantity": 150.0,
            "unit": "mg",
            "daily_value_percent": None,
            "forms": ["unspecified"],
            "nested_in": None,
        }
    )
    for k, member in enumerate(members, start=2):
        ings.append(
            {
                "order": top + k,
                "name": member,
                "ingredient_group": "Blend",
                "quantity": 0.0,
                "unit": "NP",
                "daily_value_percent": None,
                "forms": ["unspecified"],
                "nested_in": blend,
            }
        )
    return out


def artwork_label(label: Label, style: str) -> Label:
    """The label as `style` prints it (apply before rendering and before the truth)."""
    if style == "blend-running-text":
        return with_running_blend(label)
    return copy.deepcopy(label)


_CLAIMS = (
    "Supports strong, healthy bones*",
    "Helps direct calcium where the body needs it*",
    "Third-party tested for purity and potency",
    "Non-GMO - Gluten free - No artificial colors",
    "Made in a GMP-certified facility",
)


# --- drawing ------------------------------------------------------------------------


class _Pen:
    """Draws left/right-aligned text and wrapped paragraphs on a canvas (y from the top)."""

    def __init__(self, canvas: Canvas, page_height: float) -> None:
        self.c = canvas
        self.h = page_height

    def text(self, x: float, top: float, text: str, font: str, size: float) -> None:
        if text:
            self.c.setFont(font, size)
            self.c.drawString(x, self.h - top - size * 0.8, text)

    def right(self, x1: float, top: float, text: str, font: str, size: float) -> None:
        if text:
            self.c.setFont(font, size)
            self.c.drawRightString(x1, self.h - top - size * 0.8, text)

    def wrap(
        self, x: float, top: float, width: float, text: str, font: str, size: float, lead: float
    ) -> float:
        """Draw `text` wrapped to `width`; returns the top of the next line."""
        for line in simpleSplit(text, font, size, width):
            self.text(x, top, line, font, size)
            top += size * lead
        return top

    def bar(self, x0: float, top: float, x1: float, height: float) -> None:
        self.c.setFillGray(0)
        self.c.rect(x0, self.h - top - height, x1 - x0, height, stroke=0, fill=1)

    def box(self, x0: float, top: float, x1: float, bottom: float, width: float) -> None:
        self.c.setLineWidth(width)
        self.c.rect(x0, self.h - bottom, x1 - x0, bottom - top, stroke=1, fill=0)

    def vline(self, x: float, top: float, bottom: float, width: float) -> None:
        self.c.setLineWidth(width)
        self.c.line(x, self.h - top, x, self.h - bottom)


def _serving_lines(label: Label, look: Look, style: str) -> list[str]:
    serving = serving_text(label)
    spc = label.get("servings_per_container")
    spc_text = _number(float(spc)) if spc else None
    if style in _EU:
        return [f"Serving size: {serving.lower()}"] + (
            [f"Servings per pack: {spc_text}"] if spc_text else []
        )
    form = look.serving_form
    if form == 0 or not spc_text:
        return [f"Serving Size: {serving}"] + ([f"Servings Per Container: {spc_text}"] * bool(spc))
    if form == 1:
        return [f"Serving Size {serving} | Servings Per Container: {spc_text}"]
    if form == 2:
        return [f"Serving Size {serving.lower()} Servings per Container {spc_text}"]
    if form == 3:
        return [f"Serving Size - {serving}", f"Servings Per Container: About {spc_text}"]
    return [f"Serving Size {serving}", f"Servings Per Container {spc_text}"]


def _heading_lines(head: str, font: str, size: float, width: float) -> list[str]:
    """A column heading on one line, or wrapped over two when wider than `width`."""
    if stringWidth(head, font, size) <= width or " " not in head:
        return [head]
    words = head.split()
    best = min(
        range(1, len(words)),
        key=lambda k: max(
            stringWidth(" ".join(words[:k]), font, size),
            stringWidth(" ".join(words[k:]), font, size),
        ),
    )
    return [" ".join(words[:best]), " ".join(words[best:])]


def _dv_heading(style: str, look: Look, n_cols: int, groups: bool) -> str:
    if style in _EU:
        return "%NRV"
    if n_cols > 1 or groups:
        return "%DV"
    return ("% Daily Value", "%DV", "% DV")[look.heading_form]


@dataclass(frozen=True)
class _Geometry:
    name_w: float  # the name column
    col_w: list[float]  # each amount column (its heading, its amounts)
    dv_w: float
    head_lines: list[list[str]]
    group_w: float
    groups: int
    width: float  # the box, outside


def panel_geometry(label: Label, style: str, look: Look) -> _Geometry:
    cols = _columns(label, style, look)
    rows = printed_rows(label, style, look)
    s, font, bold = look.size, look.font, look.bold
    head_lines = [_heading_lines(h, bold, s, look.amount_width) for h, _ in cols]
    col_w = []
    for k, lines in enumerate(head_lines):
        widest_amount = max(
            (stringWidth(r.values[k][0], font, s) for r in rows if r.values), default=0.0
        )
        widest_head = max(stringWidth(x, bold, s) for x in lines) if len(cols) > 1 else 0.0
        col_w.append(max(look.amount_width, widest_head + s, widest_amount + s))
    dv_head = _dv_heading(style, look, len(cols), style == "two-groups" and len(rows) >= 4)
    widest_dv = max((stringWidth(dv, font, s) for r in rows for _, dv in r.values), default=0.0)
    dv_w = max(look.dv_width, stringWidth(dv_head, bold, s) + s, widest_dv + s)
    groups = 2 if style == "two-groups" and len(rows) >= 4 else 1
    name_w = look.panel_width - look.amount_width - look.dv_width
    if groups > 1:
        name_w *= 0.8
    group_w = name_w + sum(col_w) + dv_w * len(cols)
    serving_w = max(stringWidth(x, font, s) for x in _serving_lines(label, look, style))
    heading_w = stringWidth("Supplement Facts", bold, look.heading_size)
    inner = max(group_w * groups + 2 * look.pad * (groups - 1), serving_w + s, heading_w + s)
    if groups == 1:
        group_w = inner
        name_w = group_w - sum(col_w) - dv_w * len(cols)
    return _Geometry(name_w, col_w, dv_w, head_lines, group_w, groups, inner + 2 * look.pad)


def draw_panel(
    pen: _Pen,
    label: Label,
    style: str,
    look: Look,
    x0: float,
    top: float,
) -> float:
    """Draw the boxed panel with its top-left corner at (x0, top); returns its bottom."""
    cols = _columns(label, style, look)
    rows = printed_rows(label, style, look)
    geo = panel_geometry(label, style, look)
    s, font, bold = look.size, look.font, look.bold
    lead = s * look.leading
    groups = geo.groups
    dv_head = _dv_heading(style, look, len(cols), groups > 1)
    group_w = geo.group_w
    x1 = x0 + geo.width
    fda = style == "fda-heavy-bars"
    y = top + look.pad
    left = x0 + look.pad
    pen.text(left, y, "Supplement Facts", bold, look.heading_size)
    y += look.heading_size * 1.15
    if fda:
        pen.bar(left, y, x1 - look.pad, 0.6)
        y += s * 0.4
    for line in _serving_lines(label, look, style):
        pen.text(left, y, line, font, s)
        y += lead
    if fda:
        pen.bar(left, y, x1 - look.pad, s * 0.9)
        y += s * 0.9 + s * 0.35
    else:
        pen.bar(left, y, x1 - look.pad, 0.8)
        y += s * 0.45
    per_group = -(-len(rows) // groups)
    chunks = [rows[i * per_group : (i + 1) * per_group] for i in range(groups)]
    heads_top = y
    bottoms = []
    n_head = max(len(lines) for lines in geo.head_lines)
    for g, chunk in enumerate(chunks):
        gx0 = left + g * (group_w + 2 * look.pad)
        gx1 = gx0 + group_w
        y = heads_top
        rights: list[tuple[float, float]] = []  # (amount right edge, dv right edge)
        a_r = gx0 + geo.name_w
        for k in range(len(cols)):
            a_r += geo.col_w[k]
            rights.append((a_r, a_r + geo.dv_w))
            a_r += geo.dv_w
        if len(cols) == 1 and (fda or (cols[0][0] == "Amount Per Serving" and look.heading_form)):
            pen.text(gx0, y, cols[0][0], bold, s)  # "Amount Per Serving" at the left
            pen.right(rights[0][1], y, "% Daily Value" if fda else dv_head, bold, s)
        else:
            for lines, (a_r, d_r) in zip(geo.head_lines, rights, strict=True):
                for i, part in enumerate(lines):
                    pen.right(a_r, y + (n_head - len(lines) + i) * s * 1.1, part, bold, s)
                pen.right(d_r, y + (n_head - 1) * s * 1.1, dv_head, bold, s)
        y += s * 1.1 * n_head + s * 0.3
        if fda:
            pen.bar(gx0, y, gx1, s * 0.45)
            y += s * 0.45 + s * 0.35
        else:
            pen.bar(gx0, y, gx1, 0.5)
            y += s * 0.35
        for row in chunk:
            indent = row.depth * s * 1.2
            if row.members and look.heading_form == 0 and len(row.values) == 1:
                # "Bone Health Blend 150 mg: Horsetail, Boron, ...": one run of text
                amount, dv = row.values[0]
                y = pen.wrap(
                    gx0 + indent,
                    y,
                    rights[0][0] - gx0 - indent,
                    f"{row.name} {amount}: {row.members}.",
                    font,
                    s,
                    look.leading * 0.85,
                )
                pen.right(rights[0][1], y - lead * 0.85, dv, font, s)
                y += lead * 0.15
                continue
            name_lines = simpleSplit(row.name, font, s, geo.name_w - indent - s)
            for i, part in enumerate(name_lines):
                pen.text(gx0 + indent + (s if i else 0), y + i * lead * 0.85, part, font, s)
            for (amount, dv), (a_r, d_r) in zip(row.values, rights, strict=True):
                pen.right(a_r, y, amount, font, s)
                pen.right(d_r, y, dv, font, s)
            y += lead * 0.85 * (len(name_lines) - 1) + lead
            if row.members:
                # the members run on as text under the blend's name and total: indented,
                # or (heading form 2) flush with the names and set closer, as real labels
                # print such a paragraph
                flush = look.heading_form == 2
                close = 0.72 if flush else 0.85
                y = pen.wrap(
                    gx0 + indent + (0.0 if flush else s),
                    y - lead * (1 - close),
                    gx1 - gx0 - indent - (0.0 if flush else s),
                    row.members + ("" if flush else "."),
                    font,
                    s,
                    look.leading * close,
                )
                y += lead * (1 - close)
            if fda:
                pen.bar(gx0, y - lead * 0.22, gx1, 0.3)
        bottoms.append(y)
    y = max(bottoms)
    if groups > 1:
        pen.vline(left + group_w + look.pad, heads_top, y, 0.5)
    pen.bar(left, y, x1 - look.pad, s * 0.45 if fda else 0.8)
    y += s * 0.9
    foot = (
        "** NRV: Nutrient Reference Value not established."
        if style in _EU
        else "*Percent Daily Values are based on a 2,000 calorie diet. "
        "† Daily Value not established."
    )
    y = pen.wrap(left, y, x1 - x0 - 2 * look.pad, foot, font, s * 0.85, 1.15)
    y += look.pad
    if not fda:  # the FDA panel is bounded by its bars alone
        pen.box(x0, top, x1, y, 1.0)
    return y


def _copy_column(
    pen: _Pen, label: Label, look: Look, x: float, top: float, width: float, rng: random.Random
) -> None:
    """Brand, product name in large type, claims (marketing copy)."""
    brand = str(label.get("brand") or "").strip()
    y = top
    if brand:
        pen.text(x, y, brand.upper(), "Helvetica-Bold", look.copy_size * 1.3)
        y += look.copy_size * 2.2
    name = str(label["product_name"]).strip()
    y = pen.wrap(x, y, width, name, "Helvetica-Bold", look.title_size, 1.1)
    y += look.copy_size
    for claim in rng.sample(_CLAIMS, 3):
        y = pen.wrap(x, y, width, f"- {claim}", "Helvetica", look.copy_size, 1.3)
    y += look.copy_size
    pen.wrap(
        x,
        y,
        width,
        f"{name} is made in small batches and tested for identity, strength and purity "
        "(these statements have not been evaluated by the Food and Drug Administration).",
        "Times-Italic",
        look.copy_size * 0.9,
        1.25,
    )


def _statement_column(
    pen: _Pen, label: Label, look: Look, x: float, top: float, width: float
) -> float:
    other, directions, warnings = label_statements(label)
    y = top
    size = look.copy_size * 0.9
    for head, text in (
        ("Suggested Use:", directions),
        ("Warning:", warnings),
        ("Other Ingredients:", other),
    ):
        if text:
            y = pen.wrap(x, y, width, f"{head} {text}", "Helvetica", size, 1.25)
            y += size * 0.9
    pen.wrap(
        x, y + size, width, "Distributed by a sample company, Anytown, USA.", "Helvetica", size, 1.2
    )
    return y


def render_artwork_pdf(label: Label, path: Path, style: str, seed: str | None = None) -> Path:
    """Render `label` (already `artwork_label`'d) as one `style` text PDF at `path`."""
    seed = seed if seed is not None else str(label["dsld_id"])
    look = look_for(seed, style)
    rng = random.Random(f"copy/{style}/{seed}")
    wrap = style.startswith("wrap-")
    size = landscape(letter) if wrap else letter
    path.parent.mkdir(parents=True, exist_ok=True)
    c = Canvas(str(path), pagesize=size, invariant=1)
    pen = _Pen(c, size[1])
    if wrap:
        geo = panel_geometry(label, style, look)
        margin = rng.uniform(24.0, 40.0)
        gutter = rng.uniform(18.0, 40.0)
        copy_w = rng.uniform(180.0, 240.0)
        where = {"wrap-left": 0, "wrap-middle": 1, "wrap-right": 2}[style]
        widths = [copy_w, copy_w]
        widths.insert(where, geo.width)
        size = (2 * margin + sum(widths) + 2 * gutter, rng.uniform(520.0, 620.0))
        c.setPageSize(size)
        pen = _Pen(c, size[1])
        panel_top = rng.uniform(30.0, 90.0)
        kinds = ["copy", "statements"]
        rng.shuffle(kinds)
        x = margin
        for k, w in enumerate(widths):
            if k == where:
                draw_panel(pen, label, style, look, x, panel_top)
            else:
                kind = kinds.pop()
                top = look.copy_offset + rng.uniform(-20.0, 20.0)
                if kind == "copy":
                    _copy_column(pen, label, look, x, top, w, rng)
                else:
                    _statement_column(pen, label, look, x, top, w)
            x += w + gutter
    else:
        margin = rng.uniform(36.0, 72.0)
        title_top = rng.uniform(36.0, 60.0)
        brand = str(label.get("brand") or "").strip()
        y = title_top
        if brand:
            pen.text(margin, y, brand, "Helvetica", look.title_size * 0.5)
            y += look.title_size * 0.8
        y = pen.wrap(
            margin,
            y,
            size[0] - 2 * margin,
            str(label["product_name"]).strip(),
            "Helvetica-Bold",
            look.title_size,
            1.1,
        )
        y += 12
        geo = panel_geometry(label, style, look)
        if geo.width + 2 * margin > size[0]:
            size = (geo.width + 2 * margin, size[1])
            c.setPageSize(size)
        bottom = draw_panel(pen, label, style, look, margin, y)
        _statement_column(pen, label, look, margin, bottom + 12, size[0] - 2 * margin)
    c.showPage()
    c.save()
    return path


# --- measuring the reader -----------------------------------------------------------


def artwork_labels() -> list[Label]:
    """The labels every style is measured on: labelgen.pdf_unseen.unseen_labels (4 sample
    products, the real DSLD labels with calcium, magnesium, vitamin D or K, 2 extra)."""
    return unseen_labels()


def score_artwork(
    labels: list[Label], out_dir: Path, styles: tuple[str, ...] = STYLES
) -> dict[str, StyleScore]:
    """Render every label in every style (a PDF, and the same label as DSLD JSON for the
    truth), read both back and score the protocol fields of each PDF."""
    return score_styles(labels, out_dir, styles, artwork_label, render_artwork_pdf)


def render_serving_forms(label: Label, path: Path) -> Path:
    """One page per spelling of the serving lines (`_serving_lines`, forms 0-4), the same
    plain panel on each: several panels in one PDF, one product each."""
    c = Canvas(str(path), pagesize=letter, invariant=1)
    pen = _Pen(c, letter[1])
    for form in range(5):
        look = dataclasses.replace(look_for("serving-forms", "plain"), serving_form=form)
        pen.wrap(72, 48, 400, str(label["product_name"]), "Helvetica-Bold", 20, 1.1)
        draw_panel(pen, label, "plain", look, 72, 90)
        c.showPage()
    c.save()
    return path


#: Regression PDFs (tests/pdfs/artwork-<case>.pdf): case -> (style, product id).
REGRESSION_CASES: dict[str, tuple[str, str]] = {
    "wrap-left": ("wrap-left", "sample-bone-matrix"),
    "wrap-middle": ("wrap-middle", "sample-daily-calcium-k2"),
    "wrap-right": ("wrap-right", "unseen-k1-mk4-bone"),
    "two-groups": ("two-groups", "sample-bone-matrix"),
    "dual-unit-first": ("dual-unit-first", "sample-daily-calcium-k2"),
    "dual-serving-first": ("dual-serving-first", "unseen-k1-mk4-bone"),
    "unit-in-heading": ("unit-in-heading", "sample-bone-matrix"),
    "fda-heavy-bars": ("fda-heavy-bars", "sample-k2-calcium-softgel"),
    "blend-running-text": ("blend-running-text", "sample-daily-calcium-k2"),
    "eu-nrv": ("eu-nrv", "sample-bone-matrix"),
    # what the reader must not read as right
    "unreadable-silent-dual": ("silent-dual", "sample-daily-calcium-k2"),
    "unreadable-garbled-amounts": ("garbled-amounts", "sample-bone-matrix"),
    "unreadable-eu-grouped": ("eu-grouped", "eu-grouped-calcium"),
    "serving-lines": ("serving-forms", "sample-k2-calcium-softgel"),
}

#: A product for "eu-grouped": decimal commas ("12,5 µg") beside "1,000 mg".
EU_GROUPED_PRODUCT: Label = {
    "dsld_id": "eu-grouped-calcium",
    "product_name": "Calcium + D3 + K2",
    "brand": "Lakeside Nutrition",
    "servings_per_container": 30,
    "serving_sizes": [{"quantity": 2.0, "unit": "Tablet(s)", "max_daily_servings": 1}],
    "ingredients": [
        {
            "order": 1,
            "name": "Vitamin D3",
            "ingredient_group": "Vitamin D",
            "quantity": 12.5,
            "unit": "mcg",
            "daily_value_percent": 250.0,
            "forms": ["cholecalciferol"],
            "nested_in": None,
        },
        {
            "order": 2,
            "name": "Vitamin K2",
            "ingredient_group": "Vitamin K",
            "quantity": 75.0,
            "unit": "mcg",
            "daily_value_percent": 100.0,
            "forms": ["menaquinone-7"],
            "nested_in": None,
        },
        {
            "order": 3,
            "name": "Calcium",
            "ingredient_group": "Calcium",
            "quantity": 1000.0,
            "unit": "mg",
            "daily_value_percent": 125.0,
            "forms": ["calcium carbonate"],
            "nested_in": None,
        },
    ],
    "other_ingredients": ["Cellulose"],
    "statements": [
        {
            "type": "Suggested/Recommended/Usage/Directions",
            "text": "Take 2 tablets daily with a meal.",
        }
    ],
}


def regression_product(dsld_id: str) -> Label:
    return unseen_regression_product(dsld_id, (EU_GROUPED_PRODUCT,))


def write_regression_pdfs(out_dir: Path) -> dict[str, Path]:
    """Write artwork-<case>.pdf for every case of REGRESSION_CASES into `out_dir`."""
    out: dict[str, Path] = {}
    for case, (style, dsld_id) in REGRESSION_CASES.items():
        label = artwork_label(regression_product(dsld_id), style)
        path = out_dir / f"artwork-{case}.pdf"
        if style == "serving-forms":
            out[case] = render_serving_forms(label, path)
        else:
            out[case] = render_artwork_pdf(label, path, style)
    return out


if __name__ == "__main__":
    import sys
    import tempfile

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    if len(sys.argv) > 2 and sys.argv[2] == "regression":
        for path in write_regression_pdfs(out).values():
            print(path)
        raise SystemExit(0)
    for style, sc in score_artwork(artwork_labels(), out).items():
        print(f"{style:22s} {sc.accuracy:.4f} ({sc.matched}/{sc.fields})")
        for m in sc.mismatches[:4]:
            print("   ", m)
