"""A JSON document written piece by piece: the Great Expectations result files, each of
which holds every expectation result of every chunk's run, written as each run finishes
(only one run's result is held at a time)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def _indented_json(value: Any, level: int) -> str:
    """`value` as JSON indented by 2, to sit `level` levels deep in an indented document."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.replace("\n", "\n" + "  " * level)  # JSON strings hold no raw newline


def result_file_text(
    labelaudit: Mapping[str, Any], runs: Iterable[tuple[Mapping[str, Any], dict[str, Any]]]
) -> Iterator[str]:
    """A GX result file, piece by piece: {"labelaudit": ..., "results": [every expectation
    result of every run, in turn], "runs": [per run: `about` it, "result_range" (its slice of
    "results") and the rest of its GX result (success, statistics, suite_name, meta)]}.

    `runs` gives each run's `about` and its GX result as a JSON dict (whose "results" are
    taken out of it): only one run's result is held at a time.
    """
    yield '{\n  "labelaudit": ' + _indented_json(labelaudit, 1) + ',\n  "results": ['
    summaries: list[dict[str, Any]] = []
    count = 0
    for about, result in runs:
        results = result.pop("results", [])
        summaries.append({**about, "result_range": [count, count + len(results)], **result})
        for item in results:
            yield ("," if count else "") + "\n    " + _indented_json(item, 2)
            count += 1
        del results, result
    yield ("\n  " if count else "") + '],\n  "runs": ' + _indented_json(summaries, 1) + "\n}\n"
