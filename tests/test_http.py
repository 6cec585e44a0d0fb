"""The HTTP adapters against the real loopback FakeBillingApi: no mocks."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from _billing_samples import team, three_team_account
from hypothesis import HealthCheck, given, settings

import billing_core.adapters.http as http_adapter
from billing_core import (
    AsyncHttpBillingService,
    AsyncHttpTeamService,
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPayloadError,
    HttpBillingService,
    HttpTeamService,
    NotAuthenticatedError,
    PaidBilling,
    Team,
    aresolve_billing,
)
from billing_core.testing import Account, FakeBillingApi, InMemoryPinStore
from billing_core.testing.strategies import accounts

FAST = 2.0  # seconds: a timeout that never fires against a healthy loopback server


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def assert_secret_free(api: FakeBillingApi, *texts: object) -> None:
    for text in texts:
        assert api.session_key not in str(text)
        assert api.session_key not in repr(text)


@pytest.fixture
def billing(fake_api: FakeBillingApi) -> Iterator[HttpBillingService]:
    with HttpBillingService(fake_api.base_url, timeout=FAST) as service:
        yield service


@pytest.fixture
def team_service(fake_api: FakeBillingApi) -> Iterator[HttpTeamService]:
    with HttpTeamService(fake_api.team_base_url, timeout=FAST) as service:
        yield service


def async_billing_call(
    api: FakeBillingApi, method: str, session_key: str | None = None, **options: Any
) -> Any:
    """Call ``method`` on a fresh AsyncHttpBillingService in a fresh event loop."""

    async def go() -> Any:
        async with AsyncHttpBillingService(api.base_url, **{"timeout": FAST, **options}) as svc:
            return await getattr(svc, method)(session_key or api.session_key)

    return run(go())


def async_list_teams(api: FakeBillingApi, **options: Any) -> tuple[Team, ...]:
    async def go() -> tuple[Team, ...]:
        async with AsyncHttpTeamService(api.team_base_url, **{"timeout": FAST, **options}) as svc:
            return await svc.list_teams(api.session_key)

    result: tuple[Team, ...] = run(go())
    return result


# --- every endpoint, sync and async ------------------------------------------------------


def test_billing_endpoints_sync(fake_api: FakeBillingApi, billing: HttpBillingService) -> None:
    account = three_team_account()
    fake_api.account = account
    key = fake_api.session_key

    assert billing.get_raw_usages(key) == account.raw_usages()
    assert billing.get_tiers(key) == account.tiers()
    assert billing.get_free_user_limit(key) == account.free_user_limit
    assert billing.get_usages(key) == account.usages


def test_billing_endpoints_async(fake_api: FakeBillingApi) -> None:
    account = three_team_account()
    fake_api.account = account

    assert async_billing_call(fake_api, "get_raw_usages") == account.raw_usages()
    assert async_billing_call(fake_api, "get_tiers") == account.tiers()
    assert async_billing_call(fake_api, "get_free_user_limit") == account.free_user_limit
    assert async_billing_call(fake_api, "get_usages") == account.usages


def test_join_reads_an_org_without_tier_entry_as_free_not_trialing(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.account = three_team_account()
    fake_api.fail(
        "tiers",
        body={
            "organizations": [{"organizationId": "org-acme", "tier": "PRO", "isTrialing": False}]
        },
    )

    by_id = {u.organization_id: u for u in billing.get_usages(fake_api.session_key)}
    assert (by_id["org-acme"].tier, by_id["org-acme"].is_trialing) == ("PRO", False)
    assert (by_id["org-trial"].tier, by_id["org-trial"].is_trialing) == ("FREE", False)
    assert [u.organization_id for u in by_id.values()] == ["org-acme", "org-trial", "org-free"]


def test_get_usages_fetches_both_endpoints_once(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    billing.get_usages(fake_api.session_key)
    assert fake_api.requests_by_endpoint == {"usages": 1, "tiers": 1}


def test_unknown_tiers_and_extra_keys_are_accepted(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.account = three_team_account()
    fake_api.fail(
        "tiers",
        body={
            "organizations": [
                {"organizationId": "org-acme", "tier": "ENTERPRISE", "isTrialing": False, "x": 1}
            ],
            "next": None,
        },
    )
    assert billing.get_tiers(fake_api.session_key)[0].tier == "ENTERPRISE"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(account=accounts())
def test_any_account_round_trips_through_http(
    fake_api: FakeBillingApi,
    billing: HttpBillingService,
    team_service: HttpTeamService,
    account: Account,
) -> None:
    fake_api.account = account
    key = fake_api.session_key
    assert billing.get_usages(key) == account.usages
    assert team_service.list_teams(key) == account.teams
    if account.free_user_limit is None:
        with pytest.raises(BillingApiError) as caught:
            billing.get_free_user_limit(key)
        assert caught.value.status_code == 404
    else:
        assert billing.get_free_user_limit(key) == account.free_user_limit


# --- teams ---------------------------------------------------------------------------


def test_teams_sync_and_async(fake_api: FakeBillingApi, team_service: HttpTeamService) -> None:
    account = three_team_account()
    fake_api.account = account
    assert team_service.list_teams(fake_api.session_key) == account.teams
    assert async_list_teams(fake_api) == account.teams


def test_250_teams_take_three_pages(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    many = tuple(team(f"org-{i:03}") for i in range(250))
    fake_api.account = Account(teams=many)
    assert team_service.list_teams(fake_api.session_key) == many
    assert fake_api.requests_by_endpoint == {"teams": 3}
    fake_api.reset_counters()
    assert async_list_teams(fake_api) == many
    assert fake_api.requests_by_endpoint == {"teams": 3}


def test_exactly_one_full_page_takes_one_request(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    fake_api.account = Account(teams=[team(f"org-{i:03}") for i in range(100)])
    assert len(team_service.list_teams(fake_api.session_key)) == 100
    assert fake_api.request_count == 1


def _page(teams: list[dict[str, Any]], *, total: int, offset: int = 0) -> dict[str, Any]:
    return {
        "code": 200,
        "message": "ok",
        "data": {"teams": teams, "total": total, "limit": 100, "offset": offset},
    }


def _api_team(team_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": team_id,
        "name": team_id,
        "display_name": team_id.upper(),
        "is_default": False,
        "is_active": True,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        **extra,
    }


def test_an_empty_page_ends_the_listing_even_below_total(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    fake_api.fail("teams", body=_page([_api_team("a")], total=500), times=1)
    fake_api.fail("teams", body=_page([], total=500, offset=1), times=1)
    teams = team_service.list_teams(fake_api.session_key)
    assert [t.id for t in teams] == ["a"]
    assert fake_api.request_count == 2


def test_api_team_defaults_and_extra_keys(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    items = [
        _api_team("a", name="alpha"),  # no slug, no avatar_url
        _api_team("b", slug=None, avatar_url=None, description="x", future={"k": 1}),
        _api_team("c", slug="see", avatar_url="https://img.example/c.png", is_default=True),
    ]
    fake_api.fail("teams", body=_page(items, total=3))
    a, b, c = team_service.list_teams(fake_api.session_key)
    assert (a.slug, a.name, a.display_name, a.avatar_url) == ("alpha", "alpha", "A", None)
    assert (b.slug, b.avatar_url) == ("b", None)
    assert c == Team(
        id="c",
        name="c",
        display_name="C",
        slug="see",
        avatar_url="https://img.example/c.png",
        is_default=True,
    )


def test_a_team_seen_on_two_pages_is_kept_once(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    # A team created between two page requests shifts the offsets by one.
    fake_api.fail("teams", body=_page([_api_team("a"), _api_team("b")], total=3), times=1)
    fake_api.fail("teams", body=_page([_api_team("b"), _api_team("c")], total=3), times=1)
    assert [t.id for t in team_service.list_teams(fake_api.session_key)] == ["a", "b", "c"]


def test_a_listing_that_repeats_itself_is_refused(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    fake_api.fail("teams", body=_page([_api_team("a")], total=10))  # ignores the offset
    with pytest.raises(BillingPayloadError, match="repeats itself"):
        team_service.list_teams(fake_api.session_key)
    assert fake_api.request_count == 2


def test_a_listing_that_never_ends_is_cut_off(fake_api: FakeBillingApi) -> None:
    fake_api.account = Account(teams=[team(f"org-{i:03}") for i in range(500)])
    with (
        HttpTeamService(fake_api.team_base_url, timeout=FAST, max_pages=3) as team_service,
        pytest.raises(BillingPayloadError, match="does not end after 3 pages"),
    ):
        team_service.list_teams(fake_api.session_key)
    assert fake_api.request_count == 3
    with pytest.raises(BillingPayloadError, match="does not end after 2 pages"):
        async_list_teams(fake_api, max_pages=2)
    assert fake_api.request_count == 5


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"display_name": 7}, "data.teams[2].display_name"),
        ({"id": ""}, "data.teams[2].id"),
        ({"id": None}, "data.teams[2].id"),
        ({"is_default": "yes"}, "data.teams[2].is_default"),
        ({"slug": 3}, "data.teams[2].slug"),
        ({"avatar_url": False}, "data.teams[2].avatar_url"),
    ],
)
def test_wrong_team_types_name_the_path(
    fake_api: FakeBillingApi,
    team_service: HttpTeamService,
    item: dict[str, Any],
    path: str,
) -> None:
    bad = _api_team("c") | item
    fake_api.fail("teams", body=_page([_api_team("a"), _api_team("b"), bad], total=3))
    with pytest.raises(BillingPayloadError) as caught:
        team_service.list_teams(fake_api.session_key)
    assert caught.value.path == path
    assert "GET /teams" in str(caught.value)


def test_a_team_without_name_names_the_missing_key(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    nameless = _api_team("a")
    del nameless["name"]
    fake_api.fail("teams", body=_page([nameless], total=1))
    with pytest.raises(BillingPayloadError, match="missing") as caught:
        team_service.list_teams(fake_api.session_key)
    assert caught.value.path == "data.teams[0].name"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"code": 200, "message": "ok"}, "data"),
        ({"code": 200, "data": {"total": 1}}, "data.teams"),
        ({"code": 200, "data": {"teams": []}}, "data.total"),
        ({"code": 200, "data": {"teams": [], "total": "1"}}, "data.total"),
        ({"code": "200", "data": {"teams": [], "total": 0}}, "code"),
        ({"code": 200, "data": {"teams": ["x"], "total": 1}}, "data.teams[0]"),
    ],
)
def test_a_broken_team_envelope_is_a_payload_error(
    fake_api: FakeBillingApi, team_service: HttpTeamService, body: dict[str, Any], path: str
) -> None:
    fake_api.fail("teams", body=body)
    with pytest.raises(BillingPayloadError) as caught:
        team_service.list_teams(fake_api.session_key)
    assert caught.value.path == path


def test_an_envelope_reporting_401_is_an_auth_error(
    fake_api: FakeBillingApi, team_service: HttpTeamService
) -> None:
    fake_api.fail("teams", body={"code": 401, "message": "Session expired", "data": None})
    with pytest.raises(BillingAuthError) as caught:
        team_service.list_teams(fake_api.session_key)
    assert caught.value.status_code == 401
    assert caught.value.message == "Session expired"


# --- error mapping -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors_with_the_upstream_message(
    fake_api: FakeBillingApi, billing: HttpBillingService, status: int
) -> None:
    fake_api.fail("usages", status=status, body={"statusCode": status, "message": "Go away"})
    with pytest.raises(BillingAuthError) as caught:
        billing.get_raw_usages(fake_api.session_key)
    error = caught.value
    assert (error.status_code, error.message, error.endpoint) == (
        status,
        "Go away",
        "GET /billing/usages",
    )
    assert str(error) == f"GET /billing/usages answered {status}: Go away"
    assert fake_api.request_count == 1  # never retried


def test_a_wrong_session_key_is_an_auth_error(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    with pytest.raises(BillingAuthError, match="Invalid or expired session"):
        billing.get_tiers("some-other-key")


def test_500_takes_its_message_from_error(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("free-limit", status=500, body={"error": "database on fire"})
    with pytest.raises(BillingApiError) as caught:
        billing.get_free_user_limit(fake_api.session_key)
    error = caught.value
    assert not isinstance(error, BillingAuthError)
    assert (error.status_code, error.message) == (500, "database on fire")
    assert error.endpoint == "GET /billing/usage/free-user/limit"


def test_an_error_without_json_uses_the_reason_phrase(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("tiers", status=418, body=b"<html>teapot</html>")
    with pytest.raises(BillingApiError) as caught:
        billing.get_tiers(fake_api.session_key)
    assert caught.value.message == "I'm a Teapot"


def test_a_list_of_messages_is_joined(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("tiers", status=400, body={"message": ["limit too big", "offset < 0"]})
    with pytest.raises(BillingApiError, match="limit too big; offset < 0"):
        billing.get_tiers(fake_api.session_key)


def test_upstream_messages_are_one_bounded_line(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("tiers", status=500, body={"message": "\x1b[31mred\nline" + "x" * 1000})
    with pytest.raises(BillingApiError) as caught:
        billing.get_tiers(fake_api.session_key)
    message = caught.value.message
    assert message.startswith("[31mred line")
    assert message.isprintable()
    assert len(message) <= 300


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'{"organizations": [], "x": NaN}', "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"organizations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_malformed_bodies_are_payload_errors(
    fake_api: FakeBillingApi, billing: HttpBillingService, body: bytes, fragment: str
) -> None:
    fake_api.fail("usages", body=body)
    with pytest.raises(BillingPayloadError, match=fragment) as caught:
        billing.get_raw_usages(fake_api.session_key)
    assert "GET /billing/usages" in str(caught.value)
    assert fake_api.request_count == 1  # a malformed answer is not retried


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "organizations"),
        ({"organizations": None}, "organizations"),
        ({"organizations": {"a": 1}}, "organizations"),
    ],
)
def test_a_missing_or_mistyped_organizations_list_names_it(
    fake_api: FakeBillingApi, billing: HttpBillingService, body: dict[str, Any], path: str
) -> None:
    fake_api.fail("usages", body=body)
    with pytest.raises(BillingPayloadError) as caught:
        billing.get_raw_usages(fake_api.session_key)
    assert caught.value.path == path


def test_wrong_types_name_the_path(fake_api: FakeBillingApi, billing: HttpBillingService) -> None:
    fake_api.account = three_team_account()
    good = httpx.get(
        fake_api.base_url + "/billing/usages",
        headers={"x-byterover-session-id": fake_api.session_key},
    ).json()
    good["organizations"][1]["remaining"] = "12"
    fake_api.fail("usages", body=good)
    with pytest.raises(BillingPayloadError) as caught:
        billing.get_usages(fake_api.session_key)
    assert caught.value.path == "organizations[1].remaining"
    with pytest.raises(BillingPayloadError) as caught_async:
        async_billing_call(fake_api, "get_raw_usages")
    assert caught_async.value.path == "organizations[1].remaining"


def test_a_free_limit_with_a_bool_for_an_int_names_the_path(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    window = {"limit": 1, "used": 0, "remaining": True, "percentUsed": 0, "limitExceeded": False}
    fake_api.fail("free-limit", body={"daily": window, "monthly": window, "limitExceeded": False})
    with pytest.raises(BillingPayloadError) as caught:
        billing.get_free_user_limit(fake_api.session_key)
    assert caught.value.path == "daily.remaining"


def test_an_oversized_body_is_refused(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", body=b'{"organizations": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    with (
        HttpBillingService(fake_api.base_url, timeout=FAST, max_body_bytes=1024 * 1024) as billing,
        pytest.raises(BillingPayloadError, match="larger than 1 MB"),
    ):
        billing.get_raw_usages(fake_api.session_key)
    with pytest.raises(BillingPayloadError, match="larger than 1000 bytes"):
        async_billing_call(fake_api, "get_raw_usages", max_body_bytes=1000)


def test_when_both_fail_the_usages_error_wins(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("usages", status=500, body={"message": "usages broke"})
    fake_api.fail("tiers", status=500, body={"message": "tiers broke"})
    with pytest.raises(BillingApiError, match="usages broke"):
        billing.get_usages(fake_api.session_key)
    with pytest.raises(BillingApiError, match="usages broke"):
        async_billing_call(fake_api, "get_usages")
    fake_api.reset_faults()
    fake_api.fail("tiers", status=500, body={"message": "tiers broke"})
    with pytest.raises(BillingApiError, match="tiers broke"):
        billing.get_usages(fake_api.session_key)
    with pytest.raises(BillingApiError, match="tiers broke"):
        async_billing_call(fake_api, "get_usages")


@pytest.mark.parametrize("auth_on", ["usages", "tiers"])
def test_when_both_fail_an_expired_session_wins(
    fake_api: FakeBillingApi, billing: HttpBillingService, auth_on: str
) -> None:
    other = "tiers" if auth_on == "usages" else "usages"
    fake_api.fail(auth_on, status=401, body={"message": "session expired"})
    fake_api.fail(other, status=500, body={"message": "broke"})
    with pytest.raises(BillingAuthError, match="session expired"):
        billing.get_usages(fake_api.session_key)
    with pytest.raises(BillingAuthError, match="session expired"):
        async_billing_call(fake_api, "get_usages")


# --- retries -----------------------------------------------------------------------------


TRANSIENT_FAULTS: list[dict[str, Any]] = [
    {"status": 502},
    {"status": 503},
    {"status": 504},
    {"drop": True},
]


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS, ids=["502", "503", "504", "drop"])
def test_a_transient_failure_is_retried_once(
    fake_api: FakeBillingApi, billing: HttpBillingService, fault: dict[str, Any]
) -> None:
    fake_api.account = three_team_account()
    fake_api.fail("usages", times=1, **fault)
    assert billing.get_raw_usages(fake_api.session_key) == fake_api.account.raw_usages()
    assert fake_api.request_count == 2


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS, ids=["502", "503", "504", "drop"])
def test_a_transient_failure_is_retried_once_async(
    fake_api: FakeBillingApi, fault: dict[str, Any]
) -> None:
    fake_api.account = three_team_account()
    fake_api.fail("tiers", times=1, **fault)
    assert async_billing_call(fake_api, "get_tiers") == fake_api.account.tiers()
    assert fake_api.request_count == 2


def test_a_lasting_failure_is_tried_exactly_twice(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("usages", status=503, body={"message": "maintenance"})
    with pytest.raises(BillingApiError, match="maintenance") as caught:
        billing.get_raw_usages(fake_api.session_key)
    assert caught.value.status_code == 503
    assert fake_api.request_count == 2


def test_a_dropped_connection_twice_is_a_clear_error(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    fake_api.fail("usages", drop=True)
    with pytest.raises(BillingApiError, match="connection dropped") as caught:
        billing.get_raw_usages(fake_api.session_key)
    assert caught.value.status_code is None
    assert fake_api.request_count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500, 501])
def test_other_failures_are_never_retried(
    fake_api: FakeBillingApi, billing: HttpBillingService, status: int
) -> None:
    fake_api.fail("usages", status=status)
    with pytest.raises(BillingApiError) as caught:
        billing.get_raw_usages(fake_api.session_key)
    assert caught.value.status_code == status
    assert fake_api.request_count == 1


def test_max_retries_zero_disables_retries(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", status=503, times=1)
    with (
        HttpBillingService(fake_api.base_url, max_retries=0) as billing,
        pytest.raises(BillingApiError),
    ):
        billing.get_raw_usages(fake_api.session_key)
    assert fake_api.request_count == 1
    fake_api.fail("usages", status=503, times=1)
    with pytest.raises(BillingApiError):
        async_billing_call(fake_api, "get_raw_usages", max_retries=0)
    assert fake_api.request_count == 2


def test_max_retries_two_allows_three_attempts(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", status=503, times=2)
    with HttpBillingService(fake_api.base_url, max_retries=2, timeout=FAST) as billing:
        assert billing.get_raw_usages(fake_api.session_key) == ()
    assert fake_api.request_count == 3


# --- timeouts and dead servers -------------------------------------------------------------


def test_a_slow_server_times_out_without_retry(fake_api: FakeBillingApi) -> None:
    # Had the client waited for the answer, it would have got a 200.
    fake_api.fail("usages", latency=5.0)
    with (
        HttpBillingService(fake_api.base_url, timeout=0.2) as billing,
        pytest.raises(BillingApiError) as caught,
    ):
        billing.get_raw_usages(fake_api.session_key)
    assert str(caught.value) == "GET /billing/usages: timed out after 0.2s"
    assert caught.value.status_code is None
    assert fake_api.request_count == 1  # the budget is spent: no retry


def test_a_slow_server_times_out_async(fake_api: FakeBillingApi) -> None:
    fake_api.fail("tiers", latency=5.0)
    with pytest.raises(BillingApiError, match=r"timed out after 0\.2s"):
        async_billing_call(fake_api, "get_tiers", timeout=0.2)
    assert fake_api.request_count == 1


def test_a_slow_retry_stays_within_the_budget(fake_api: FakeBillingApi) -> None:
    # The first attempt fails fast, the retry is slow: it must be cut at the
    # deadline of the whole call, not get a fresh budget.
    fake_api.fail("usages", status=503, times=1)
    fake_api.fail("usages", latency=5.0, times=1)
    with (
        HttpBillingService(fake_api.base_url, timeout=1.0) as billing,
        pytest.raises(BillingApiError, match=r"timed out after 1s"),
    ):
        billing.get_raw_usages(fake_api.session_key)
    assert fake_api.request_count == 2


def test_connection_refused(dead_url: str) -> None:
    with (
        HttpBillingService(dead_url, timeout=FAST) as billing,
        pytest.raises(BillingApiError) as caught,
    ):
        billing.get_raw_usages("key")
    assert caught.value.status_code is None
    assert str(caught.value) == "GET /billing/usages: connection refused"

    async def go() -> None:
        async with AsyncHttpTeamService(dead_url, timeout=FAST) as teams:
            await teams.list_teams("key")

    with pytest.raises(BillingApiError, match="connection refused"):
        run(go())


# --- connections --------------------------------------------------------------------------


def test_one_service_reuses_one_connection(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    for _ in range(5):
        billing.get_raw_usages(fake_api.session_key)
    assert fake_api.connection_count == 1


def test_concurrent_usages_reuse_their_two_connections(
    fake_api: FakeBillingApi, billing: HttpBillingService
) -> None:
    for _ in range(5):
        billing.get_usages(fake_api.session_key)
    assert fake_api.request_count == 10
    assert fake_api.connection_count <= 2


def test_async_service_reuses_connections(fake_api: FakeBillingApi) -> None:
    async def go() -> None:
        async with AsyncHttpBillingService(fake_api.base_url, timeout=FAST) as billing:
            for _ in range(5):
                await billing.get_usages(fake_api.session_key)

    run(go())
    assert fake_api.request_count == 10
    assert fake_api.connection_count <= 2


def test_a_caller_owned_client_is_used_and_left_open(fake_api: FakeBillingApi) -> None:
    with httpx.Client(follow_redirects=True) as client:
        with HttpBillingService(fake_api.base_url, client=client) as billing:
            billing.get_tiers(fake_api.session_key)
        assert not client.is_closed
        assert client.get(fake_api.base_url + "/teams").status_code == 401
    assert fake_api.connection_count == 1

    async def go() -> bool:
        async with httpx.AsyncClient() as async_client:
            async with AsyncHttpBillingService(fake_api.base_url, client=async_client) as svc:
                await svc.get_tiers(fake_api.session_key)
            return async_client.is_closed

    assert run(go()) is False


def test_one_async_service_serves_successive_event_loops(fake_api: FakeBillingApi) -> None:
    # Each asyncio.run closes its loop, and with it the pooled connections of that loop.
    account = three_team_account()
    fake_api.account = account
    key = fake_api.session_key
    billing = AsyncHttpBillingService(fake_api.base_url, timeout=FAST)
    teams = AsyncHttpTeamService(fake_api.team_base_url, timeout=FAST)

    assert run(billing.get_free_user_limit(key)) == account.free_user_limit
    assert run(billing.get_free_user_limit(key)) == account.free_user_limit
    assert run(billing.get_usages(key)) == account.usages
    assert run(billing.get_usages(key)) == account.usages
    assert run(teams.list_teams(key)) == account.teams
    assert run(teams.list_teams(key)) == account.teams

    async def twice_in_one_loop() -> None:
        await billing.get_raw_usages(key)
        await billing.get_raw_usages(key)

    before = fake_api.connection_count
    run(twice_in_one_loop())
    assert fake_api.connection_count == before + 1  # within a loop, connections are pooled
    run(billing.aclose())  # closing from yet another loop is fine too
    run(teams.aclose())
    with pytest.raises(BillingConfigError, match="the service is closed"):
        run(billing.get_tiers(key))


def test_one_async_service_serves_loops_running_at_once_in_threads(
    fake_api: FakeBillingApi,
) -> None:
    account = three_team_account()
    fake_api.account = account
    billing = AsyncHttpBillingService(fake_api.base_url, timeout=FAST)
    start = threading.Barrier(3, timeout=10)

    async def session() -> list[Any]:
        results = []
        for _ in range(3):
            results.append(await billing.get_usages(fake_api.session_key))
            await asyncio.sleep(0.001)  # let the other loops interleave
        return results

    def in_a_thread() -> list[Any]:
        start.wait()
        result: list[Any] = run(session())
        return result

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = [pool.submit(in_a_thread) for _ in range(3)]
        results = [outcome.result(timeout=30) for outcome in outcomes]
    assert results == [[account.usages] * 3] * 3


def test_aresolve_billing_can_reuse_one_async_service_across_event_loops(
    fake_api: FakeBillingApi,
) -> None:
    account = three_team_account()
    fake_api.account = account
    paid = next(u for u in account.usages if u.tier != "FREE")
    billing = AsyncHttpBillingService(fake_api.base_url, timeout=FAST)
    pins = InMemoryPinStore(paid.organization_id)

    for _ in range(3):
        resolution = run(
            aresolve_billing(
                active_provider="byterover",
                session_key=fake_api.session_key,
                billing=billing,
                pins=pins,
            )
        )
        assert resolution.problems == ()
        assert isinstance(resolution.status, PaidBilling)
        assert resolution.status.organization_id == paid.organization_id


def test_a_caller_owned_async_client_is_bound_to_its_first_event_loop(
    fake_api: FakeBillingApi,
) -> None:
    client = httpx.AsyncClient()
    billing = AsyncHttpBillingService(fake_api.base_url, client=client, timeout=FAST)

    async def twice() -> None:
        await billing.get_tiers(fake_api.session_key)
        await billing.get_tiers(fake_api.session_key)

    run(twice())
    # Its pooled connection belongs to the closed loop: httpx itself would raise a bare
    # RuntimeError("Event loop is closed") here.
    for _ in range(2):
        with pytest.raises(BillingConfigError, match="first used in another event loop"):
            run(billing.get_tiers(fake_api.session_key))
    assert fake_api.request_count == 2


def test_closing_twice_is_fine_and_a_closed_service_says_so(fake_api: FakeBillingApi) -> None:
    billing = HttpBillingService(fake_api.base_url)
    billing.get_tiers(fake_api.session_key)
    billing.close()
    billing.close()
    with pytest.raises(BillingConfigError, match="closed"):
        billing.get_tiers(fake_api.session_key)

    async def go() -> None:
        service = AsyncHttpTeamService(fake_api.team_base_url)
        await service.aclose()
        await service.aclose()
        await service.list_teams(fake_api.session_key)

    with pytest.raises(BillingConfigError, match="closed"):
        run(go())


def test_a_closed_caller_client_is_a_config_error(fake_api: FakeBillingApi) -> None:
    client = httpx.Client()
    client.close()
    with pytest.raises(BillingConfigError, match="closed"):
        HttpBillingService(fake_api.base_url, client=client).get_tiers(fake_api.session_key)


def test_a_client_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(BillingConfigError, match=r"httpx\.Client"):
        HttpBillingService("https://api.example.com", client=object())  # type: ignore[arg-type]

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            HttpTeamService("https://api.example.com", client=client)  # type: ignore[arg-type]

    with pytest.raises(BillingConfigError, match=r"httpx\.Client"):
        run(go())
    with pytest.raises(BillingConfigError, match=r"httpx\.AsyncClient"):
        AsyncHttpBillingService("https://api.example.com", client=httpx.Client())  # type: ignore[arg-type]


# --- security --------------------------------------------------------------------------------


def test_redirects_are_not_followed(fake_api: FakeBillingApi) -> None:
    with FakeBillingApi(Account(), session_key=fake_api.session_key) as elsewhere:
        target = elsewhere.base_url + "/billing/usages"
        fake_api.fail("usages", status=302, headers={"Location": target})
        with (
            HttpBillingService(fake_api.base_url, timeout=FAST) as billing,
            pytest.raises(BillingApiError) as caught,
        ):
            billing.get_raw_usages(fake_api.session_key)
        with (
            httpx.Client(follow_redirects=True) as client,
            HttpBillingService(fake_api.base_url, client=client) as billing,
            pytest.raises(BillingApiError),
        ):
            billing.get_raw_usages(fake_api.session_key)
        with pytest.raises(BillingApiError):
            async_billing_call(fake_api, "get_raw_usages")
        assert elsewhere.request_count == 0  # the key never reached the other origin
    assert caught.value.status_code == 302
    assert "not followed" in caught.value.message
    assert fake_api.request_count == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/api",
        "http://10.0.0.1",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "http://[::ffff:8.8.8.8]",
        "ftp://127.0.0.1",
        "file:///etc/passwd",
        "127.0.0.1:8080",
        "https://",
        "https://user:pw@api.example.com",
        "https://api.example.com/api?x=1",
        "https://api.example.com/api#frag",
        "https://api.example.com:99999",
        "https://api.example.com/a b",
        "https://api.example.com/\n",
        "https://a..b",  # an empty label: the IDNA codec refuses it
        "https://xn--a/",  # invalid punycode
        "https://" + "a" * 64 + ".example.com",  # a label longer than 63
        "",
        "   ",
    ],
)
def test_unsafe_or_invalid_base_urls_are_refused(url: str) -> None:
    for service_type in (HttpBillingService, HttpTeamService):
        with pytest.raises(BillingConfigError):
            service_type(url)
    for async_type in (AsyncHttpBillingService, AsyncHttpTeamService):
        with pytest.raises(BillingConfigError):
            async_type(url)


@pytest.mark.parametrize("url", ["https://a..b", "https://xn--a/"])
def test_a_host_name_that_cannot_be_encoded_is_a_config_error_up_front(url: str) -> None:
    # These pass urlsplit; unchecked, httpx's IDNA encoding would raise a bare
    # UnicodeError at request time (sync), while async said "could not resolve".
    for service_type in (HttpBillingService, AsyncHttpBillingService):
        with pytest.raises(BillingConfigError, match="does not have a valid host name") as caught:
            service_type(url)
        assert str(caught.value).isprintable()


def test_an_encoding_failure_at_request_time_is_the_same_api_error_sync_and_async() -> None:
    # The second line of defence, should a host get past the check: the transport
    # (here a caller's own) refuses to encode it.
    def handler(request: httpx.Request) -> httpx.Response:
        raise UnicodeError("encoding with 'idna' codec failed")

    transport = httpx.MockTransport(handler)
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(BillingApiError) as caught_sync,
    ):
        HttpBillingService("https://api.example.com", client=client).get_tiers("key")

    async def go() -> Any:
        async with httpx.AsyncClient(transport=transport) as client:
            service = AsyncHttpBillingService("https://api.example.com", client=client)
            return await service.get_tiers("key")

    with pytest.raises(BillingApiError) as caught_async:
        run(go())
    for caught in (caught_sync, caught_async):
        assert str(caught.value) == (
            "GET /billing/organizations/tiers: the host name cannot be encoded"
        )
        assert caught.value.status_code is None


def test_a_base_url_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(BillingConfigError):
        HttpBillingService(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://127.0.0.1:8080/api/v1/", "http://127.0.0.1:8080/api/v1"),
        ("http://127.0.0.2", "http://127.0.0.2"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("http://localhost:3000/api//", "http://localhost:3000/api"),
        ("HTTP://LOCALHOST", "HTTP://LOCALHOST"),
        ("https://api.example.com/api/v1", "https://api.example.com/api/v1"),
        ("https://10.1.2.3", "https://10.1.2.3"),
    ],
)
def test_https_and_loopback_http_are_allowed(url: str, normalised: str) -> None:
    assert HttpBillingService(url).base_url == normalised
    assert AsyncHttpTeamService(url).base_url == normalised


def test_loopback_http_works_through_localhost(fake_api: FakeBillingApi) -> None:
    url = f"http://localhost:{fake_api.port}/api/v1"
    with HttpBillingService(url, timeout=FAST) as billing:
        assert billing.get_tiers(fake_api.session_key) == ()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": 1e10}, "up to 86400"),  # the socket layer would overflow
        ({"timeout": "10"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"max_body_bytes": True}, "max_body_bytes"),
        ({"max_body_bytes": 1e6}, "max_body_bytes"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BillingConfigError, match=fragment):
        HttpBillingService("https://api.example.com", **options)
    with pytest.raises(BillingConfigError, match=fragment):
        AsyncHttpTeamService("https://api.example.com", **options)


@pytest.mark.parametrize("max_pages", [0, -1, True, 2.0, "3"])
def test_a_bad_page_cap_is_refused(max_pages: Any) -> None:
    for service_type in (HttpTeamService, AsyncHttpTeamService):
        with pytest.raises(BillingConfigError, match="max_pages must be an int >= 1"):
            service_type("https://api.example.com", max_pages=max_pages)


def test_the_longest_timeout_works_sync_and_async(fake_api: FakeBillingApi) -> None:
    longest = http_adapter.MAX_TIMEOUT
    with HttpBillingService(fake_api.base_url, timeout=longest) as billing:
        assert billing.get_tiers(fake_api.session_key) == ()
    assert async_billing_call(fake_api, "get_tiers", timeout=longest) == ()


def test_a_content_length_with_non_ascii_digits_is_not_a_crash() -> None:
    # h11 refuses such a header on the wire, so only a caller's own transport can
    # deliver it: this is the one test here that needs a mock transport.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers=[(b"content-length", b"\xb2")], content=b'{"organizations": []}'
        )

    transport = httpx.MockTransport(handler)
    with httpx.Client(transport=transport) as client:
        billing = HttpBillingService("https://api.example.com", client=client)
        assert billing.get_tiers("key") == ()

    async def go() -> Any:
        async with httpx.AsyncClient(transport=transport) as client:
            service = AsyncHttpBillingService("https://api.example.com", client=client)
            return await service.get_tiers("key")

    assert run(go()) == ()


BAD_KEYS = [
    "abc\ndef",
    "abc\r\nx-evil: 1",
    "\x00",
    "tab\there",
    "del\x7f",
    "c1\x85",
    "caf\u00e9",
    "snow\u2603",
    " padded",
    "padded ",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_session_key_with_control_characters_is_refused_unsent(
    fake_api: FakeBillingApi,
    billing: HttpBillingService,
    team_service: HttpTeamService,
    key: str,
) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: billing.get_raw_usages(key),
        lambda: billing.get_tiers(key),
        lambda: billing.get_free_user_limit(key),
        lambda: billing.get_usages(key),
        lambda: team_service.list_teams(key),
        lambda: async_billing_call(fake_api, "get_usages", key),
    ]
    for call in calls:
        with pytest.raises(BillingConfigError) as caught:
            call()
        assert key not in str(caught.value)
    assert fake_api.request_count == 0
    assert fake_api.connection_count == 0


def test_an_empty_session_key_means_not_signed_in(
    fake_api: FakeBillingApi, billing: HttpBillingService, team_service: HttpTeamService
) -> None:
    with pytest.raises(NotAuthenticatedError):
        billing.get_usages("")
    with pytest.raises(NotAuthenticatedError):
        team_service.list_teams("")
    with pytest.raises(BillingConfigError):
        billing.get_tiers(None)  # type: ignore[arg-type]
    assert fake_api.request_count == 0


def test_the_session_key_never_leaks(
    fake_api: FakeBillingApi, caplog: pytest.LogCaptureFixture, dead_url: str
) -> None:
    key = fake_api.session_key
    errors: list[BillingError] = []

    def expect_error(call: Callable[[], Any]) -> None:
        with pytest.raises(BillingError) as caught:
            call()
        errors.append(caught.value)

    caplog.set_level(logging.DEBUG)
    with (
        HttpBillingService(fake_api.base_url, timeout=0.5) as billing,
        HttpTeamService(fake_api.team_base_url, timeout=0.5) as team_service,
    ):
        billing.get_usages(key)
        team_service.list_teams(key)
        # An upstream that echoes the key back in its message gets redacted.
        fake_api.fail("usages", status=401, body={"message": f"bad session {key}"}, times=1)
        expect_error(lambda: billing.get_raw_usages(key))
        assert "[redacted]" in str(errors[-1])
        fake_api.fail("tiers", status=503, body={"error": key})
        expect_error(lambda: billing.get_tiers(key))
        fake_api.fail("tiers", status=302, headers={"Location": f"https://x.example/?k={key}"})
        expect_error(lambda: billing.get_tiers(key))
        fake_api.fail("free-limit", body=f'{{"daily": "{key}"}}')
        expect_error(lambda: billing.get_free_user_limit(key))
        fake_api.fail("teams", body={"code": 500, "message": key})
        expect_error(lambda: team_service.list_teams(key))
        fake_api.fail("usages", drop=True)
        expect_error(lambda: billing.get_raw_usages(key))
        fake_api.fail("usages", latency=5.0)
        expect_error(lambda: billing.get_raw_usages(key))
        expect_error(lambda: billing.get_raw_usages(key + "\n"))
        assert_secret_free(fake_api, billing, team_service)
    with HttpBillingService(dead_url, timeout=0.5) as dead:
        expect_error(lambda: dead.get_raw_usages(key))

    assert len(errors) == 9
    # Nothing chained shows up in a traceback (httpx exceptions carry the request).
    assert all(e.__cause__ is None for e in errors)
    assert all(e.__context__ is None or e.__suppress_context__ for e in errors)
    assert_secret_free(fake_api, *errors)
    assert caplog.records  # httpx and the retry logger did log
    for record in caplog.records:
        assert key not in record.getMessage()


def test_repr_names_the_url_and_timeout_only() -> None:
    assert repr(HttpBillingService("https://api.example.com/v1/", timeout=3)) == (
        "HttpBillingService('https://api.example.com/v1', timeout=3)"
    )
    assert repr(AsyncHttpTeamService("https://api.example.com")) == (
        "AsyncHttpTeamService('https://api.example.com', timeout=10)"
    )
