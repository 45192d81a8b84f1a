"""pipeline.sources.inputs.group_inputs: which inputs a worker reads together."""

from __future__ import annotations

from pathlib import Path

from pipeline.sources.inputs import FileTask, PlannedFile, group_inputs


def _planned(name: str, companions: tuple[str, ...] = ()) -> PlannedFile:
    member = name if "!" not in name else name.split("!")[1]
    return PlannedFile(FileTask(Path("a.zip"), name, member, 0, companions), key=None)


def test_consecutive_json_inputs_are_grouped_up_to_the_size_others_read_alone() -> None:
    names = ["a.json", "b.JSON", "c.json", "d.pdf", "e.json", "f.json", "g.csv", "h.json"]
    todo = [_planned(n) for n in names]
    todo.insert(7, _planned("g2.json", companions=("3",)))  # a JSON with companions: alone
    groups = group_inputs(todo, size=2)
    assert [[p.task.source_file for p in g] for g in groups] == [
        ["a.json", "b.JSON"],
        ["c.json"],
        ["d.pdf"],
        ["e.json", "f.json"],
        ["g.csv"],
        ["g2.json"],
        ["h.json"],
    ]
    assert group_inputs([]) == []
