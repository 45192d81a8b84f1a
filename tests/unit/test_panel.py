"""The panel reader fed hand-built positioned words (how OCR will feed it)."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.panel import group_lines, split_name, words_to_labels
from pipeline.records import Label, LabelRow, ReadIssue, Word

CHAR = 4.4  # width of one character at 8 pt
SPACE = 2.2


def line(
    y: float,
    *cells: tuple[float, str],
    page: int = 1,
    h: float = 8.0,
    conf: float | None = None,
) -> list[Word]:
    """Words of one printed line; each cell is (x where it starts, text)."""
    out = []
    for x, text in cells:
        cx = x
        for token in text.split():
            width = len(token) * CHAR * h / 8.0
            out.append(Word(token, cx, cx + width, y, y + h, page, conf))
            cx += width + SPACE
    return out


AMOUNT_X = 230.0
DV_X = 300.0


def panel_words(
    rows: list[list[tuple[float, str]]],
    *,
    top: float = 120.0,
    page: int = 1,
    pitch: float = 12.0,
    header: Sequence[tuple[float, str]] | None = None,
    title: bool = True,
) -> list[Word]:
    """A brand, a title and a panel whose rows are lists of (x, text) cells."""
    words: list[Word] = []
    y = top
    if title:
        words += line(y - 60, (50, "Northfield Labs"), page=page, h=11)
        words += line(y - 44, (50, "Bone Matrix Plus"), page=page, h=18)
    words += line(y, (50, "Supplement Facts"), page=page, h=14)
    words += line(y + 18, (50, "Serving Size 2 Capsules"), page=page)
    words += line(y + 28, (50, "Servings Per Container 60"), page=page)
    head = header or [(AMOUNT_X - 10, "Amount Per Serving"), (DV_X, "% Daily Value")]
    words += line(y + 40, *head, page=page, h=7)
    y += 54
    for cells in rows:
        words += line(y, *cells, page=page)
        y += pitch
    return words


def read(pages: list[list[Word]]) -> tuple[list[Label], list[LabelRow], list[ReadIssue]]:
    return words_to_labels(pages, "labels/x.pdf", fallback_name="x", source_format="pdf")


def test_lines_are_grouped_by_vertical_overlap() -> None:
    words = line(10, (50, "Calcium"), (230, "500 mg")) + line(22, (50, "Zinc"))
    words.append(Word("38%", 300, 315, 10.5, 18.5, 1))  # slightly lower baseline
    lines = group_lines(list(reversed(words)))
    assert [[w.text for w in ln] for ln in lines] == [["Calcium", "500", "mg", "38%"], ["Zinc"]]


def test_basic_panel_rows_label_and_statements() -> None:
    words = panel_words(
        [
            [(50, "Vitamin D3 (as cholecalciferol)"), (AMOUNT_X, "25 mcg"), (DV_X, "125%")],
            [(50, "Calcium (as calcium citrate)"), (AMOUNT_X, "500 mg"), (DV_X, "38%")],
            [(50, "Magnesium (as magnesium glycinate)"), (AMOUNT_X, "250 mg"), (DV_X, "60%")],
        ]
    )
    words += line(230, (50, "Other ingredients: Hypromellose, Rice Flour."))
    words += line(242, (50, "Suggested use: Take 2 capsules daily"))
    words += line(252, (50, "with a meal that contains fat."))
    words += line(264, (50, "Warning: If you take warfarin, consult your doctor."))
    words += line(276, (50, "Keep out of reach of children."))
    labels, rows, issues = read([words])
    assert issues == []
    assert labels == [
        Label(
            source_file="labels/x.pdf",
            label_index=0,
            product_name="Bone Matrix Plus",
            brand="Northfield Labs",
            serving_size="2 Capsules",
            servings_per_container="60",
            directions="Take 2 capsules daily with a meal that contains fat.",
            warnings="If you take warfarin, consult your doctor. Keep out of reach of children.",
            other_ingredients="Hypromellose, Rice Flour.",
            source_format="pdf",
            pages="1",
        )
    ]
    calcium = rows[1]
    assert (calcium.name_raw, calcium.form_raw, calcium.amount_raw, calcium.unit_raw) == (
        "Calcium",
        "calcium citrate",
        "500",
        "mg",
    )
    assert calcium.dv_raw == "38%"
    assert calcium.line_no == 2
    assert calcium.page == 1
    assert calcium.raw_text == "Calcium (as calcium citrate) 500 mg 38%"
    assert [r.name_raw for r in rows] == ["Vitamin D3", "Calcium", "Magnesium"]


def test_amount_spellings() -> None:
    words = panel_words(
        [
            [(50, "Vitamin A"), (AMOUNT_X, "900 mcg RAE"), (DV_X, "100%")],
            [(50, "Vitamin D"), (AMOUNT_X - 20, "25 mcg (1,000 IU)"), (DV_X, "125%")],
            [(50, "Vitamin K2"), (AMOUNT_X, "100mcg"), (DV_X, "83%")],
            [(50, "Vitamin B12"), (AMOUNT_X, "100 µg"), (DV_X, "4,167%")],
            [(50, "Boron"), (AMOUNT_X, "<1 mg"), (DV_X, "**")],
            [(50, "Inositol"), (AMOUNT_X, "0.5 g"), (DV_X, "†")],
            [(50, "Folate"), (AMOUNT_X, "667 mcg DFE"), (DV_X, "<1%")],
            [(50, "Calcium"), (AMOUNT_X, "1,000 mg"), (DV_X, "77%")],
        ]
    )
    _, rows, issues = read([words])
    assert issues == []
    got = [(r.name_raw, r.amount_raw, r.unit_raw, r.alt_amounts_raw, r.dv_raw) for r in rows]
    assert got == [
        ("Vitamin A", "900", "mcg RAE", None, "100%"),
        ("Vitamin D", "25", "mcg", "1,000 IU", "125%"),
        ("Vitamin K2", "100", "mcg", None, "83%"),
        ("Vitamin B12", "100", "µg", None, "4,167%"),
        ("Boron", "<1", "mg", None, "**"),
        ("Inositol", "0.5", "g", None, "†"),
        ("Folate", "667", "mcg DFE", None, "<1%"),
        ("Calcium", "1,000", "mg", None, "77%"),
    ]


def test_wrapped_name_with_amount_on_second_line_is_one_row() -> None:
    words = panel_words(
        [
            [(50, "Vitamin K2 (as menaquinone-7 / MenaQ7")],
            [(50, "from natto)"), (AMOUNT_X, "100 mcg"), (DV_X, "83%")],
            [(50, "Calcium (as calcium citrate)"), (AMOUNT_X, "500 mg"), (DV_X, "38%")],
        ]
    )
    _, rows, issues = read([words])
    assert issues == []
    assert len(rows) == 2
    k2 = rows[0]
    assert (k2.name_raw, k2.form_raw, k2.amount_raw, k2.unit_raw, k2.dv_raw) == (
        "Vitamin K2",
        "menaquinone-7 / MenaQ7 from natto",
        "100",
        "mcg",
        "83%",
    )
    assert k2.raw_text == "Vitamin K2 (as menaquinone-7 / MenaQ7 from natto) 100 mcg 83%"
    assert rows[1].line_no == 2


def test_wrapped_name_with_amount_on_first_line_and_tight_continuation() -> None:
    # rows 12 pt apart, the wrapped line of a cell 9 pt below its first line
    words = panel_words([])
    y = 174.0
    words += line(y, (50, "Vitamin C"), (AMOUNT_X, "90 mg"), (DV_X, "100%"))
    words += line(y + 12, (50, "Saw Palmetto Berry Extract"), (AMOUNT_X, "160 mg"), (DV_X, "*"))
    words += line(y + 21, (50, "Standardized Fatty Acids"))
    words += line(y + 33, (50, "Zinc"), (AMOUNT_X, "11 mg"), (DV_X, "100%"))
    words += line(y + 45, (50, "Lycopene"), (AMOUNT_X, "1 mg"), (DV_X, "*"))
    _, rows, issues = read([words])
    assert issues == []
    assert [r.name_raw for r in rows] == [
        "Vitamin C",
        "Saw Palmetto Berry Extract Standardized Fatty Acids",
        "Zinc",
        "Lycopene",
    ]
    assert rows[1].amount_raw == "160"


def test_indented_blend_members_carry_their_parent() -> None:
    words = panel_words(
        [
            [(50, "Zinc (as zinc gluconate)"), (AMOUNT_X, "15 mg"), (DV_X, "136%")],
            [(50, "Energy Support"), (AMOUNT_X, "350 mg"), (DV_X, "*")],
            [(60, "Green Tea leaf extract")],
            [(60, "Ginger root"), (AMOUNT_X, "50 mg"), (DV_X, "*")],
            [(70, "Gingerols"), (AMOUNT_X, "2 mg"), (DV_X, "*")],
            [(50, "Copper"), (AMOUNT_X, "2 mg"), (DV_X, "222%")],
        ]
    )
    _, rows, issues = read([words])
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.parent) for r in rows] == [
        ("Zinc", "15", None),
        ("Energy Support", "350", None),
        ("Green Tea leaf extract", None, "Energy Support"),
        ("Ginger root", "50", "Energy Support"),
        ("Gingerols", "2", "Ginger root"),
        ("Copper", "2", None),
    ]


def test_blend_total_with_members_listed_without_amounts_or_indent() -> None:
    words = panel_words(
        [
            [(50, "Proprietary Blend"), (AMOUNT_X, "500 mg"), (DV_X, "*")],
            [(50, "Royal Jelly")],
            [(50, "White Willow bark, Slippery Elm bark (powder)")],
            [(50, "Zinc"), (AMOUNT_X, "15 mg"), (DV_X, "136%")],
        ]
    )
    _, rows, issues = read([words])
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.parent) for r in rows] == [
        ("Proprietary Blend", "500", None),
        ("Royal Jelly", None, "Proprietary Blend"),
        ("White Willow bark", None, "Proprietary Blend"),
        ("Slippery Elm bark (powder)", None, "Proprietary Blend"),
        ("Zinc", "15", None),
    ]
    assert [r.line_no for r in rows] == [1, 2, 3, 4, 5]


def test_unreadable_amount_is_an_issue_and_the_row_is_kept() -> None:
    words = panel_words(
        [
            [(50, "Vitamin D3"), (AMOUNT_X, "20 mcg"), (DV_X, "100%")],
            [(50, "Magnesium"), (AMOUNT_X, "250 mg"), (DV_X, "60%")],
            [(50, "Zinc"), (AMOUNT_X, "11 mg"), (DV_X, "100%")],
            [(50, "Calcium"), (AMOUNT_X, "1,0O0 mg"), (DV_X, "77%")],
            [(50, "Vitamin Q")],
        ]
    )
    _, rows, issues = read([words])
    assert [i.detail for i in issues] == [
        "page 1, line 4: amount '1,0O0 mg' of 'Calcium' could not be read",
        "page 1, line 5: no amount found for 'Vitamin Q' (read as 'Vitamin Q')",
    ]
    assert (issues[0].label_index, issues[0].page, issues[0].line_no) == (0, 1, 4)
    calcium = rows[3]
    assert (calcium.name_raw, calcium.amount_raw, calcium.unit_raw, calcium.dv_raw) == (
        "Calcium",
        None,
        None,
        "77%",
    )
    assert len(rows) == 5


def test_two_amount_columns() -> None:
    header = [
        (150, "Per Serving"),
        (200, "%DV"),
        (240, "Per Day"),
        (300, "%DV"),
    ]
    words = panel_words(
        [
            [
                (50, "Vitamin K2 (as MK-7)"),
                (150, "60 mcg"),
                (200, "50%"),
                (240, "120 mcg"),
                (300, "100%"),
            ],
            [(50, "Calcium"), (150, "250 mg"), (200, "19%"), (240, "500 mg"), (300, "38%")],
        ],
        header=header,
    )
    labels, rows, issues = read([words])
    assert issues == []
    assert labels[0].amount_columns == "Per Serving | Per Day"
    got = [(r.amount_raw, r.unit_raw, r.dv_raw, r.amount_alt_raw, r.unit_alt_raw) for r in rows]
    assert got == [("60", "mcg", "50%", "120", "mcg"), ("250", "mg", "19%", "500", "mg")]
    assert rows[0].form_raw == "MK-7"


def test_no_dv_column_with_markers() -> None:
    words = panel_words(
        [
            [(50, "Calcium"), (AMOUNT_X, "500 mg")],
            [(50, "Turmeric root"), (AMOUNT_X, "100 mg*")],
            [(50, "Ginger†"), (AMOUNT_X, "50 mg")],
        ],
        header=[(AMOUNT_X - 10, "Amount Per Serving")],
    )
    _, rows, issues = read([words])
    assert issues == []
    assert [(r.name_raw, r.amount_raw, r.dv_raw) for r in rows] == [
        ("Calcium", "500", None),
        ("Turmeric root", "100", "*"),
        ("Ginger", "50", "†"),
    ]


def test_two_panels_and_a_panel_continued_on_the_next_page() -> None:
    page1 = panel_words([[(50, "Calcium"), (AMOUNT_X, "500 mg"), (DV_X, "38%")]])
    page1 += line(200, (50, "Other ingredients: Rice Flour."))
    page1 += panel_words(
        [
            [(50, "Vitamin K2"), (AMOUNT_X, "100 mcg"), (DV_X, "83%")],
            [(50, "Vitamin D3"), (AMOUNT_X, "25 mcg"), (DV_X, "125%")],
        ],
        top=400,
        title=False,
    )
    page1 += line(340, (50, "Daily K2"), h=18)
    page2 = line(60, (50, "Magnesium"), (AMOUNT_X, "250 mg"), (DV_X, "60%"), page=2)
    page2 += line(80, (50, "* Daily Value not established."), page=2)
    labels, rows, issues = read([page1, page2])
    assert issues == []
    assert [(lb.label_index, lb.product_name, lb.brand, lb.pages) for lb in labels] == [
        (0, "Bone Matrix Plus", "Northfield Labs", "1"),
        (1, "Daily K2", None, "1-2"),
    ]
    assert labels[0].other_ingredients == "Rice Flour."
    assert [(r.label_index, r.line_no, r.name_raw, r.page) for r in rows] == [
        (0, 1, "Calcium", 1),
        (1, 1, "Vitamin K2", 1),
        (1, 2, "Vitamin D3", 1),
        (1, 3, "Magnesium", 2),
    ]


def test_no_heading_gives_nothing_and_a_mention_is_not_a_heading() -> None:
    words = line(100, (50, "See the Supplement Facts panel on the bottle for amounts."))
    words += line(112, (50, "Supplement Facts panel details are printed on each bottle of it"))
    assert read([words]) == ([], [], [])
    assert read([[], []]) == ([], [], [])


def test_fallback_name_without_a_title_and_ocr_confidence() -> None:
    words = panel_words([[(50, "Calcium"), (AMOUNT_X, "500 mg"), (DV_X, "38%")]], title=False)
    words = [
        Word(w.text, w.x0, w.x1, w.top, w.bottom, w.page, 90.0 if w.text != "500" else 60.0)
        for w in words
    ]
    labels, rows, _ = words_to_labels(
        [words], "scan.png", fallback_name="my scan", source_format="image-ocr"
    )
    assert labels[0].product_name == "my scan"
    assert labels[0].brand is None
    assert labels[0].source_format == "image-ocr"
    assert rows[0].confidence == 60.0
    assert labels[0].ocr_confidence is not None
    assert round(labels[0].ocr_confidence, 2) == round((90.0 * 3 + 60.0) / 4, 2)  # the row words


def test_split_name() -> None:
    assert split_name("Calcium (as calcium citrate)") == ("Calcium", "calcium citrate", None)
    assert split_name("Vitamin D3 (as cholecalciferol (D3))") == (
        "Vitamin D3",
        "cholecalciferol (D3)",
        None,
    )
    assert split_name("Vitamin K2 (from natto)") == ("Vitamin K2", "natto", None)
    assert split_name("Fenugreek (seed) powder") == ("Fenugreek (seed) powder", None, None)
    assert split_name("Royal Jelly†") == ("Royal Jelly", None, "†")
