"""Benchmark of the wire codec against the standard library's JSON codec.

``measure()`` returns ratios (codec time / json time, best of N runs each) and
the absolute best times in milliseconds. The goal: reading 10,000 usages with
``from_wire`` costs at most 2.5x ``json.loads`` of the same bytes.

Run ``python bench/bench_wire.py`` to print the figures.
"""

from __future__ import annotations

import json
from typing import Any

from _common import best_of

ORGS = 10_000
REPEATS = 15


def _usage_wire(index: int) -> dict[str, Any]:
    limit, add_on = 20_000, 500 * (index % 3)
    used = (index * 37) % (limit + add_on)
    total = limit + add_on
    return {
        "organizationId": f"org-{index:06d}",
        "organizationName": f"Organisation number {index}",
        "organizationStatus": "active",
        "limit": limit,
        "addOnRemaining": add_on,
        "totalLimit": total,
        "used": used,
        "remaining": total - used,
        # ints and floats both occur upstream
        "percentUsed": round(100 * used / total, 2) if index % 4 else (100 * used) // total,
        "limitExceeded": used >= total,
        "tier": ("FREE", "PRO", "TEAM", "ENTERPRISE")[index % 4],
        "isTrialing": index % 5 == 0,
    }


def measure() -> dict[str, float]:
    """Time the codec on 10,000 usages; ratios are codec time over json time."""
    from billing_core.errors import BillingPayloadError
    from billing_core.models import BillingUsage
    from billing_core.wire import from_wire, to_wire

    payload = [_usage_wire(index) for index in range(ORGS)]
    raw = json.dumps(payload).encode()
    data = json.loads(raw)
    usages = from_wire(list[BillingUsage], data)
    assert to_wire(usages) == data  # the benchmark measures a faithful round trip

    # the last organisation is bad: the failure path re-reads the whole list
    broken = [*data[:-1], {**data[-1], "remaining": "12"}]

    def read_broken() -> None:
        try:
            from_wire(list[BillingUsage], broken, path="organizations")
        except BillingPayloadError:
            pass
        else:  # pragma: no cover - the benchmark would be measuring the wrong thing
            raise AssertionError("the broken payload was accepted")

    json_loads, read = best_of(
        lambda: json.loads(raw), lambda: from_wire(list[BillingUsage], data), repeats=REPEATS
    )
    json_dumps, write = best_of(lambda: json.dumps(data), lambda: to_wire(usages), repeats=REPEATS)
    (read_error,) = best_of(read_broken, repeats=5)
    return {
        "from_wire_10k_vs_json_loads": read / json_loads,
        "to_wire_10k_vs_json_dumps": write / json_dumps,
        "from_wire_10k_error_vs_json_loads": read_error / json_loads,
        "json_loads_10k_ms": json_loads * 1e3,
        "json_dumps_10k_ms": json_dumps * 1e3,
        "from_wire_10k_ms": read * 1e3,
        "to_wire_10k_ms": write * 1e3,
        "from_wire_10k_error_ms": read_error * 1e3,
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:36} {value:8.2f}")
