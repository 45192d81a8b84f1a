"""Benchmark: `labelaudit audit` against a naive pdfplumber loop, on N generated label PDFs.

    python -m bench.run --n 2000 [--json results.json] [--jobs J] [--keep DIR]

Writes N label PDFs (real DSLD labels, cycling through the labels and the layouts of
labelgen.pdf_layouts; every file's content is distinct, so the extraction cache cannot
reuse one file's reading for another), then times on the same files, in one run:

(a) baseline: one process opens each PDF with pdfplumber and calls `extract_text` on every
    page, sequentially;
(b) cold: `labelaudit audit` with an empty work folder (default jobs: all cores);
(c) warm: the same command again, nothing changed;
(d) changed: again after 1% of the files were rewritten with different content.

How memory is measured: each step runs in a fresh wrapper process (`python -m bench.run
_measure CMD...`) that starts the step as its only child, waits for it, and reports
`getrusage(RUSAGE_CHILDREN)`. On Linux that covers the child and every descendant that
was waited for by its parent (the audit's pool workers are joined at shutdown), and its
`ru_maxrss` is the peak RSS of the *largest single process* among them, not a sum. The
wrapper therefore also samples the whole process tree every 0.1 s (/proc) and reports the
peak of the summed PSS (proportional set size: pages shared copy-on-write between the
parent and its forked workers are split between them, not counted twice). A fresh wrapper
per step matters because RUSAGE_CHILDREN's maximum only ever grows within one process.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent

#: Targets on the 2-core reference machine at N=2000 (see bench/README.md).
TARGETS = {
    "cold_vs_baseline": 0.6,
    "warm_vs_cold": 0.15,
    "changed_vs_cold": 0.2,
    "max_memory_mb": 500.0,
}
#: Share of the files rewritten before the last run.
CHANGED_FRACTION = 0.01
#: Labels per file in the "multi" layout.
MULTI_SIZE = 3
SAMPLE_SECONDS = 0.1

Label = dict[str, Any]


# ---- the corpus -------------------------------------------------------------------------------


def corpus_labels() -> list[Label]:
    """The real DSLD labels the files are made from (labelgen.products)."""
    from labelgen.products import dsld_labels

    return dsld_labels()


def file_plan(n: int, n_labels: int) -> list[tuple[str, list[int]]]:
    """For file i: its layout (cycling through LAYOUTS) and the label indices it prints
    (cycling through the labels; MULTI_SIZE consecutive labels in the "multi" layout)."""
    from labelgen.pdf_layouts import LAYOUTS

    plan: list[tuple[str, list[int]]] = []
    for i in range(n):
        layout = LAYOUTS[i % len(LAYOUTS)]
        count = MULTI_SIZE if layout == "multi" else 1
        plan.append((layout, [(i + k) % n_labels for k in range(count)]))
    return plan


def file_name(index: int, layout: str) -> str:
    return f"label-{index:06d}-{layout}.pdf"


def variant(label: Label, serial: int, edition: int) -> Label:
    """A copy of `label` whose printed product name carries `serial` and `edition`, so
    that no two files (nor two editions of one file) have the same content."""
    out = copy.deepcopy(label)
    out["product_name"] = f"{label['product_name']} No. {serial}-{edition}"
    return out


def render_file(
    folder: Path,
    index: int,
    layout: str,
    label_ids: Sequence[int],
    labels: Sequence[Label],
    *,
    edition: int = 1,
) -> Path:
    """Write file `index` of the corpus (in `layout`, printing `label_ids`) into `folder`."""
    from labelgen.pdf_layouts import render_pdf

    group = [variant(labels[k], index * MULTI_SIZE + j, edition) for j, k in enumerate(label_ids)]
    path = folder / file_name(index, layout)
    render_pdf(group, path, layout)
    return path


def write_corpus(folder: Path, n: int) -> list[Path]:
    """Write N distinct label PDFs into `folder`; returns their paths in order."""
    labels = corpus_labels()
    folder.mkdir(parents=True, exist_ok=True)
    return [
        render_file(folder, i, layout, ids, labels)
        for i, (layout, ids) in enumerate(file_plan(n, len(labels)))
    ]


def changed_indices(n: int, fraction: float = CHANGED_FRACTION) -> list[int]:
    """Which files the "changed" step rewrites: `fraction` of N (at least one), spread
    evenly over the corpus."""
    count = max(1, round(n * fraction))
    step = n / count
    return sorted({int(k * step) for k in range(count)})


def change_files(folder: Path, n: int, fraction: float = CHANGED_FRACTION) -> list[Path]:
    """Rewrite `changed_indices(n, fraction)` with different content (a new edition)."""
    labels = corpus_labels()
    plan = file_plan(n, len(labels))
    return [
        render_file(folder, i, plan[i][0], plan[i][1], labels, edition=2)
        for i in changed_indices(n, fraction)
    ]


# ---- the baseline -----------------------------------------------------------------------------


def baseline_loop(folder: Path) -> tuple[int, int]:
    """The naive reader: every PDF opened with pdfplumber, `extract_text` on every page,
    one file after another. Returns (files, pages)."""
    import pdfplumber

    files = pages = 0
    for path in sorted(folder.glob("*.pdf")):
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                page.extract_text()
                pages += 1
        files += 1
    return files, pages


# ---- measuring one step -----------------------------------------------------------------------


@dataclass
class Step:
    """One measured step: wall time of the command, and memory from the OS."""

    name: str
    wall_s: float
    returncode: int
    max_rss_mb: float  # ru_maxrss of RUSAGE_CHILDREN: the largest single process
    peak_tree_pss_mb: float  # sampled peak of the summed PSS of the process tree
    peak_tree_rss_mb: float  # the same with RSS (counts shared pages once per process)
    cpu_s: float  # user + system CPU of the command and its waited-for descendants
    files: int = 0
    files_per_s: float = 0.0
    load_before: float = 0.0  # 1-minute load average when the step started (others' work)
    output: str = ""


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces or parentheses.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children_of()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _memory_kb(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in kB; (0, 0) if it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        return 0, 0
    return pss, rss


def _tree_memory_kb(root: int) -> tuple[int, int]:
    pss = rss = 0
    for pid in _descendants(root):
        p, r = _memory_kb(pid)
        pss += p
        rss += r
    return pss, rss


def measure_here(cmd: Sequence[str], *, cwd: Path | None = None) -> dict[str, Any]:
    """Run `cmd` as this process's child and report its wall time and memory.

    Only meaningful in a fresh process (the `_measure` wrapper): RUSAGE_CHILDREN covers
    every child this process has waited for so far.
    """
    sampling = Path("/proc/self/smaps_rollup").exists()
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    chunks: list[str] = []
    peak_pss = peak_rss = 0
    import threading

    reader = threading.Thread(
        target=lambda: chunks.append(proc.stdout.read() if proc.stdout else "")
    )
    reader.start()
    while True:
        try:
            proc.wait(timeout=SAMPLE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if sampling:
                pss, rss = _tree_memory_kb(proc.pid)
                peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
    wall = time.perf_counter() - started
    reader.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall,
        "returncode": proc.returncode,
        "max_rss_kb": usage.ru_maxrss,  # kB on Linux
        "peak_tree_pss_kb": peak_pss,
        "peak_tree_rss_kb": peak_rss,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "output": "".join(chunks)[-4000:],
    }


def measure(name: str, cmd: Sequence[str], *, files: int, cwd: Path | None = None) -> Step:
    """Run `cmd` inside a fresh `_measure` wrapper process; its report as a Step."""
    wrapper = [sys.executable, "-m", "bench.run", "_measure", *cmd]
    os.sync()  # the files just written (generated or changed) go to disk before, not during
    load = os.getloadavg()[0]
    done = subprocess.run(wrapper, cwd=cwd or REPO_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {name} failed:\n{done.stdout}\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    step = Step(
        name=name,
        wall_s=round(report["wall_s"], 3),
        returncode=report["returncode"],
        max_rss_mb=round(report["max_rss_kb"] / 1024, 1),
        peak_tree_pss_mb=round(report["peak_tree_pss_kb"] / 1024, 1),
        peak_tree_rss_mb=round(report["peak_tree_rss_kb"] / 1024, 1),
        cpu_s=round(report["cpu_s"], 3),
        files=files,
        files_per_s=round(files / report["wall_s"], 1) if report["wall_s"] > 0 else 0.0,
        load_before=round(load, 2),
        output=report["output"],
    )
    if step.returncode != 0:
        raise RuntimeError(f"{name} exited {step.returncode}:\n{step.output}")
    return step


# ---- the whole benchmark ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import pdfplumber

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):  # pragma: no cover
        mem_gb = None
    return {
        "cores": cores,
        "cpu_model": model,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "pdfplumber": pdfplumber.__version__,
        "platform": platform.platform(),
    }


@dataclass
class Results:
    n: int
    machine: dict[str, Any]
    generate_s: float
    changed_files: int
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def ratios(self) -> dict[str, float]:
        wall = {name: step.wall_s for name, step in self.steps.items()}
        return {
            "cold_vs_baseline": round(wall["cold"] / wall["baseline"], 3),
            "warm_vs_cold": round(wall["warm"] / wall["cold"], 3),
            "changed_vs_cold": round(wall["changed"] / wall["cold"], 3),
        }

    @property
    def max_memory_mb(self) -> float:
        """The larger of the two memory figures over the audit steps."""
        return max(
            max(s.max_rss_mb, s.peak_tree_pss_mb)
            for name, s in self.steps.items()
            if name != "baseline"
        )

    def checks(self) -> dict[str, bool]:
        ratios = self.ratios
        out = {key: ratios[key] <= TARGETS[key] for key in ratios}
        out["max_memory_mb"] = self.max_memory_mb < TARGETS["max_memory_mb"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "machine": self.machine,
            "generate_s": self.generate_s,
            "changed_files": self.changed_files,
            "steps": {
                name: {k: v for k, v in asdict(step).items() if k != "output"}
                for name, step in self.steps.items()
            },
            "ratios": self.ratios,
            "max_memory_mb": self.max_memory_mb,
            "targets": TARGETS,
            "meets_targets": self.checks(),
        }


def audit_command(labels: Path, out: Path, work: Path, jobs: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "pipeline", "audit", str(labels), "--out", str(out)]
    cmd += ["--work", str(work), "--quiet"]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    return cmd


def run_bench(n: int, root: Path, *, jobs: int | None = None, log: bool = True) -> Results:
    """Generate the corpus under `root` and measure the four steps."""

    def say(text: str) -> None:
        if log:
            print(text, file=sys.stderr, flush=True)

    labels_dir, out, work = root / "labels", root / "reports", root / "work"
    started = time.perf_counter()
    write_corpus(labels_dir, n)
    results = Results(
        n=n,
        machine=machine(),
        generate_s=round(time.perf_counter() - started, 3),
        changed_files=0,
    )
    say(f"wrote {n} label PDFs in {results.generate_s:.1f} s into {labels_dir}")
    baseline = [sys.executable, "-m", "bench.run", "_baseline", str(labels_dir)]
    audit = audit_command(labels_dir, out, work, jobs)
    for name, cmd in (("baseline", baseline), ("cold", audit), ("warm", audit)):
        say(f"measuring {name} ...")
        results.steps[name] = measure(name, cmd, files=n)
    results.changed_files = len(change_files(labels_dir, n))
    say(f"rewrote {results.changed_files} files; measuring changed ...")
    results.steps["changed"] = measure("changed", audit, files=n)
    return results


def format_results(results: Results) -> str:
    m = results.machine
    lines = [
        f"labelaudit benchmark: N={results.n} label PDFs "
        f"({results.changed_files} rewritten for the last step)",
        f"machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gb']} GiB, "
        f"Python {m['python']}, pdfplumber {m['pdfplumber']}",
        "",
        f"{'step':<10}{'wall s':>9}{'files/s':>10}{'CPU s':>9}"
        f"{'max RSS MB':>12}{'tree PSS MB':>13}{'load':>7}",
    ]
    for step in results.steps.values():
        lines.append(
            f"{step.name:<10}{step.wall_s:>9.2f}{step.files_per_s:>10.1f}{step.cpu_s:>9.2f}"
            f"{step.max_rss_mb:>12.1f}{step.peak_tree_pss_mb:>13.1f}{step.load_before:>7.2f}"
        )
    ratios, checks = results.ratios, results.checks()
    lines.append("(load: the 1-minute load average as the step started; above 0 other work")
    lines.append(" shared the cores, which slows the parallel audit more than the baseline)")
    lines.append("")
    names = {
        "cold_vs_baseline": "(b)/(a) cold / baseline",
        "warm_vs_cold": "(c)/(b) warm / cold",
        "changed_vs_cold": "(d)/(b) 1% changed / cold",
    }
    for key, label in names.items():
        verdict = "ok" if checks[key] else "over target"
        lines.append(f"{label:<28}{ratios[key]:>7.3f}  (target <= {TARGETS[key]}: {verdict})")
    verdict = "ok" if checks["max_memory_mb"] else "over target"
    lines.append(
        f"{'peak memory of the audit':<28}{results.max_memory_mb:>7.1f} MB "
        f"(target < {TARGETS['max_memory_mb']:.0f}: {verdict})"
    )
    return "\n".join(lines)


def bench_arguments(
    module: str, doc: str | None, n: int, n_help: str, argv: Sequence[str]
) -> argparse.Namespace:
    """The options of a benchmark's command line (`python -m <module>`)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=(doc or "").split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=n, help=n_help)
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for labelaudit")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    args = parser.parse_args(list(argv))
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["_measure"]:
        print(json.dumps(measure_here(args_in[1:])))
        return 0
    if args_in[:1] == ["_baseline"]:
        files, pages = baseline_loop(Path(args_in[1]))
        print(f"baseline: {files} files, {pages} pages")
        return 0
    args = bench_arguments("bench.run", __doc__, 200, "label PDFs to generate", args_in)
    if args.keep is not None:
        if args.keep.exists():
            shutil.rmtree(args.keep)
        results = run_bench(args.n, args.keep, jobs=args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="labelaudit-bench-") as tmp:
            results = run_bench(args.n, Path(tmp), jobs=args.jobs)
    print(format_results(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
