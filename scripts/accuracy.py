"""Accuracy on a folder of real label images with hand-transcribed truth (`make accuracy`).

    python -m scripts.accuracy [--dev-set DIR] [--ocr-engine NAME] [--work DIR] [--jobs N]

Runs `labelaudit audit` on DIR/labels (default: ../shared/realworld-dev beside the repo)
into a temporary folder, then scores the audit.json with DIR/score.py against
DIR/truth.json: per file its status (read / rejected with the reason / unaccounted), panel
rows right and protocol fields right, and the totals on the last line. Prints the scorer's
report as it is and the seconds the audit took. Measurement only: nothing under DIR is
copied anywhere, and the product never reads it. Exits 0 when it scored, 1 when the dev set
is absent or the audit could not run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DEV_SET = Path("shared") / "realworld-dev"
#: The per-file time limit of the measured audit (seconds).
MEASURE_FILE_TIMEOUT_S = 900


def default_dev_set() -> Path:
    """../shared/realworld-dev beside the repository; for a git worktree kept deeper
    (wt/BRANCH), the nearest folder above the repository that holds shared/realworld-dev."""
    for parent in REPO_DIR.parents:
        if (parent / DEV_SET).is_dir():
            return parent / DEV_SET
    return REPO_DIR.parent / DEV_SET


def audit_command(
    labels: Path, out: Path, work: Path, engine: str | None, jobs: int | None
) -> list[str]:
    cmd = [sys.executable, "-m", "pipeline", "audit", str(labels), "--out", str(out)]
    cmd += ["--work", str(work), "--full", "--quiet"]
    # A shared machine can make one image take several times its quiet seconds: the
    # measurement must score what the reader reads, not the product's 120 s per-file limit.
    cmd += ["--file-timeout", str(MEASURE_FILE_TIMEOUT_S)]
    if engine:
        cmd += ["--ocr-engine", engine]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-set", type=Path, default=None)
    parser.add_argument(
        "--ocr-engine", default=None, help="tesseract or rapidocr (default: the CLI's)"
    )
    parser.add_argument("--work", type=Path, default=None, help="keep the audit's output here")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    dev: Path = (args.dev_set or default_dev_set()).resolve()
    labels, truth, scorer = dev / "labels", dev / "truth.json", dev / "score.py"
    missing = [p for p in (labels, truth, scorer) if not p.exists()]
    if missing:
        print(
            f"make accuracy: the dev set is absent: {', '.join(str(p) for p in missing)} not found"
        )
        print(
            "(it is ../shared/realworld-dev beside the repository: labels/, truth.json, score.py)"
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="labelaudit-accuracy-") as tmp:
        root = args.work.resolve() if args.work else Path(tmp)
        out, work = root / "reports", root / "work"
        out.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        done = subprocess.run(
            audit_command(labels, out, work, args.ocr_engine, args.jobs), cwd=REPO_DIR, check=False
        )
        seconds = time.perf_counter() - start
        audit_json = out / "audit.json"
        if not audit_json.exists():
            print(f"make accuracy: the audit wrote no audit.json (exit {done.returncode})")
            return 1
        scored = subprocess.run(
            [sys.executable, str(scorer), str(audit_json), str(truth)],
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"dev set: {dev}")
        print(scored.stdout, end="")
        n_files = sum(1 for p in labels.rglob("*") if p.is_file())
        print(
            f"audit: {seconds:.1f} s for {n_files} files ({seconds / max(n_files, 1):.2f} s a file)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
