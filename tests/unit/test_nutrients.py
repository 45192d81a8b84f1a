"""pipeline.nutrients: names, synonyms, vitamin K forms, Daily Values and upper limits."""

from __future__ import annotations

import pytest

from pipeline import nutrients as nt
from pipeline.nutrients import Resolved, clean_name, iu_basis, k_forms_in, resolve

NO_FORM = "vitamin K with no stated form: K1 or K2 cannot be told"
BOTH_FORMS = "names both K1 and K2 forms: the amount cannot be split"

MK7 = Resolved("vitamin_k2", "MK-7")
MK4 = Resolved("vitamin_k2", "MK-4")
K2_UNSPECIFIED = Resolved("vitamin_k2", "unspecified")
K1 = Resolved("vitamin_k1")


@pytest.mark.parametrize(
    "name",
    [
        "MK-7",
        "menaquinone-7",
        "Menaquinone 7",
        "MK7",
        "MK 7",
        "MenaQ7",
        "Mena Q7",
        "MenaQ7(R)",
        "MenaQ7®",
        "MenaQ7™",
        "all-trans menaquinone-7",
        "Vitamin K2 (as menaquinone-7 from natto)",
        "Vitamin K2 (MK7)",
        "Vitamin K2 as MK-7",
        "Vitamin K2 MK-7",
        "Vitamin K2-7",
        "K2 (as MK-7)",
    ],
)
def test_mk7_names(name: str) -> None:
    assert resolve(name) == MK7


@pytest.mark.parametrize(
    "form",
    [
        "menaquinone-7",
        "MK-7",
        "MK 7",
        "MK7",
        "MenaQ7",
        "Mena Q7",
        "MenaQ7(R)",
        "MenaQ7®",
        "all-trans menaquinone-7",
        "menaquinone-7 from natto",
        "menaquinone-7 (MenaQ7)",
    ],
)
@pytest.mark.parametrize("name", ["Vitamin K2", "Vitamin K", "Vitamin K-2"])
def test_mk7_by_form(name: str, form: str) -> None:
    assert resolve(name, form) == MK7


@pytest.mark.parametrize("name", ["MK-4", "MK4", "menaquinone-4", "menatetrenone", "Menatetrenone"])
def test_mk4_names(name: str) -> None:
    assert resolve(name) == MK4


@pytest.mark.parametrize("form", ["menatetrenone", "Menatetrenone", "MK-4", "MK4", "menaquinone-4"])
@pytest.mark.parametrize("name", ["Vitamin K2", "Vitamin K"])
def test_mk4_by_form(name: str, form: str) -> None:
    assert resolve(name, form) == MK4


@pytest.mark.parametrize(
    "name",
    ["K1", "Vitamin K1", "Vitamin K-1", "phylloquinone", "phytonadione", "Phytomenadione"],
)
def test_k1_names(name: str) -> None:
    assert resolve(name) == K1


@pytest.mark.parametrize(
    "form", ["phylloquinone", "phylloquinone (K1)", "phytonadione", "phytomenadione"]
)
def test_vitamin_k_with_a_k1_form_is_k1(form: str) -> None:
    assert resolve("Vitamin K", form) == K1


def test_vitamin_k_with_form_in_its_name() -> None:
    assert resolve("Vitamin K (as phylloquinone)") == K1
    assert resolve("Vitamin K (as MK-7)") == MK7


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Vitamin K", "vitamin K2 (cis form)"),  # real DSLD 220964: K2 of no stated form
        ("Vitamin K2 (cis form)", None),
        ("Vitamin K2", None),
        ("Vitamin K-2", None),
        ("K2", None),
        ("menaquinone", None),
        ("Vitamin K", "menaquinone"),
    ],
)
def test_k2_of_no_stated_form(name: str, form: str | None) -> None:
    assert resolve(name, form) == K2_UNSPECIFIED


def test_k2_naming_two_forms_is_mixed() -> None:
    assert resolve("Vitamin K2", "MK-7, MK-4") == Resolved("vitamin_k2", "mixed")
    assert resolve("Vitamin K2", "menaquinone-7, menatetrenone") == Resolved("vitamin_k2", "mixed")


def test_vitamin_k_with_no_form_is_unresolved_with_its_note() -> None:
    assert resolve("Vitamin K") == Resolved("vitamin_k", None, NO_FORM)
    assert resolve("Vitamin K", "") == Resolved("vitamin_k", None, NO_FORM)


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Vitamin K", "phylloquinone, menaquinone-7"),
        ("Vitamin K", "phytonadione, MenaQ7"),
        ("Vitamin K (K1 & K2)", None),
        ("Vitamin K1 & K2", None),
        ("Vitamin K1 and Vitamin K2", None),
        ("Vitamin K1/K2", None),
    ],
)
def test_vitamin_k_naming_both_k1_and_k2_is_unresolved(name: str, form: str | None) -> None:
    assert resolve(name, form) == Resolved("vitamin_k", None, BOTH_FORMS)


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Vitamin D", None),
        ("Vitamin D3", None),
        ("Vitamin D-3", None),
        ("Vitamin D 3", None),
        ("Vitamin D2", None),
        ("D3", None),
        ("Cholecalciferol", None),
        ("Ergocalciferol", None),
        ("Vitamin D", "cholecalciferol"),
        ("Vitamin D3", "cholecalciferol (D3)"),
        ("Vitamin D (as ergocalciferol)", None),
    ],
)
def test_vitamin_d_names(name: str, form: str | None) -> None:
    assert resolve(name, form) == Resolved("vitamin_d")


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Calcium", None),
        ("Calcium", "calcium carbonate"),
        ("Calcium", "calcium citrate, calcium gluconate"),
        ("Calcium (as calcium citrate)", None),
        ("Calcium as calcium citrate", None),
        ("Elemental Calcium", None),
        ("CALCIUM*", None),
        ("Calcium†", None),
    ],
)
def test_calcium_is_the_element(name: str, form: str | None) -> None:
    assert resolve(name, form) == Resolved("calcium")


@pytest.mark.parametrize(
    "name",
    [
        "Calcium Folinate",  # real DSLD: folate as its calcium salt, in mcg
        "Calcium Carbonate",  # the compound's weight is not elemental calcium
        "Calcium Citrate",
        "Calcium Pantothenate",
        "Calcium Ascorbate",
        "Calcium Stearate",
    ],
)
def test_calcium_compounds_are_not_elemental_calcium(name: str) -> None:
    assert resolve(name) == Resolved(None)


def test_magnesium_and_its_compounds() -> None:
    assert resolve("Magnesium", "magnesium oxide") == Resolved("magnesium")
    assert resolve("Magnesium (as magnesium glycinate)") == Resolved("magnesium")
    assert resolve("Magnesium Ascorbate") == Resolved(None)
    assert resolve("Magnesium Stearate") == Resolved(None)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Vitamin A", "vitamin_a"),
        ("Retinol", "vitamin_a"),
        ("Retinyl Palmitate", "vitamin_a"),
        ("Beta-Carotene", "vitamin_a"),
        ("Vitamin E", "vitamin_e"),
        ("d-alpha tocopherol", "vitamin_e"),
        ("dl-alpha-tocopheryl acetate", "vitamin_e"),
        ("Vitamin C", None),
        ("Vitamin B12", None),
        ("Zinc", None),
        ("Natto Extract", None),
        ("Streptococcus salivarius K12", None),  # real DSLD: not vitamin K1 or K2
        ("BLIS K12", None),
    ],
)
def test_other_names(name: str, key: str | None) -> None:
    assert resolve(name).nutrient == key


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        ("menaquinone-7 (MenaQ7)", {"MK-7"}),
        ("MK-7, MK-4", {"MK-7", "MK-4"}),
        ("phylloquinone", {"K1"}),
        ("vitamin K2 (cis form)", {"K2"}),
        ("Vitamin K1 & K2", {"K1", "K2"}),
        ("phytonadione, MenaQ7®", {"K1", "MK-7"}),
        ("cholecalciferol", set()),
        ("", set()),
    ],
)
def test_k_forms_in(text: str, forms: set[str]) -> None:
    assert k_forms_in(text) == forms


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("MenaQ7®", "menaq7"),
        ("MenaQ7(R)", "menaq7"),
        ("Calcium*", "calcium"),
        ("  Vitamin   K2™ ", "vitamin k2"),
        ("Vitamin D†,", "vitamin d"),
    ],
)
def test_clean_name(text: str, cleaned: str) -> None:
    assert clean_name(text) == cleaned


@pytest.mark.parametrize(
    ("nutrient", "name", "form", "basis"),
    [
        ("vitamin_d", "Vitamin D3", None, "vitamin_d"),
        ("vitamin_a", "Vitamin A", "retinyl palmitate", "vitamin_a_retinol"),
        ("vitamin_a", "Vitamin A", "retinyl acetate", "vitamin_a_retinol"),
        ("vitamin_a", "Retinol", None, "vitamin_a_retinol"),
        ("vitamin_a", "Vitamin A", "beta-carotene", None),
        ("vitamin_a", "Vitamin A", None, None),
        ("vitamin_e", "Vitamin E", "d-alpha tocopherol", "vitamin_e_natural"),
        ("vitamin_e", "Vitamin E", "natural vitamin E", "vitamin_e_natural"),
        ("vitamin_e", "Vitamin E", "dl-alpha tocopheryl acetate", "vitamin_e_synthetic"),
        ("vitamin_e", "Vitamin E", "synthetic", "vitamin_e_synthetic"),
        ("vitamin_e", "Vitamin E", "mixed tocopherols", None),
        ("vitamin_k2", "Vitamin K2", "MK-7", None),
        ("calcium", "Calcium", None, None),
        (None, "Unknown", None, None),
    ],
)
def test_iu_basis(nutrient: str | None, name: str, form: str | None, basis: str | None) -> None:
    assert iu_basis(nutrient, name, form) == basis


def test_daily_values_current_and_older() -> None:
    table = {k: (n.unit, n.dv_current, n.dv_older) for k, n in nt.NUTRIENTS.items()}
    assert table == {
        "calcium": ("mg", 1300.0, 1000.0),
        "magnesium": ("mg", 420.0, 400.0),
        "vitamin_d": ("mcg", 20.0, 10.0),
        "vitamin_k1": ("mcg", 120.0, 80.0),
        "vitamin_k2": ("mcg", 120.0, 80.0),
        "vitamin_k": ("mcg", 120.0, 80.0),
        "vitamin_a": ("mcg", None, None),
        "vitamin_e": ("mg", None, None),
    }


def test_only_a_d_and_e_take_iu() -> None:
    takes_iu = sorted(k for k, n in nt.NUTRIENTS.items() if "iu" in n.allowed_units)
    assert takes_iu == ["vitamin_a", "vitamin_d", "vitamin_e"]


def test_upper_limits() -> None:
    assert [(u.nutrient, u.per_day, u.text) for u in nt.UPPER_LIMITS] == [
        ("calcium", 2500.0, "2500 mg/day (adults 19-50; 2000 mg/day from 51)"),
        ("vitamin_d", 100.0, "100 mcg (4000 IU)/day"),
        ("magnesium", 350.0, "350 mg/day from supplements"),
    ]


def test_protocol_nutrients() -> None:
    assert sorted(nt.PROTOCOL_NUTRIENTS) == [
        "calcium",
        "magnesium",
        "vitamin_d",
        "vitamin_k",
        "vitamin_k1",
        "vitamin_k2",
    ]
