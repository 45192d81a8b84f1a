"""A second, independent PDF renderer for Supplement Facts panels (dev only: reportlab).

labelgen.pdf_layouts draws panels on a canvas, word by word, in the layouts the PDF
reader was developed against. This module is written differently on purpose, to measure
the reader on panels it was not tuned on: platypus flowables (`Table`, `Paragraph`,
frames), other fonts (Times, Courier, Helvetica-Bold names), other sizes, and the
printing habits of real labels.

Styles (`STYLES`), each one structurally different:

- "times-grid": Times-Roman in a boxed, gridded `Table`; "Serving Size: 2 Capsules" and
  "Servings Per Container: 30" with colons; a thick rule under the heading; right-aligned
  amounts; names wrap inside their cell with the values centred vertically on the row;
  vitamin D as "25 mcg (1,000 IU)"; "†" for no Daily Value; "Other Ingredients: ..."
  inside the panel box.
- "courier-leaders": Courier, monospaced lines; the name, a dot leader ("......"), the
  amount and the %DV ("Calcium (as calcium citrate) ....... 500 mg  38%"); wrapped names
  carry the amount on their last line; "% DV" heading.
- "sidebar-landscape": a landscape page, marketing paragraphs in the left column and the
  panel (a `Table`, Helvetica 7.5) in the right-hand column beside them; "Per Serving" /
  "%Daily Value" headings; "µg" for mcg; K2 form written "menaquinone-7 [MenaQ7®]".
- "bold-two-column": nutrient names in Helvetica-Bold; a "Calories 5" first line; two
  amount columns "Amount Per Serving" and "Amount Per Day" (twice the serving), each
  with a "% DV" column; numbers without thousands separators ("1000 mg").
- "combined-cell": amount and %DV in one right-aligned cell ("500 mg 38%", "25 mcg
  (1000 IU) 125%"); heading "Amount Per 2 Capsules / % Daily Value" in one cell; mixed
  case product name; K2 form written "MK-7"; D3 form "cholecalciferol".
- "compact-glued": small type (6.5 pt) with left-aligned amounts set close to the names;
  units glued to numbers ("500mg", "100mcg"); "Serving Size: 2 Softgels  Servings Per
  Container: 30" on one line; "‡" footnotes; "Amount Per 2 Softgels" / "% DV" headings.
- "fda-bars": the FDA look: a 20 pt heading, thick black bars (filled rules) between the
  sections, "Amount Per Serving" left and "% Daily Value" right on one line, indented
  blend members, "*Percent Daily Values are based on a 2,000 calorie diet." and
  "†Daily Value not established." footnotes; vitamin D in IU with mcg in parentheses
  ("1,000 IU (25 mcg)").

- "centered-caps": "Supplement Facts" centred over a boxed table, names in capitals,
  tight leading (7 pt on 7.35), values bottom-aligned, "**" for no Daily Value.
- "panel-left-text-right": "sidebar-landscape" mirrored: the panel in the left column,
  marketing text in the right-hand one, K2 form written "MK7".

Also `render_side_by_side` (two panels on one landscape page) and two layouts the reader
does not support, kept to pin what the user sees (docs/pdf-layouts.md):
`render_text_below_heading` and `render_panel_in_two_columns`. `score_styles` measures
the reader: every label rendered in every style and, for the truth, as DSLD JSON.

Data variants (`unseen_label`) are applied to the label itself, so that the same label
rendered to DSLD JSON (labelgen.dsld_formats) gives the truth for the same text: the
K2 and D3 form spellings above. Printing conventions shared by all styles: an
ingredient prints as its name plus "(as <forms>)"; a Not Present ingredient is left out
unless it is a blend (or a blend member, printed without an amount); members print
indented under their blend. Generated PDFs are deterministic (`invariant=1`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    FrameBreak,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from labelgen.products import ingredient

STYLES: tuple[str, ...] = (
    "times-grid",
    "courier-leaders",
    "sidebar-landscape",
    "bold-two-column",
    "combined-cell",
    "compact-glued",
    "fda-bars",
    "centered-caps",
    "panel-left-text-right",
)

_NP_UNITS = frozenset({"NP", "Not Present"})
_CALORIE_UNITS = frozenset({"{Calories}", "Calorie(s)", "Calories"})
_MK7_HINTS = ("mk-7", "mk7", "menaquinone-7", "menaq7", "mena q7")

Label = dict[str, Any]


# --- extra products: K1 and MK-4, which the real labels lack -----------------------


EXTRA_PRODUCTS: tuple[Label, ...] = (
    {
        "dsld_id": "unseen-k1-mk4-bone",
        "product_name": "Bone Support with K1 & MK-4",
        "brand": "Lakeside Nutrition",
        "servings_per_container": 30,
        "serving_sizes": [{"quantity": 3.0, "unit": "Tablet(s)", "max_daily_servings": 1}],
        "ingredients": [
            ingredient(1, "Vitamin D3", "Vitamin D", 2000.0, "IU", 250.0, ["cholecalciferol (D3)"]),
            ingredient(2, "Vitamin K1", "Vitamin K", 90.0, "mcg", 75.0, ["phylloquinone"]),
            ingredient(3, "Vitamin K2", "Vitamin K", 45.0, "mcg", 38.0, ["menaquinone-4"]),
            ingredient(4, "Calcium", "Calcium", 1200.0, "mg", 92.0, ["calcium carbonate"]),
            ingredient(5, "Magnesium", "Magnesium", 600.0, "mg", 143.0, ["magnesium oxide"]),
            ingredient(6, "Bone Matrix Blend", "Blend", 150.0, "mg", None),
            ingredient(
                7, "Boron", "Boron", 3.0, "mg", None, ["boron citrate"], "Bone Matrix Blend"
            ),
            ingredient(
                8, "Silica", "Silicon", 10.0, "mg", None, ["horsetail"], "Bone Matrix Blend"
            ),
        ],
        "other_ingredients": ["Cellulose", "Stearic Acid"],
        "statements": [
            {
                "type": "Suggested/Recommended/Usage/Directions",
                "text": "Take 3 tablets daily with a meal.",
            }
        ],
    },
    {
        "dsld_id": "unseen-d3-k2-drops",
        "product_name": "Liquid D3 + K2 (MK-7) Drops",
        "brand": "Summit Naturals",
        "servings_per_container": 60,
        "serving_sizes": [{"quantity": 2.0, "unit": "Drop(s)", "max_daily_servings": 1}],
        "ingredients": [
            ingredient(1, "Vitamin D3", "Vitamin D", 125.0, "mcg", 625.0, ["cholecalciferol (D3)"]),
            ingredient(
                2, "Vitamin K2", "Vitamin K", 180.0, "mcg", 150.0, ["menaquinone-7 (MenaQ7)"]
            ),
        ],
        "other_ingredients": ["MCT Oil"],
        "statements": [],
    },
)


# --- what is printed ----------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How one style prints amounts."""

    mcg: str = "mcg"  # or "µg"
    glued: bool = False  # "500mg"
    thousands: bool = True  # "1,000" or "1000"
    vitamin_d: str = "as-given"  # "mcg-iu": "25 mcg (1,000 IU)"; "iu-mcg": "1,000 IU (25 mcg)"
    no_dv: str = "*"  # the %DV of a row with no Daily Value
    per_day: bool = False  # a second amount column: twice the serving


_OPTIONS: dict[str, Options] = {
    "times-grid": Options(vitamin_d="mcg-iu", no_dv="†"),
    "courier-leaders": Options(),
    "sidebar-landscape": Options(mcg="µg"),
    "bold-two-column": Options(thousands=False, per_day=True),
    "combined-cell": Options(thousands=False, vitamin_d="mcg-iu"),
    "compact-glued": Options(glued=True, no_dv="‡"),
    "fda-bars": Options(vitamin_d="iu-mcg", no_dv="†"),
    "centered-caps": Options(no_dv="**"),
    "panel-left-text-right": Options(mcg="µg"),
}


@dataclass(frozen=True)
class Row:
    """One printed panel row."""

    name: str  # as printed, with "(as ...)"
    amount: str  # "500 mg", "" for none
    dv: str  # "38%", "*", "" for none
    depth: int
    amount2: str = ""
    dv2: str = ""


def _number(q: float, thousands: bool) -> str:
    if float(q).is_integer():
        return f"{int(q):,}" if thousands else str(int(q))
    text = f"{round(q, 4):,}" if thousands else f"{round(q, 4)}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _amount(q: float, unit: str, group: str, o: Options) -> str:
    if unit in _CALORIE_UNITS:
        return _number(q, o.thousands)
    unit = {"Gram(s)": "g"}.get(unit, unit)
    if group == "Vitamin D" and unit in {"mcg", "IU"} and o.vitamin_d != "as-given":
        mcg = q if unit == "mcg" else q / 40.0
        m = f"{_number(mcg, o.thousands)} {o.mcg}"
        iu = f"{_number(mcg * 40.0, o.thousands)} IU"
        return f"{m} ({iu})" if o.vitamin_d == "mcg-iu" else f"{iu} ({m})"
    if unit == "mcg":
        unit = o.mcg
    sep = "" if o.glued and unit in {"mg", "mcg", "µg", "g"} else " "
    return f"{_number(q, o.thousands)}{sep}{unit}"


def _dv(ing: dict[str, Any], o: Options, factor: float = 1.0) -> str:
    dv = ing.get("daily_value_percent")
    if not dv:
        return o.no_dv
    return f"{_number(round(float(dv) * factor), True)}%"


def panel_ingredients(
    label: Label,
) -> Iterator[tuple[dict[str, Any], str, int, str | None, bool]]:
    """The ingredients a panel prints, in label order: (ingredient, its printed name with
    its forms, its depth under blends, its blend, whether its amount is Not Present). A
    Not Present ingredient is left out unless it is a blend or a member of one."""
    ings = sorted(label["ingredients"], key=lambda i: i["order"])
    names = {i["name"] for i in ings}
    blends = {i["nested_in"] for i in ings if i.get("nested_in") in names}
    depth_of: dict[str, int] = {}
    for ing in ings:
        parent = ing.get("nested_in") if ing.get("nested_in") in names else None
        depth = depth_of.get(str(parent), -1) + 1 if parent else 0
        depth_of[ing["name"]] = depth
        np = str(ing["unit"]) in _NP_UNITS
        if np and parent is None and ing["name"] not in blends:
            continue
        forms = [f for f in ing.get("forms") or [] if f and f != "unspecified"]
        name = " ".join(str(ing["name"]).split())
        printed = f"{name} (as {', '.join(forms)})" if forms else name
        yield ing, printed, depth, parent, np


def printed_rows(label: Label, style: str) -> list[Row]:
    """The panel rows `style` prints for `label`."""
    o = _OPTIONS[style]
    rows: list[Row] = []
    for ing, printed, depth, _, np in panel_ingredients(label):
        unit = str(ing["unit"])
        group = str(ing.get("ingredient_group") or "")
        q = float(ing["quantity"])
        amount = "" if np else _amount(q, unit, group, o)
        dv = "" if np else _dv(ing, o)
        amount2 = dv2 = ""
        if o.per_day and not np:
            amount2 = _amount(2 * q, unit, group, o)
            dv2 = _dv(ing, o, 2.0)
        rows.append(Row(printed, amount, dv, depth, amount2, dv2))
    return rows


def unseen_label(label: Label, style: str) -> Label:
    """The label with the style's spelling of forms (apply before rendering and truth)."""
    out = copy.deepcopy(label)
    k2_form = {
        "sidebar-landscape": "menaquinone-7 [MenaQ7®]",
        "panel-left-text-right": "MK7",
        "combined-cell": "MK-7",
    }.get(style)
    for ing in out["ingredients"]:
        forms = [str(f) for f in ing.get("forms") or []]
        low = " ".join(forms).lower()
        mk7 = any(h in low for h in _MK7_HINTS)
        if k2_form and ing.get("ingredient_group") == "Vitamin K" and mk7:
            ing["forms"] = [k2_form]
        if style == "combined-cell" and forms == ["cholecalciferol (D3)"]:
            ing["forms"] = ["cholecalciferol"]
    return out


def label_statements(label: Label) -> tuple[str, str, str]:
    """The other ingredients, the directions and the warnings of a label, as printed."""
    statements = label.get("statements") or []

    def joined(prefix: str) -> str:
        return " ".join(
            " ".join(str(s["text"]).split())
            for s in statements
            if str(s["type"]).startswith(prefix)
        )

    other = ", ".join(str(x) for x in label.get("other_ingredients") or [])
    return other, joined("Suggested/Recommended"), joined("Precautions")


def _marketing(label: Label) -> list[str]:
    texts = [
        " ".join(str(s["text"]).split())
        for s in label.get("statements") or []
        if str(s["type"]).startswith(("General Statements", "Brand IP"))
    ]
    texts = [t for t in texts if 20 <= len(t) <= 500][:2]
    return texts or [
        f"{label['product_name']} is made in small batches and tested for identity, "
        "strength and purity. Supports strong bones and healthy arteries as part of a "
        "balanced diet and exercise."
    ]


def _serving(label: Label) -> tuple[str, str | None]:
    serving = (label.get("serving_sizes") or [{}])[0]
    q = float(serving.get("quantity") or 1.0)
    unit = str(serving.get("unit") or "Serving(s)").replace("(s)", "" if q == 1 else "s")
    spc = label.get("servings_per_container")
    return f"{_number(q, True)} {unit}", (_number(float(spc), True) if spc else None)


# --- flowables ----------------------------------------------------------------------


def _table(
    data: list[list[Any]],
    widths: Sequence[float],
    rules: list[tuple[Any, ...]],
    *,
    valign: str = "TOP",
    pad: float,
    side_pad: float | None = None,
) -> Table:
    """A panel table: its `rules` (reportlab style commands: lines, boxes, spans), every
    cell aligned `valign` with `pad` points above and below it (and `side_pad` beside)."""
    every = ((0, 0), (-1, -1))
    style = [*rules, ("VALIGN", *every, valign)]
    style += [("TOPPADDING", *every, pad), ("BOTTOMPADDING", *every, pad)]
    if side_pad is not None:
        style += [("LEFTPADDING", *every, side_pad), ("RIGHTPADDING", *every, side_pad)]
    return Table(data, colWidths=list(widths), style=TableStyle(style))


def _p(text: str, font: str, size: float, align: int = TA_LEFT, indent: float = 0.0) -> Paragraph:
    style = ParagraphStyle(
        f"{font}-{size}-{align}-{indent}",
        fontName=font,
        fontSize=size,
        leading=size * 1.2,
        alignment=align,
        leftIndent=indent,
        firstLineIndent=0,
    )
    return Paragraph(escape(text), style)


def _title(label: Label, font: str, size: float, brand_font: str) -> list[Flowable]:
    out: list[Flowable] = []
    if label.get("brand"):
        out.append(_p(str(label["brand"]).strip(), brand_font, size * 0.55))
    out.append(_p(str(label["product_name"]).strip(), font, size))
    out.append(Spacer(1, size * 0.8))
    return out


def _after(label: Label, font: str, size: float, *, with_other: bool) -> list[Flowable]:
    other, directions, warnings = label_statements(label)
    out: list[Flowable] = [Spacer(1, 8)]
    if with_other and other:
        out.append(_p(f"Other Ingredients: {other}", font, size))
    if directions:
        out.append(_p(f"Suggested Use: {directions}", font, size))
    if warnings:
        out.append(_p(f"Warning: {warnings}", font, size))
    return out


def _closing(
    label: Label, rows: Sequence[Row], mark: str, note_size: float, size: float
) -> list[Flowable]:
    """Below a Helvetica panel: "<mark>Daily Value not established." when a row's %DV is the
    mark (`mark` with the space after it, if any), then the statements in `size`."""
    out: list[Flowable] = []
    if any(r.dv == mark.strip() for r in rows):
        out.append(_p(f"{mark}Daily Value not established.", "Helvetica", note_size))
    return out + _after(label, "Helvetica", size, with_other=True)


def _times_grid(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "times-grid")
    size = 9.0
    serving, spc = _serving(label)
    other, _, _ = label_statements(label)
    body = "Times-Roman"
    data: list[list[Any]] = [
        [_p("Supplement Facts", "Times-Bold", 18), "", ""],
        [_p(f"Serving Size: {serving}", body, size), "", ""],
    ]
    if spc:
        data.append([_p(f"Servings Per Container: {spc}", body, size), "", ""])
    rule_row = len(data) - 1
    data.append(
        [
            "",
            _p("Amount Per Serving", "Times-Bold", 8, TA_RIGHT),
            _p("% Daily Value", "Times-Bold", 8, TA_RIGHT),
        ]
    )
    head_row = len(data) - 1
    for r in rows:
        data.append(
            [
                _p(r.name, body, size, indent=10 * r.depth),
                _p(r.amount, body, size, TA_RIGHT),
                _p(r.dv, body, size, TA_RIGHT),
            ]
        )
    last = len(data) - 1
    notes = [
        f"{mark} Daily Value not established." for mark in ("†",) if any(r.dv == mark for r in rows)
    ]
    for note in notes:
        data.append([_p(note, body, 7.5), "", ""])
    if other:
        data.append([_p(f"Other Ingredients: {other}", body, 8), "", ""])
    table = _table(
        data,
        [2.3 * inch, 1.2 * inch, 0.9 * inch],
        [
            ("BOX", (0, 0), (-1, -1), 1.0, colors.black),
            ("LINEBELOW", (0, rule_row), (-1, rule_row), 4, colors.black),
            ("LINEBELOW", (0, head_row), (-1, head_row), 1, colors.black),
            ("INNERGRID", (0, head_row + 1), (-1, last), 0.25, colors.black),
            ("LINEBELOW", (0, last), (-1, last), 4, colors.black),
            *[("SPAN", (0, i), (-1, i)) for i in range(len(data)) if i <= rule_row or i > last],
        ],
        valign="MIDDLE",
        pad=1.5,
    )
    return [
        *_title(label, "Times-Bold", 20, "Times-Italic"),
        table,
        *_after(label, body, 9, with_other=False),
    ]


def _courier_leaders(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "courier-leaders")
    serving, spc = _serving(label)
    name_w, amount_w, dv_w = 44, 16, 6
    lines = ["Supplement Facts", f"Serving Size {serving}"]
    if spc:
        lines.append(f"Servings Per Container {spc}")
    lines.append("-" * (name_w + amount_w + dv_w + 2))
    lines.append(" " * name_w + "Amount Per Serving".rjust(amount_w + 2) + "% DV".rjust(dv_w))
    for r in rows:
        indent = "  " * r.depth
        words = r.name.split()
        wrapped: list[str] = []
        current = indent
        for word in words:
            if len(current) + len(word) + 1 > name_w - 8 and current.strip():
                wrapped.append(current)
                current = indent + "  "
            current += ("" if current.endswith(" ") or not current.strip() else " ") + word
        wrapped.append(current)
        lines.extend(wrapped[:-1])
        last = wrapped[-1]
        if r.amount:
            leader = " " + "." * max(3, name_w - len(last) - 2) + " "
            lines.append(last + leader + r.amount.rjust(amount_w) + "  " + r.dv.rjust(dv_w - 2))
        else:
            lines.append(last)
    lines.append("-" * (name_w + amount_w + dv_w + 2))
    if any(r.dv == "*" for r in rows):
        lines.append("* Daily Value not established.")
    style = ParagraphStyle("courier", fontName="Courier", fontSize=8, leading=10)
    head = ParagraphStyle("courier-head", fontName="Courier-Bold", fontSize=14, leading=18)
    brand = ParagraphStyle("courier-brand", fontName="Courier", fontSize=10, leading=12)
    out: list[Flowable] = []
    if label.get("brand"):
        out.append(Preformatted(str(label["brand"]).strip(), brand))
    out.append(Preformatted(str(label["product_name"]).strip()[:48], head))
    out.append(Spacer(1, 10))
    out.append(Preformatted("\n".join(lines), style))
    other, directions, warnings = label_statements(label)
    out.append(Spacer(1, 8))
    for prefix, text in (
        ("Other ingredients: ", other),
        ("Directions: ", directions),
        ("Warning: ", warnings),
    ):
        if text:
            out.append(_p(prefix + text, "Courier", 8))
    return out


def _value_table(
    rows: list[Row],
    style_name: str,
    font: str,
    size: float,
    header: list[str],
    widths: list[float],
    *,
    name_font: str | None = None,
    combined: bool = False,
    amount_align: int = TA_RIGHT,
) -> tuple[list[list[Any]], int]:
    data: list[list[Any]] = [
        [
            _p(h, "Helvetica-Bold", size * 0.9, TA_RIGHT if k else TA_LEFT)
            for k, h in enumerate(header)
        ]
    ]
    for r in rows:
        name_cell = _p(
            r.name, name_font if name_font and r.depth == 0 else font, size, indent=8 * r.depth
        )
        if combined:
            value = f"{r.amount} {r.dv}".strip() if r.amount else ""
            data.append([name_cell, _p(value, font, size, amount_align)])
        elif len(widths) == 5:
            data.append(
                [
                    name_cell,
                    _p(r.amount, font, size, amount_align),
                    _p(r.dv, font, size, TA_RIGHT),
                    _p(r.amount2, font, size, amount_align),
                    _p(r.dv2, font, size, TA_RIGHT),
                ]
            )
        else:
            data.append(
                [name_cell, _p(r.amount, font, size, amount_align), _p(r.dv, font, size, TA_RIGHT)]
            )
    return data, len(data) - 1


def _sidebar_panel(label: Label, style: str = "sidebar-landscape") -> list[Flowable]:
    rows = printed_rows(label, style)
    serving, spc = _serving(label)
    size = 7.5
    out: list[Flowable] = [
        _p("Supplement Facts", "Helvetica-Bold", 14),
        _p(f"Serving Size {serving}", "Helvetica", size),
    ]
    if spc:
        out.append(_p(f"Servings Per Container {spc}", "Helvetica", size))
    data, last = _value_table(
        rows,
        "sidebar",
        "Helvetica",
        size,
        ["", "Per Serving", "%Daily Value"],
        [2.2 * inch, 0.9 * inch, 0.8 * inch],
    )
    table = _table(
        data,
        [2.2 * inch, 0.9 * inch, 0.8 * inch],
        [
            ("LINEABOVE", (0, 0), (-1, 0), 2, colors.black),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("LINEBELOW", (0, last), (-1, last), 2, colors.black),
        ],
        pad=1,
    )
    out.append(table)
    out.append(_p("*Percent Daily Values are based on a 2,000 calorie diet.", "Helvetica", 6.5))
    return out + _closing(label, rows, "*", 6.5, 7)


def _bold_two_column(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "bold-two-column")
    serving, spc = _serving(label)
    size = 8.0
    widths = [1.9 * inch, 0.95 * inch, 0.6 * inch, 0.95 * inch, 0.6 * inch]
    header = ["", "Amount Per Serving", "% DV", "Amount Per Day", "% DV"]
    rows = [Row("Calories", "5", "", 0, "10", ""), *rows]
    data, last = _value_table(
        rows, "two", "Helvetica", size, header, widths, name_font="Helvetica-Bold"
    )
    table = _table(
        data,
        widths,
        [
            ("LINEBELOW", (0, 0), (-1, 0), 1.5, colors.black),
            ("LINEBELOW", (0, 1), (-1, last), 0.3, colors.grey),
            ("BOX", (0, 0), (-1, -1), 1, colors.black),
        ],
        pad=2,
    )
    out: list[Flowable] = [*_title(label, "Helvetica-Bold", 16, "Helvetica")]
    out.append(_p("Supplement Facts", "Helvetica-Bold", 16))
    out.append(_p(f"Serving Size {serving}", "Helvetica", size))
    if spc:
        out.append(_p(f"Servings Per Container {spc}", "Helvetica", size))
    out.append(Spacer(1, 3))
    out.append(table)
    return out + _closing(label, rows, "* ", 7, 8)


def _combined_cell(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "combined-cell")
    serving, spc = _serving(label)
    size = 8.5
    widths = [2.6 * inch, 1.6 * inch]
    header = ["", f"Amount Per {serving} / % Daily Value"]
    data, _ = _value_table(rows, "combined", "Helvetica", size, header, widths, combined=True)
    head: list[list[Any]] = [
        [_p("Supplement Facts", "Helvetica-Bold", 15), ""],
        [_p(f"Serving Size {serving}", "Helvetica", size), ""],
    ]
    if spc:
        head.append([_p(f"Servings Per Container {spc}", "Helvetica", size), ""])
    n = len(head)
    table = _table(
        head + data,
        widths,
        [
            *[("SPAN", (0, i), (-1, i)) for i in range(n)],
            ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
            ("LINEBELOW", (0, n - 1), (-1, n - 1), 3, colors.black),
            ("LINEBELOW", (0, n), (-1, n), 0.8, colors.black),
        ],
        pad=1.5,
    )
    name = str(label["product_name"]).strip()
    mixed = " ".join(w.capitalize() if len(w) > 3 else w.lower() for w in name.split())
    out: list[Flowable] = [_p(mixed, "Helvetica-Bold", 17), Spacer(1, 12), table]
    return out + _closing(label, rows, "* ", 7, 8)


def _compact_glued(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "compact-glued")
    serving, spc = _serving(label)
    size = 6.5
    widths = [1.9 * inch, 0.55 * inch, 0.4 * inch]
    header = ["", f"Amount Per {serving}", "% DV"]
    data, _ = _value_table(rows, "compact", "Helvetica", size, header, widths, amount_align=TA_LEFT)
    table = _table(
        data, widths, [("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black)], pad=0.5, side_pad=2
    )
    serving_line = f"Serving Size: {serving}" + (f"   Servings Per Container: {spc}" if spc else "")
    out: list[Flowable] = [*_title(label, "Helvetica-Bold", 13, "Helvetica-Oblique")]
    out += [
        _p("Supplement Facts", "Helvetica-Bold", 11),
        _p(serving_line, "Helvetica", size),
        table,
    ]
    return out + _closing(label, rows, "‡ ", 6, 6.5)


class _Bar(Flowable):
    """A filled black bar the width of the panel."""

    def __init__(self, width: float, height: float) -> None:
        super().__init__()
        self.width = width
        self.height = height

    def draw(self) -> None:
        self.canv.setFillColor(colors.black)
        self.canv.rect(0, 0, self.width, self.height, stroke=0, fill=1)


def _fda_bars(label: Label) -> list[Flowable]:
    rows = printed_rows(label, "fda-bars")
    serving, spc = _serving(label)
    size = 8.0
    width = 3.9 * inch
    widths = [2.35 * inch, 1.0 * inch, 0.55 * inch]
    data: list[list[Any]] = [
        [
            _p("Amount Per Serving", "Helvetica-Bold", 7.5),
            "",
            _p("% Daily Value", "Helvetica-Bold", 7.5, TA_RIGHT),
        ]
    ]
    for r in rows:
        data.append(
            [
                _p(r.name, "Helvetica", size, indent=9 * r.depth),
                _p(r.amount, "Helvetica", size, TA_RIGHT),
                _p(r.dv, "Helvetica", size, TA_RIGHT),
            ]
        )
    table = _table(
        data,
        widths,
        [("SPAN", (0, 0), (1, 0)), ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.black)],
        pad=1.5,
        side_pad=0,
    )
    out: list[Flowable] = [*_title(label, "Helvetica-Bold", 18, "Helvetica")]
    out += [_p("Supplement Facts", "Helvetica-Bold", 20), Spacer(1, 2), _Bar(width, 0.5)]
    out.append(_p(f"Serving Size {serving}", "Helvetica", size))
    if spc:
        out.append(_p(f"Servings Per Container {spc}", "Helvetica", size))
    out += [Spacer(1, 2), _Bar(width, 7), Spacer(1, 2), table, Spacer(1, 2), _Bar(width, 4)]
    out.append(_p("*Percent Daily Values are based on a 2,000 calorie diet.", "Helvetica", 6.5))
    return out + _closing(label, rows, "†", 6.5, 8)


def _centered_caps(label: Label) -> list[Flowable]:
    rows = [
        Row(r.name.upper(), r.amount, r.dv, r.depth, r.amount2, r.dv2)
        for r in printed_rows(label, "centered-caps")
    ]
    serving, spc = _serving(label)
    size = 7.0
    widths = [2.2 * inch, 0.8 * inch, 0.7 * inch]
    style = ParagraphStyle("tight", fontName="Helvetica", fontSize=size, leading=size * 1.05)
    data: list[list[Any]] = [
        [_p("Supplement Facts", "Helvetica-Bold", 16, TA_CENTER), "", ""],
        [_p(f"Serving Size {serving}", "Helvetica", size), "", ""],
    ]
    if spc:
        data.append([_p(f"Servings Per Container {spc}", "Helvetica", size), "", ""])
    n = len(data)
    data.append(
        [
            "",
            _p("Amount Per Serving", "Helvetica-Bold", 6.5, TA_RIGHT),
            _p("% Daily Value", "Helvetica-Bold", 6.5, TA_RIGHT),
        ]
    )
    for r in rows:
        data.append(
            [
                Paragraph(
                    escape(r.name), ParagraphStyle("n", parent=style, leftIndent=8 * r.depth)
                ),
                Paragraph(escape(r.amount), ParagraphStyle("a", parent=style, alignment=TA_RIGHT)),
                Paragraph(escape(r.dv), ParagraphStyle("d", parent=style, alignment=TA_RIGHT)),
            ]
        )
    last = len(data) - 1
    if any(r.dv == "**" for r in rows):
        data.append([_p("** Daily Value not established.", "Helvetica", 6), "", ""])
    spans = [("SPAN", (0, i), (-1, i)) for i in range(len(data)) if i < n or i > last]
    table = _table(
        data,
        widths,
        [
            *spans,
            ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
            ("LINEBELOW", (0, n - 1), (-1, n - 1), 2.5, colors.black),
            ("LINEBELOW", (0, n), (-1, n), 0.6, colors.black),
        ],
        valign="BOTTOM",
        pad=0.3,
    )
    after = _after(label, "Helvetica", 7, with_other=True)
    return [*_title(label, "Helvetica-Bold", 15, "Helvetica"), table, *after]


_PORTRAIT: dict[str, Callable[[Label], list[Flowable]]] = {
    "centered-caps": _centered_caps,
    "times-grid": _times_grid,
    "courier-leaders": _courier_leaders,
    "bold-two-column": _bold_two_column,
    "combined-cell": _combined_cell,
    "compact-glued": _compact_glued,
    "fda-bars": _fda_bars,
}


def _marketing_story(label: Label) -> list[Flowable]:
    story: list[Flowable] = [*_title(label, "Helvetica-Bold", 20, "Helvetica")]
    for text in _marketing(label):
        story += [_p(text, "Helvetica", 10), Spacer(1, 8)]
    story.append(_p("• Supports healthy bones and teeth", "Helvetica", 10))
    story.append(_p("• Third-party tested for purity", "Helvetica", 10))
    return story


def _render_two_frames(
    path: Path,
    left_story: list[Flowable],
    right_story: list[Flowable],
    *,
    right_first: bool = False,
) -> None:
    """A landscape page in two columns (frames). The left story is laid out first (a
    long one flows on into the right-hand column) unless `right_first`: then the right
    story comes first and a long left story goes on in the left column of the next page."""
    page_w, page_h = landscape(letter)
    margin = 0.6 * inch
    gutter = 0.4 * inch
    left_w = (page_w - 2 * margin - gutter) * 0.45
    right_w = page_w - 2 * margin - gutter - left_w
    doc = BaseDocTemplate(
        str(path),
        pagesize=(page_w, page_h),
        invariant=1,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
    )

    def frame(x: float, width: float, name: str) -> Frame:
        return Frame(x, margin, width, page_h - 2 * margin, id=name, showBoundary=0)

    left = frame(margin, left_w, "left")
    right = frame(margin + left_w + gutter, right_w, "right")
    if not right_first:
        doc.addPageTemplates([PageTemplate(id="two", frames=[left, right])])
        doc.build([*left_story, FrameBreak(), *right_story])
        return
    doc.addPageTemplates(
        [
            PageTemplate(id="two", frames=[right, frame(margin, left_w, "left-1")]),
            PageTemplate(id="left", frames=[frame(margin, left_w, "left-n")]),
        ]
    )
    doc.build([NextPageTemplate("left"), *right_story, FrameBreak(), *left_story])


def render_side_by_side(labels: list[Label], path: Path) -> Path:
    """The sidebar panels of `labels[0]` and `labels[1]` next to each other on one
    landscape page (no titles: the products take the file name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _render_two_frames(path, _sidebar_panel(labels[0]), _sidebar_panel(labels[1]))
    return path


def render_panel_in_two_columns(label: Label, path: Path) -> Path:
    """NOT SUPPORTED by the reader (docs/pdf-layouts.md): a long sidebar panel that
    runs on from the left-hand column into the right-hand one, with no heading there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _render_two_frames(path, _sidebar_panel(label), [])
    return path


def render_text_below_heading(label: Label, path: Path) -> Path:
    """NOT SUPPORTED by the reader (docs/pdf-layouts.md): the sidebar panel in the left
    column, marketing text in the right-hand one starting below the panel's heading."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _render_two_frames(
        path,
        _sidebar_panel(label),
        [Spacer(1, 40), *_marketing_story(label)],
        right_first=True,
    )
    return path


def render_unseen_pdf(label: Label, path: Path, style: str) -> Path:
    """Write one label (reduced DSLD shape, after `unseen_label`) as a PDF in `style`."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "sidebar-landscape":
        _render_two_frames(path, _marketing_story(label), _sidebar_panel(label))
        return path
    if style == "panel-left-text-right":
        _render_two_frames(
            path, _sidebar_panel(label, style), _marketing_story(label), right_first=True
        )
        return path
    doc = SimpleDocTemplate(
        str(path),
        pagesize=letter,
        invariant=1,
        leftMargin=0.8 * inch,
        rightMargin=0.8 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
    )
    story = _PORTRAIT[style](label)
    doc.build([KeepTogether(story[:3]), *story[3:]])
    return path


# --- measuring the reader -----------------------------------------------------------

#: The protocol fields compared, per product.
FIELDS: tuple[str, ...] = (
    "calcium_mg",
    "magnesium_mg",
    "vitamin_d_mcg",
    "vitamin_k1_mcg",
    "vitamin_k2_mcg",
    "k2_form",
)
_PROTOCOL_GROUPS = ("Calcium", "Magnesium", "Vitamin D", "Vitamin K")


def unseen_labels() -> list[Label]:
    """The sample products, every real DSLD label with calcium, magnesium, vitamin D or K,
    and EXTRA_PRODUCTS (K1 and MK-4)."""
    from labelgen.products import SAMPLE_PRODUCTS, dsld_labels

    real = [
        label
        for label in dsld_labels()
        if any(i.get("ingredient_group") in _PROTOCOL_GROUPS for i in label["ingredients"])
    ]
    return [copy.deepcopy(p) for p in SAMPLE_PRODUCTS] + real + copy.deepcopy(list(EXTRA_PRODUCTS))


def protocol_values(extractions: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """The protocol fields of each product of some `FileExtraction`s (normalized together
    by pipeline.normalize), by source file, products in label order."""
    from pipeline.normalize import nutrients_to_products, rows_to_nutrients
    from pipeline.records import Label as LabelRecord
    from pipeline.records import LabelRow, concat_extractions, records_to_frame

    labels, rows, _, _ = concat_extractions(extractions)
    label_frame = records_to_frame(labels, LabelRecord)
    products = nutrients_to_products(
        rows_to_nutrients(records_to_frame(rows, LabelRow), label_frame), label_frame
    )
    out: dict[str, list[dict[str, Any]]] = {ex.source_file: [] for ex in extractions}
    for record in products.sort_values(["source_file", "label_index"]).to_dict("records"):
        values = {}
        for name in FIELDS:
            value = record[name]
            values[name] = None if value is None or value != value else value  # NaN -> None
        out[str(record["source_file"])].append(values)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal values (amounts to 1e-6 relative); None only equals None."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))
    return bool(a == b)


@dataclass
class StyleScore:
    """Protocol fields read right over protocol fields compared. A field counts when the
    truth or the reading has a value (fields absent from both are not counted); a file
    that is rejected or gives other than one panel gets every field wrong."""

    fields: int = 0
    matched: int = 0
    products: int = 0
    mismatches: list[str] = dataclass_field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.matched / self.fields if self.fields else 1.0


def score_styles(
    labels: list[Label],
    out_dir: Path,
    styles: tuple[str, ...] = STYLES,
    variant_of: Callable[[Label, str], Label] | None = None,
    render: Callable[[Label, Path, str], Path] | None = None,
) -> dict[str, StyleScore]:
    """Render every label in every style into `out_dir` (a PDF and, for the truth, the
    same label as DSLD JSON), read both back, and score the PDF's protocol fields.
    `variant_of` and `render` make a style's label and its PDF (default: this module's
    `unseen_label` and `render_unseen_pdf`; labelgen.artwork passes its own)."""
    from labelgen.dsld_formats import write_dsld_json
    from pipeline.errors import LabelError
    from pipeline.records import FileExtraction
    from pipeline.sources.dsld_json import read_dsld_json
    from pipeline.sources.pdf import read_pdf

    out_dir.mkdir(parents=True, exist_ok=True)
    truths: list[FileExtraction] = []
    reads: list[FileExtraction] = []
    rejected: dict[str, str] = {}
    cases: list[tuple[str, str]] = []  # (style, stem)
    for style in styles:
        for label in labels:
            variant = (variant_of or unseen_label)(label, style)
            safe = "".join(c if c.isalnum() else "-" for c in str(label["dsld_id"]))
            stem = f"{style}_{safe}"
            json_path = write_dsld_json(variant, out_dir / f"{stem}.json")
            truths.append(read_dsld_json(json_path, stem))
            pdf_path = (render or render_unseen_pdf)(variant, out_dir / f"{stem}.pdf", style)
            try:
                reads.append(read_pdf(pdf_path, stem))
            except LabelError as exc:
                rejected[stem] = exc.reason
            cases.append((style, stem))
    truth = protocol_values(truths)
    got = protocol_values(reads) if reads else {}
    scores = {style: StyleScore() for style in styles}
    for style, stem in cases:
        score = scores[style]
        score.products += 1
        expected = truth[stem][0]
        products = got.get(stem, [])
        values = products[0] if products else dict.fromkeys(FIELDS)
        why = f" (rejected: {rejected[stem]})" if stem in rejected else ""
        if stem not in rejected and len(products) != 1:
            why = f" ({len(products)} panels read)"
        for name in FIELDS:
            if expected[name] is None and values[name] is None:
                continue
            score.fields += 1
            if not why and same(expected[name], values[name]):
                score.matched += 1
            else:
                score.mismatches.append(
                    f"{stem}: {name} read {values[name]!r}, printed {expected[name]!r}{why}"
                )
    return scores


#: Regression PDFs (tests/pdfs/unseen-<case>.pdf): a failure of the reader on these
#: styles before it was fixed, or a layout it does not support.
REGRESSION_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    # case: (how it is rendered, product ids)
    "dot-leaders": ("courier-leaders", ("sample-bone-matrix",)),
    "panel-right-of-text": ("sidebar-landscape", ("sample-daily-calcium-k2",)),
    "panel-left-of-text": ("panel-left-text-right", ("unseen-k1-mk4-bone",)),
    "panels-side-by-side": ("side-by-side", ("sample-bone-matrix", "unseen-d3-k2-drops")),
    "wrapped-column-heading": ("bold-two-column", ("unseen-d3-k2-drops",)),
    "centred-heading": ("centered-caps", ("sample-k2-calcium-softgel",)),
    "unsupported-text-below-heading": ("text-below-heading", ("sample-bone-matrix",)),
    "unsupported-panel-in-two-columns": ("two-columns", ("200768",)),
}


def regression_product(dsld_id: str, extra: tuple[Label, ...] = ()) -> Label:
    """A product of the regression cases by id: EXTRA_PRODUCTS, the samples, `extra`, else
    a real DSLD label."""
    from labelgen.products import SAMPLE_PRODUCTS, dsld_label

    for known in (*EXTRA_PRODUCTS, *SAMPLE_PRODUCTS, *extra):
        if known["dsld_id"] == dsld_id:
            return copy.deepcopy(known)
    return dsld_label(dsld_id)


def write_regression_pdfs(out_dir: Path) -> dict[str, Path]:
    """Write tests/pdfs/unseen-<case>.pdf for every case of REGRESSION_CASES."""
    out: dict[str, Path] = {}
    for case, (how, ids) in REGRESSION_CASES.items():
        path = out_dir / f"unseen-{case}.pdf"
        labels = [regression_product(i) for i in ids]
        if how == "side-by-side":
            render_side_by_side([unseen_label(x, "sidebar-landscape") for x in labels], path)
        elif how == "two-columns":
            render_panel_in_two_columns(unseen_label(labels[0], "sidebar-landscape"), path)
        elif how == "text-below-heading":
            render_text_below_heading(unseen_label(labels[0], "sidebar-landscape"), path)
        else:
            render_unseen_pdf(unseen_label(labels[0], how), path, how)
        out[case] = path
    return out


if __name__ == "__main__":
    import sys

    for case_path in write_regression_pdfs(Path(sys.argv[1])).values():
        print(case_path)
