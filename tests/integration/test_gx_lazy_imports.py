"""GX's import defers the libraries the suites never use (pipeline.infra.gx.LAZY_IN_GX):
after a validator is made they are not executed, and a use of one gets the real module."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline.infra.gx import LAZY_IN_GX

SCRIPT = """
import json, sys
from pipeline.infra.gx import Validator
Validator()
lazy = sorted(m for m in {names!r} if type(sys.modules.get(m)).__name__ == "_LazyModule")
import scipy.stats
print(json.dumps({{"lazy": lazy, "cdf": float(scipy.stats.norm.cdf(0.0)),
                  "after": type(sys.modules["scipy.stats"]).__name__}}))
"""


def test_gx_is_imported_without_executing_the_libraries_it_does_not_need() -> None:
    code = SCRIPT.format(names=sorted(LAZY_IN_GX))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"lazy": ["altair", "scipy.stats"], "cdf": 0.5, "after": "module"}
