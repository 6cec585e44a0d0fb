"""The in-memory fakes behave like the upstream they stand in for, sync and async alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import attrs
import pytest
from hypothesis import given, settings

from billing_core import (
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    PinStore,
    PinStoreError,
    join_usages_with_tiers,
)
from billing_core.testing import (
    DEFAULT_SESSION_KEY,
    Account,
    AsyncInMemoryBillingService,
    AsyncInMemoryTeamService,
    InMemoryBillingService,
    InMemoryPinStore,
    InMemoryTeamService,
)
from billing_core.testing.sample import sample_account
from billing_core.testing.strategies import accounts

KEY = DEFAULT_SESSION_KEY
DOWN = BillingApiError("Service Unavailable", endpoint="GET /billing/usages", status_code=503)


Run: TypeAlias = Callable[[Any], Any]
"""The value, or the result of awaiting it: lets one test drive both flavours."""


def _driver(runner: asyncio.Runner) -> Run:
    def run(value: Any) -> Any:
        return runner.run(value) if asyncio.iscoroutine(value) else value

    return run


@pytest.fixture
def run() -> Iterator[Run]:
    """One event loop for the whole test (not one ``asyncio.run`` per call)."""
    with asyncio.Runner() as runner:
        yield _driver(runner)


@pytest.fixture(params=["sync", "async"])
def billing_class(request: pytest.FixtureRequest) -> type[Any]:
    return InMemoryBillingService if request.param == "sync" else AsyncInMemoryBillingService


@pytest.fixture(params=["sync", "async"])
def team_class(request: pytest.FixtureRequest) -> type[Any]:
    return InMemoryTeamService if request.param == "sync" else AsyncInMemoryTeamService


# --- pin store -------------------------------------------------------------------


def test_pin_store_reads_what_was_written_and_counts() -> None:
    store = InMemoryPinStore()
    assert isinstance(store, PinStore)
    assert store.get_pinned_team_id() is None
    store.set_pinned_team_id("team-1")
    assert store.get_pinned_team_id() == "team-1"
    store.set_pinned_team_id(None)
    assert store.team_id is None
    assert (store.reads, store.writes) == (2, 2)
    assert repr(store) == "InMemoryPinStore(None)"


def test_pin_store_injected_failure_hits_reads_and_writes_and_keeps_the_pin() -> None:
    store = InMemoryPinStore("team-1", fail_with=PinStoreError("disk on fire"))
    with pytest.raises(PinStoreError, match="disk on fire"):
        store.get_pinned_team_id()
    with pytest.raises(PinStoreError, match="disk on fire"):
        store.set_pinned_team_id("team-2")
    store.fail_with = None
    assert store.get_pinned_team_id() == "team-1"


def test_pin_store_refuses_a_non_string_pin() -> None:
    with pytest.raises(TypeError, match="team_id"):
        InMemoryPinStore(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="team_id"):
        InMemoryPinStore().set_pinned_team_id(b"team")  # type: ignore[arg-type]


def test_pin_store_is_safe_to_share_between_threads() -> None:
    store = InMemoryPinStore()
    start = threading.Barrier(8, timeout=10)

    def writer(n: int) -> None:
        start.wait()
        for i in range(200):
            store.set_pinned_team_id(f"team-{n}-{i}")
            store.get_pinned_team_id()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (store.reads, store.writes) == (1600, 1600)
    assert str(store.team_id).endswith("-199")  # some writer's last write is the last one


def test_pin_store_hook_sees_each_operation() -> None:
    seen: list[str] = []
    store = InMemoryPinStore(on_call=seen.append)
    store.set_pinned_team_id("x")
    store.get_pinned_team_id()
    assert seen == ["set", "get"]


# --- billing service ----------------------------------------------------------------


@settings(deadline=None)
@given(accounts())
def test_billing_serves_the_account_and_the_join_gives_back_its_usages(account: Account) -> None:
    with asyncio.Runner() as runner:
        run = _driver(runner)
        for cls in (InMemoryBillingService, AsyncInMemoryBillingService):
            billing = cls(account)
            assert run(billing.get_raw_usages(KEY)) == account.raw_usages()
            assert run(billing.get_tiers(KEY)) == account.tiers()
            assert run(billing.get_usages(KEY)) == account.usages
        assert join_usages_with_tiers(account.raw_usages(), account.tiers()) == account.usages


def test_billing_serves_the_free_limit_or_a_404_without_one(
    billing_class: type[Any], run: Run
) -> None:
    account = sample_account()
    assert run(billing_class(account).get_free_user_limit(KEY)) == account.free_user_limit
    empty = billing_class(attrs.evolve(account, free_user_limit=None))
    with pytest.raises(BillingApiError) as caught:
        run(empty.get_free_user_limit(KEY))
    assert caught.value.status_code == 404
    assert not isinstance(caught.value, BillingAuthError)


def test_billing_parts_override_the_account(billing_class: type[Any], run: Run) -> None:
    billing = billing_class(sample_account(), raw_usages=(), tiers=())
    assert run(billing.get_usages(KEY)) == ()


@pytest.mark.parametrize(
    "method", ["get_raw_usages", "get_tiers", "get_free_user_limit", "get_usages"]
)
def test_billing_refuses_a_wrong_session_key_without_naming_it(
    billing_class: type[Any], method: str, run: Run
) -> None:
    billing = billing_class(sample_account(), session_key="the-right-key")
    with pytest.raises(BillingAuthError) as caught:
        run(getattr(billing, method)("a-wrong-key"))
    assert caught.value.status_code == 401
    assert "key" not in repr(billing)
    assert "a-wrong-key" not in str(caught.value)
    assert "the-right-key" not in str(caught.value) + repr(billing)


@pytest.mark.parametrize(
    ("part", "method"),
    [("usages", "get_raw_usages"), ("tiers", "get_tiers"), ("free-limit", "get_free_user_limit")],
)
def test_billing_injected_failure_hits_its_part_only(
    billing_class: type[Any], part: str, method: str, run: Run
) -> None:
    billing = billing_class(sample_account(), failures={part: DOWN})
    with pytest.raises(BillingApiError, match="Service Unavailable"):
        run(getattr(billing, method)(KEY))
    others = {"get_raw_usages", "get_tiers", "get_free_user_limit"} - {method}
    for other in others:
        run(getattr(billing, other)(KEY))  # answers
    del billing.failures[part]  # type: ignore[arg-type]
    run(getattr(billing, method)(KEY))


def test_billing_counts_calls_per_part_and_the_join_as_two(
    billing_class: type[Any], run: Run
) -> None:
    billing = billing_class(sample_account(), failures={"tiers": DOWN})
    run(billing.get_raw_usages(KEY))
    with pytest.raises(BillingApiError):
        run(billing.get_usages(KEY))
    run(billing.get_free_user_limit(KEY))
    assert billing.calls == {"usages": 2, "tiers": 1, "free-limit": 1}


def test_unknown_failure_part_and_negative_delay_are_refused(billing_class: type[Any]) -> None:
    with pytest.raises(BillingConfigError, match="unknown parts"):
        billing_class(failures={"teams": DOWN})
    with pytest.raises(BillingConfigError, match="delay"):
        billing_class(delay=-1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5, True, "0.1", None])
def test_a_delay_that_cannot_be_slept_is_refused_up_front(bad: Any) -> None:
    for service_class in (
        InMemoryBillingService,
        AsyncInMemoryBillingService,
        InMemoryTeamService,
        AsyncInMemoryTeamService,
    ):
        with pytest.raises(BillingConfigError, match="delay must be a finite number"):
            service_class(delay=bad)


def test_billing_is_a_context_manager_and_refuses_calls_once_closed() -> None:
    with InMemoryBillingService(sample_account()) as billing:
        billing.get_tiers(KEY)
    assert billing.closed
    with pytest.raises(BillingConfigError, match=r"^the service is closed$"):
        billing.get_tiers(KEY)

    async def scenario() -> AsyncInMemoryBillingService:
        async with AsyncInMemoryBillingService(sample_account()) as service:
            await service.get_tiers(KEY)
        return service

    service = asyncio.run(scenario())
    assert service.closed
    with pytest.raises(BillingConfigError, match=r"^the service is closed$"):
        asyncio.run(service.get_tiers(KEY))


def test_async_hook_is_awaited_and_sync_hook_is_called() -> None:
    seen: list[str] = []

    async def hook(part: str) -> None:
        await asyncio.sleep(0)
        seen.append(part)

    asyncio.run(AsyncInMemoryBillingService(on_call=hook).get_usages(KEY))
    assert sorted(seen) == ["tiers", "usages"]
    with pytest.raises(BillingApiError):  # an empty account has no free credits
        InMemoryBillingService(on_call=seen.append).get_free_user_limit(KEY)
    InMemoryTeamService(on_call=seen.append).list_teams(KEY)
    assert seen[2:] == ["free-limit", "teams"]


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("get_raw_usages", "GET /billing/usages"),
        ("get_tiers", "GET /billing/organizations/tiers"),
        ("get_free_user_limit", "GET /billing/usage/free-user/limit"),
        ("get_usages", "GET /billing/usages"),
    ],
)
def test_billing_errors_name_the_endpoint_as_the_http_adapter_does(
    billing_class: type[Any], method: str, endpoint: str, run: Run
) -> None:
    with pytest.raises(BillingAuthError) as caught:
        run(getattr(billing_class(sample_account()), method)("a-wrong-key"))
    assert caught.value.endpoint == endpoint


def test_a_missing_free_limit_names_its_endpoint(billing_class: type[Any], run: Run) -> None:
    with pytest.raises(BillingApiError) as caught:
        run(billing_class(Account()).get_free_user_limit(KEY))
    assert str(caught.value) == (
        "GET /billing/usage/free-user/limit answered 404: no free-user limit for this account"
    )


def test_team_errors_name_the_endpoint_as_the_http_adapter_does(
    team_class: type[Any], run: Run
) -> None:
    with pytest.raises(BillingAuthError) as caught:
        run(team_class().list_teams("a-wrong-key"))
    assert caught.value.endpoint == "GET /teams"


def test_when_both_halves_of_get_usages_fail_the_usages_error_wins(
    billing_class: type[Any], run: Run
) -> None:
    # As over HTTP. Async, the tiers fail first: the usages wait for them to arrive.
    tiers_arrived = asyncio.Event()

    def hook(part: str) -> object:
        if billing_class is InMemoryBillingService:
            return None
        if part == "tiers":
            tiers_arrived.set()
            return None
        return asyncio.wait_for(tiers_arrived.wait(), timeout=5)

    usages_down = BillingApiError("usages broke", endpoint="GET /billing/usages")
    tiers_down = BillingApiError("tiers broke", endpoint="GET /billing/organizations/tiers")
    billing = billing_class(
        sample_account(), failures={"usages": usages_down, "tiers": tiers_down}, on_call=hook
    )
    with pytest.raises(BillingApiError, match="usages broke"):
        run(billing.get_usages(KEY))
    assert billing.calls["usages"] == 1


def test_async_get_usages_makes_its_two_calls_concurrently() -> None:
    # Both calls must be in flight at once to get past a two-party barrier.
    async def scenario() -> object:
        barrier = asyncio.Barrier(2)

        async def meet(_: str) -> None:
            await asyncio.wait_for(barrier.wait(), timeout=5)

        return await AsyncInMemoryBillingService(sample_account(), on_call=meet).get_usages(KEY)

    assert asyncio.run(scenario()) == sample_account().usages


def test_delay_applies_to_each_call(billing_class: type[Any], run: Run) -> None:
    billing = billing_class(sample_account(), delay=0.01)
    assert run(billing.get_tiers(KEY)) == sample_account().tiers()


# --- team service ---------------------------------------------------------------


def test_teams_serve_the_account_or_the_given_teams(team_class: type[Any], run: Run) -> None:
    account = sample_account()
    assert run(team_class(account).list_teams(KEY)) == account.teams
    assert run(team_class(account, teams=account.teams[:1]).list_teams(KEY)) == account.teams[:1]
    assert run(team_class().list_teams(KEY)) == ()


def test_teams_check_the_key_fail_on_demand_and_count(team_class: type[Any], run: Run) -> None:
    teams = team_class(sample_account(), failures={"teams": DOWN})
    with pytest.raises(BillingApiError, match="Service Unavailable"):
        run(teams.list_teams(KEY))
    teams.failures.clear()
    with pytest.raises(BillingAuthError):
        run(teams.list_teams("wrong"))
    assert teams.calls == {"teams": 2}
    with pytest.raises(BillingConfigError, match="unknown parts"):
        team_class(failures={"usages": DOWN})


def test_team_services_close() -> None:
    with InMemoryTeamService() as teams:
        pass
    assert teams.closed
    with pytest.raises(BillingConfigError, match=r"^the service is closed$"):
        teams.list_teams(KEY)

    async def scenario() -> AsyncInMemoryTeamService:
        async with AsyncInMemoryTeamService() as service:
            pass
        return service

    service = asyncio.run(scenario())
    assert service.closed
    with pytest.raises(BillingConfigError, match=r"^the service is closed$"):
        asyncio.run(service.list_teams(KEY))


def test_injected_exception_instances_do_not_pile_up_tracebacks() -> None:
    error = BillingApiError("down", endpoint="GET /billing/usages", status_code=503)
    billing = InMemoryBillingService(failures={"usages": error})
    depths = []
    for _ in range(3):
        with pytest.raises(BillingApiError) as caught:
            billing.get_raw_usages(KEY)
        depths.append(_depth(caught.value.__traceback__))
    assert depths[0] == depths[-1]


def _depth(tb: Any) -> int:
    count = 0
    while tb is not None:
        count, tb = count + 1, tb.tb_next
    return count
