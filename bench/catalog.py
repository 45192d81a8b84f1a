"""Catalog benchmark: `labelaudit audit` on a DSLD-style zip of N labels, beside a bare loop.

    python -m bench.catalog --n 40000 [--jobs J] [--keep DIR] [--json results.json]

Builds `DSLD-full-database-JSON.zip` holding N label JSON files (`DSLD/<id>.json`, as the
DSLD's full download), made from the 163 committed real labels (labelgen.products): label
i is real label i mod 163 with its own DSLD id, its own name ("... lot i") and its own
amounts (every quantity scaled by a factor of i), so no two members are alike. Then, in
one run, each step measured in a fresh wrapper process (bench.run.measure: wall time, and
the peak PSS summed over the process tree):

(a) loop: one process opens the zip and `json.loads` every member, nothing else;
(b) cold: `labelaudit audit` with an empty work folder;
(c) unchanged: the same command again on the same zip;
(d) 1% changed: a new zip (same name) in which 1% of the labels changed.

Targets (issue 16, at N=40,000): (b) <= 3 (a), (c) <= 0.5 (a), (d) <= 1 (a), peak PSS
<= 800 MB at any N. Also printed: the sizes of the report's files.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report_scale import CHROMIUM, browse
from bench.run import Step, audit_command, bench_arguments, machine, measure
from labelgen.dsld_formats import to_dsld_api_json
from labelgen.products import dsld_labels

ZIP_NAME = "DSLD-full-database-JSON.zip"
TARGETS = {"cold": 3.0, "unchanged": 0.5, "changed": 1.0}
MAX_PSS_MB = 800.0
CHANGED_FRACTION = 0.01
#: Report files whose size is printed (under the reports folder; work files under work/).
REPORT_FILES = ("audit.html", "audit.json", "products.jsonl", "ranking.csv")
WORK_FILES = ("report_pieces.sqlite", "label_rows.parquet", "cache")
#: What the browser check reads of each product.
BROWSER_FIELDS = ("rank", "product_id", "product_name", "score", "verdict")


def label_document(base: dict[str, Any], serial: int, edition: int = 0) -> dict[str, Any]:
    """Real label `base` (DSLD API JSON) as label `serial` of the catalog: its own id,
    name and amounts; `edition` > 0 is a changed label (another name and amounts)."""
    doc = json.loads(json.dumps(base))
    doc["id"] = str(1_000_000 + serial)
    doc["fullName"] = f"{base['fullName']} lot {serial}" + (f" ed {edition}" if edition else "")
    factor = 1 + ((serial * 7 + edition * 3) % 40) / 100

    def scale(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            for quantity in row.get("quantity") or []:
                if isinstance(quantity.get("quantity"), int | float) and quantity["quantity"]:
                    quantity["quantity"] = round(quantity["quantity"] * factor, 2)
            scale(row.get("nestedRows") or [])

    scale(doc["ingredientRows"])
    return doc


def write_catalog(path: Path, n: int, changed: frozenset[int] = frozenset()) -> None:
    """The zip of N labels (`changed`: the serials written as a new edition)."""
    bases = [to_dsld_api_json(label) for label in dsld_labels()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for serial in range(n):
            doc = label_document(bases[serial % len(bases)], serial, 1 if serial in changed else 0)
            archive.writestr(f"DSLD/{doc['id']}.json", json.dumps(doc, indent=1))
    tmp.replace(path)


def changed_serials(n: int) -> frozenset[int]:
    count = max(1, round(n * CHANGED_FRACTION))
    step = n / count
    return frozenset(int(i * step) for i in range(count))


def loop(path: Path) -> int:
    """(a): the bare loop: every member of the zip through json.loads."""
    count = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            json.loads(archive.read(info))
            count += 1
    return count


def _size_mb(path: Path) -> float | None:
    if not path.exists():
        return None
    if path.is_dir():
        return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)
    return round(path.stat().st_size / 2**20, 1)


def report_products(audit_json: Path) -> dict[str, Any]:
    """What the browser check needs of audit.json: its summary and, per product, the
    fields the page shows; read a product line at a time (each product is one line)."""
    products: list[dict[str, Any]] = []
    head: list[str] = []
    with audit_json.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.strip().rstrip(",")
            if text.startswith('{"rank"'):
                product = json.loads(text)
                products.append({k: product.get(k) for k in BROWSER_FIELDS})
            elif not products:
                head.append(line)
    text = "".join(head)  # the document up to '"products": [': its first keys
    summary = json.loads(text[: text.rindex('"products"')].rstrip().rstrip(",") + "}")["summary"]
    return {"summary": summary, "products": products}


def check_in_browser(reports: Path) -> list[str] | None:
    """The Chromium check (bench.report_scale.browse) on the run's audit.html: it shows
    its summary within 3 s, sorts, filters, searches and opens a product's card; the failed
    checks (None: no Chromium here)."""
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}: browser check skipped", file=sys.stderr)
        return None
    if importlib.util.find_spec("playwright") is None:  # the measured steps are not lost
        print("no playwright (pip install -e '.[dev]'): browser check skipped", file=sys.stderr)
        return None
    print("checking audit.html in Chromium ...", file=sys.stderr, flush=True)
    reports = reports.resolve()
    return browse(report_products(reports / "audit.json"), reports / "audit.html")


def run(n: int, root: Path, jobs: int | None, browse_report: bool = True) -> dict[str, Any]:
    labels, out, work = root / "labels", root / "reports", root / "work"
    started = time.perf_counter()
    write_catalog(labels / ZIP_NAME, n)
    generated = time.perf_counter() - started
    print(f"wrote {n} labels into {labels / ZIP_NAME} in {generated:.1f} s", file=sys.stderr)
    audit = audit_command(labels, out, work, jobs)
    steps: dict[str, Step] = {}
    bare = [sys.executable, "-m", "bench.catalog", "_loop", str(labels / ZIP_NAME)]
    for name, cmd in (("loop", bare), ("cold", audit), ("unchanged", audit)):
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        steps[name] = measure(name, cmd, files=n)
    write_catalog(labels / ZIP_NAME, n, changed_serials(n))
    print("measuring 1% changed ...", file=sys.stderr, flush=True)
    steps["changed"] = measure("changed", audit, files=n)
    browser = check_in_browser(out) if browse_report else None
    sizes = {name: _size_mb(out / name) for name in REPORT_FILES}
    sizes |= {name: _size_mb(work / name) for name in WORK_FILES}
    return {
        "n": n,
        "machine": machine(),
        "zip_mb": _size_mb(labels / ZIP_NAME),
        "steps": {
            k: {kk: vv for kk, vv in vars(v).items() if kk != "output"} for k, v in steps.items()
        },
        "sizes_mb": sizes,
        "browser_failures": browser,
    }


def format_results(results: dict[str, Any]) -> str:
    m, steps = results["machine"], results["steps"]
    base = steps["loop"]["wall_s"]
    lines = [
        f"catalog benchmark: N={results['n']} labels in one zip ({results['zip_mb']} MB)",
        f"machine: {m['cores']} cores, {m['cpu_model']}, Python {m['python']}",
        "",
        f"{'step':<11}{'wall s':>9}{'x loop':>8}{'target':>8}{'CPU s':>9}{'tree PSS MB':>13}"
        f"{'load':>7}",
    ]
    for name, step in steps.items():
        target = f"<= {TARGETS[name]:g}" if name in TARGETS else ""
        lines.append(
            f"{name:<11}{step['wall_s']:>9.2f}{step['wall_s'] / base:>8.2f}{target:>8}"
            f"{step['cpu_s']:>9.2f}{step['peak_tree_pss_mb']:>13.1f}{step['load_before']:>7.2f}"
        )
    peak = max(s["peak_tree_pss_mb"] for k, s in steps.items() if k != "loop")
    lines.append(f"peak PSS of the audit: {peak:.1f} MB (target <= {MAX_PSS_MB:.0f})")
    lines.append(
        "sizes (MB): "
        + ", ".join(f"{k} {v}" for k, v in results["sizes_mb"].items() if v is not None)
    )
    failures = results.get("browser_failures")
    if failures is not None:
        lines.append(
            "Chromium: " + ("every check passed" if not failures else f"FAILED {failures}")
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["_loop"]:
        print(f"loop: {loop(Path(args_in[1]))} members")
        return 0
    if args_in[:1] == ["_browse"]:  # the browser check alone, on a kept run's reports
        return 1 if check_in_browser(Path(args_in[1])) else 0
    args = bench_arguments("bench.catalog", __doc__, 10_000, "labels in the zip", args_in)
    if args.keep is not None:
        shutil.rmtree(args.keep, ignore_errors=True)
        results = run(args.n, args.keep, args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="labelaudit-catalog-") as tmp:
            results = run(args.n, Path(tmp), args.jobs)
    print(format_results(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
