"""Import cost against ``import attrs``, each in fresh interpreters.

- ``import_billing_core_vs_attrs``: the package import itself; every public
  name loads its module on first use, so this is the exceptions and the lazy
  name table.
- ``import_with_models_vs_attrs``: ``import billing_core`` plus the first use
  of a model, which compiles the 14 validated attrs classes: what a program
  that resolves billing pays before its first call.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

_PROBE = """
import sys, time
t = time.perf_counter()
{statement}
elapsed = time.perf_counter() - t
heavy = sorted(m for m in ("httpx", "hypothesis", "cattrs") if m in sys.modules)
print(elapsed, ",".join(heavy))
"""


def _import_seconds(statement: str, *, runs: int) -> tuple[float, str]:
    samples = []
    heavy = ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(statement=statement)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        samples.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return statistics.median(samples), heavy


def measure(*, runs: int = 15) -> dict[str, float]:
    """Median import times over that of attrs, in fresh interpreters."""
    attrs_s, _ = _import_seconds("import attrs", runs=runs)
    core_s, heavy = _import_seconds("import billing_core", runs=runs)
    models_s, heavy_with_models = _import_seconds(
        "import billing_core; billing_core.PaidBilling", runs=runs
    )
    if heavy or heavy_with_models:
        raise RuntimeError(f"import billing_core imported {heavy or heavy_with_models}")
    return {
        "import_billing_core_vs_attrs": core_s / attrs_s,
        "import_with_models_vs_attrs": models_s / attrs_s,
        "import_billing_core_ms": core_s * 1e3,
        "import_with_models_ms": models_s * 1e3,
        "import_attrs_ms": attrs_s * 1e3,
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
