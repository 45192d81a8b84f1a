"""corrections.csv read, checked and applied (pipeline.corrections), and the review queue
ordered by consequence (pipeline.evidence)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import corrections
from pipeline.corrections import AMOUNT, Correction, apply_to_rows, parse
from pipeline.evidence import CONSEQUENCES, correct_command, needs_review
from pipeline.protocol import load_protocol
from pipeline.records import LabelRow, records_to_frame

HEADER = "source_file,sha256,line,field,value,unit,by,date,why\n"


def test_parse_keeps_good_lines_and_names_each_bad_one() -> None:
    text = (
        HEADER
        + "a.pdf,ABC,3,amount,500,mg,Ana,2026-11-30,bottle\n"
        + "a.pdf,abc,0,amount,500,mg,Ana,2026-11-30,bottle\n"
        + "a.pdf,abc,3,amount,500,furlongs,Ana,2026-11-30,bottle\n"
        + "a.pdf,abc,3,colour,red,,Ana,2026-11-30,bottle\n"
        + "a.pdf,abc,3,amount,500,mg,,2026-11-30,bottle\n"
        + "a.pdf,abc,3,amount,500,mg,Ana,2026-11-30,bottle,extra\n"
        + "\n"
        + 'b.png,def,2,confirmed,,,"Ruiz, Ana",2026-12-01,"ok, checked"\n'
    )
    found, errors = parse(text)
    assert errors == [
        "corrections.csv line 3: line '0' is not a line number (1, 2, ...)",
        "corrections.csv line 4: unit 'furlongs' is not a known unit",
        "corrections.csv line 5: field 'colour' is not one of amount, confirmed",
        "corrections.csv line 6: by missing",
        "corrections.csv line 7: more cells than the header has",
    ]
    assert [(c.source_file, c.sha256, c.line, c.field, c.by, c.file_line) for c in found] == [
        ("a.pdf", "abc", 3, "amount", "Ana", 2),
        ("b.png", "def", 2, "confirmed", "Ruiz, Ana", 9),
    ]
    assert found[1].describe() == "confirmed by Ruiz, Ana on 2026-12-01: ok, checked"


def test_a_header_without_the_required_columns_is_one_error() -> None:
    assert parse("source_file,line,value\na.pdf,3,500\n") == (
        [],
        ["corrections.csv line 1: the header lacks sha256, field, by, date, why"],
    )


def _fix(line: int, value: str = "500", field: str = AMOUNT) -> Correction:
    return Correction("a.pdf", "s" * 64, line, field, value, "mg", "Ana", "2026-11-30", "bottle")


def test_apply_puts_the_corrected_value_beside_the_printed_one() -> None:
    rows = records_to_frame(
        [
            LabelRow("a.pdf", 0, 1, "Calcium", "50", "mg"),
            LabelRow("a.pdf", 0, 2, "Magnesium", "250", "mg"),
            LabelRow("b.pdf", 0, 1, "Calcium", "50", "mg"),
        ],
        LabelRow,
    )
    out = apply_to_rows(rows, [_fix(1), _fix(2, "250", "confirmed")])
    got = out[["source_file", "amount_raw", "printed_amount_raw", "review", "review_by"]]
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        ["a.pdf", "500", "50", "corrected", "Ana"],
        ["a.pdf", "250", None, "confirmed", "Ana"],
        ["b.pdf", "50", None, None, None],
    ]
    assert rows["amount_raw"].tolist() == ["50", "250", "50"]  # the input is not changed


def test_append_never_rewrites_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4 label")
    path = tmp_path / "corrections.csv"
    path.write_text(HEADER + "x.pdf,abc,1,amount,5,mg,Me,2026-01-01,by hand", encoding="utf-8")
    line = corrections.new_line(
        tmp_path,
        "a.pdf",
        line=3,
        field=AMOUNT,
        value="500",
        unit="mg",
        by="Ana",
        why="w",
        date="2026-11-30",
    )
    corrections.append(tmp_path, line)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER + "x.pdf,abc,1,amount,5,mg,Me,2026-01-01,by hand\n")
    assert (
        text.splitlines()[-1] == f"a.pdf,{line.sha256},3,amount,500,mg,Ana,2026-11-30,w"
    )  # its columns
    snap = corrections.snapshot(tmp_path)
    assert [c["source_file"] for c in snap["current"]] == ["a.pdf"]
    assert [(s["source_file"], s["reason"]) for s in snap["stale"]] == [
        ("x.pdf", "the label file is not in the labels folder")
    ]


def _product(name: str, verdict: str, k2_ratio: float, ca_mg: float, conf: float) -> dict:
    return {
        "product_id": name,
        "product_name": name,
        "source_file": f"{name}.png",
        "label_index": 0,
        "verdict": verdict,
        "k2_mcg_per_500mg_ca": k2_ratio,
        "ca_to_mg_ratio": ca_mg,
        "label_rows": [
            {
                "line_no": 1,
                "nutrient": "calcium",
                "amount_raw": "500",
                "unit_raw": "mg",
                "page": 1,
                "bbox": [1.0, 2.0, 3.0, 4.0],
                "bbox_units": "px",
                "confidence": conf,
            },
            {
                "line_no": 2,
                "nutrient": "vitamin_d",
                "amount_raw": "25",
                "unit_raw": "mcg",
                "page": 1,
                "bbox": None,
                "bbox_units": None,
                "confidence": conf,
            },
        ],
    }


def test_the_review_queue_puts_what_would_change_the_verdict_first() -> None:
    products = [
        _product("d-only", "matches", 120.0, 2.0, 40.0),
        _product("mg-band", "partial", 2000.0, 2.0, 70.0),
        _product("k2-band", "matches", 120.0, 20.0, 80.0),
        _product("blocked", "not_assessable", 120.0, 2.0, 30.0),
    ]
    findings = [
        {"product_id": "d-only", "check": "amount_repaired", "line_no": 2, "detail": "d"},
        {"product_id": "mg-band", "check": "amount_repaired", "line_no": 1, "detail": "m"},
        {"product_id": "k2-band", "check": "amount_repaired", "line_no": 1, "detail": "k"},
        {
            "product_id": "blocked",
            "check": "amount_confidence",
            "line_no": 1,
            "detail": "b",
            "blocking": True,
        },
        {"product_id": "blocked", "check": "dv_consistent", "line_no": 1, "detail": "not this"},
    ]
    queue = needs_review(products, findings, load_protocol(), "labels")
    assert [(e["product_id"], e["rank"], e["why"]) for e in queue] == [
        ("blocked", 0, "read with low confidence"),
        ("k2-band", 1, "read only after an OCR repair"),
        ("mg-band", 2, "read only after an OCR repair"),
        ("d-only", 3, "read only after an OCR repair"),
    ]
    assert queue[0]["consequence"] == CONSEQUENCES[0]
    assert queue[0]["command"] == (
        "labelaudit correct blocked.png --line 1 --amount 500 --unit mg --by 'YOUR NAME' "
        "--why 'checked against the label' --labels labels"
    )
    assert (queue[0]["page"], queue[0]["bbox"]) == (1, [1.0, 2.0, 3.0, 4.0])


def test_a_reviewed_row_leaves_the_queue() -> None:
    product = _product("blocked", "not_assessable", 120.0, 2.0, 30.0)
    product["label_rows"][0]["review"] = "confirmed"
    findings = [{"product_id": "blocked", "check": "amount_confidence", "line_no": 1}]
    assert needs_review([product], findings, load_protocol(), "labels") == []


def test_the_command_names_the_product_in_a_file_of_several() -> None:
    row = {"amount_raw": "1,000", "unit_raw": "IU"}
    assert correct_command("dir/My label.pdf", row, 4, "/srv/labels", 2) == (
        "labelaudit correct 'dir/My label.pdf' --line 4 --label 2 --amount 1,000 --unit IU "
        "--by 'YOUR NAME' --why 'checked against the label' --labels /srv/labels"
    )


def test_rows_of_an_empty_table_pass_through() -> None:
    empty = records_to_frame([], LabelRow)
    assert apply_to_rows(empty, [_fix(1)]) is empty
    assert isinstance(empty, pd.DataFrame)
