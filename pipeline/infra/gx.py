"""Great Expectations, run: one ephemeral context per run (`Validator`), each suite over a
frame with every unexpected row kept (result_format COMPLETE), Data Docs on demand.

GX is imported on first use (`_gx`), not with this module: its import takes ~2 s and a few
hundred MB (measured: README "Performance"), and the report stage (which imports
pipeline.validate for the methodology) and a run whose validation is up to date never
need it.
"""

from __future__ import annotations

import copy
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import great_expectations as gx


#: Libraries GX imports at its own import for expectations and renderers the suites here
#: never use (a KL-divergence expectation's chart, KS tests): loaded lazily, when first
#: used (importlib.util.LazyLoader: the module is executed on its first attribute access,
#: so a use of them still gets the real module). GX's import (with a context) was 5.2 s of
#: CPU, 3.1 s with these two deferred, which every run that validates pays.
LAZY_IN_GX = frozenset({"altair", "scipy.stats"})


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of LAZY_IN_GX as the other finders do, with a lazy loader."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if name not in LAZY_IN_GX:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _gx() -> Any:
    """great_expectations, imported on first use (start-up time: see the module's
    docstring), LAZY_IN_GX loaded only if something uses them."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    finder = _LazyFinder()
    sys.meta_path.insert(0, finder)
    try:
        # With LAZY_IN_GX deferred, GX itself is the first to import sre_parse and
        # sre_constants (deprecated since Python 3.11), which warned: its import stays quiet.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import great_expectations
    finally:
        sys.meta_path.remove(finder)

    # GX pins this logger to INFO at import; its one message (a temp folder for an unused
    # docs site) is noise in a nightly log.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def _context() -> Any:
    """An ephemeral GX context: nothing written to disk, analytics and progress bars off."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig  # with _gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _unsaved(context: Any) -> None:
    """`context` (ephemeral) no longer saves its project configuration: GX renders the
    whole configuration as YAML into the ephemeral context's in-memory store (which
    nothing reads) at each change of it, four times a suite run (a data source, its asset
    and batch definition added, the source deleted): 0.8 s of a catalog of 10,000's
    validation. Its configuration objects change as before. Only for a context without
    Data Docs (`Validator`): a docs site's context stays as GX makes it."""
    context._save_project_config = lambda: None


@contextmanager
def _configurations_built_once() -> Iterator[None]:
    """While in this block, each GX expectation builds its configuration (the
    `Expectation.configuration` property: a pydantic `dict()` and an
    ExpectationConfiguration) once and gives that same one afterwards: GX reads it some
    13 times per expectation and run (its kwargs, for the metrics, the result format and
    the result), 1.5 s of CPU (profiled) of a catalog of 10,000's validation. An
    expectation is not changed during a run; the property is GX's own again after it."""
    from great_expectations.expectations.expectation import Expectation  # with _gx

    gx_property = Expectation.__dict__["configuration"]
    built: dict[int, tuple[Any, Any]] = {}  # id -> (the expectation, its configuration)

    def configuration(expectation: Any) -> Any:
        known = built.get(id(expectation))
        if known is None or known[0] is not expectation:
            known = built[id(expectation)] = (expectation, gx_property.fget(expectation))
        return known[1]

    # (setattr: mypy does not let a method be assigned)
    setattr(Expectation, "configuration", property(configuration))  # noqa: B010
    try:
        yield
    finally:
        setattr(Expectation, "configuration", gx_property)  # noqa: B010


@dataclass
class Validator:
    """One GX context for a run: every suite validates through it (GX set up once).

    With `docs_dir`, each validation also goes through a GX Checkpoint whose
    UpdateDataDocsAction renders GX Data Docs into that folder.
    """

    docs_dir: Path | None = None
    context: Any = None
    runs: int = 0

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = _context()
            if self.docs_dir is None:
                _unsaved(self.context)
        if self.docs_dir is not None:
            self.context.add_data_docs_site(
                site_name="labelaudit",
                site_config={
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.docs_dir.resolve()),
                    },
                },
            )

    def run(self, suite: gx.ExpectationSuite, frame: pd.DataFrame, index_columns: list[str]) -> Any:
        """Validate `frame` against `suite` once; the result keeps every unexpected row.

        Each run gets a data source of its own, deleted afterwards: its execution engine
        keeps the frame it validated and every metric it computed, which would otherwise
        stay in the context (and memory) for as long as it lives. Without Data Docs the
        batch is validated directly (`Batch.validate`: nothing else is registered or
        stored in the context); with them, through a validation definition and a
        checkpoint, which the context keeps for the docs site.
        """
        self.runs += 1
        name = f"{suite.name}-{self.runs}"  # names are unique within one context
        suite.name = name
        result_format = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
        frame = keyed_by(frame, index_columns)
        source = self.context.data_sources.add_pandas(f"labelaudit-{self.runs}")
        try:
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
                "whole table"
            )
            if self.docs_dir is None:
                data = batch.get_batch(batch_parameters={"dataframe": frame})
                with _configurations_built_once():
                    return data.validate(suite, result_format=result_format)
            return self._run_with_docs(suite, batch, frame, result_format)
        finally:
            self.context.data_sources.delete(source.name)

    def _run_with_docs(
        self, suite: gx.ExpectationSuite, batch: Any, frame: pd.DataFrame, result_format: Any
    ) -> Any:
        gx = _gx()
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
        )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=suite.name,
                validation_definitions=[definition],
                actions=[
                    gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["labelaudit"])
                ],
                result_format=result_format,
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        return next(iter(outcome.run_results.values()))


def keyed_by(frame: pd.DataFrame, index_columns: list[str]) -> pd.DataFrame:
    """`frame` with the values of its one index column as its (unnamed) index: GX then
    names each unexpected row by that value (`unexpected_index_list`), taking the index
    as it is. Passing the column as `unexpected_index_column_names` instead (or naming the
    index) makes GX look up every unexpected row's values one by one (`DataFrame.at`):
    that was 40% of a catalog's validation."""
    (column,) = index_columns
    return frame.set_axis(pd.Index(frame[column].to_numpy()), axis=0)


def unexpected(result: Any) -> list[Any]:
    """The index values (`keyed_by`) of the rows an expectation found unexpected."""
    return list(result.result.get("unexpected_index_list") or [])


_PLAIN = (str, int, bool, type(None))


def _json_value(value: Any) -> Any:
    """GX's convert_to_json_serializable of `value`, with a fast path for the plain values
    (str, int, bool, None, float: NaN -> None) and the lists and dicts of them a result's
    unexpected lists are made of; any other value is GX's to convert."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return None if value != value else value
    if kind is list or kind is tuple:
        return [_json_value(item) for item in value]
    if kind is dict:
        return {str(key): _json_value(item) for key, item in value.items()}
    from great_expectations.util import convert_to_json_serializable  # with _gx

    return convert_to_json_serializable(value)


def result_json(result: Any) -> dict[str, Any]:
    """`result.to_json_dict()` (an ExpectationSuiteValidationResult), the same dict (keys in
    the same order), without its cost: GX deep-copies the whole result (every unexpected
    list, several times over) and converts each value of them one by one, which was 2.7 s
    of CPU for a catalog of 10,000. Here GX serializes the result and each expectation
    result without their "result" dicts (small: configurations, statistics, meta), and
    those (the unexpected lists) are converted by `_json_value`."""
    outer = copy.copy(result)
    outer.results = []
    out: dict[str, Any] = outer.to_json_dict()
    items: list[dict[str, Any]] = []
    for res in result.results:
        bare = copy.copy(res)
        bare.result = {}
        item: dict[str, Any] = bare.to_json_dict()
        item["result"] = _json_value(res.result)
        items.append(item)
    out["results"] = items
    return out
