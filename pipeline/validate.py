"""Validate stage: run the Great Expectations suites once per table.

`products_to_outcomes` runs the protocol suite once over the whole products table and
reads per-product outcomes from the result (result_format COMPLETE, unexpected rows named
by product_id). `tables_to_findings` runs the data-quality suites over the nutrient rows
and the products and turns every unexpected row into a finding a reader can act on.

`validate_work` is the stage over a work folder. Every expectation is row-wise, so a
product's outcomes and findings depend on its own rows only: a product whose rows (and the
code and protocol) are unchanged since it was last validated keeps its results, and the
suites run once over the table of the other products (all of them on a first run, with
`--full` or `--data-docs`). The GX result files hold that run's validation and say how many
products it covered. `python -m pipeline.validate` runs it in a process of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import nutrients as nt
from pipeline.normalize import PROTOCOL_AMOUNT_COLUMNS, PROTOCOL_METRIC_COLUMNS
from pipeline.protocol import CHECKS, Protocol
from pipeline.units import IU_TO_MCG

if TYPE_CHECKING:
    import great_expectations as gx

OUTCOME_COLUMNS = ["product_id", "check", "passed"]
FINDING_COLUMNS = ["source_file", "product_id", "check", "severity", "detail", "blocking"]


def _gx() -> Any:
    """great_expectations, imported on first use: the import takes seconds and a few
    hundred MB, and the report stage (which imports this module for `daily_values` and
    `conversions_used`) and a run whose validation is up to date never need it."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations

    # GX pins this logger to INFO at import; its one message (a temp folder for an unused
    # docs site) is noise in a nightly log.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


def _context() -> Any:
    """An ephemeral GX context: nothing written to disk, analytics and progress bars off."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


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
        self.context = self.context or _context()
        self.source = self.context.data_sources.add_pandas("labelaudit")
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
        """Validate `frame` against `suite` once; the result keeps every unexpected row."""
        gx = _gx()
        self.runs += 1
        name = f"{suite.name}-{self.runs}"  # names are unique within one context
        suite.name = name
        asset = self.source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe("whole table")
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        result_format = {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": index_columns,
        }
        if self.docs_dir is None:
            return definition.run(
                batch_parameters={"dataframe": frame}, result_format=result_format
            )
        checkpoint = self.context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                actions=[
                    gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["labelaudit"])
                ],
                result_format=result_format,
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        return next(iter(outcome.run_results.values()))


def _unexpected(result: Any, column: str) -> list[Any]:
    return [row[column] for row in result.result.get("unexpected_index_list") or []]


# ---- protocol ---------------------------------------------------------------------------------


def protocol_table(products: pd.DataFrame) -> pd.DataFrame:
    """The columns the protocol suite reads (K2 form made explicit for products with none)."""
    table = products[
        [
            "product_id",
            *PROTOCOL_AMOUNT_COLUMNS,
            *PROTOCOL_METRIC_COLUMNS,
            "has_anticoagulant_caution",
            "has_fat_guidance",
        ]
    ].copy()
    no_k2 = products["vitamin_k1_mcg"].notna().map({True: "K1 only", False: "none"})
    table["k2_form_checked"] = products["k2_form"].where(products["k2_form"].notna(), no_k2)
    return table


def products_to_outcomes(
    products: pd.DataFrame, protocol: Protocol, validator: Validator | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per product and check: passed True/False/None (None: the check did not apply)."""
    from pipeline import expectations as ex

    validator = validator or Validator()
    table = protocol_table(products)
    result = validator.run(ex.protocol_suite(protocol), table, ["product_id"])
    failed: dict[str, set[str]] = {check: set() for check in CHECKS}
    evaluated: dict[str, set[str]] = {check: set() for check in CHECKS}
    for res in result.results:
        config = res.expectation_config
        check = config.meta["check"]
        column = config.kwargs["column"]
        nulls_count = config.type == "expect_column_values_to_not_be_null"
        applies = (
            table["product_id"] if nulls_count else table.loc[table[column].notna(), "product_id"]
        )
        evaluated[check].update(applies)
        failed[check].update(_unexpected(res, "product_id"))
    outcomes = [
        {
            "product_id": pid,
            "check": check,
            "passed": False
            if pid in failed[check]
            else (True if pid in evaluated[check] else None),
        }
        for pid in table["product_id"]
        for check in CHECKS
    ]
    return pd.DataFrame(outcomes, columns=OUTCOME_COLUMNS), result.to_json_dict()


# ---- data quality -------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "none"
    number = float(value)
    return f"{number:,.2f}".rstrip("0").rstrip(".") if number != int(number) else f"{int(number):,}"


def _row_detail(check: str, row: Mapping[str, Any]) -> str:
    name = row["name_raw"]
    where = f"line {row['line_no']}" + (
        f", page {int(row['page'])}" if pd.notna(row["page"]) else ""
    )
    printed = (
        " ".join(str(row[c]) for c in ("amount_raw", "unit_raw") if pd.notna(row[c]) and row[c])
        or "nothing"
    )
    if check == "amount_present":
        return f"{where}: '{name}' has no readable amount (printed: {printed})"
    if check == "amount_non_negative":
        return f"{where}: '{name}' has a negative amount ({printed})"
    if check == "unit_known":
        return f"{where}: '{name}' {printed}: {row['unit_note']}"
    display = nt.NUTRIENTS[row["nutrient"]].display if row["nutrient"] in nt.NUTRIENTS else name
    info = nt.NUTRIENTS.get(row["nutrient"])
    unit = info.unit if info else ""
    return (
        f"{display}: declared {row['dv_raw']} DV for {_fmt(row['amount_normalized'])} {unit}, "
        f"expected {_fmt(round(row['dv_expected_current_pct']))}% (current DV "
        f"{_fmt(info.dv_current if info else None)} {unit}) or "
        f"{_fmt(round(row['dv_expected_older_pct']))}% (older DV "
        f"{_fmt(info.dv_older if info else None)} {unit})"
    )


def _product_detail(check: str, meta: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    if check == "one_calcium_amount":
        total = _fmt(row["calcium_mg"])
        return f"calcium is declared on {row['calcium_rows']} lines; their sum ({total} mg) is used"
    if check == "serving_size_present":
        return "the panel states no serving size"
    if check == "vitamin_k_form":
        return (
            f"{_fmt(row['vitamin_k_unresolved_mcg'])} mcg vitamin K whose form does not tell K1 "
            "from K2: the protocol checks cannot use it"
        )
    nutrient = meta["nutrient"]
    info = nt.NUTRIENTS[nutrient]
    limit = next(u for u in nt.UPPER_LIMITS if u.nutrient == nutrient)
    per_day = row[f"{nutrient}_{info.unit}_per_day"]
    return (
        f"{info.display}: {_fmt(per_day)} {info.unit} per day "
        f"({_fmt(row['servings_per_day'])} serving(s) a day, {row['servings_per_day_source']}) "
        f"is above the adult upper limit of {limit.text}"
    )


def quality_rows_table(nutrients: pd.DataFrame) -> pd.DataFrame:
    table = nutrients.copy()
    table["is_member"] = table["parent"].notna()
    table["has_unit"] = table["unit_raw"].notna() & (
        table["unit_raw"].astype(str).str.strip() != ""
    )
    table["dv_consistent"] = table["dv_consistent"].astype(object)
    return table


def _blocking(check: str, nutrient: Any) -> bool:
    """A finding that makes the protocol verdict unreliable (the product is not assessable)."""
    if check == "vitamin_k_form":
        return True
    return check in {"amount_present", "amount_non_negative", "unit_known"} and (
        nutrient in nt.PROTOCOL_NUTRIENTS
    )


def read_findings(products: pd.DataFrame, read_issues: pd.DataFrame) -> list[dict[str, Any]]:
    """One finding per read issue from extraction (no Great Expectations needed)."""
    id_of = dict(
        zip(
            zip(products["source_file"], products["label_index"], strict=True),
            products["product_id"],
            strict=True,
        )
    )
    return [
        {
            "source_file": issue["source_file"],
            "product_id": id_of.get((issue["source_file"], issue["label_index"])),
            "check": "read",
            "severity": "error",
            "detail": issue["detail"],
            "blocking": False,
            "line_no": None,
        }
        for issue in read_issues.to_dict("records")
    ]


def gx_findings(
    nutrients: pd.DataFrame, products: pd.DataFrame, validator: Validator
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The data-quality suites over the nutrient rows and the products: one finding per
    unexpected row (with the label line it is about, for row findings), and the results."""
    from pipeline import expectations as ex

    findings: list[dict[str, Any]] = []
    rows = quality_rows_table(nutrients).reset_index(drop=True)
    rows["row_id"] = rows.index
    rows_result = validator.run(ex.rows_quality_suite(), rows, ["row_id"])
    for res in rows_result.results:
        check = res.expectation_config.meta["check"]
        for row_id in _unexpected(res, "row_id"):
            row = rows.loc[row_id]
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": row["product_id"],
                    "check": check,
                    "severity": "error" if _blocking(check, row["nutrient"]) else "warning",
                    "detail": _row_detail(check, row),
                    "blocking": _blocking(check, row["nutrient"]),
                    "line_no": int(row["line_no"]),
                }
            )
    by_id = products.set_index("product_id", drop=False)
    products_result = validator.run(ex.products_quality_suite(), products, ["product_id"])
    for res in products_result.results:
        meta = res.expectation_config.meta
        for pid in _unexpected(res, "product_id"):
            row = by_id.loc[pid]
            findings.append(
                {
                    "source_file": row["source_file"],
                    "product_id": pid,
                    "check": meta["check"],
                    "severity": meta.get(
                        "severity", "error" if _blocking(meta["check"], None) else "warning"
                    ),
                    "detail": _product_detail(meta["check"], meta, row),
                    "blocking": _blocking(meta["check"], None),
                    "line_no": None,
                }
            )
    return findings, {
        "rows": rows_result.to_json_dict(),
        "products": products_result.to_json_dict(),
    }


def findings_frame(findings: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Findings in their stable order, with FINDING_COLUMNS and `line_no` (the label line
    a row finding is about; missing for the others)."""
    frame = pd.DataFrame(list(findings), columns=[*FINDING_COLUMNS, "line_no"])
    frame["line_no"] = frame["line_no"].astype("Int64")
    order = {"safety": 0, "error": 1, "warning": 2}
    return frame.sort_values(
        ["source_file", "product_id", "severity", "check", "detail"],
        key=lambda s: s.map(order) if s.name == "severity" else s.astype(str),
    ).reset_index(drop=True)


def tables_to_findings(
    nutrients: pd.DataFrame,
    products: pd.DataFrame,
    read_issues: pd.DataFrame,
    validator: Validator | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Data-quality findings: one per unexpected row, plus every read issue from extraction."""
    found, results = gx_findings(nutrients, products, validator or Validator())
    frame = findings_frame([*read_findings(products, read_issues), *found])
    return frame[FINDING_COLUMNS], results


# ---- the stage, incrementally -------------------------------------------------------------------

#: Per product, the key of the inputs its outcomes and findings were computed from.
STATE_FILE = "validation_state.json"


@dataclass(frozen=True)
class ValidationJob:
    """What the validate stage is asked to do (picklable: it may run in another process).

    `salt` stands for everything a product's results depend on besides its own rows (the
    code, the library versions, the protocol): a different salt revalidates everything.
    """

    work_root: str
    protocol: Protocol
    salt: str
    full: bool = False
    docs_dir: str | None = None


def product_keys(products: pd.DataFrame, nutrients: pd.DataFrame, salt: str) -> dict[str, str]:
    """product_id -> a hash of the product's row, its nutrient rows (in order) and `salt`."""
    product_hash = pd.util.hash_pandas_object(products.astype(object), index=False)
    row_hash = pd.util.hash_pandas_object(nutrients.astype(object), index=False)
    rows_of: dict[str, list[int]] = {}
    for pid, value in zip(nutrients["product_id"], row_hash.tolist(), strict=True):
        rows_of.setdefault(pid, []).append(value)
    keys = {}
    for pid, value in zip(products["product_id"], product_hash.tolist(), strict=True):
        digest = hashlib.sha256(salt.encode("utf-8"))
        digest.update(repr((value, rows_of.get(pid, []))).encode("ascii"))
        keys[pid] = digest.hexdigest()
    return keys


def _outcome_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"product_id": pid, "check": check, "passed": None if pd.isna(passed) else bool(passed)}
        for pid, check, passed in zip(
            frame["product_id"], frame["check"], frame["passed"], strict=True
        )
    ]


def _finding_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        record["blocking"] = bool(record["blocking"])
        record["line_no"] = None if pd.isna(record["line_no"]) else int(record["line_no"])
        records.append({str(k): v for k, v in record.items()})
    return records


def _labelled(result: dict[str, Any], validated: int, reused: int) -> dict[str, Any]:
    return {
        "labelaudit": {
            "validated_products": validated,
            "reused_products": reused,
            "note": (
                "this result covers the products validated in this run; the outcomes and "
                "findings of the other products (inputs unchanged since they were validated) "
                "were reused"
            ),
        },
        **result,
    }


def validate_work(job: ValidationJob, validator: Validator | None = None) -> dict[str, int]:
    """The validate stage over a work folder, incrementally.

    A product whose key (`product_keys`) is the one recorded when it was last validated
    keeps its outcomes and data-quality findings; Great Expectations runs only over the
    other products and their nutrient rows (and is not imported when there are none).
    With `job.full` or a docs folder, every product is validated. Read-issue findings are
    recomputed every time. Writes outcomes.parquet, data_quality.parquet (with `line_no`),
    the two GX result files (of this run's validation) and the state; returns counts.
    `validator`: a GX context made beforehand (not used when the job renders Data Docs).
    """
    from pipeline.config import WorkPaths
    from pipeline.runs import atomic_write_parquet, atomic_write_text

    work = WorkPaths(Path(job.work_root))
    state_path = work.root / STATE_FILE
    products = _read_table(work.products)
    nutrients = _read_table(work.nutrients)
    read_issues = _read_table(work.read_issues)
    keys = product_keys(products, nutrients, job.salt)

    previous: dict[str, str] = {}
    if not job.full and job.docs_dir is None:
        previous = _previous_state(state_path, [work.outcomes, work.data_quality])
    reused = {pid for pid, key in keys.items() if previous.get(pid) == key}
    old_outcomes: list[dict[str, Any]] = []
    old_findings: list[dict[str, Any]] = []
    if reused:
        outcomes_before = pd.read_parquet(work.outcomes)
        old_outcomes = _outcome_records(outcomes_before[outcomes_before["product_id"].isin(reused)])
        findings_before = pd.read_parquet(work.data_quality)
        keep = findings_before["product_id"].isin(reused) & (findings_before["check"] != "read")
        old_findings = _finding_records(findings_before[keep])
    state_path.unlink(missing_ok=True)

    todo = ~products["product_id"].isin(reused)
    new_products = products[todo].reset_index(drop=True)
    new_nutrients = nutrients[nutrients["product_id"].isin(new_products["product_id"])]
    new_outcomes: list[dict[str, Any]] = []
    new_findings: list[dict[str, Any]] = []
    protocol_result: dict[str, Any] = {"results": []}
    quality_result: dict[str, Any] = {"rows": {"results": []}, "products": {"results": []}}
    if len(new_products):
        if job.docs_dir is not None:
            validator = Validator(docs_dir=Path(job.docs_dir))
        validator = validator or Validator()
        outcomes_frame, protocol_result = products_to_outcomes(
            new_products, job.protocol, validator
        )
        new_outcomes = _outcome_records(outcomes_frame)
        new_findings, quality_result = gx_findings(
            new_nutrients.reset_index(drop=True), new_products, validator
        )

    by_product: dict[str, list[dict[str, Any]]] = {}
    for outcome in [*old_outcomes, *new_outcomes]:
        by_product.setdefault(outcome["product_id"], []).append(outcome)
    check_order = {check: i for i, check in enumerate(CHECKS)}
    outcomes = pd.DataFrame(
        [
            outcome
            for pid in products["product_id"]
            for outcome in sorted(by_product.get(pid, []), key=lambda o: check_order[o["check"]])
        ],
        columns=OUTCOME_COLUMNS,
    )
    findings = findings_frame([*read_findings(products, read_issues), *old_findings, *new_findings])
    validated, kept = int(todo.sum()), len(reused)
    atomic_write_parquet(work.outcomes, outcomes)
    atomic_write_parquet(work.data_quality, findings)
    for path, result in (
        (work.gx_protocol_result, protocol_result),
        (work.gx_data_quality_result, quality_result),
    ):
        labelled = _labelled(result, validated, kept)
        text = json.dumps(labelled, indent=2, ensure_ascii=False, default=str) + "\n"
        atomic_write_text(path, text)
    atomic_write_text(state_path, json.dumps({"salt": job.salt, "products": keys}) + "\n")
    return {
        "products_validated": validated,
        "products_reused": kept,
        "label_rows_validated": len(new_nutrients),
    }


def _read_table(path: Path) -> pd.DataFrame:
    from pipeline.errors import AuditError

    if not path.exists():
        raise AuditError(f"{path} does not exist: run the earlier stage first")
    return pd.read_parquet(path)


def _previous_state(state_path: Path, outputs: Iterable[Path]) -> dict[str, str]:
    """The keys recorded by the last validation, if it and its outputs are all there."""
    if not all(p.exists() for p in outputs):
        return {}
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        products = state["products"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return products if isinstance(products, dict) else {}


def conversions_used() -> list[dict[str, str]]:
    """The conversion factors, for the methodology section."""
    out = [
        {"from": "1 g", "to": "1000 mg"},
        {"from": "1 mg", "to": "1000 mcg (mcg = µg = ug)"},
    ]
    labels = {
        "vitamin_d": "1 IU vitamin D",
        "vitamin_a_retinol": "1 IU vitamin A (retinol)",
        "vitamin_e_natural": "1 IU vitamin E (natural, d-alpha)",
        "vitamin_e_synthetic": "1 IU vitamin E (synthetic, dl-alpha)",
    }
    for key, factor in IU_TO_MCG.items():
        to = f"{factor:g} mcg" if factor < 100 else f"{factor / 1000:g} mg"
        out.append({"from": labels[key], "to": to + (" RAE" if "vitamin_a" in key else "")})
    out.append({"from": "1 IU vitamin A (beta-carotene)", "to": "not converted: disputed factor"})
    return out


def daily_values() -> Iterable[dict[str, str]]:
    for key in (nt.CALCIUM, nt.MAGNESIUM, nt.VITAMIN_K2, nt.VITAMIN_D):
        info = nt.NUTRIENTS[key]
        name = "Vitamin K" if key == nt.VITAMIN_K2 else info.display
        yield {
            "nutrient": name,
            "current": f"{info.dv_current:g} {info.unit}",
            "older": f"{info.dv_older:g} {info.unit}",
        }


def main() -> int:
    """`python -m pipeline.validate`: imports Great Expectations at once, then reads a
    pickled ValidationJob on stdin (nothing: exit, it was not needed after all) and writes
    one JSON line on stdout: {"counts": ...} or {"error": "<one line>", "tb": "<traceback>"}.

    The audit runs the stage this way on large inputs (pipeline.audit.ValidationProcess):
    GX's import overlaps the audit's extraction and normalization, and its memory goes
    with the process before the report is built."""
    import pickle
    import sys
    import traceback

    from pipeline.errors import AuditError

    # The module's own names, not this __main__ copy's (the job's classes are the module's).
    from pipeline.validate import Validator as ModuleValidator
    from pipeline.validate import validate_work as run

    import_error: BaseException | None = None
    validator = None
    try:
        import pipeline.expectations  # noqa: F401  (GX and the suites)

        validator = ModuleValidator()
    except Exception as exc:  # reported when the job comes
        import_error = exc
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    data = sys.stdin.buffer.read()
    if not data:
        return 0
    try:
        if import_error is not None:
            raise import_error
        answer: dict[str, Any] = {"counts": run(pickle.loads(data), validator)}
    except AuditError as exc:
        answer = {"error": str(exc), "tb": traceback.format_exc()}
    except Exception as exc:
        said = " ".join(str(exc).split())  # one line
        answer = {"error": f"validate: {type(exc).__name__}: {said}", "tb": traceback.format_exc()}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
