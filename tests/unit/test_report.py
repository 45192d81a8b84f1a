"""The report stage: audit.html, audit.json, ranking.csv and the ratio chart."""

from __future__ import annotations

import contextlib
import copy
import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline import report, report_pieces
from pipeline.chart import (
    POINTS_ID_PREFIX,
    TARGET_BOX_ID,
    ratio_chart_svg,
    unplotted_products,
    unplotted_reason,
)
from pipeline.chart_labels import RANK_LABELS_ID
from pipeline.infra.atomic import atomic_write_text
from pipeline.report import (
    fmt_number,
    ranking_frame,
    render_html,
    write_reports,
)
from pipeline.report_tables import CSV_FORMULA_STARTS, ranking_csv_chunks
from tests.builders import AUDIT_EXAMPLE

EXAMPLE = AUDIT_EXAMPLE
SVG_NS = "{http://www.w3.org/2000/svg}"


def load_example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example_html() -> str:
    return render_html(load_example())


@pytest.fixture()
def audit() -> dict[str, Any]:
    return load_example()


def section(html: str, section_id: str) -> str:
    """The text of <section id=...> ... </section> (sections do not nest)."""
    start = html.index(f'<section id="{section_id}"')
    return html[start : html.index("</section>", start)]


def card(html: str, index: int) -> str:
    start = html.index('<article class="card card-')
    for _ in range(index - 1):
        start = html.index('<article class="card card-', start + 1)
    return html[start : html.index("</article>", start)]


def text_of(fragment: str) -> str:
    """The text a reader sees: tags removed, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def missing(text: str, *snippets: str) -> list[str]:
    """The snippets `text` does not contain (a failing test lists all of them at once)."""
    return [snippet for snippet in snippets if snippet not in text]


# --------------------------------------------------------------------------- escaping, offline


def test_script_in_product_name_is_shown_as_text(example_html: str) -> None:
    assert "CalDenex &lt;script&gt;alert(1)&lt;/script&gt;" in example_html
    assert "<script>alert" not in example_html
    # The page's own inline script is the only script element.
    assert example_html.count("<script") == 1


def test_page_loads_nothing_from_the_network(example_html: str) -> None:
    references = re.findall(
        r"""(?:src|href|xlink:href)\s*=\s*["']?\s*([^"'\s>]+)|url\(\s*["']?([^"')\s]+)""",
        example_html,
        flags=re.IGNORECASE,
    )
    targets = {a or b for a, b in references}
    assert targets  # the page does have internal links (sections, chart markers)
    external = {t for t in targets if not t.startswith("#")}
    assert external == set()
    assert "@import" not in example_html
    # The only http(s) strings are XML namespaces of the inline SVG.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", example_html))
    assert urls == {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_data_docs_link_is_relative_and_only_when_set(audit: dict[str, Any]) -> None:
    assert "data-docs/index.html" not in render_html(audit)
    audit["data_docs"] = "reports/data-docs/index.html"
    html = render_html(audit)
    assert '<a href="data-docs/index.html">Data-quality docs</a>' in html


def test_render_is_deterministic(example_html: str) -> None:
    assert render_html(load_example()) == example_html


# --------------------------------------------------------------------------- page content


def test_sections_in_order(example_html: str) -> None:
    ids = [
        "summary",
        "ranking-section",
        "chart",
        "products",
        "data-quality",
        "rejected",
        "methodology",
    ]
    positions = [example_html.index(f'<section id="{i}"') for i in ids]
    assert positions == sorted(positions)
    assert example_html.index("<h1>Calcium + K2 label audit</h1>") < positions[0]


def test_run_line(example_html: str) -> None:
    run_line = text_of(example_html[example_html.index('<p class="run-line">') :].split("</p>")[0])
    assert run_line == (
        "Generated 2026-11-25T09:30:00+00:00 from data/raw : 4 files read, 3 products found. "
        "labelaudit 0.1.0, protocol pipeline/protocol.toml ."
    )


def test_summary_tiles(example_html: str) -> None:
    tiles = re.findall(
        r'<span class="tile-n">(\d+)</span> <span class="tile-l">([^<]+)</span>',
        section(example_html, "summary"),
    )
    assert tiles == [
        ("3", "products"),
        ("1", "match the protocol"),
        ("0", "partial"),
        ("1", "fail"),
        ("1", "not assessable"),
        ("1", "rejected files"),
        ("2", "data-quality findings"),
    ]


def test_ranking_table_rows_in_rank_order(example_html: str) -> None:
    ranking = section(example_html, "ranking-section")
    assert "<caption>" in ranking
    assert ranking.count('<th scope="col"') == 8 + 7
    rows = re.findall(r'<tr data-verdict="([a-z_]+)">(.*?)</tr>', ranking, flags=re.S)
    assert [v for v, _ in rows] == ["matches", "fails", "not_assessable"]
    first = text_of(rows[0][1])
    assert first == (
        "1 Bone Matrix Calcium + K2 pdf/bone-matrix.pdf Northfield Labs matches 100 MK-7 "
        "120 mcg 2.0:1 ✓ pass ✓ pass ✓ pass ✓ pass ✓ pass ✓ pass ✓ pass"
    )
    second = text_of(rows[1][1])
    assert second == (
        "2 CalDenex <script>alert(1)</script> pdf/caldenex.pdf Nikken fails 17.5 — "
        "— 4.0:1 ✗ fail ✗ fail ✗ fail ✗ fail ✓ pass ✗ fail – not assessed"
    )
    # Numeric cells carry their sort value; empty values sort last.
    assert 'data-sort="17.5">17.5</td>' in rows[1][1]
    assert '<td class="num" data-sort="">—</td>' in rows[2][1]
    # The verdict filter is hidden until the script shows it (the page works without JS).
    assert '<div class="controls" id="ranking-controls"' in ranking
    assert 'aria-label="Show products by verdict" hidden>' in ranking


def test_card_shows_label_as_read_with_ocr_confidence(example_html: str) -> None:
    caldenex = card(example_html, 2)
    assert (
        missing(
            caldenex,
            'id="product-2"',
            "read by OCR, confidence 71%",
            "repaired: meg-&gt;mcg",
            "<code>Vitamin K (as phylloquinone) 120 meg 150%</code>",
            "<td>120 meg</td>",  # amount_raw + unit_raw as printed
            '120 mcg<span class="nutrient"> (vitamin k1)</span>',  # normalized
            "score 17.5 / 100",
            "no vitamin K2 on the label (vitamin K1 only)",
            '<th scope="row">Calcium : magnesium near 2:1</th>',
            '<td class="num">7.5 / 15</td>',
            '<span class="mark-na">– not assessed</span>',
            "not assessed: the label has no K2",
            "1 serving per day (directions: &#34;Three [3] tablets at mealtime&#34;)",
            "<dt>Other ingredients</dt><dd>Microcrystalline Cellulose</dd>",
        )
        == []
    )
    # Rows read from a text layer carry no OCR mark.
    assert "read by OCR" not in card(example_html, 1)


def test_card_without_checks_says_why(example_html: str) -> None:
    k2_only = card(example_html, 3)
    assert "No checks were run: no calcium amount on the label" in k2_only
    assert "<dt>Warnings</dt><dd>none on the label</dd>" in k2_only
    assert "not assessable no score — no calcium amount on the label" in text_of(k2_only)


def test_findings_and_rejected_tables(example_html: str) -> None:
    findings = section(example_html, "data-quality")
    rows = re.findall(r"<tr>(.*?)</tr>", findings.split("<tbody>")[1], flags=re.S)
    assert [text_of(r) for r in rows] == [
        "warning pdf/caldenex.pdf CalDenex <script>alert(1)</script> dv_consistent "
        "Calcium: declared 26% DV for 210 mg, expected 16% (current DV 1300 mg) or 21% "
        "(older DV 1000 mg)",
        "safety pdf/caldenex.pdf CalDenex <script>alert(1)</script> upper_limit "
        "Vitamin D: 125 mcg per day (5 servings) is above the adult upper limit of 100 mcg/day",
    ]
    rejected = section(example_html, "rejected")
    assert (
        '<tr><th scope="row" class="file">bad/corrupt.pdf</th>'
        "<td>cannot open PDF: the file is damaged or is not a PDF</td></tr>"
    ) in rejected


def test_methodology_and_caveats(example_html: str) -> None:
    methodology = text_of(section(example_html, "methodology"))
    assert (
        missing(
            methodology,
            "K2 per 500 mg calcium (weight 25): 100-180 mcg of K2 for every 500 mg of calcium: "
            "full credit inside, value/low below, high/value above.",
            "K2 form is MK-7 (weight 20): K2 as MK-7; credit by the form the label names: ",
            "(accepted band 1.5-2.5 : 1)",
            "out of all 100, scaled to 0-100",
            "Calcium 1300 mg 1000 mg",
            "1 IU vitamin D 0.025 mcg",
            "Magnesium (supplemental) 350 mg/day",
            "A label audit cannot verify what is in the bottle.",
            "Independent tests have found K2 products short of their MK-7 claim",
            "People on warfarin or any other anticoagulant",
            "must consult a clinician before taking vitamin K",
        )
        == []
    )


def test_changes_section_only_when_something_changed(
    audit: dict[str, Any], example_html: str
) -> None:
    assert 'id="changes"' not in example_html
    assert "What changed since the last run" not in example_html
    audit["changes"] = {
        "added": [
            {
                "product_id": "k2-mk-7-100-0c1d2e3f",
                "product_name": "K2 MK-7 100",
                "source_file": "k2-only.json",
            }
        ],
        "removed": [],
        "verdict_changed": [
            {
                "product_id": "caldenex-91bb02d4",
                "product_name": "CalDenex <script>alert(1)</script>",
                "source_file": "pdf/caldenex.pdf",
                "from": "partial",
                "to": "fails",
            }
        ],
    }
    changes = section(render_html(audit), "changes")
    assert "What changed since the last run" in changes
    assert "Products no longer found" not in changes  # the empty list is left out
    items = [text_of(i) for i in re.findall(r"<li>(.*?)</li>", changes, flags=re.S)]
    assert items == [
        "K2 MK-7 100 k2-only.json",
        "CalDenex <script>alert(1)</script> pdf/caldenex.pdf : partial → fails",
    ]
    assert "<h3>New products (1)</h3>" in changes
    assert "<h3>Verdict changed (1)</h3>" in changes


# --------------------------------------------------------------------------- chart


def _points_per_group(svg: str) -> dict[str, int]:
    root = ET.fromstring(svg)
    counts = {}
    for group in root.iter(f"{SVG_NS}g"):
        gid = group.get("id", "")
        if gid.startswith(POINTS_ID_PREFIX):
            counts[gid] = len(list(group.iter(f"{SVG_NS}use")))
    return counts


def test_chart_svg_of_the_example(example_html: str) -> None:
    svg = ratio_chart_svg(load_example()["products"])
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    root = ET.fromstring(svg)
    boxes = [g for g in root.iter(f"{SVG_NS}g") if g.get("id") == TARGET_BOX_ID]
    assert len(boxes) == 1 and len(list(boxes[0].iter(f"{SVG_NS}path"))) == 1
    # Only the product with both ratios is plotted, coloured as a match, labelled "1".
    assert _points_per_group(svg) == {"points-matches": 1}
    assert "fill: #1a7f37" in svg
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "1" in texts and "matches (1)" in texts
    assert "100-180 mcg K2," in texts and "Ca:Mg 1.5-2.5" in texts  # svg.fonttype none
    assert svg in example_html


def test_chart_has_one_marker_per_plottable_product() -> None:
    verdicts = ["matches", "partial", "partial", "fails", "fails", "fails"]
    products = [
        {
            "rank": i + 1,
            "verdict": v,
            "k2_mcg_per_500mg_ca": 20.0 * i,
            "ca_to_mg_ratio": 1.0 + i / 2,
        }
        for i, v in enumerate(verdicts)
    ]
    products.append(
        {
            "rank": 7,
            "verdict": "fails",
            "calcium_mg": 500.0,
            "k2_mcg_per_500mg_ca": None,
            "ca_to_mg_ratio": 2.0,
        }
    )
    svg = ratio_chart_svg(products, k2_band=[90, 200], ca_mg_band=[1.0, 3.0])
    assert _points_per_group(svg) == {"points-matches": 1, "points-partial": 2, "points-fails": 3}
    texts = list(ET.fromstring(svg).iter(f"{SVG_NS}text"))
    strings = ["".join(t.itertext()) for t in texts]
    assert "90-200 mcg K2," in strings and "Ca:Mg 1-3" in strings
    # The rank labels are the texts of the group RANK_LABELS_ID (7px): one per plotted product.
    root = ET.fromstring(svg)
    (group,) = [g for g in root.iter(f"{SVG_NS}g") if g.get("id") == RANK_LABELS_ID]
    assert "font-size: 7px" in group.get("style", "")
    ranks = ["".join(t.itertext()) for t in group.iter(f"{SVG_NS}text")]
    assert sorted(ranks) == ["1", "2", "3", "4", "5", "6"]


def test_unplotted_products_and_reasons(example_html: str) -> None:
    products = load_example()["products"]
    assert unplotted_products(products) == [
        {"rank": 2, "product_name": "CalDenex <script>alert(1)</script>", "reason": "no K2"},
        {"rank": 3, "product_name": "K2 MK-7 100", "reason": "no calcium"},
    ]
    assert unplotted_reason({"calcium_mg": 500.0, "k2_mcg_per_500mg_ca": 120.0}) == "no magnesium"
    assert unplotted_reason({"calcium_mg": 500.0}) == "no K2, no magnesium"
    assert unplotted_reason({"calcium_mg": 0.0, "ca_to_mg_ratio": 2.0}) == "no calcium"
    note = text_of(example_html[example_html.index('<p class="not-plotted">') :].split("</p>")[0])
    assert note == (
        "Not plotted: CalDenex <script>alert(1)</script> (#2) (no K2); "
        "K2 MK-7 100 (#3) (no calcium)."
    )


# --------------------------------------------------------------------------- files


EXPECTED_HEADER = (
    "rank,product_id,source_file,product_name,brand,verdict,score,calcium_mg,magnesium_mg,"
    "vitamin_d_mcg,vitamin_k1_mcg,vitamin_k2_mcg,k2_form,k2_mcg_per_500mg_ca,ca_to_mg_ratio,"
    "check_k2_present,check_k2_form,check_k2_ratio,check_ca_mg_ratio,check_vitamin_d,"
    "check_anticoagulant_caution,check_fat_guidance"
)
EXPECTED_ROWS = [
    "1,bone-matrix-calcium-k2-3f2a9c1e,pdf/bone-matrix.pdf,Bone Matrix Calcium + K2,"
    "Northfield Labs,matches,100.0,500.0,250.0,25.0,,120.0,MK-7,120.0,2.0,"
    "true,true,true,true,true,true,true",
    "2,caldenex-91bb02d4,pdf/caldenex.pdf,CalDenex <script>alert(1)</script>,Nikken,fails,"
    "17.5,900.0,225.0,22.5,120.0,,,,4.0,false,false,false,false,true,false,",
    "3,k2-mk-7-100-0c1d2e3f,k2-only.json,K2 MK-7 100,Cedar Grove,not_assessable,,,,,,100.0,"
    "MK-7,,,,,,,,,",
]


def test_write_reports_writes_the_three_files(audit: dict[str, Any], tmp_path: Path) -> None:
    paths = write_reports(audit, tmp_path / "reports")
    assert [p.name for p in paths] == ["audit.html", "audit.json", "ranking.csv"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "audit.html",
        "audit.json",
        "ranking.csv",
    ]
    lines = paths[2].read_text(encoding="utf-8").split("\n")
    assert lines == [EXPECTED_HEADER, *EXPECTED_ROWS, ""]
    assert paths[0].read_text(encoding="utf-8") == render_html(audit)


def test_ranking_csv_follows_rank_not_list_order(audit: dict[str, Any], tmp_path: Path) -> None:
    audit["products"].reverse()
    csv_text = write_reports(audit, tmp_path)[2].read_text(encoding="utf-8")
    assert csv_text.split("\n")[1:4] == EXPECTED_ROWS


def test_ranking_frame_types(audit: dict[str, Any]) -> None:
    frame = ranking_frame(audit)
    assert frame["rank"].tolist() == [1, 2, 3]
    assert frame["score"].tolist()[:2] == [100.0, 17.5] and pd.isna(frame["score"].iloc[2])
    assert frame["check_vitamin_d"].tolist()[:2] == [True, True]
    assert pd.isna(frame["check_fat_guidance"].iloc[1])
    assert frame["check_fat_guidance"].iloc[0]


def test_audit_json_round_trips(audit: dict[str, Any], tmp_path: Path) -> None:
    audit["products"][0]["brand"] = "Nordfjell Café"
    path = write_reports(audit, tmp_path)[1]
    text = path.read_text(encoding="utf-8")
    assert "Nordfjell Café" in text  # UTF-8, not \u00e9
    assert text.startswith('{\n  "generated_at": "2026-11-25T09:30:00+00:00",\n  "labels_dir"')
    loaded = json.loads(text)
    assert loaded == audit
    assert list(loaded) == list(audit)
    assert list(loaded["products"][0]) == list(audit["products"][0])


def test_failed_render_leaves_the_old_reports(
    audit: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_reports(audit, tmp_path)
    before = {p.name: p.read_bytes() for p in paths}

    def broken(_: Any, **__: Any) -> Iterator[str]:
        yield "<!DOCTYPE html>\n<html>"  # part of the page is written, then rendering fails
        raise RuntimeError("template exploded")

    monkeypatch.setattr(report, "html_chunks", broken)
    changed = copy.deepcopy(audit)
    changed["products"][0]["product_name"] = "Renamed"
    with pytest.raises(RuntimeError, match="template exploded"):
        write_reports(changed, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "audit.html"
    atomic_write_text(target, "old page")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "new page \ud800")  # a lone surrogate cannot be UTF-8
    assert target.read_text(encoding="utf-8") == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["audit.html"]  # no temp file left
    atomic_write_text(target, "new page")
    assert target.read_text(encoding="utf-8") == "new page"
    assert target.stat().st_mode & 0o777 == 0o644


def test_audit_json_never_holds_nan_and_the_product_is_kept(
    audit: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a NaN is not JSON: that product's line is written with null there (and the error
    # logged), the other products as they are
    audit["products"][0]["score"] = float("nan")
    pid = audit["products"][0]["product_id"]
    write_reports(audit, tmp_path)

    def no_constants(name: str) -> None:
        raise AssertionError(f"audit.json holds {name}")

    written = json.loads(
        (tmp_path / "audit.json").read_text(encoding="utf-8"), parse_constant=no_constants
    )
    scores = {p["product_id"]: p["score"] for p in written["products"]}
    assert scores[pid] is None
    assert {k: v for k, v in scores.items() if k != pid} == {
        p["product_id"]: p["score"] for p in audit["products"] if p["product_id"] != pid
    }
    assert [p["product_id"] for p in written["products"]] == [
        p["product_id"] for p in audit["products"]
    ]
    assert f"audit.json: product {pid}: Out of range float values" in caplog.text


@pytest.mark.parametrize(
    ("value", "text"),
    [(500.0, "500"), (22.5, "22.5"), (1 / 3, "0.33"), (0.0, "0"), (None, "—"), (float("nan"), "—")],
)
def test_fmt_number(value: float | None, text: str) -> None:
    assert fmt_number(value) == text


def test_run_with_no_products(audit: dict[str, Any]) -> None:
    audit.update(products=[], rejected=[], data_quality=[])
    page = render_html(audit)
    assert "No products were found." in section(page, "ranking-section")
    assert "Every file was read." in section(page, "rejected")
    assert "No data-quality findings." in section(page, "data-quality")
    assert 'class="not-plotted"' not in page
    svg = ratio_chart_svg([])
    assert TARGET_BOX_ID in svg and _points_per_group(svg) == {}
    assert ranking_frame(audit).columns.tolist() == EXPECTED_HEADER.split(",")


# --------------------------------------------------------------------------- card rows, audit.json


def _row(line_no: int, name: str, amount: str, unit: str, nutrient: str, **extra: Any) -> Any:
    row = {
        "line_no": line_no,
        "page": 1,
        "name_raw": name,
        "form_raw": None,
        "amount_raw": amount,
        "unit_raw": unit,
        "dv_raw": None,
        "raw_text": f"{name} {amount} {unit}",
        "nutrient": nutrient,
        "amount_normalized": None,
        "unit_normalized": None,
        "confidence": None,
        "unit_status": "ok",
    }
    row.update(extra)
    return row


def _card_with_other_lines(audit: dict[str, Any]) -> dict[str, Any]:
    audit["products"][0]["label_rows"] += [
        _row(5, "Vitamin C", "60", "mg", "vitamin_c"),
        _row(6, "Zinc", "1,000", "mcg", "zinc"),
        _row(7, "Biotin", "", "", "biotin", unit_status="no_amount"),  # a finding names it
        _row(8, "Iodine", "150", "mcq", "iodine", unit_status="unknown_unit"),
        _row(9, "Copper", "2", "rng", "copper", repairs="rng->mg"),
        _row(10, "Boron", "3", "mg", "boron"),
    ]
    return audit


def test_card_shows_protocol_and_flagged_lines_in_full_and_the_rest_in_a_line(
    audit: dict[str, Any],
) -> None:
    page = render_html(_card_with_other_lines(audit), flagged_lines={})
    first = card(page, 1)
    table = first.split('<table class="label-rows">')[1].split("</table>")[0]
    shown = re.findall(r'<td class="num">(\d+)<span class="page">', table)
    # Calcium, magnesium, D, K2; the unknown unit; the repaired line.
    assert shown == ["1", "2", "3", "4", "8", "9"]
    assert (
        "<strong>Also on the label (no finding):</strong> "
        "Vitamin C 60 mg; Zinc 1,000 mcg; Biotin; Boron 3 mg.</p>"
    ) in first
    # A finding on a line (given, or read from a finding's detail) shows it in full.
    flagged = render_html(audit, flagged_lines={"bone-matrix-calcium-k2-3f2a9c1e": {7}})
    assert "Biotin; " not in card(flagged, 1)
    assert (
        "Also on the label (no finding):</strong> Vitamin C 60 mg; Zinc 1,000 mcg; Boron 3 mg."
        in (card(flagged, 1))
    )
    audit["data_quality"].append(
        {
            "source_file": "pdf/bone-matrix.pdf",
            "product_id": "bone-matrix-calcium-k2-3f2a9c1e",
            "check": "amount_present",
            "severity": "warning",
            "detail": "line 7, page 1: 'Biotin' has no readable amount (printed: nothing)",
        }
    )
    assert card(render_html(audit), 1) == card(flagged, 1)


def test_card_with_only_other_lines_has_no_table(audit: dict[str, Any]) -> None:
    audit["products"][2]["label_rows"] = [_row(1, "Vitamin C", "60", "mg", "vitamin_c")]
    third = card(render_html(audit), 3)
    assert '<table class="label-rows">' not in third
    assert "<strong>Also on the label:</strong> Vitamin C 60 mg.</p>" in third
    assert "No panel lines" not in third


def test_audit_json_keeps_every_label_row(audit: dict[str, Any], tmp_path: Path) -> None:
    path = write_reports(_card_with_other_lines(audit), tmp_path)[1]
    rows = json.loads(path.read_text(encoding="utf-8"))["products"][0]["label_rows"]
    assert [r["line_no"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert rows[8]["repairs"] == "rng->mg"


def test_audit_json_is_indented_with_one_product_per_line() -> None:
    product = {
        "rank": 1,
        "product_name": 'quote " backslash \\ newline \n café µg \u2028',
        "label_rows": [{"line_no": 1, "amount": 2.5}],
    }
    document = {
        "text": 'quote " backslash \\ tab \t newline \n café µg \u2028 \x00',
        "numbers": [0, -1, 2**70, 0.1, -0.0, 1e16, 1.5e-7, 123456.789],
        "flags": [True, False, None],
        "empty": {"list": [], "dict": {}, "string": ""},
        "nested": [[1, [2, {"a": []}]], {"b": {"c": [None]}}],
        "products": [product, {}],
        "after": {"x": 1},
    }
    text = report.audit_json(document)
    assert json.loads(text) == document
    lines = text.split("\n")[:-1]  # not splitlines(): U+2028 in a string is no line break
    start = lines.index('  "products": [')
    assert lines[start + 1 : start + 4] == [
        "    " + json.dumps(product, ensure_ascii=False) + ",",
        "    {}",
        "  ],",
    ]
    # everything else as json.dumps(indent=2) writes it
    rest = {k: v for k, v in document.items() if k != "products"}
    expected = json.dumps(rest, indent=2, ensure_ascii=False).split("\n")
    assert lines[:start] + lines[start + 4 :] == expected
    assert report.audit_json({"products": []}) == '{\n  "products": []\n}\n'
    assert "".join(report.audit_json_chunks({})) == "{}\n"
    with pytest.raises(ValueError, match="Out of range float values"):
        report.audit_json({"products": [{"score": float("inf")}]})


# --------------------------------------------------------------------------- cached pieces


def _page(
    audit: dict[str, Any], cache: Path | None, keys: dict[str, str] | None = None
) -> tuple[str, str, report.ProductPieces]:
    """audit.html and audit.json's text with a ProductPieces over `cache` (then closed)."""
    pieces = report.ProductPieces(report._products(audit), {}, cache, keys)
    html = "".join(report.html_chunks(audit, pieces=pieces))
    text = "".join(report.audit_json_chunks(audit, pieces=pieces))
    pieces.close()
    return html, text, pieces


def _cached(cache: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(cache)) as db:
        return int(db.execute("SELECT count(*) FROM pieces").fetchone()[0])


def _counts(pieces: report.ProductPieces) -> tuple[int, int, int]:
    return pieces.rendered, pieces.reused, pieces.lines_reused


def test_card_bodies_are_reused_only_while_what_they_show_is_unchanged(
    audit: dict[str, Any], tmp_path: Path
) -> None:
    cache = tmp_path / "pieces.sqlite"
    n = len(audit["products"])
    expected_html, expected_json, _ = _page(audit, None)
    html, text, pieces = _page(audit, cache)  # first run: every body rendered
    assert (html, text, _counts(pieces)) == (expected_html, expected_json, (n, 0, 0))
    html, text, pieces = _page(audit, cache)  # second run: every body from the cache
    assert (html, text, _counts(pieces)) == (expected_html, expected_json, (0, n, 0))
    assert _cached(cache) == n

    changed = copy.deepcopy(audit)
    changed["products"][0]["directions"] = "Take <b>two</b> with a fatty meal."
    changed["products"][1]["rank"] = 99  # the rank is in the card's header, not its body
    html, text, pieces = _page(changed, cache)
    assert _counts(pieces) == (1, n - 1, 0)
    assert (html, text) == _page(changed, None)[:2]
    assert "Take &lt;b&gt;two&lt;/b&gt; with a fatty meal." in html

    fewer = copy.deepcopy(changed)
    fewer["products"] = fewer["products"][:2]
    _page(fewer, cache)
    assert _cached(cache) == 2  # pieces no run uses any more are dropped


def test_with_product_keys_cards_and_json_lines_are_found_by_key(
    audit: dict[str, Any], tmp_path: Path
) -> None:
    cache = tmp_path / "pieces.sqlite"
    n = len(audit["products"])
    keys = {p["product_id"]: f"key-{p['product_id']}" for p in audit["products"]}
    expected_html, expected_json, _ = _page(audit, None)
    html, text, pieces = _page(audit, cache, keys)
    assert (html, text, _counts(pieces)) == (expected_html, expected_json, (n, 0, 0))
    html, text, pieces = _page(audit, cache, keys)
    assert (html, text, _counts(pieces)) == (expected_html, expected_json, (0, n, n))
    assert _cached(cache) == 2 * n  # a body and a line per product

    reranked = copy.deepcopy(audit)
    for product in reranked["products"]:
        product["rank"] += 10  # new ranks: same pieces, the lines say the new rank
    html, text, pieces = _page(reranked, cache, keys)
    assert _counts(pieces) == (0, n, n)
    assert (html, text) == _page(reranked, None)[:2]

    changed = copy.deepcopy(audit)
    changed["products"][0]["warnings"] = "Ask your doctor if you take warfarin."
    first = changed["products"][0]["product_id"]
    keys[first] = "another key"  # what the validate stage gives for a changed product
    html, text, pieces = _page(changed, cache, keys)
    assert _counts(pieces) == (1, n - 1, n - 1)
    assert (html, text) == _page(changed, None)[:2]


def _cards(audit: dict[str, Any], cache: Path | None, keys: dict[str, str] | None) -> list[str]:
    """Each product's whole card for the card pages (ProductPieces.cards)."""
    products = report._products(audit)
    pieces = report.ProductPieces(products, {}, cache, keys)
    cards = [str(card) for card in pieces.cards(0, len(products))]
    pieces.close()
    return cards


def test_a_kept_card_header_takes_the_products_new_place_and_rank(
    audit: dict[str, Any], tmp_path: Path
) -> None:
    cache = tmp_path / "pieces.sqlite"
    keys = {p["product_id"]: f"key-{p['product_id']}" for p in audit["products"]}
    first = _cards(audit, cache, keys)
    assert first == _cards(audit, None, None)
    assert 'id="product-1"' in first[0] and '<span class="rank">#1</span>' in first[0]
    moved = copy.deepcopy(audit)
    moved["products"].reverse()
    for place, product in enumerate(moved["products"]):
        product["rank"] = place + 7
    again = _cards(moved, cache, keys)
    assert again == _cards(moved, None, None)  # as rendered afresh, from the kept headers
    assert 'id="product-1"' in again[0] and '<span class="rank">#7</span>' in again[0]
    # a run that asked for the cards only keeps those (its first made a line with each card)
    assert _cached(cache) == len(audit["products"])


def test_a_card_whose_text_holds_a_mark_is_rendered_as_is(
    audit: dict[str, Any], tmp_path: Path
) -> None:
    odd = copy.deepcopy(audit)
    odd["products"][0]["product_name"] = f"Cal {report._CARD_MARKS[0]} K2"
    keys = {p["product_id"]: f"key-{p['product_id']}" for p in odd["products"]}
    cards = _cards(odd, tmp_path / "pieces.sqlite", keys)
    assert cards == _cards(odd, None, None)
    assert f"Cal {report._CARD_MARKS[0]} K2" in cards[0]


def test_a_new_report_code_empties_the_cache(
    audit: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "pieces.sqlite"
    _page(audit, cache)
    monkeypatch.setattr(report_pieces, "code_version", lambda stage: "another version")
    _, _, pieces = _page(audit, cache)
    assert _counts(pieces) == (len(audit["products"]), 0, 0)


def test_a_broken_cache_is_rebuilt(
    audit: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "pieces.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    with caplog.at_level("WARNING"):
        assert _page(audit, cache)[:2] == _page(audit, None)[:2]
    assert "report cache" in caplog.text
    assert _cached(cache) == len(audit["products"])


def test_the_indented_sections_of_audit_json_are_what_json_dumps_writes() -> None:
    from pipeline.report_tables import _indented

    cases: list[Any] = [
        {},
        [],
        "é\n",
        -0.0,
        [{"source_file": "a.csv", "detail": 'line 3: "},\n {" as text', "n": 1.5}, {"x": None}],
        [{}, {"a": 1}],
        [{"a": 1}, {2: "non-text key"}],
        {"a": {}, "b": [], "c": [[]], "d": [{}], "e": (1, 2), "f": {"x": [1.5, None, True]}},
        [1, [2, [3, {"q": "line\nbreak"}]]],
        {"s": {1}, "k": [{"a": 1, "b": "x"}, {"c": None}], 3: "three"},
    ]
    for value in cases:
        assert _indented(value, "  ") == json.dumps(
            value, indent=2, ensure_ascii=False, default=list
        ).replace("\n", "\n  ")
    for bad in ([{"y": float("nan")}], {"x": [float("inf")]}):
        with pytest.raises(ValueError, match="Out of range float values"):
            _indented(bad, "  ")


def _ranking_csv_by_pandas(audit: dict[str, Any]) -> str:
    """ranking.csv as it was written before the csv module: the ranking frame's to_csv."""
    frame = report.ranking_frame(audit).copy()
    for column in frame.columns:
        values = frame[column]
        if str(column).startswith(report.CHECK_COLUMN_PREFIX):
            text = values.map({True: "true", False: "false"}, na_action="ignore")
            frame[column] = text.fillna("").astype("string")
        elif isinstance(values.dtype, pd.StringDtype):
            formula = values.str.startswith(CSV_FORMULA_STARTS).fillna(False)
            frame[column] = values.where(~formula.astype(bool), "'" + values)
    return frame.to_csv(index=False, na_rep="", lineterminator="\n")


def test_ranking_csv_is_the_ranking_frames_to_csv(audit: dict[str, Any]) -> None:
    products = audit["products"]
    odd = [
        ("=SUM(A1)", 1e16, float("nan")),
        ('Quote "q", comma', 1e-05, float("inf")),
        ("line\nbreak\rreturn", -0.0, 1 / 3),
        ("-3", 5e-324, 1.7976931348623157e308),
        ("", 12345678901234567.0, 100.0),
    ]
    for product, (name, score, ratio) in zip(products, odd, strict=False):
        product.update(product_name=name, score=score, ca_to_mg_ratio=ratio, brand=None)
    products[0]["k2_form"] = 7  # not text: written as its text
    text = report.ranking_csv(audit)
    assert text == _ranking_csv_by_pandas(audit)
    # Made a few products at a time (a catalog's text is never held whole): the same text.
    chunks = list(ranking_csv_chunks(audit, rows=2))
    assert len(chunks) == 1 + (len(products) + 1) // 2  # the header, then 2 products each
    assert "".join(chunks) == text
    assert "".join(ranking_csv_chunks(audit, rows=1)) == text
    assert text.splitlines()[0].startswith("rank,product_id,source_file,product_name")
