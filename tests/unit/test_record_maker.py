"""pipeline.records.record_maker: the records a dataclass __init__ makes, without its cost."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from pipeline.records import Label, LabelRow, ReadIssue, field_names, record_maker


def test_a_made_row_is_the_row_init_makes() -> None:
    values = ("a.json", 0, 3, "Calcium", "500", "mg", "38%", "citrate", "Minerals")
    values += (None, None, None, None, "Calcium (citrate) 500 mg 38%")
    made = record_maker(LabelRow, field_names(LabelRow)[:14])(*values)
    built = LabelRow(*values)
    assert made == built
    assert list(vars(made).items()) == list(vars(built).items())  # same fields, same order
    assert made.confidence is None and made.review is None  # later fields: their defaults
    assert pickle.loads(pickle.dumps(made)) == built
    assert repr(made) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name_raw = "Magnesium"  # type: ignore[misc]


def test_all_fields_by_default() -> None:
    made = record_maker(ReadIssue)("a.json", 1, None, 2, "no name", True)
    assert made == ReadIssue("a.json", 1, None, 2, "no name", blocks_verdict=True)
    label = record_maker(Label, ("source_file", "label_index", "product_name"))("a.json", 0, "Cal")
    assert label == Label("a.json", 0, "Cal")
    assert (label.directions, label.pages) == ("", None)


def test_wrong_count_or_fields_without_defaults() -> None:
    with pytest.raises(ValueError):
        record_maker(ReadIssue)("a.json", 1, None)
    with pytest.raises(TypeError, match=r"LabelRow\.unit_raw has no default value"):
        record_maker(LabelRow, field_names(LabelRow)[:5])


def test_fields_named_out_of_order() -> None:
    with pytest.raises(
        TypeError, match=r"Label's first fields are \('source_file', 'label_index'\)"
    ):
        record_maker(Label, ("label_index", "source_file"))
