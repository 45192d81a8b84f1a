"""What lets a stage be skipped, or redo only what changed: fingerprints, done markers and
per-product keys, each a content hash plus the code version (pipeline.infra.versions).

* `fingerprint(stage, inputs, settings)`: the stage's input files' digests, its code
  version and its settings (the protocol). A stage records it with the digests of its
  outputs in `work/.<stage>.done` (`mark_done`); a later run with the same fingerprint,
  the outputs being the very files recorded, reads them back (`up_to_date`).
* `state_text` / `previous_keys`: the validate stage's per-product keys
  (validation_state.json), with the digests of the outputs their results are in.
* `product_report_keys`: per product, the key of its part of the report (its validation
  key and its data-quality findings), for the report's piece store.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.infra.atomic import atomic_write_text
from pipeline.infra.cache import file_digest
from pipeline.infra.versions import code_version

log = logging.getLogger(__name__)


def fingerprint(stage: str, inputs: Sequence[Path], settings: Any = None) -> str | None:
    """What `stage`'s outputs depend on; None when an input is missing (the stage then
    says which, when it reads it)."""
    if not all(p.exists() for p in inputs):
        return None
    payload = json.dumps(
        [__version__, code_version(stage), [file_digest(p) for p in inputs], settings],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def read_record(path: Path, field: str, value: str) -> dict[str, Any] | None:
    """The JSON object in `path` when its `field` is `value` (a done marker of this
    fingerprint, an index of this salt); None when it is not, or is not there or sound."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get(field) != value:
        return None
    return recorded


def done_marker(root: Path, stage: str) -> Path:
    """The stage's done marker in the work folder `root`."""
    return root / f".{stage}.done"


def up_to_date(marker: Path, stage_fingerprint: str | None, outputs: Sequence[Path]) -> bool:
    """Whether the stage's done `marker` records `stage_fingerprint` (its inputs are
    unchanged) and each of `outputs` is the very file the stage wrote (its sha256 as
    recorded). An output that is there but does not match (damaged, or replaced by another
    run's) is logged: the stage is run again, never counted as reused."""
    if stage_fingerprint is None:
        return False
    recorded = read_record(marker, "fingerprint", stage_fingerprint)
    if recorded is None:
        return False
    digests = recorded.get("outputs")
    if not isinstance(digests, dict):
        return False
    for path in outputs:
        if not path.exists():
            return False
        if digests.get(path.name) != file_digest(path):
            log.warning(
                "%s: %s is not the file the stage wrote (damaged or replaced): "
                "the stage is run again",
                marker.name.strip(".").removesuffix(".done"),
                path.name,
            )
            return False
    return True


def mark_done(marker: Path, stage_fingerprint: str | None, outputs: Sequence[Path] = ()) -> None:
    """Record that the stage ran on inputs of `stage_fingerprint` and wrote `outputs` (with
    their sha256, so that `up_to_date` knows them again)."""
    if stage_fingerprint is not None:
        written = {path.name: file_digest(path) for path in outputs}
        content = {"fingerprint": stage_fingerprint, "outputs": written}
        atomic_write_text(marker, json.dumps(content, sort_keys=True) + "\n")


def salt(stage: str, settings: str) -> str:
    """What every per-product key of `stage` depends on besides the product's own rows:
    the tool and code versions and the settings: a different salt redoes every product."""
    text = f"{__version__}\n{code_version(stage)}\n{settings}"
    return hashlib.sha256(text.encode()).hexdigest()


def _state_checksum(state: Mapping[str, Any]) -> str:
    fields = {k: v for k, v in state.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


def state_text(salt: str, keys: Mapping[str, str], outputs: Iterable[Path]) -> str:
    """validation_state.json: the salt, each product's key, the sha256 of the outputs the
    keys' results are in (outcomes.parquet, data_quality.parquet) and a checksum of all
    that: a later run reuses results only from those very files."""
    state: dict[str, Any] = {
        "salt": salt,
        "products": dict(keys),
        "outputs": {path.name: file_digest(path) for path in outputs},
    }
    state["sha256"] = _state_checksum(state)
    return json.dumps(state) + "\n"


def previous_keys(state_path: Path, outputs: Iterable[Path]) -> dict[str, str]:
    """The keys recorded by the last validation, if it and its outputs are all there, the
    state matches its checksum and the outputs are the files it was written with (else
    nothing is reused: a warning says why, when a file is there but wrong)."""
    outputs = list(outputs)
    if not all(p.exists() for p in outputs):
        return {}
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        products = state["products"]
        written = state["outputs"]
        sound = state["sha256"] == _state_checksum(state)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        sound, products, written = False, None, {}
    if not sound or not isinstance(products, dict) or not isinstance(written, dict):
        log.warning("%s is damaged: every product is validated again", state_path.name)
        return {}
    for path in outputs:
        if written.get(path.name) != file_digest(path):
            log.warning(
                "%s is not the file %s was written with (damaged or replaced): every "
                "product is validated again",
                path.name,
                state_path.name,
            )
            return {}
    return products


def product_report_keys(
    recorded: Mapping[Any, str], findings: Mapping[Any, Sequence[Any]]
) -> dict[str, str]:
    """product_id -> a hash of everything its part of the report is made of: its validation
    key (`recorded`: its product row, its label rows, the code and the protocol) and its
    data-quality `findings`."""
    return {
        str(pid): hashlib.sha256(f"{key}\n{list(findings.get(pid, []))!r}".encode()).hexdigest()
        for pid, key in recorded.items()
    }
