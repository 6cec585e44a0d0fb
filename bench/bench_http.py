"""HTTP adapters against the loopback fake API with 80 ms of latency per answer.

- ``get_usages_vs_one_get``: ``HttpBillingService.get_usages`` (usages and
  tiers, fetched concurrently, then joined) over one plain keep-alive httpx GET
  to the same server: concurrency makes it cost one round trip, not two.
- ``connections_for_5_get_usages``: TCP connections one service instance opens
  over five consecutive ``get_usages`` calls: the pool is reused.
"""

from __future__ import annotations

from _common import median_seconds, one_get_seconds, paid_usage

from billing_core import FreeUserLimit, FreeUserLimitWindow, HttpBillingService
from billing_core.testing import Account, FakeBillingApi

LATENCY_S = 0.08


def _account() -> Account:
    usages = [
        paid_usage(f"org-{i}", f"Team {i}", tier=tier)
        for i, tier in enumerate(("PRO", "TEAM", "FREE"))
    ]
    window = FreeUserLimitWindow(
        limit=1_000, used=50, remaining=950, percent_used=5.0, limit_exceeded=False
    )
    return Account(
        usages=usages,
        free_user_limit=FreeUserLimit(daily=window, monthly=window, limit_exceeded=False),
    )


def measure(*, runs: int = 9) -> dict[str, float]:
    """Ratios and counts of the HTTP adapters against a fake API with 80 ms latency."""
    with FakeBillingApi(_account(), latency=LATENCY_S) as api:
        key = api.session_key
        one_get_s = one_get_seconds(api, runs=runs)
        with HttpBillingService(api.base_url) as billing:
            get_usages_s = median_seconds(lambda: billing.get_usages(key), runs=runs)

        api.reset_counters()
        with HttpBillingService(api.base_url) as billing:
            for _ in range(5):
                billing.get_usages(key)
        connections = api.connection_count

    return {
        "get_usages_vs_one_get": get_usages_s / one_get_s,
        "connections_for_5_get_usages": float(connections),
        "get_usages_ms": get_usages_s * 1e3,
        "one_get_ms": one_get_s * 1e3,
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value:.2f}")
