"""pipeline.sources.csv: the DSLD export and the simple layout, as users save them."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgen.dsld_formats import expected_rows, write_dsld_csv, write_simple_csv
from labelgen.products import WARFARIN, dsld_label, dsld_labels, sample_product
from pipeline.errors import BadTable, LabelError, UnreadableFile
from pipeline.records import ReadIssue
from pipeline.sources.csv import (
    choose_overview,
    is_companion_head,
    read_csv,
    split_as_form,
)
from pipeline.sources.registry import companions_beside
from tests.builders import DATA, ROW_FIELDS, assert_rejected, cells, row, rows_of

CSV_DATA = DATA / "csv"


def expect(*values: str | None) -> dict[str, str | None]:
    """A row's expected values in ROW_FIELDS order."""
    return dict(zip(ROW_FIELDS, values, strict=True))


# --------------------------------------------------------------------------- DSLD export


def test_dsld_export_with_overview_reads_every_product(tmp_path: Path) -> None:
    facts, overview = tmp_path / "DietarySupplementFacts.csv", tmp_path / "ProductOverview.csv"
    write_dsld_csv([dsld_label("11243"), sample_product("sample-bone-matrix")], facts, overview)

    ex = read_csv(facts, "dsld/DietarySupplementFacts.csv")

    assert [(lb.label_index, lb.product_name, lb.brand) for lb in ex.labels] == [
        (0, "Mega Daily 4 for Men", "Nikken Kenzen"),
        (1, "Bone Matrix Calcium + K2", "Northfield Labs"),
    ]
    mega = ex.labels[0]
    assert mega.source_format == "csv-dsld"
    assert mega.serving_size == "4 Tablet(s)"
    assert mega.directions == "Recommended Use:\nTake four [4] tablets per day."
    assert mega.servings_per_container is None  # not in the export
    assert mega.warnings == ""
    assert cells(ex, "Calcium", "amount_raw", "unit_raw", "dv_raw", "form_raw", "line_no") == (
        "800",
        "mg",
        "80%",
        "calcium ascorbate, calcium carbonate",
        14,
    )
    assert row(ex, "Calcium").page is None
    assert row(ex, "Calcium").raw_text == (
        "https://dsld.od.nih.gov/label/11243 | 11243 | Mega Daily 4 for Men | 4 Tablet(s) | "
        "Calcium (as calcium ascorbate, calcium carbonate) | Calcium | 800 | mg | 80 | "
        "Adults and children 4 or more years of age"
    )
    fields = ("amount_raw", "unit_raw", "form_raw", "dv_raw")
    assert cells(ex, "Vitamin K", *fields) == ("80", "mcg", "MenaQ7", "100%")
    assert cells(ex, "Vitamin K2", *fields, label_index=1) == (
        "120",
        "mcg",
        "menaquinone-7 (MenaQ7)",
        "100%",
    )
    assert rows_of(ex, 0) == expected_rows(dsld_label("11243"), parents="none")
    assert ex.issues == ()


def test_dsld_export_without_overview_has_no_brand(tmp_path: Path) -> None:
    facts = tmp_path / "DietarySupplementFacts.csv"
    write_dsld_csv([dsld_label("11243")], facts)
    ex = read_csv(facts, "f.csv")
    assert (ex.labels[0].brand, ex.labels[0].serving_size, ex.labels[0].directions) == (
        None,
        "4 Tablet(s)",
        "",
    )


def test_dsld_export_round_trips_all_real_labels(tmp_path: Path) -> None:
    labels = dsld_labels()
    facts = tmp_path / "DietarySupplementFacts.csv"
    write_dsld_csv(labels, facts, tmp_path / "ProductOverview.csv")
    ex = read_csv(facts, "f.csv")
    with_rows = [lb for lb in labels if lb["ingredients"]]  # 63294 has none: no row at all
    assert len(labels) == 163
    assert len(ex.labels) == 162
    assert [lb.product_name for lb in ex.labels] == [lb["product_name"] for lb in with_rows]
    assert [lb.brand for lb in ex.labels] == [lb["brand"] for lb in with_rows]
    for index, label in enumerate(with_rows):
        assert rows_of(ex, index) == expected_rows(label, parents="none"), label["dsld_id"]
    assert len(ex.rows) == 852
    assert ex.issues == ()


DSLD_HEADER = (
    "URL,DSLD ID,Product Name,Serving Size,Ingredient,DSLD Ingredient Categories,"
    "Amount Per Serving,Amount Per Serving Unit,% Daily Value per Serving,"
    "Daily Value Target Group\n"
)


def test_dsld_export_groups_interleaved_rows_by_id(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        DSLD_HEADER
        + "u1,501,Bone Plus,2 Tablet(s),Calcium (as calcium citrate),mineral,500,mg,38,Adults\n"
        + "u2,777,K2 Drops,1 Drop(s),Vitamin K2 (as menaquinone-7 (MK-7)),vitamin,100,mcg,83,\n"
        + "u1,501,Bone Plus,2 Tablet(s),Herbal Blend,blend,0,NP,,\n"
        + 'u1,501,Bone Plus,2 Tablet(s),"Boron (as boron citrate) extract",mineral,'
        + '"1,000",mcg,*,\n',
        encoding="utf-8",
    )
    ex = read_csv(path, "export.csv")
    assert [(lb.label_index, lb.product_name, lb.serving_size) for lb in ex.labels] == [
        (0, "Bone Plus", "2 Tablet(s)"),
        (1, "K2 Drops", "1 Drop(s)"),
    ]
    assert [(r.label_index, r.line_no, r.name_raw) for r in ex.rows] == [
        (0, 1, "Calcium"),
        (0, 2, "Herbal Blend"),
        (0, 3, "Boron extract"),
        (1, 1, "Vitamin K2"),
    ]
    assert rows_of(ex, 0) == [
        expect("Calcium", "500", "mg", "38%", "calcium citrate", None),
        expect("Herbal Blend", None, "NP", None, None, None),
        expect("Boron extract", "1,000", "mcg", "*", "boron citrate", None),
    ]
    assert row(ex, "Vitamin K2", 1).form_raw == "menaquinone-7 (MK-7)"


# --------------------------------------------------------------------------- simple layout


def test_simple_layout_round_trip_with_blends_and_product_text(tmp_path: Path) -> None:
    labels = [sample_product("sample-bone-matrix"), dsld_label("3094"), dsld_label("11243")]
    path = write_simple_csv(labels, tmp_path / "labels.csv")
    ex = read_csv(path, "labels.csv")

    assert [lb.product_name for lb in ex.labels] == [
        "Bone Matrix Calcium + K2",
        "Energy Boost",
        "Mega Daily 4 for Men",
    ]
    bone = ex.labels[0]
    assert bone.source_format == "csv-simple"
    assert (bone.brand, bone.serving_size, bone.servings_per_container) == (
        "Northfield Labs",
        "2 Capsule(s)",
        "60",
    )
    assert bone.directions == "Take 2 capsules daily with a meal that contains fat."
    assert bone.warnings == f"{WARFARIN} Keep out of reach of children."
    assert bone.other_ingredients == "Hypromellose, Olive Oil, Rice Flour"
    assert bone.max_daily_servings is None
    assert rows_of(ex, 0) == [
        expect("Vitamin D3", "25", "mcg", "125%", "cholecalciferol (D3)", None),
        expect("Vitamin K2", "120", "mcg", "100%", "menaquinone-7 (MenaQ7)", None),
        expect("Calcium", "500", "mg", "38%", "calcium citrate", None),
        expect("Magnesium", "250", "mg", "60%", "magnesium glycinate", None),
    ]
    assert cells(
        ex, "Velvet Bean", "amount_raw", "unit_raw", "parent", "form_raw", label_index=1
    ) == (None, "NP", "Proprietary Blend", "Mucuna pruriens seed extract")
    assert row(ex, "Isomalt", 1).parent == "Total Carbohydrates"
    for index, label in enumerate(labels):
        assert rows_of(ex, index) == expected_rows(label, parents="all")
    assert row(ex, "Calcium", 2).amount_raw == "800"
    assert row(ex, "Vitamin K", 2).form_raw == "MenaQ7"
    assert ex.issues == ()


def test_simple_writer_refuses_labels_that_would_merge(tmp_path: Path) -> None:
    label = sample_product("sample-k2-only")
    with pytest.raises(ValueError, match="share a product name and brand"):
        write_simple_csv([label, label], tmp_path / "x.csv")


def test_utf8_bom_is_read(tmp_path: Path) -> None:
    path = write_simple_csv(
        [sample_product("sample-k2-only")], tmp_path / "bom.csv", encoding="utf-8-sig"
    )
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    ex = read_csv(path, "bom.csv")
    assert ex.labels[0].product_name == "K2 MK-7 100"
    assert rows_of(ex, 0) == [expect("Vitamin K2", "100", "mcg", "83%", "menaquinone-7", None)]


def test_windows_1252_file_with_dash_and_accent(tmp_path: Path) -> None:
    path = tmp_path / "ansi.csv"
    text = (
        "product_name,ingredient,amount,unit\n"
        "Bone Fêtes,Calcium (as calcium citrate) – Fêtes,500,mg\n"
    )
    path.write_bytes(text.encode("cp1252"))
    ex = read_csv(path, "ansi.csv")
    assert ex.labels[0].product_name == "Bone Fêtes"
    assert (ex.rows[0].name_raw, ex.rows[0].form_raw) == ("Calcium – Fêtes", "calcium citrate")


def test_latin1_file(tmp_path: Path) -> None:
    label = sample_product("sample-k2-only")
    label["product_name"] = "Crème de K2 Fêtes"
    label["ingredients"][0]["forms"] = ["ménaquinone-7"]
    path = write_simple_csv([label], tmp_path / "latin1.csv", encoding="latin-1")
    assert "Crème".encode("latin-1") in path.read_bytes()
    ex = read_csv(path, "latin1.csv")
    assert ex.labels[0].product_name == "Crème de K2 Fêtes"
    assert ex.rows[0].form_raw == "ménaquinone-7"


def test_semicolon_delimiter(tmp_path: Path) -> None:
    labels = [sample_product("sample-daily-calcium-k2"), sample_product("sample-k2-only")]
    path = write_simple_csv(labels, tmp_path / "semi.csv", delimiter=";")
    assert path.read_text(encoding="utf-8").splitlines()[0].startswith("product_name;brand;")
    ex = read_csv(path, "semi.csv")
    assert [lb.product_name for lb in ex.labels] == ["Daily Calcium with K2", "K2 MK-7 100"]
    assert ex.labels[0].other_ingredients == "Microcrystalline Cellulose, Croscarmellose Sodium"
    assert cells(ex, "Calcium", "amount_raw", "unit_raw", "form_raw") == (
        "1000",
        "mg",
        "calcium carbonate",
    )


def test_header_case_space_and_underscore_variants(tmp_path: Path) -> None:
    path = tmp_path / "variants.csv"
    path.write_text(
        " Product Name ;BRAND; Ingredient ;Amount;UNIT;Daily Value;Form;Blend;Serving_Size\n"
        "Bone Plus;Acme;Calcium;0,5;g;38;calcium citrate;;2 Tablets\n"
        ";;Vitamin K2 (as MK-7);100;mcg;*;;;\n",
        encoding="utf-8",
    )
    ex = read_csv(path, "variants.csv")
    assert [(lb.product_name, lb.brand, lb.serving_size) for lb in ex.labels] == [
        ("Bone Plus", "Acme", "2 Tablets")
    ]
    assert rows_of(ex, 0) == [
        expect("Calcium", "0,5", "g", "38%", "calcium citrate", None),
        expect("Vitamin K2", "100", "mcg", "*", "MK-7", None),
    ]
    assert ex.rows[1].raw_text == " |  | Vitamin K2 (as MK-7) | 100 | mcg | * |  |  | "


def test_products_grouped_by_name_and_brand_in_order_of_first_appearance(tmp_path: Path) -> None:
    path = tmp_path / "grouping.csv"
    path.write_text(
        "product_name,brand,ingredient,amount,unit\n"
        "Calcium Plus,Acme,Calcium,500,mg\n"
        "Calcium Plus,Zenith,Calcium,600,mg\n"
        "Calcium Plus,,Vitamin D3,25,mcg\n"
        "Calcium Plus,Acme,Magnesium,250,mg\n"
        ",,,,\n"
        ",,Vitamin K2,90,mcg\n",
        encoding="utf-8",
    )
    ex = read_csv(path, "grouping.csv")
    assert [(lb.label_index, lb.brand) for lb in ex.labels] == [(0, "Acme"), (1, "Zenith")]
    assert [(r.label_index, r.line_no, r.name_raw, r.amount_raw) for r in ex.rows] == [
        (0, 1, "Calcium", "500"),
        (0, 2, "Magnesium", "250"),
        (0, 3, "Vitamin K2", "90"),
        (1, 1, "Calcium", "600"),
        (1, 2, "Vitamin D3", "25"),
    ]


def test_bad_rows_are_kept_and_reported() -> None:
    ex = read_csv(CSV_DATA / "bad_rows.csv", "csv/bad_rows.csv")
    assert len(ex.labels) == 1
    assert rows_of(ex, 0) == [
        expect("Vitamin D3", "25", "mcg", "125%", "cholecalciferol", None),
        expect("Calcium", "abc", "mg", "38%", None, None),
        expect("", "250", "mg", "60%", None, None),
        expect("Vitamin K2", None, "NP", "*", "MK-7", None),
    ]
    assert ex.rows[1].raw_text == "Bone Builder | Acme | Calcium | abc | mg | 38%"
    assert ex.issues == (
        ReadIssue(
            "csv/bad_rows.csv", 0, None, 2, "row 3: amount 'abc' of 'Calcium' is not a number"
        ),
        ReadIssue("csv/bad_rows.csv", 0, None, 3, "row 4: the ingredient name is empty"),
    )


def test_row_without_product_above_is_skipped_with_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "orphan.csv"
    path.write_text(
        "product_name,ingredient,amount,unit\n,Calcium,500,mg\nBone,Calcium,600,mg\n",
        encoding="utf-8",
    )
    ex = read_csv(path, "orphan.csv")
    assert [r.amount_raw for r in ex.rows] == ["600"]
    assert [i.detail for i in ex.issues] == [
        "row 2: no product name (and no product above it); the row was skipped"
    ]


# --------------------------------------------------------------------------- companion file


def test_companion_detection(tmp_path: Path) -> None:
    facts, overview = tmp_path / "DietarySupplementFacts.csv", tmp_path / "ProductOverview.csv"
    write_dsld_csv([dsld_label("11243")], facts, overview)
    simple = write_simple_csv([sample_product("sample-k2-only")], tmp_path / "mine.csv")
    assert is_companion_head(overview.name, overview.read_bytes()) is True
    assert is_companion_head(facts.name, facts.read_bytes()) is False
    assert is_companion_head(simple.name, simple.read_bytes()) is False
    assert is_companion_head("empty.csv", (CSV_DATA / "empty.csv").read_bytes()) is False
    assert [m.name for m in companions_beside(facts)] == ["ProductOverview.csv"]
    assert companions_beside(overview) == []
    chosen = choose_overview(companions_beside(facts))
    assert chosen is not None and chosen.data == overview.read_bytes()


def test_companion_under_another_name_is_used_when_it_is_the_only_one(tmp_path: Path) -> None:
    facts = tmp_path / "export.csv"
    write_dsld_csv([dsld_label("11243")], facts, tmp_path / "overview_2024.csv")
    assert [m.name for m in companions_beside(facts)] == ["overview_2024.csv"]
    assert read_csv(facts, "export.csv").labels[0].brand == "Nikken Kenzen"


def test_reading_the_companion_itself_names_the_missing_columns(tmp_path: Path) -> None:
    overview = tmp_path / "ProductOverview.csv"
    write_dsld_csv([dsld_label("11243")], tmp_path / "facts.csv", overview)
    with pytest.raises(BadTable) as caught:
        read_csv(overview, "ProductOverview.csv")
    assert caught.value.reason == (
        "the CSV header matches neither the DSLD export layout nor the simple layout: "
        "missing column(s) ingredient, amount, unit"
    )


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("fixture", "error", "reason"),
    [
        ("empty.csv", UnreadableFile, "the CSV file is empty"),
        ("blank.csv", UnreadableFile, "the CSV file is empty"),
        ("header_only.csv", BadTable, "the CSV has a header but no data rows"),
        (
            "unknown_header.csv",
            BadTable,
            "the CSV header matches neither the DSLD export layout nor the simple layout: "
            "missing column(s) product_name, unit",
        ),
        (
            "dsld_missing_unit.csv",
            BadTable,
            "the CSV header matches neither the DSLD export layout nor the simple layout: "
            "missing column(s) Amount Per Serving Unit",
        ),
    ],
)
def test_rejections(fixture: str, error: type[LabelError], reason: str) -> None:
    caught = assert_rejected(lambda: read_csv(CSV_DATA / fixture, f"csv/{fixture}"), error, reason)
    assert caught.source_file == f"csv/{fixture}"
    assert str(caught) == f"csv/{fixture}: {reason}"


def test_binary_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnreadableFile, match="not a text CSV file: it holds binary data"):
        read_csv(path, "photo.csv")


def test_duplicate_column_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("product_name,ingredient,Amount,amount,unit\nA,Calcium,1,2,mg\n")
    with pytest.raises(BadTable) as caught:
        read_csv(path, "dup.csv")
    assert caught.value.reason == "the CSV header names the column 'amount' more than once"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Calcium (as calcium citrate)", ("Calcium", "calcium citrate")),
        ("Vitamin D (as cholecalciferol (D3))", ("Vitamin D", "cholecalciferol (D3)")),
        (
            "Ginger (Zingiber officinale) (rhizome) extract",
            ("Ginger (Zingiber officinale) (rhizome) extract", None),
        ),
        ("Vitamin K2 (AS MK-7) 100", ("Vitamin K2 100", "MK-7")),
        ("Calcium (as calcium citrate", ("Calcium (as calcium citrate", None)),
    ],
)
def test_split_as_form(text: str, expected: tuple[str, str | None]) -> None:
    assert split_as_form(text) == expected


def test_row_wider_than_the_header_is_flagged() -> None:
    ex = read_csv(CSV_DATA / "unquoted_thousands.csv", "csv/unquoted_thousands.csv")
    assert [(r.name_raw, r.amount_raw, r.unit_raw) for r in ex.rows] == [
        ("Calcium", "1", "000"),
        ("Vitamin D3", "25", "mcg"),
    ]
    assert ex.rows[0].raw_text == "Bone Builder | Calcium | 1 | 000 | mg"
    assert ex.issues == (
        ReadIssue(
            "csv/unquoted_thousands.csv",
            0,
            None,
            1,
            "row 2: 5 cells but the header has 4 (a value holding the delimiter without "
            "quotes?); the cells were read by position",
        ),
    )
