"""Benchmark of the pure resolution against plain-Python baselines.

``measure()`` returns ratios, each measured in one run on the same machine:

- ``status_3_orgs_vs_attrs_6_fields``: one ``build_status_billing`` call with
  three organisations and a pin, over constructing one frozen 6-field attrs
  object (goal: at most 4);
- ``status_100k_orgs_vs_plain_pass``: ``build_status_billing`` over 100,000
  organisations, over one plain Python loop reading each usage's tier and id
  (goal: at most 2). The figure is the *worst* of the realistic shapes: pinned
  to a paid team, pinned to a stranger, one paid team among free ones, three
  paid teams to pick from among free ones;
- context figures for each shape, and for the pathological account where all
  100,000 organisations are paid and nothing is pinned: the answer then holds
  100,000 candidates, so building them (not resolving) is the cost.

Run ``python bench/bench_core.py`` to print the figures.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Sequence
from typing import Any

from _common import best_of, paid_usage

ORGS = 100_000
REPEATS = 15
SMALL_LOOPS = 20_000
SMALL_REPEATS = 9


def _best_per_call(*statements: Callable[[], object]) -> list[float]:
    """Best time per call of each tiny statement (timeit loops, alternating)."""
    timers = [timeit.Timer(statement) for statement in statements]
    best = [float("inf")] * len(timers)
    for _ in range(SMALL_REPEATS):
        for slot, timer in enumerate(timers):
            best[slot] = min(best[slot], timer.timeit(SMALL_LOOPS) / SMALL_LOOPS)
    return best


def _usage(index: int, tier: str) -> Any:
    return paid_usage(
        f"org-{index:06d}", f"Organisation number {index}", tier=tier, used=(index * 37) % 20_000
    )


def _accounts(orgs: int) -> dict[str, tuple[Sequence[Any], str | None]]:
    """Shapes of one user's organisations: (usages, pin)."""
    mixed = [_usage(i, ("FREE", "PRO", "TEAM", "ENTERPRISE")[i % 4]) for i in range(orgs)]
    free = [_usage(i, "FREE") for i in range(orgs)]
    one_paid = list(free)
    one_paid[orgs // 2] = _usage(orgs // 2, "PRO")
    three_paid = list(free)
    for i in (orgs // 4, orgs // 2, 3 * orgs // 4):
        three_paid[i] = _usage(i, "TEAM")
    return {
        "pinned_paid": (mixed, mixed[orgs // 2 + 1].organization_id),
        "pinned_stranger": (mixed, "org-not-a-member"),
        "one_paid_no_pin": (one_paid, None),
        "three_paid_no_pin": (three_paid, None),
    }


def measure() -> dict[str, float]:
    """Time resolution; every figure is a ratio to a baseline timed in the same run."""
    from attrs import frozen

    from billing_core.models import FreeUserLimit, FreeUserLimitWindow
    from billing_core.resolution import build_status_billing

    @frozen
    class SixFields:
        a: int
        b: int
        c: int
        d: int
        e: str
        f: str

    window = FreeUserLimitWindow(
        limit=1_000, used=50, remaining=950, percent_used=5.0, limit_exceeded=False
    )
    free_limit = FreeUserLimit(daily=window, monthly=window, limit_exceeded=False)

    # --- one small call --------------------------------------------------------------
    small = [_usage(0, "PRO"), _usage(1, "FREE"), _usage(2, "TEAM")]

    def small_status() -> object:
        return build_status_billing(
            active_provider="byterover",
            is_authenticated=True,
            usages=small,
            pinned_team_id="org-000002",
            free_user_limit=free_limit,
        )

    def six_fields() -> object:
        return SixFields(1, 2, 3, 4, "e", "f")

    status_small, attrs_small = _best_per_call(small_status, six_fields)
    figures = {"status_3_orgs_vs_attrs_6_fields": status_small / attrs_small}

    # --- 100,000 organisations ---------------------------------------------------------
    worst = 0.0
    for shape, (usages, pin) in _accounts(ORGS).items():

        def plain_pass(usages: Sequence[Any] = usages) -> None:
            for usage in usages:
                usage.tier  # noqa: B018 - the read is the baseline's work
                usage.organization_id  # noqa: B018

        def status(usages: Sequence[Any] = usages, pin: str | None = pin) -> object:
            return build_status_billing(
                active_provider="byterover",
                is_authenticated=True,
                usages=usages,
                pinned_team_id=pin,
                free_user_limit=free_limit,
            )

        status_time, plain_time = best_of(status, plain_pass, repeats=REPEATS)
        ratio = status_time / plain_time
        figures[f"status_100k_{shape}_vs_plain_pass"] = ratio
        worst = max(worst, ratio)
    figures["status_100k_orgs_vs_plain_pass"] = worst

    # Context: every organisation paid, nothing pinned -> 100,000 candidates built.
    all_paid = [_usage(i, "PRO") for i in range(ORGS)]

    def plain_all_paid() -> None:
        for usage in all_paid:
            usage.tier  # noqa: B018
            usage.organization_id  # noqa: B018

    def status_all_paid() -> object:
        return build_status_billing(
            active_provider="byterover", is_authenticated=True, usages=all_paid
        )

    pick_time, plain_time = best_of(status_all_paid, plain_all_paid, repeats=3)
    figures["status_100k_all_paid_needs_pick_vs_plain_pass"] = pick_time / plain_time
    figures["status_3_orgs_us"] = status_small * 1e6
    figures["attrs_6_fields_us"] = attrs_small * 1e6
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:<50} {value:8.2f}")
