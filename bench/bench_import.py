"""Import cost: ``import billing_core`` against ``import attrs``, each in fresh interpreters."""

from __future__ import annotations

import statistics
import subprocess
import sys

_PROBE = """
import sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
heavy = sorted(m for m in ("httpx", "hypothesis", "cattrs") if m in sys.modules)
print(elapsed, ",".join(heavy))
"""


def _import_seconds(module: str, *, runs: int) -> tuple[float, str]:
    samples = []
    heavy = ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        samples.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return statistics.median(samples), heavy


def measure(*, runs: int = 15) -> dict[str, float]:
    """Median import time of billing_core over that of attrs, in fresh interpreters."""
    attrs_s, _ = _import_seconds("attrs", runs=runs)
    core_s, heavy = _import_seconds("billing_core", runs=runs)
    if heavy:
        raise AssertionError(f"import billing_core imported {heavy}")
    return {
        "import_billing_core_vs_attrs": core_s / attrs_s,
        "import_billing_core_ms": core_s * 1e3,
        "import_attrs_ms": attrs_s * 1e3,
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
