"""The extract stage's planning shortcuts: `inputs._wants` (wants_companions found once a
suffix) and `extract._absolute` (no copy of a task that is already absolute)."""

from __future__ import annotations

from pathlib import Path

from pipeline.extract import _absolute
from pipeline.sources.inputs import FileTask, _wants
from pipeline.sources.registry import wants_companions


def test_wants_is_wants_companions_once_a_suffix() -> None:
    known: dict[str, bool] = {}
    names = ["DSLD/1.json", "DSLD/2.JSON", "csv/DietarySupplementFacts.csv", "a.pdf", "x.csv"]
    assert [_wants(n, known) for n in names] == [wants_companions(n) for n in names]
    assert [_wants(n, known) for n in names] == [False, False, True, False, True]
    assert known == {"json": False, "csv": True, "pdf": False}


def test_absolute_copies_only_a_relative_task(tmp_path: Path) -> None:
    member = FileTask(tmp_path / "a.zip", "a.zip!DSLD/1.json", "DSLD/1.json", 0)
    known: dict[Path, Path] = {}
    assert _absolute(member, known) is member
    assert known == {tmp_path / "a.zip": tmp_path / "a.zip"}
    relative = FileTask(Path("labels/b.json"), "b.json")
    made = _absolute(relative, known)
    assert made == FileTask(Path("labels/b.json").absolute(), "b.json")
    assert made is not relative
