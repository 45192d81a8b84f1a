"""Property-style: a few hundred label files mangled from the committed samples (truncated,
bit-flipped, renamed to another suffix, emptied, given huge fields, odd names), all in one
folder, through one `labelaudit audit` run.

Whatever the files hold, the run exits 0; every file is accounted for (it gave products,
was rejected, is listed as not a label or as a companion file); audit.json is valid JSON;
audit.html is whole. The generator is seeded: a failure names its seed and is repeatable.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import REPO

SAMPLES = sorted(
    p
    for p in (REPO / "data" / "raw").rglob("*")
    if p.is_file() and p.suffix in {".pdf", ".csv", ".json"}
)
SUFFIXES = [".pdf", ".csv", ".json", ".png", ".jpg", ".tif", ".txt", ".PDF", ""]
FILES = 240
SEEDS = [20261201]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def _flip_bits(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _empty(data: bytes, rng: random.Random) -> bytes:
    return b""


def _huge_field(data: bytes, rng: random.Random) -> bytes:
    """A text sample with one field blown up (a 200,000-character name, digits, or a
    string of formula characters); a binary one with a huge run of bytes spliced in."""
    filler = rng.choice([b"A" * 200_000, b"9" * 50_000, b"=+-@" * 20_000, b"\xff\xfe" * 30_000])
    if data.startswith(b"%PDF"):
        i = rng.randrange(len(data))
        return data[:i] + filler + data[i:]
    text = data
    for needle in (b"Calcium", b'"fullName"', b"product_name", b"mg"):
        if needle in text:
            return text.replace(needle, needle + filler, 1)
    return text + filler


def _shuffle_lines(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    rng.shuffle(lines)
    return b"\n".join(lines)


def _as_is(data: bytes, rng: random.Random) -> bytes:
    return data


MANGLERS: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate,
    _flip_bits,
    _empty,
    _huge_field,
    _shuffle_lines,
    _as_is,
]


def _name(rng: random.Random, n: int, sample: Path) -> bytes:
    """A file name (bytes): mostly plain, sometimes another suffix, a name that is not
    valid UTF-8, spaces and quotes, or a name that starts like a formula."""
    suffix = sample.suffix if rng.random() < 0.6 else rng.choice(SUFFIXES)
    stem = rng.choice(
        [
            f"label-{n:04d}",
            f"label {n:04d} (copy)",
            f"=HYPERLINK-{n:04d}",
            f"caf\udce9-{n:04d}",  # the byte 0xE9 alone: not UTF-8
            f"\"quoted\" '{n:04d}'",
            f"sub/nested-{n:04d}",
        ]
    )
    return os.fsencode(stem + suffix)


def _display(name: bytes) -> str:
    return name.decode("utf-8", "backslashreplace")


def _make_folder(folder: Path, seed: int) -> set[str]:
    """FILES mangled files under `folder`; returns their names as the report shows them."""
    rng = random.Random(seed)
    originals = {p: p.read_bytes() for p in SAMPLES}
    names: set[str] = set()
    for n in range(FILES):
        sample = rng.choice(SAMPLES)
        data = originals[sample]
        for mangle in rng.sample(MANGLERS, rng.randint(1, 2)):
            data = mangle(data, rng)
        name = _name(rng, n, sample)
        path = os.path.join(os.fsencode(folder), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        names.add(_display(name))
    return names


@pytest.mark.parametrize("seed", SEEDS)
def test_a_folder_of_mangled_labels_is_audited_and_every_file_accounted_for(
    tmp_path: Path, seed: int
) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    expected = _make_folder(labels, seed)
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "audit",
            str(labels),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--jobs",
            "2",
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"seed {seed}: {run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr
    audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    accounted = (
        {p["source_file"] for p in audit["products"]}
        | {r["source_file"] for r in audit["rejected"]}
        | {n["source_file"] for n in audit["not_labels"]}
        | set(audit["summary"]["companion_files"])
    )
    assert accounted == expected, f"seed {seed}"
    internal = [r for r in audit["rejected"] if "unexpected" in r["reason"]]
    assert internal == [], f"seed {seed}: an internal error, not a reason a person can act on"
    summary = audit["summary"]
    assert summary["files"] + len(summary["companion_files"]) == len(expected)
    assert summary["products"] == len(audit["products"])
    assert summary["rejected_files"] == len(audit["rejected"])
    html = (out / "audit.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    assert html.count("<article") == len(audit["products"])
