"""pipeline.units, and the conversions normalize_line makes with it: every unit and IU rule."""

from __future__ import annotations

import pytest

from pipeline.normalize import Normalized, normalize_line
from pipeline.units import (
    IU_TO_MCG,
    UNITS,
    ParsedAmount,
    Unit,
    UnitKind,
    lookup_unit,
    parse_amount,
    unit_key,
)

# ---- the unit table ----------------------------------------------------------------------------

MASS_UNITS = [
    # printed, canonical, micrograms per 1
    ("mcg", "mcg", 1.0),
    ("MCG", "mcg", 1.0),
    ("ug", "mcg", 1.0),
    ("µg", "mcg", 1.0),  # micro sign U+00B5
    ("\u00b5g", "mcg", 1.0),
    ("μg", "mcg", 1.0),  # Greek small mu U+03BC
    ("\u03bcg", "mcg", 1.0),
    ("microgram", "mcg", 1.0),
    ("Micrograms", "mcg", 1.0),
    ("mg", "mg", 1000.0),
    ("MG", "mg", 1000.0),
    ("Milligram(s)", "mg", 1000.0),
    ("g", "g", 1_000_000.0),
    ("Gram(s)", "g", 1_000_000.0),
    ("grams", "g", 1_000_000.0),
    ("gm", "g", 1_000_000.0),
    ("ng", "ng", 0.001),
    ("mcg RAE", "mcg RAE", 1.0),
    ("mcg DFE", "mcg DFE", 1.0),
    ("mg NE", "mg NE", 1000.0),
    ("mg AT", "mg AT", 1000.0),
    ("mg  at.", "mg AT", 1000.0),
]


@pytest.mark.parametrize(("printed", "canonical", "factor"), MASS_UNITS)
def test_mass_units_convert_to_micrograms(printed: str, canonical: str, factor: float) -> None:
    unit = lookup_unit(printed)
    assert unit is not None
    assert (unit.canonical, unit.kind, unit.mcg_factor) == (canonical, UnitKind.MASS, factor)


def test_activity_basis_of_qualified_masses() -> None:
    units = [lookup_unit(u) for u in ("mcg RAE", "mcg DFE", "mg NE", "mg AT", "mcg")]
    assert [u.basis if u else "missing" for u in units] == ["RAE", "DFE", "NE", "AT", None]


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("IU", Unit("IU", UnitKind.IU)),
        ("I.U.", Unit("IU", UnitKind.IU)),
        ("NP", Unit("NP", UnitKind.NOT_PROVIDED)),
        ("Not Present", Unit("NP", UnitKind.NOT_PROVIDED)),
        ("not  present", Unit("NP", UnitKind.NOT_PROVIDED)),
        ("Calorie(s)", Unit("Calories", UnitKind.ENERGY)),
        ("{Calories}", Unit("Calories", UnitKind.ENERGY)),
        ("kcal", Unit("Calories", UnitKind.ENERGY)),
        ("Billion CFU", Unit("billion CFU", UnitKind.OTHER)),
    ],
)
def test_units_that_are_not_plain_masses(printed: str, expected: Unit) -> None:
    assert lookup_unit(printed) == expected


@pytest.mark.parametrize("printed", [None, "", "   ", "furlongs", "mL", "%", "mcgs", "mkg"])
def test_unknown_or_missing_unit_is_none(printed: str | None) -> None:
    assert lookup_unit(printed) is None


@pytest.mark.parametrize(
    ("printed", "key"),
    [("Gram(s)", "gram"), ("  MCG  RAE ", "mcg rae"), ("I.U.", "i.u"), ("Calorie(s)", "calorie")],
)
def test_unit_key(printed: str, key: str) -> None:
    assert unit_key(printed) == key


def test_every_table_key_is_its_own_lookup_key() -> None:
    """A key `unit_key` can never produce would be dead: the table must be written in keys."""
    assert [k for k in UNITS if unit_key(k) != k] == []


def test_iu_factors() -> None:
    assert IU_TO_MCG == {
        "vitamin_d": 0.025,
        "vitamin_a_retinol": 0.3,
        "vitamin_e_natural": 670.0,
        "vitamin_e_synthetic": 450.0,
    }


# ---- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("1,000", ParsedAmount(1000.0)),
        ("10,000", ParsedAmount(10000.0)),
        ("1,000.5", ParsedAmount(1000.5)),
        ("0.5", ParsedAmount(0.5)),
        (".5", ParsedAmount(0.5)),
        ("0,5", ParsedAmount(0.5)),  # decimal comma
        ("12,25", ParsedAmount(12.25)),
        ("0,500", ParsedAmount(0.5)),  # a leading 0 is never a thousands group
        ("<1", ParsedAmount(1.0, "<")),
        ("< 1", ParsedAmount(1.0, "<")),
        ("> 5", ParsedAmount(5.0, ">")),
        (" 25 ", ParsedAmount(25.0)),
        ("1\u00a0000", ParsedAmount(1000.0)),  # no-break space as thousands separator
        ("-5", ParsedAmount(-5.0)),  # kept negative: the data-quality check names it
        ("\u22122.5", ParsedAmount(-2.5)),  # U+2212 minus sign
    ],
)
def test_parse_amount(printed: str, expected: ParsedAmount) -> None:
    assert parse_amount(printed) == expected


@pytest.mark.parametrize("printed", [None, "", "abc", "1-2", "<", "-", "1,0000", "1.2.3", "5mg"])
def test_parse_amount_not_a_number(printed: str | None) -> None:
    assert parse_amount(printed) is None


# ---- conversions through normalize_line ---------------------------------------------------------


UNKNOWN_FURLONGS = "unknown unit ' furlongs ': kept as printed"


def line(name: str, form: str | None, amount: str | None, unit: str | None) -> Normalized:
    return normalize_line(name, form, amount, unit)


@pytest.mark.parametrize("unit", ["mcg", "ug", "µg", "μg", "mcg RAE"])
def test_microgram_spellings_all_give_the_same_mass(unit: str) -> None:
    n = line("Vitamin K2", "menaquinone-7", "100", unit)
    assert (n.nutrient, n.k2_form, n.amount, n.amount_mcg, n.unit_status) == (
        "vitamin_k2",
        "MK-7",
        100.0,
        100.0,
        "ok",
    )


@pytest.mark.parametrize(
    ("amount", "unit", "mcg", "canonical"),
    [
        ("500", "mg", 500_000.0, "mg"),
        ("0.5", "g", 500_000.0, "g"),
        ("0.5", "Gram(s)", 500_000.0, "g"),
        ("1,000", "mg", 1_000_000.0, "mg"),
        ("500000", "ng", 500.0, "ng"),
    ],
)
def test_calcium_masses(amount: str, unit: str, mcg: float, canonical: str) -> None:
    n = line("Calcium", "calcium carbonate", amount, unit)
    assert (n.nutrient, n.unit, n.amount_mcg, n.unit_status, n.note) == (
        "calcium",
        canonical,
        mcg,
        "ok",
        None,
    )


def test_vitamin_d_1000_iu_is_exactly_25_mcg() -> None:
    n = line("Vitamin D3", "cholecalciferol", "1,000", "IU")
    assert n == Normalized("vitamin_d", None, 1000.0, None, "IU", 25.0, "ok", None)


def test_vitamin_d_400_iu_is_10_mcg() -> None:
    assert line("Vitamin D", None, "400", "IU").amount_mcg == 10.0


def test_vitamin_a_retinol_iu_is_0_3_mcg_rae() -> None:
    n = line("Vitamin A", "retinyl palmitate", "5,000", "IU")
    assert (n.amount_mcg, n.unit_status) == (1500.0, "ok")


def test_vitamin_a_beta_carotene_iu_is_flagged_not_converted() -> None:
    n = line("Vitamin A", "beta-carotene", "5,000", "IU")
    assert n == Normalized(
        "vitamin_a",
        None,
        5000.0,
        None,
        "IU",
        None,
        "not_converted",
        "beta-carotene IU: the conversion is disputed (0.15 or 0.3 mcg RAE per IU)",
    )


def test_vitamin_a_retinol_and_beta_carotene_together_is_not_converted() -> None:
    n = line("Vitamin A", "beta-carotene synthetic, vitamin A palmitate in oil", "2000", "IU")
    assert (n.amount_mcg, n.unit_status) == (None, "not_converted")


def test_vitamin_a_iu_with_no_form_is_not_converted() -> None:
    n = line("Vitamin A", None, "2000", "IU")
    assert (n.amount_mcg, n.unit_status, n.note) == (
        None,
        "not_converted",
        "IU with no known conversion for this nutrient or form",
    )


@pytest.mark.parametrize(
    ("form", "mcg"),
    [
        ("d-alpha tocopherol", 268_000.0),  # natural: 0.67 mg/IU
        ("d-alpha-tocopheryl succinate", 268_000.0),
        ("RRR-alpha-tocopherol", 268_000.0),
        ("dl-alpha-tocopheryl acetate", 180_000.0),  # synthetic: 0.45 mg/IU
        ("all-rac-alpha-tocopheryl acetate", 180_000.0),
    ],
)
def test_vitamin_e_iu_by_form(form: str, mcg: float) -> None:
    n = line("Vitamin E", form, "400", "IU")
    assert (n.nutrient, n.amount_mcg, n.unit_status) == ("vitamin_e", mcg, "ok")


@pytest.mark.parametrize("form", [None, "mixed tocopherols"])
def test_vitamin_e_iu_of_unknown_form_is_flagged(form: str | None) -> None:
    n = line("Vitamin E", form, "400", "IU")
    assert (n.amount_mcg, n.unit_status, n.note) == (
        None,
        "not_converted",
        "IU with no known conversion for this nutrient or form",
    )


def test_vitamin_e_in_mg_at() -> None:
    n = line("Vitamin E", "d-alpha tocopherol", "15", "mg AT")
    assert (n.unit, n.amount_mcg, n.unit_status) == ("mg AT", 15_000.0, "ok")


@pytest.mark.parametrize(
    ("name", "unit", "mcg"),
    [
        ("Vitamin A", "mcg RAE", 900.0),
        ("Folate", "mcg DFE", 900.0),
        ("Niacin", "mg NE", 900_000.0),
    ],
)
def test_activity_units_convert_as_their_mass(name: str, unit: str, mcg: float) -> None:
    n = line(name, None, "900", unit)
    assert (n.unit, n.amount_mcg, n.unit_status) == (unit, mcg, "ok")


@pytest.mark.parametrize(
    ("name", "form"),
    [("Vitamin K2", "menaquinone-7"), ("Vitamin K1", None), ("Vitamin K", "phylloquinone")],
)
def test_vitamin_k_in_iu_is_not_a_unit_for_it(name: str, form: str | None) -> None:
    n = line(name, form, "100", "IU")
    assert (n.amount_mcg, n.unit_status) == (None, "unit_not_for_nutrient")
    assert n.note is not None and n.note.endswith("is not measured in IU")


def test_vitamin_k2_in_iu_names_itself() -> None:
    assert line("Vitamin K2", "MK-7", "100", "IU").note == "Vitamin K2 is not measured in IU"


def test_calcium_in_iu_is_not_a_unit_for_it() -> None:
    n = line("Calcium", None, "500", "IU")
    assert (n.unit_status, n.note) == ("unit_not_for_nutrient", "Calcium is not measured in IU")


@pytest.mark.parametrize("unit", ["NP", "Not Present"])
@pytest.mark.parametrize("amount", [None, "0", ""])
def test_np_and_not_present_mean_no_amount_provided(unit: str, amount: str | None) -> None:
    n = line("Iron", None, amount, unit)
    assert (n.unit, n.amount_mcg, n.unit_status, n.note) == (
        "NP",
        None,
        "not_provided",
        "the label gives no amount (NP)",
    )


@pytest.mark.parametrize(
    ("name", "amount", "unit", "kept"),
    [
        # an unknown unit is kept as printed (stripped) and flagged
        ("Boron", "3", " furlongs ", (3.0, "furlongs", "unknown_unit", UNKNOWN_FURLONGS)),
        ("Calcium", "abc", "mg", (None, "mg", "unparsed_amount", "amount 'abc' is not a number")),
        ("Zinc", None, "mg", (None, "mg", "no_amount", "no amount printed")),
        ("Zinc", "", "mg", (None, "mg", "no_amount", "no amount printed")),
        ("Zinc", "  ", "mg", (None, "mg", "no_amount", "no amount printed")),
    ],
)
def test_a_line_without_a_usable_amount_is_kept_and_flagged(
    name: str, amount: str | None, unit: str, kept: tuple[float | None, str, str, str]
) -> None:
    n = line(name, None, amount, unit)
    assert (n.amount, n.unit, n.unit_status, n.note) == kept
    assert n.amount_mcg is None


def test_less_than_amount_keeps_its_operator() -> None:
    n = line("Vitamin D3", None, "<1", "mcg")
    assert (n.amount, n.amount_operator, n.amount_mcg) == (1.0, "<", 1.0)


def test_negative_amount_converts_and_is_left_to_the_data_quality_check() -> None:
    n = line("Magnesium", None, "-5", "mg")
    assert (n.amount, n.amount_mcg, n.unit_status) == (-5.0, -5000.0, "ok")


@pytest.mark.parametrize("unit", ["Calorie(s)", "{Calories}", "CFU"])
def test_energy_and_counts_are_not_masses(unit: str) -> None:
    n = line("Calories", None, "10", unit)
    assert (n.amount, n.amount_mcg, n.unit_status) == (10.0, None, "not_mass")


def test_decimal_comma_amount() -> None:
    assert line("Vitamin K2", "MK-7", "0,5", "mg").amount_mcg == 500.0
