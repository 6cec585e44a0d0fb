"""The drivers behind every use case: calls at once, no deadlock, fallbacks, thread hops."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from _billing_samples import three_team_account

from billing_core import (
    BillingResolution,
    HttpBillingService,
    HttpTeamService,
    aresolve_billing,
    pin_billing_team,
    resolve_billing,
)
from billing_core.testing import (
    DEFAULT_SESSION_KEY,
    AsyncInMemoryBillingService,
    FakeBillingApi,
    InMemoryBillingService,
    InMemoryPinStore,
    InMemoryTeamService,
)


def _threads_of_each_part() -> tuple[
    dict[str, threading.Thread], InMemoryBillingService, InMemoryPinStore
]:
    seen: dict[str, threading.Thread] = {}

    def record(part: str) -> None:
        seen[part] = threading.current_thread()

    billing = InMemoryBillingService(three_team_account(), on_call=record)
    return seen, billing, InMemoryPinStore("org-acme", on_call=record)


_NO_THREADS_SCRIPT = """
import threading

def refuse(self):
    raise RuntimeError("can't start new thread")

threading.Thread.start = refuse  # as a process at its thread limit, from the start

from _billing_samples import three_team_account
from billing_core import resolve_billing
from billing_core.testing import DEFAULT_SESSION_KEY, InMemoryBillingService, InMemoryPinStore

seen = set()
record = lambda part: seen.add((part, threading.current_thread().name))
resolution = resolve_billing(
    active_provider="byterover",
    session_key=DEFAULT_SESSION_KEY,
    billing=InMemoryBillingService(three_team_account(), on_call=record),
    pins=InMemoryPinStore("org-acme", on_call=record),
)
assert resolution.ok and resolution.status is not None, resolution
print(sorted(seen))
"""


def test_when_no_thread_can_start_every_call_runs_in_the_calling_thread() -> None:
    # A fresh interpreter: the shared pool of this one already has workers.
    done = subprocess.run(
        [sys.executable, "-c", _NO_THREADS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parts = ["free-limit", "get", "tiers", "usages"]
    assert done.stdout.strip() == str([(part, "MainThread") for part in parts])


def test_one_request_runs_in_the_calling_thread_and_the_others_in_workers() -> None:
    seen, billing, pins = _threads_of_each_part()
    resolve_billing(
        active_provider="byterover", session_key=DEFAULT_SESSION_KEY, billing=billing, pins=pins
    )
    here = threading.current_thread()
    assert seen["usages"] is here
    assert all(seen[part] is not here for part in ("get", "tiers", "free-limit"))


def test_a_round_of_one_call_never_leaves_the_calling_thread() -> None:
    writer: list[threading.Thread] = []
    pins = InMemoryPinStore("org-acme", on_call=lambda _: writer.append(threading.current_thread()))
    pinned = pin_billing_team(
        session_key=DEFAULT_SESSION_KEY,
        query=None,
        billing=InMemoryBillingService(three_team_account()),
        teams=InMemoryTeamService(three_team_account()),
        pins=pins,
    )
    assert pinned is None
    assert pins.team_id is None
    assert writer == [threading.current_thread()]


def test_many_concurrent_resolves_and_pins_never_deadlock_a_full_pool(
    fake_api: FakeBillingApi,
) -> None:
    # More callers than pool workers (32), each keeping two or three busy: the
    # pool's queue fills up, and every call still completes, since no pool task
    # ever waits for another.
    account = three_team_account()
    fake_api.account = account
    fake_api.latency = 0.01
    callers = 40
    start_together = threading.Barrier(callers, timeout=10)
    outcomes: list[object] = []
    lock = threading.Lock()

    with (
        HttpBillingService(fake_api.base_url, timeout=20) as billing,
        HttpTeamService(fake_api.team_base_url, timeout=20) as teams,
    ):

        def work(n: int) -> None:
            start_together.wait()
            outcome: object
            if n % 2:
                team = pin_billing_team(
                    session_key=fake_api.session_key,
                    query="acme-corp",
                    billing=billing,
                    teams=teams,
                    pins=InMemoryPinStore(),
                )
                outcome = None if team is None else team.id
            else:
                outcome = resolve_billing(
                    active_provider="byterover",
                    session_key=fake_api.session_key,
                    billing=billing,
                    pins=InMemoryPinStore("org-acme"),
                )
            with lock:
                outcomes.append(outcome)

        workers = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(callers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    resolutions = [outcome for outcome in outcomes if isinstance(outcome, BillingResolution)]
    assert [outcome for outcome in outcomes if not isinstance(outcome, BillingResolution)] == [
        "org-acme"
    ] * (callers // 2)
    assert len(resolutions) == callers // 2
    assert all(resolution.ok for resolution in resolutions)
    assert fake_api.requests_by_endpoint == {
        "teams": callers // 2,
        "usages": callers,
        "tiers": callers,
        "free-limit": callers // 2,
    }


class _RecordingStore:
    """A pin store that records the thread of each read; ``reads_without_blocking`` as given."""

    def __init__(self, *, never_blocks: bool) -> None:
        self.reads_without_blocking = never_blocks
        self.read_in: list[threading.Thread] = []

    def get_pinned_team_id(self) -> str | None:
        self.read_in.append(threading.current_thread())
        return "org-acme"

    def set_pinned_team_id(self, team_id: str | None) -> None:
        raise AssertionError("not written")


@pytest.mark.parametrize("never_blocks", [True, False])
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_pin_store_that_never_blocks_is_read_in_place(flavour: str, never_blocks: bool) -> None:
    store = _RecordingStore(never_blocks=never_blocks)
    arguments: dict[str, Any] = {
        "active_provider": "byterover",
        "session_key": DEFAULT_SESSION_KEY,
        "pins": store,
    }
    if flavour == "sync":
        billing = InMemoryBillingService(three_team_account())
        resolution = resolve_billing(billing=billing, **arguments)
    else:
        billing_async = AsyncInMemoryBillingService(three_team_account())
        resolution = asyncio.run(aresolve_billing(billing=billing_async, **arguments))
    assert resolution.ok
    (reader,) = store.read_in
    assert (reader is threading.current_thread()) is never_blocks
