"""The shared worker pool (billing_core._threads): results, fallbacks, no deadlock when nested."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from _billing_samples import three_team_account

import billing_core._threads as threads
from billing_core import HttpBillingService, HttpTeamService, pin_billing_team
from billing_core.testing import FakeBillingApi, InMemoryPinStore

SMALL_POOL = 3


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadPoolExecutor]:
    """A pool of three workers in place of the shared one: easy to fill up."""
    pool = ThreadPoolExecutor(max_workers=SMALL_POOL, thread_name_prefix="test-small-pool")
    monkeypatch.setattr(threads, "_pool", pool)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


def test_a_result_and_an_error_come_back_to_the_waiter() -> None:
    assert threads.start(lambda: "done")() == "done"

    def fail() -> None:
        raise LookupError("nope")

    pending = threads.start(fail)
    with pytest.raises(LookupError, match="nope"):
        pending()


def test_the_call_runs_in_a_worker_when_one_is_free(small_pool: ThreadPoolExecutor) -> None:
    started = threading.Event()

    def where() -> threading.Thread:
        started.set()
        return threading.current_thread()

    pending = threads.start(where)
    assert started.wait(10)  # a free worker picked it up without anyone waiting
    assert pending() is not threading.current_thread()


def test_waiting_twice_runs_the_call_once() -> None:
    calls: list[int] = []
    pending = threads.start(lambda: calls.append(1) or len(calls))
    assert pending() == pending() == 1
    assert calls == [1]


class _RefusingPool:
    """Queues the work item, then fails to start a thread (as a thread limit does)."""

    def __init__(self) -> None:
        self.queued: list[Callable[[], object]] = []

    def submit(self, fn: Callable[[], object]) -> None:
        self.queued.append(fn)
        raise RuntimeError("can't start new thread")


def test_a_call_whose_thread_could_not_start_still_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = _RefusingPool()
    monkeypatch.setattr(threads, "_pool", pool)
    calls: list[str] = []
    pending = threads.start(lambda: calls.append(threading.current_thread().name))
    pending()  # runs in the waiting thread
    for queued in pool.queued:  # a worker taking the queued item later does nothing
        queued()
    assert calls == [threading.current_thread().name]


def test_a_call_no_worker_has_started_runs_in_the_waiting_thread(
    small_pool: ThreadPoolExecutor,
) -> None:
    release = threading.Event()
    busy = [small_pool.submit(release.wait, 10) for _ in range(SMALL_POOL)]
    try:
        pending = threads.start(threading.current_thread)
        assert pending() is threading.current_thread()
    finally:
        release.set()
    assert all(future.result(timeout=10) for future in busy)


def test_an_abandoned_call_that_has_not_started_never_runs(
    small_pool: ThreadPoolExecutor,
) -> None:
    release = threading.Event()
    busy = [small_pool.submit(release.wait, 10) for _ in range(SMALL_POOL)]
    ran: list[str] = []
    try:
        threads.start(lambda: ran.append("ran")).abandon()
    finally:
        release.set()
    for future in busy:
        future.result(timeout=10)
    small_pool.submit(lambda: None).result(timeout=10)  # the queue has drained
    assert ran == []


def test_abandoning_a_running_call_lets_it_end_first(small_pool: ThreadPoolExecutor) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def call() -> None:
        started.set()
        release.wait(10)
        ended.append("ended")

    pending = threads.start(call)
    assert started.wait(10)
    releaser = threading.Timer(0.05, release.set)
    releaser.start()
    pending.abandon()
    assert ended == ["ended"]
    releaser.join()


def test_at_interpreter_shutdown_the_call_runs_when_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What ThreadPoolExecutor.submit does once the interpreter is shutting down
    # (e.g. a call from an atexit handler): raise RuntimeError.
    import concurrent.futures.thread

    monkeypatch.setattr(concurrent.futures.thread, "_shutdown", True)
    ran_in: list[threading.Thread] = []
    pending = threads.start(lambda: ran_in.append(threading.current_thread()))
    assert ran_in == []
    pending()
    assert ran_in == [threading.current_thread()]


def test_tasks_waiting_for_nested_tasks_never_deadlock_a_full_pool(
    small_pool: ThreadPoolExecutor,
) -> None:
    # Every worker runs an outer task that starts an inner one and waits for it:
    # the inner tasks can only queue. Waiting on them as plain futures would
    # hang forever; the waiters take them back and run them themselves.
    all_busy = threading.Barrier(SMALL_POOL, timeout=10)

    def outer(n: int) -> tuple[int, str]:
        all_busy.wait()  # every worker is taken before any inner task is started
        inner = threads.start(lambda: f"inner-{n}")
        return n, inner()

    outers = [small_pool.submit(outer, n) for n in range(SMALL_POOL)]
    results = [future.result(timeout=30) for future in outers]
    assert results == [(n, f"inner-{n}") for n in range(SMALL_POOL)]


def test_many_concurrent_pins_over_http_never_deadlock(
    fake_api: FakeBillingApi, small_pool: ThreadPoolExecutor
) -> None:
    # pin_billing_team runs get_usages in a pool worker, and get_usages fetches
    # the tiers in another: with far more callers than workers, every worker
    # ends up waiting for a nested fetch.
    account = three_team_account()
    fake_api.account = account
    fake_api.latency = 0.01
    callers = 12
    start_together = threading.Barrier(callers, timeout=10)
    pinned: list[str | None] = []
    lock = threading.Lock()

    with (
        HttpBillingService(fake_api.base_url, timeout=10) as billing,
        HttpTeamService(fake_api.team_base_url, timeout=10) as teams,
    ):

        def pin() -> None:
            start_together.wait()
            team = pin_billing_team(
                session_key=fake_api.session_key,
                query="acme-corp",
                billing=billing,
                teams=teams,
                pins=InMemoryPinStore(),
            )
            with lock:
                pinned.append(None if team is None else team.id)

        workers = [threading.Thread(target=pin, daemon=True) for _ in range(callers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    assert pinned == ["org-acme"] * callers
    assert fake_api.requests_by_endpoint == {"teams": callers, "usages": callers, "tiers": callers}
