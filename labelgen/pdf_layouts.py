"""Supplement Facts panels as PDFs, in several layouts (dev only: needs reportlab).

Each layout prints labels in the reduced DSLD shape (see labelgen.products) and returns
what it printed, row by row (`printed_labels`), so tests know the exact expected reading.

Printing conventions (all layouts):
- An ingredient is printed as its name plus "(as <forms joined by ', '>)" unless its
  form is "unspecified".
- Amounts use thousands separators ("1,000 mg"); "Gram(s)" prints as "g"; calorie
  units print no unit ("Calories 10").
- "NP"/"Not Present" amounts: a blend member or a blend total prints a blank amount;
  any other NP ingredient (an ingredient listed without an amount) is omitted.
- Members (nested_in) are printed indented beneath their blend; a member whose blend is
  not on the label is printed as a top-level row.
  With `members="paragraph"` (or "paragraph-indented"), a blend's members without amounts
  print as one comma-separated paragraph under its total (labelgen.blend_paragraph).
- %DV: "38%" as given; no %DV, or 0% for an ingredient with no Daily Value, prints "*"
  and the footnote "* Daily Value not established."; 0% for a vitamin/mineral prints "<1%".
- Product brand and name above the panel; after it "Other ingredients: ...",
  "Suggested use: <directions>" and "Warnings: <precautions>".
- Test labels may give an ingredient "amount_text" (printed instead of the quantity,
  e.g. "<1" or a deliberately garbled "1,0O0") and "glued": true ("100mcg").

Layouts (all different in structure):
- "ruled": grid lines, %DV column, vitamin D as "25 mcg (1,000 IU)", names wrap within
  their cell (amount on the first line).
- "whitespace": no lines, a left-aligned amount column and a right-aligned %DV column.
- "wrapped": a narrow name column, so long names wrap; amount and %DV on the last line.
- "two-column": "Amount Per Serving" and "Amount Per Day" (max daily servings; when that
  is 1 or less, two serving sizes: one and two servings), each with a %DV column.
- "no-dv": no %DV column; "*" after the amount of rows with no Daily Value, "†" after the
  name of blend members with an amount; footnotes for both.
- "embedded": a cover page, then marketing paragraphs with the panel lower on page 2
  (continued on the next page when long).
- "multi": several labels in one PDF, one after another, sharing pages where they fit.
Generated PDFs are deterministic (reportlab `invariant=1`).
"""

from __future__ import annotations

import copy
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from labelgen.blend_paragraph import MemberParagraph, draw_paragraph, panel_items
from labelgen.products import ingredient

LAYOUTS: tuple[str, ...] = (
    "ruled",
    "whitespace",
    "wrapped",
    "two-column",
    "no-dv",
    "embedded",
    "multi",
)

PAGE_W, PAGE_H = letter
MARGIN = 54.0
BODY = "Helvetica"
BOLD = "Helvetica-Bold"
SIZE = 8.0

_NP_UNITS = {"NP", "Not Present"}
_CALORIE_UNITS = {"{Calories}", "Calorie(s)", "Calories"}
_DV_NUTRIENTS = (
    "vitamin",
    "calcium",
    "magnesium",
    "iron",
    "zinc",
    "copper",
    "manganese",
    "selenium",
    "chromium",
    "iodine",
    "potassium",
    "phosphorus",
    "folate",
    "biotin",
    "niacin",
    "riboflavin",
    "thiamin",
    "pantothenic",
    "molybdenum",
    "chloride",
    "sodium",
)


def fmt_number(q: float) -> str:
    """1000.0 -> "1,000"; 0.5 -> "0.5"."""
    if float(q).is_integer():
        return f"{int(q):,}"
    return f"{round(q, 4):,}".rstrip("0").rstrip(".")


def _unit_word(unit: str, q: float) -> str:
    return unit.replace("(s)", "" if q == 1 else "s")


@dataclass
class PrintedRow:
    """One panel row as printed, and what a reader should read from it."""

    printed_name: str
    name_raw: str
    form_raw: str | None
    amount_raw: str | None
    unit_raw: str | None
    dv_raw: str | None
    parent: str | None
    depth: int
    group: str
    alt_amounts_raw: str | None = None
    amount_alt_raw: str | None = None
    unit_alt_raw: str | None = None
    dv_alt: str | None = None
    name_marker: str = ""
    glued: bool = False  # amount and unit printed without a space: "100mcg"

    @property
    def amount_text(self) -> str:
        if self.glued and self.amount_raw and self.unit_raw:
            return f"{self.amount_raw}{self.unit_raw}"
        return _amount_text(self.amount_raw, self.unit_raw, self.alt_amounts_raw)

    @property
    def alt_text(self) -> str:
        return _amount_text(self.amount_alt_raw, self.unit_alt_raw, None)


def _amount_text(amount: str | None, unit: str | None, alt: str | None) -> str:
    if amount is None:
        return ""
    text = f"{amount} {unit}" if unit else amount
    return f"{text} ({alt})" if alt else text


@dataclass
class PrintedLabel:
    dsld_id: str
    product_name: str
    brand: str | None
    serving_size: str | None
    servings_per_container: str | None
    rows: list[PrintedRow] = field(default_factory=list)
    amount_columns: str | None = None
    other_ingredients: str = ""
    directions: str = ""
    warnings: str = ""


def _dv_text(ing: dict[str, Any], quantity_printed: bool) -> str | None:
    dv = ing.get("daily_value_percent")
    if dv is None:
        return "*"
    if dv == 0:
        name = str(ing.get("ingredient_group") or ing["name"]).lower()
        if quantity_printed and any(k in name for k in _DV_NUTRIENTS):
            return "<1%"
        return "*"
    return f"{fmt_number(float(dv))}%"


def printed_label(
    label: dict[str, Any],
    *,
    iu_paren: bool = False,
    per_day: bool = False,
    dv_style: str = "column",
) -> PrintedLabel:
    """What a layout prints for one label (dv_style: "column" or "marker")."""
    ings = sorted(label["ingredients"], key=lambda i: i["order"])
    names = {i["name"] for i in ings}
    parents_with_kids = {i["nested_in"] for i in ings if i["nested_in"] in names}
    serving = (label.get("serving_sizes") or [{}])[0]
    sq = float(serving.get("quantity") or 1.0)
    sunit = str(serving.get("unit") or "Serving(s)")
    max_daily = serving.get("max_daily_servings") or 0
    multiplier = float(max_daily) if max_daily and max_daily >= 2 else 2.0
    out = PrintedLabel(
        dsld_id=str(label["dsld_id"]),
        product_name=str(label["product_name"]).strip(),
        brand=(str(label["brand"]).strip() or None) if label.get("brand") else None,
        serving_size=f"{fmt_number(sq)} {_unit_word(sunit, sq)}",
        servings_per_container=(
            fmt_number(float(label["servings_per_container"]))
            if label.get("servings_per_container")
            else None
        ),
    )
    if per_day:
        if max_daily and max_daily >= 2:
            out.amount_columns = "Amount Per Serving | Amount Per Day"
        else:
            q2 = sq * multiplier
            out.amount_columns = (
                f"Per {fmt_number(sq)} {_unit_word(sunit, sq)} | "
                f"Per {fmt_number(q2)} {_unit_word(sunit, q2)}"
            )
    depth_of: dict[str, int] = {}
    for ing in ings:
        name = " ".join(str(ing["name"]).split())
        unit = str(ing["unit"])
        parent = ing["nested_in"] if ing["nested_in"] in names else None
        depth = depth_of.get(parent, -1) + 1 if parent else 0
        depth_of[ing["name"]] = depth
        np = unit in _NP_UNITS
        if np and parent is None and ing["name"] not in parents_with_kids:
            continue  # an ingredient listed without an amount: omitted
        forms = [f for f in ing.get("forms") or [] if f and f != "unspecified"]
        form = ", ".join(forms) or None
        printed = f"{name} (as {form})" if form else name
        q = float(ing["quantity"])
        amount: str | None = None
        unit_raw: str | None = None
        alt: str | None = None
        if not np:
            amount = str(ing["amount_text"]) if ing.get("amount_text") else fmt_number(q)
            if unit in _CALORIE_UNITS:
                unit_raw = None
            elif unit == "Gram(s)":
                unit_raw = "g"
            else:
                unit_raw = unit
            group = str(ing.get("ingredient_group") or "")
            if iu_paren and group == "Vitamin D" and unit_raw in {"mcg", "IU"}:
                mcg = q if unit_raw == "mcg" else q / 40.0
                amount, unit_raw, alt = fmt_number(mcg), "mcg", f"{fmt_number(mcg * 40)} IU"
        row = PrintedRow(
            printed_name=printed,
            name_raw=name,
            form_raw=form,
            amount_raw=amount,
            unit_raw=unit_raw,
            dv_raw=None,
            parent=parent,
            depth=depth,
            group=str(ing.get("ingredient_group") or ""),
            alt_amounts_raw=alt,
            glued=bool(ing.get("glued")),
        )
        if dv_style == "column":
            row.dv_raw = _dv_text(ing, amount is not None) if amount is not None else None
        elif amount is not None:
            no_dv = ing.get("daily_value_percent") in (None, 0, 0.0)
            if parent is not None:
                row.name_marker = "†"
                row.dv_raw = "†"
            elif no_dv:
                row.dv_raw = "*"
        if per_day and amount is not None:
            row.amount_alt_raw = fmt_number(q * multiplier)
            row.unit_alt_raw = unit_raw
            dv_q = ing.get("daily_value_percent")
            if row.dv_raw and row.dv_raw.endswith("%") and dv_q:
                row.dv_alt = f"{fmt_number(round(float(dv_q) * multiplier))}%"
            else:
                row.dv_alt = row.dv_raw
        out.rows.append(row)
    statements = label.get("statements") or []
    out.other_ingredients = ", ".join(str(x) for x in label.get("other_ingredients") or [])
    out.directions = " ".join(
        " ".join(str(s["text"]).split())
        for s in statements
        if str(s["type"]).startswith("Suggested/Recommended")
    )
    out.warnings = " ".join(
        " ".join(str(s["text"]).split())
        for s in statements
        if str(s["type"]).startswith("Precautions")
    )
    return out


def _marketing(label: dict[str, Any]) -> list[str]:
    texts = [
        " ".join(str(s["text"]).split())
        for s in label.get("statements") or []
        if str(s["type"]).startswith(("General Statements", "Brand IP", "FDA Disclaimer"))
    ]
    texts = [t for t in texts if 20 <= len(t) <= 600][:3]
    if not texts:
        texts = [
            f"{label['product_name']} is made to the same standard in every batch and "
            "tested for identity and purity. Read the whole label before use."
        ]
    return texts


# --- drawing ------------------------------------------------------------------------


class _Doc:
    """A canvas with a text cursor that starts new pages as needed."""

    def __init__(self, path: Path) -> None:
        self.c = Canvas(str(path), pagesize=letter, invariant=1, pageCompression=1)
        self.y = PAGE_H - MARGIN
        self.pages = 1

    def new_page(self) -> None:
        self.c.showPage()
        self.pages += 1
        self.y = PAGE_H - MARGIN

    def need(self, height: float) -> bool:
        """Start a new page when `height` does not fit; True when it did."""
        if self.y - height < MARGIN:
            self.new_page()
            return True
        return False

    def text(self, x: float, text: str, font: str = BODY, size: float = SIZE) -> None:
        self.c.setFont(font, size)
        self.c.drawString(x, self.y, text)

    def right(self, x: float, text: str, font: str = BODY, size: float = SIZE) -> None:
        self.c.setFont(font, size)
        self.c.drawRightString(x, self.y, text)

    def paragraph(
        self, x: float, width: float, text: str, font: str = BODY, size: float = SIZE
    ) -> None:
        for line in simpleSplit(text, font, size, width):
            self.need(size + 2)
            self.text(x, line, font, size)
            self.y -= size + 2

    def save(self) -> None:
        self.c.showPage()
        self.c.save()


@dataclass(frozen=True)
class _Geometry:
    x: float = MARGIN
    width: float = 300.0
    name_w: float = 190.0  # name column width (wrap width)
    amount_x: float = 300.0  # where amounts are drawn
    amount_align: str = "right"  # "right" (x is the right edge) or "left"
    dv_x: float | None = 350.0  # right edge of the %DV column
    alt_x: float | None = None  # second amount column (right edge)
    dv_alt_x: float | None = None
    ruled: bool = False
    pitch: float = 12.0  # row height of a one-line row
    leading: float = 9.5  # between wrapped lines of one row
    amount_on_last: bool = False
    indent: float = 10.0


def _heading(doc: _Doc, p: PrintedLabel, g: _Geometry, headings: list[tuple[float, str]]) -> None:
    doc.need(70)
    doc.y -= 14
    doc.text(g.x, "Supplement Facts", BOLD, 14)
    if g.ruled:
        doc.c.setLineWidth(1.2)
        doc.c.rect(g.x - 4, doc.y - 5, g.width + 8, 20, stroke=1, fill=0)
    doc.y -= 13
    doc.text(g.x, f"Serving Size {p.serving_size}")
    if p.servings_per_container:
        doc.y -= 10
        doc.text(g.x, f"Servings Per Container {p.servings_per_container}")
    doc.y -= 4
    if g.ruled:
        doc.c.setLineWidth(3)
        doc.c.line(g.x, doc.y, g.x + g.width, doc.y)
    doc.y -= 10
    for x, text in headings:
        doc.right(x, text, BOLD, 7)
    doc.y -= 4
    if g.ruled:
        doc.c.setLineWidth(0.8)
        doc.c.line(g.x, doc.y, g.x + g.width, doc.y)
    doc.y -= 9


def _draw_value(doc: _Doc, x: float | None, text: str, align: str = "right") -> None:
    if x is None or not text:
        return
    if align == "right":
        doc.right(x, text)
    else:
        doc.text(x, text)


def _panel(
    doc: _Doc, p: PrintedLabel, g: _Geometry, dv_style: str = "column", members: str = "rows"
) -> None:
    headings: list[tuple[float, str]] = []
    amount_head_x = g.amount_x if g.amount_align == "right" else g.amount_x + 60
    if g.alt_x is not None and p.amount_columns:
        first, second = p.amount_columns.split(" | ")
        headings.append((amount_head_x, first))
        if g.dv_x is not None:
            headings.append((g.dv_x, "%DV"))
        headings.append((g.alt_x, second))
        if g.dv_alt_x is not None:
            headings.append((g.dv_alt_x, "%DV"))
    else:
        headings.append((amount_head_x, "Amount Per Serving"))
        if g.dv_x is not None and dv_style == "column":
            headings.append((g.dv_x, "% Daily Value"))
    _heading(doc, p, g, headings)
    name_w = g.name_w
    if g.amount_align == "right":
        widest = max(
            (doc.c.stringWidth(r.amount_text + "*", BODY, SIZE) for r in p.rows), default=0.0
        )
        name_w = min(name_w, g.amount_x - widest - 12 - g.x)
    for row in panel_items(p.rows, members):
        if isinstance(row, MemberParagraph):
            draw_paragraph(doc, row, g, members, BODY, SIZE)
            continue
        name_x = g.x + g.indent * row.depth
        lines = simpleSplit(
            row.printed_name + row.name_marker, BODY, SIZE, name_w - g.indent * row.depth
        )
        height = g.pitch + g.leading * (len(lines) - 1)
        if doc.need(height + 4) and g.ruled:
            doc.c.setLineWidth(0.8)
            doc.c.line(g.x, doc.y + 4, g.x + g.width, doc.y + 4)
        top_y = doc.y
        value_y = top_y - g.leading * (len(lines) - 1) if g.amount_on_last else top_y
        for k, line in enumerate(lines):
            doc.y = top_y - g.leading * k
            doc.text(name_x, line)
        doc.y = value_y
        amount_text = row.amount_text
        if dv_style == "marker" and row.dv_raw == "*":
            amount_text += "*"
        _draw_value(doc, g.amount_x, amount_text, g.amount_align)
        if dv_style == "column":
            _draw_value(doc, g.dv_x, row.dv_raw or "")
        _draw_value(doc, g.alt_x, row.alt_text)
        _draw_value(doc, g.dv_alt_x, row.dv_alt or "")
        doc.y = top_y - height
        if g.ruled:
            doc.c.setLineWidth(0.4)
            doc.c.line(g.x, doc.y + g.pitch - 3, g.x + g.width, doc.y + g.pitch - 3)
    if g.ruled:
        doc.c.setLineWidth(3)
        doc.c.line(g.x, doc.y + g.pitch - 4, g.x + g.width, doc.y + g.pitch - 4)
    doc.y -= 4
    footnotes = []
    if any(r.dv_raw in {"*", "<1%"} or r.dv_raw is None for r in p.rows) or dv_style == "marker":
        footnotes.append("* Daily Value not established.")
    if any(r.name_marker == "†" for r in p.rows):
        footnotes.append("† Daily Value not established.")
    for note in footnotes:
        doc.need(12)
        doc.text(g.x, note, BODY, 7)
        doc.y -= 10


def _title(doc: _Doc, p: PrintedLabel, x: float = MARGIN) -> None:
    doc.need(60)
    if p.brand:
        doc.y -= 11
        doc.text(x, p.brand, BODY, 11)
    doc.y -= 22
    for line in simpleSplit(p.product_name, BOLD, 18, PAGE_W - 2 * MARGIN):
        doc.text(x, line, BOLD, 18)
        doc.y -= 20
    doc.y -= 6


def _statements(doc: _Doc, p: PrintedLabel, x: float = MARGIN, width: float = 420) -> None:
    doc.y -= 8
    for prefix, text in (
        ("Other ingredients: ", p.other_ingredients),
        ("Suggested use: ", p.directions),
        ("Warnings: ", p.warnings),
    ):
        if text:
            doc.paragraph(x, width, prefix + text)
            doc.y -= 6


_GEOMETRIES: dict[str, _Geometry] = {
    "ruled": _Geometry(ruled=True),
    "whitespace": _Geometry(
        width=380, name_w=250, amount_x=320, amount_align="left", dv_x=430, pitch=11, leading=11
    ),
    "wrapped": _Geometry(
        width=260, name_w=120, amount_x=240, dv_x=300, pitch=13, amount_on_last=True
    ),
    "two-column": _Geometry(
        width=420, name_w=170, amount_x=270, dv_x=310, alt_x=400, dv_alt_x=450, ruled=True
    ),
    "no-dv": _Geometry(name_w=200, dv_x=None, pitch=11.5),
    "embedded": _Geometry(width=340, name_w=220, amount_x=320, dv_x=380, pitch=11),
}


def _options(layout: str) -> dict[str, Any]:
    return {
        "iu_paren": layout in {"ruled", "wrapped"},
        "per_day": layout == "two-column",
        "dv_style": "marker" if layout == "no-dv" else "column",
    }


def printed_labels(labels: list[dict[str, Any]], layout: str) -> list[PrintedLabel]:
    """What `render_pdf` prints for these labels in this layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    return [printed_label(label, **_options(layout)) for label in labels]


def render_pdf(
    labels: list[dict[str, Any]], path: Path, layout: str, *, members: str = "rows"
) -> None:
    """Write `labels` (reduced DSLD shape) as one PDF in `layout` (one of LAYOUTS).

    Every label but "multi" starts on a new page; "multi" lets labels share pages.
    `members`: how a blend's members without amounts print (labelgen.blend_paragraph
    MEMBER_STYLES: one a row, or a comma-separated paragraph under the blend's total).
    """
    render_pdf_with_truth(labels, path, layout, members=members)


def render_pdf_with_truth(
    labels: list[dict[str, Any]], path: Path, layout: str, *, members: str = "rows"
) -> list[PrintedLabel]:
    """`render_pdf`, returning what was printed (for a truth file)."""
    printed = printed_labels(labels, layout)
    doc = _Doc(path)
    for n, (label, p) in enumerate(zip(labels, printed, strict=True)):
        if layout == "multi":
            if n > 0:
                doc.y -= 24
                doc.need(200)
            _title(doc, p)
            _panel(doc, p, _GEOMETRIES["whitespace" if n % 2 == 0 else "ruled"], members=members)
            _statements(doc, p)
            continue
        if n > 0:
            doc.new_page()
        if layout == "embedded":
            doc.y -= 120
            _title(doc, p, x=MARGIN + 40)
            doc.paragraph(MARGIN + 40, 400, "Dietary Supplement", BODY, 12)
            doc.new_page()
            for text in _marketing(label):
                doc.paragraph(MARGIN, PAGE_W - 2 * MARGIN, text, BODY, 9)
                doc.y -= 10
            doc.y = min(doc.y, PAGE_H * 0.55)
            _panel(doc, p, _GEOMETRIES["embedded"], members=members)
            _statements(doc, p)
            continue
        _title(doc, p)
        geometry = _GEOMETRIES[layout]
        _panel(doc, p, geometry, _options(layout)["dv_style"], members)
        _statements(doc, p)
    doc.save()
    return printed


def truth_record(printed: list[PrintedLabel]) -> dict[str, Any]:
    """The expected reading of a rendered PDF (written beside it as <name>.truth.json)."""
    return {"labels": [asdict(p) for p in printed]}


def write_truth(printed: list[PrintedLabel], path: Path) -> None:
    path.write_text(json.dumps(truth_record(printed), indent=1, ensure_ascii=False), "utf-8")


# --- committed regression PDFs (tests/pdfs) ----------------------------------------


def _test_label(
    dsld_id: str,
    name: str,
    ings: list[dict[str, Any]],
    brand: str = "Testbed Labs",
    max_daily: int = 1,
) -> dict[str, Any]:
    return {
        "dsld_id": dsld_id,
        "product_name": name,
        "brand": brand,
        "servings_per_container": 30,
        "serving_sizes": [
            {
                "quantity": 1.0,
                "unit": "Tablet(s)",
                "min_daily_servings": 1,
                "max_daily_servings": max_daily,
            }
        ],
        "ingredients": ings,
        "other_ingredients": ["Cellulose", "Stearic Acid"],
        "statements": [
            {
                "type": "Suggested/Recommended/Usage/Directions",
                "text": "Take 1 tablet daily with a meal.",
            },
            {"type": "Precautions re: All Other", "text": "Keep out of reach of children."},
        ],
    }


def regression_labels() -> dict[str, dict[str, Any]]:
    """Hand-made labels for the cases the regression PDFs reproduce."""
    return {
        "units": _test_label(
            "test-units",
            "Units Check Formula",
            [
                ingredient(1, "Vitamin A", "Vitamin A", 900, "mcg RAE", 100, ["retinyl palmitate"]),
                ingredient(2, "Vitamin D3", "Vitamin D", 25, "mcg", 125, ["cholecalciferol"]),
                ingredient(
                    3, "Vitamin K2", "Vitamin K", 100, "mcg", 83, ["menaquinone-7"], glued=True
                ),
                ingredient(4, "Vitamin B12", "Vitamin B12", 100, "µg", 4167, ["methylcobalamin"]),
                ingredient(5, "Boron", "Boron", 1, "mg", None, ["boron citrate"], amount_text="<1"),
                ingredient(6, "Inositol", "Inositol", 0.5, "g", None),
            ],
        ),
        "k2-wrapped": _test_label(
            "test-k2-wrapped",
            "Natto K2 Complex",
            [
                ingredient(
                    1,
                    "Vitamin K2",
                    "Vitamin K",
                    100,
                    "mcg",
                    83,
                    ["menaquinone-7 / MenaQ7 from natto"],
                ),
                ingredient(2, "Calcium", "Calcium", 500, "mg", 38, ["calcium citrate"]),
            ],
        ),
        "garbled": _test_label(
            "test-garbled",
            "Garbled Amount Formula",
            [
                ingredient(1, "Vitamin D3", "Vitamin D", 20, "mcg", 100, ["cholecalciferol"]),
                ingredient(
                    2,
                    "Calcium",
                    "Calcium",
                    1000,
                    "mg",
                    77,
                    ["calcium carbonate"],
                    amount_text="1,0O0",
                ),
                ingredient(3, "Magnesium", "Magnesium", 500, "mg", 119, ["magnesium oxide"]),
            ],
        ),
        "blend": _test_label(
            "test-blend",
            "Throat Soother Lozenge",
            [
                ingredient(1, "Zinc", "Zinc", 15, "mg", 136, ["zinc gluconate"]),
                ingredient(2, "Proprietary Blend", "Blend", 500, "mg", None),
                ingredient(
                    3, "Royal Jelly", "Royal Jelly", 0, "NP", None, nested_in="Proprietary Blend"
                ),
                ingredient(
                    4,
                    "White Willow bark ext.",
                    "White Willow",
                    0,
                    "NP",
                    None,
                    nested_in="Proprietary Blend",
                ),
                ingredient(5, "Ginger", "Ginger", 50, "mg", None, nested_in="Proprietary Blend"),
            ],
        ),
        "per-day": _test_label(
            "test-per-day",
            "Calcium K2 Twice Daily",
            [
                ingredient(1, "Vitamin K2", "Vitamin K", 60, "mcg", 50, ["MK-7"]),
                ingredient(2, "Calcium", "Calcium", 250, "mg", 19, ["calcium citrate"]),
                ingredient(3, "Magnesium", "Magnesium", 125, "mg", 30, ["magnesium glycinate"]),
            ],
            max_daily=2,
        ),
    }


def _image_only_pdf(path: Path) -> None:
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    image = Image.new("L", (160, 60), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 155, 55), outline=0)
    draw.text((10, 10), "Supplement Facts", fill=0)
    draw.text((10, 30), "Calcium 500 mg", fill=0)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    buf.seek(0)
    c = Canvas(str(path), pagesize=letter, invariant=1)
    c.drawImage(ImageReader(buf), MARGIN, PAGE_H - 200, width=320, height=120)
    c.showPage()
    c.save()


def write_regression_pdfs(out_dir: Path) -> dict[str, Path]:
    """Write the small regression PDFs of tests/pdfs (deterministic) and return them."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    from labelgen.products import sample_product

    out_dir.mkdir(parents=True, exist_ok=True)
    reg = regression_labels()
    bone = sample_product("sample-bone-matrix")
    jobs: dict[str, tuple[list[dict[str, Any]], str]] = {
        "ruled-sample-bone-matrix": ([bone], "ruled"),
        "whitespace-daily-calcium-k2": ([sample_product("sample-daily-calcium-k2")], "whitespace"),
        "wrapped-name-k2-menaq7": ([reg["k2-wrapped"]], "wrapped"),
        "units-glued-less-than-grams-iu": ([reg["units"]], "ruled"),
        "two-column-per-day": ([reg["per-day"]], "two-column"),
        "two-column-two-serving-sizes": (
            [sample_product("sample-k2-calcium-softgel")],
            "two-column",
        ),
        "no-dv-markers": ([reg["blend"]], "no-dv"),
        "blend-members-indented": ([reg["blend"]], "whitespace"),
        "embedded-panel-page-2": ([bone], "embedded"),
        "multi-three-panels": (
            [bone, sample_product("sample-k2-calcium-softgel"), sample_product("sample-k2-only")],
            "multi",
        ),
        "garbled-amount-letter-o": ([reg["garbled"]], "whitespace"),
    }
    paths: dict[str, Path] = {}
    for name, (labels, layout) in jobs.items():
        path = out_dir / f"{name}.pdf"
        render_pdf(copy.deepcopy(labels), path, layout)
        paths[name] = path
    # bad inputs
    corrupt = out_dir / "corrupt.pdf"
    whole = paths["ruled-sample-bone-matrix"].read_bytes()
    corrupt.write_bytes(whole[: len(whole) // 3])  # truncated mid-file
    paths["corrupt"] = corrupt
    encrypted = out_dir / "encrypted.pdf"
    c = Canvas(
        str(encrypted),
        pagesize=letter,
        invariant=1,
        encrypt=StandardEncryption("secret", ownerPassword="owner"),
    )
    c.setFont(BOLD, 14)
    c.drawString(MARGIN, PAGE_H - MARGIN, "Supplement Facts")
    c.showPage()
    c.save()
    paths["encrypted"] = encrypted
    brochure = out_dir / "no-panel-brochure.pdf"
    doc = _Doc(brochure)
    doc.y -= 20
    doc.text(MARGIN, "Why Calcium Needs K2", BOLD, 18)
    doc.y -= 24
    doc.paragraph(
        MARGIN,
        420,
        "Vitamin K2 helps direct calcium to bone. See the "
        "Supplement Facts panel on each bottle for the full list of ingredients "
        "and amounts; this leaflet lists none.",
        BODY,
        10,
    )
    doc.save()
    paths["no-panel-brochure"] = brochure
    image_only = out_dir / "image-only.pdf"
    _image_only_pdf(image_only)
    paths["image-only"] = image_only
    return paths


if __name__ == "__main__":  # python -m labelgen.pdf_layouts tests/pdfs
    for written in write_regression_pdfs(
        Path(sys.argv[1] if len(sys.argv) > 1 else "tests/pdfs")
    ).values():
        print(written, written.stat().st_size)
