"""FakeBillingApi: a real loopback server for the upstream API, with faults and counters.

Talked to with plain httpx, so these tests pin down the fake itself, independently
of the HTTP adapters that are tested against it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from _billing_samples import team, three_team_account, usage

from billing_core import (
    FreeUserLimit,
    FreeUserLimitWindow,
    OrganizationTier,
    RawUsage,
    Team,
    from_wire,
)
from billing_core.testing import Account, FakeBillingApi


def _get(
    api: FakeBillingApi, path: str, *, client: httpx.Client | None = None, **params: int
) -> httpx.Response:
    headers = {"x-byterover-session-id": api.session_key}
    if client is None:
        return httpx.get(api.base_url + path, headers=headers, params=params, timeout=5)
    return client.get(api.base_url + path, headers=headers, params=params, timeout=5)


def test_billing_endpoints_serve_the_account_in_wire_format(fake_api: FakeBillingApi) -> None:
    account = three_team_account()
    fake_api.account = account

    usages = _get(fake_api, "/billing/usages")
    tiers = _get(fake_api, "/billing/organizations/tiers")
    free = _get(fake_api, "/billing/usage/free-user/limit")

    assert [r.status_code for r in (usages, tiers, free)] == [200, 200, 200]
    raw = from_wire(list[RawUsage], usages.json()["organizations"])
    assert tuple(raw) == account.raw_usages()
    assert tuple(from_wire(list[OrganizationTier], tiers.json()["organizations"])) == (
        account.tiers()
    )
    assert from_wire(FreeUserLimit, free.json()) == account.free_user_limit
    assert usages.json()["organizations"][0]["organizationId"] == "org-acme"
    assert usages.headers["content-type"].startswith("application/json")
    assert usages.http_version == "HTTP/1.1"


def test_a_free_org_without_trial_gets_no_tier_entry(fake_api: FakeBillingApi) -> None:
    fake_api.account = three_team_account()
    ids = [
        t["organizationId"]
        for t in _get(fake_api, "/billing/organizations/tiers").json()["organizations"]
    ]
    assert "org-free" not in ids
    assert "org-acme" in ids


def test_missing_free_limit_is_a_404_with_the_upstream_error_shape(
    fake_api: FakeBillingApi,
) -> None:
    fake_api.account = Account(free_user_limit=None)
    response = _get(fake_api, "/billing/usage/free-user/limit")
    assert response.status_code == 404
    body = response.json()
    assert body["statusCode"] == 404
    assert body["code"] == "NOT_FOUND"
    assert isinstance(body["message"], str)
    assert isinstance(body["timestamp"], str)


@pytest.mark.parametrize("header", [None, "", "wrong-key"])
def test_a_missing_or_wrong_session_is_refused_with_401(
    fake_api: FakeBillingApi, header: str | None
) -> None:
    headers = {} if header is None else {"x-byterover-session-id": header}
    response = httpx.get(fake_api.base_url + "/billing/usages", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.json()["message"] == "Invalid or expired session"


def test_the_session_key_can_be_changed_while_running(fake_api: FakeBillingApi) -> None:
    old_key = fake_api.session_key
    fake_api.session_key = "rotated"
    response = httpx.get(
        fake_api.base_url + "/billing/usages",
        headers={"x-byterover-session-id": old_key},
        timeout=5,
    )
    assert response.status_code == 401
    assert _get(fake_api, "/billing/usages").status_code == 200


def test_unknown_paths_and_methods(fake_api: FakeBillingApi) -> None:
    assert _get(fake_api, "/billing/nope").status_code == 404
    assert httpx.get(fake_api.origin + "/billing/usages", timeout=5).status_code == 404
    response = httpx.post(fake_api.base_url + "/billing/usages", timeout=5)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_teams_are_paginated_in_snake_case(fake_api: FakeBillingApi) -> None:
    many = [team(f"org-{i:03}") for i in range(150)]
    fake_api.account = Account(teams=many)

    first = _get(fake_api, "/teams", limit=100, offset=0).json()
    second = _get(fake_api, "/teams", limit=100, offset=100).json()
    beyond = _get(fake_api, "/teams", limit=100, offset=400).json()

    assert first["code"] == 200
    assert first["message"] == "ok"
    assert len(first["data"]["teams"]) == 100
    assert first["data"]["total"] == 150
    assert (first["data"]["limit"], first["data"]["offset"]) == (100, 0)
    assert [t["id"] for t in second["data"]["teams"]] == [t.id for t in many[100:]]
    assert beyond["data"]["teams"] == []
    assert set(first["data"]["teams"][0]) >= {
        "id",
        "name",
        "display_name",
        "is_default",
        "is_active",
        "created_at",
        "updated_at",
    }


def test_a_page_larger_than_100_is_clamped(fake_api: FakeBillingApi) -> None:
    fake_api.account = Account(teams=[team(f"org-{i:03}") for i in range(150)])
    body = _get(fake_api, "/teams", limit=1000, offset=0).json()
    assert len(body["data"]["teams"]) == 100
    assert body["data"]["limit"] == 100


def test_slug_and_avatar_are_omitted_when_they_hold_no_information(
    fake_api: FakeBillingApi,
) -> None:
    plain = Team(id="org-1", name="acme", display_name="Acme", slug="acme")
    fancy = Team(
        id="org-2",
        name="beta",
        display_name="Beta",
        slug="beta-inc",
        avatar_url="https://img.example/b.png",
        is_default=True,
    )
    fake_api.account = Account(teams=[plain, fancy])
    served = _get(fake_api, "/teams").json()["data"]["teams"]
    assert "slug" not in served[0]
    assert "avatar_url" not in served[0]
    assert served[1]["slug"] == "beta-inc"
    assert served[1]["avatar_url"] == "https://img.example/b.png"
    assert served[1]["display_name"] == "Beta"
    assert served[1]["is_default"] is True


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "offset=-1"])
def test_bad_team_queries_are_400(fake_api: FakeBillingApi, query: str) -> None:
    response = httpx.get(
        f"{fake_api.team_base_url}/teams?{query}",
        headers={"x-byterover-session-id": fake_api.session_key},
        timeout=5,
    )
    assert response.status_code == 400


def test_team_prefix_can_differ_from_the_billing_prefix() -> None:
    with FakeBillingApi(Account(teams=[team("org-1")]), team_prefix="/teams-api") as api:
        assert api.team_base_url == api.origin + "/teams-api"
        headers = {"x-byterover-session-id": api.session_key}
        assert httpx.get(api.team_base_url + "/teams", headers=headers).status_code == 200
        assert httpx.get(api.base_url + "/teams", headers=headers).status_code == 404
        assert httpx.get(api.base_url + "/billing/usages", headers=headers).status_code == 200


def test_the_account_can_be_replaced_while_running(fake_api: FakeBillingApi) -> None:
    assert _get(fake_api, "/billing/usages").json() == {"organizations": []}
    fake_api.account = Account(usages=[usage("org-1", "One")])
    assert len(_get(fake_api, "/billing/usages").json()["organizations"]) == 1


# --- faults ---------------------------------------------------------------------


def test_status_fault_uses_the_upstream_error_shape(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", status=503)
    response = _get(fake_api, "/billing/usages")
    assert response.status_code == 503
    assert response.json()["statusCode"] == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    # Other endpoints are untouched.
    assert _get(fake_api, "/billing/organizations/tiers").status_code == 200


def test_body_fault_sends_raw_bytes_text_or_json(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", body=b"{not json", times=1)
    fake_api.fail("usages", body="plain text", status=500, times=1)
    fake_api.fail("usages", body={"error": "boom"}, status=500, times=1)
    first = _get(fake_api, "/billing/usages")
    second = _get(fake_api, "/billing/usages")
    third = _get(fake_api, "/billing/usages")
    assert (first.status_code, first.content) == (200, b"{not json")
    assert (second.status_code, second.text) == (500, "plain text")
    assert (third.status_code, third.json()) == (500, {"error": "boom"})
    assert _get(fake_api, "/billing/usages").status_code == 200


def test_faults_apply_for_times_requests_then_stop(fake_api: FakeBillingApi) -> None:
    fake_api.fail("tiers", status=502, times=2)
    codes = [_get(fake_api, "/billing/organizations/tiers").status_code for _ in range(3)]
    assert codes == [502, 502, 200]


def test_faults_without_times_last_until_reset(fake_api: FakeBillingApi) -> None:
    fake_api.fail("free-limit", status=500)
    codes = [_get(fake_api, "/billing/usage/free-user/limit").status_code for _ in range(3)]
    assert codes == [500, 500, 500]
    fake_api.reset_faults()
    fake_api.account = three_team_account()
    assert _get(fake_api, "/billing/usage/free-user/limit").status_code == 200


def test_fault_headers_are_sent(fake_api: FakeBillingApi) -> None:
    fake_api.fail("teams", status=302, headers={"Location": "https://elsewhere.example/"})
    response = _get(fake_api, "/teams")
    assert response.status_code == 302
    assert response.headers["location"] == "https://elsewhere.example/"


def test_drop_closes_the_connection_without_an_answer(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        _get(fake_api, "/billing/usages")
    assert _get(fake_api, "/billing/usages").status_code == 200


def test_latency_fault_delays_past_a_client_timeout(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", latency=2.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            fake_api.base_url + "/billing/usages",
            headers={"x-byterover-session-id": fake_api.session_key},
            timeout=0.1,
        )
    assert _get(fake_api, "/billing/usages").status_code == 200


def test_global_latency_delays_every_answer() -> None:
    with FakeBillingApi(Account(), latency=2.0) as api:
        with pytest.raises(httpx.ReadTimeout):
            _get_with_timeout(api, "/teams", timeout=0.1)
        api.latency = 0.0
        assert _get_with_timeout(api, "/teams", timeout=5).status_code == 200


def _get_with_timeout(api: FakeBillingApi, path: str, *, timeout: float) -> httpx.Response:
    return httpx.get(
        api.base_url + path, headers={"x-byterover-session-id": api.session_key}, timeout=timeout
    )


@pytest.mark.parametrize(("endpoint", "times"), [("nope", None), ("usages", 0), ("usages", -1)])
def test_bad_fault_arguments_are_refused(
    fake_api: FakeBillingApi, endpoint: str, times: int | None
) -> None:
    with pytest.raises(ValueError, match=r"endpoint|times"):
        fake_api.fail(endpoint, status=500, times=times)  # type: ignore[arg-type]


# --- counters and life cycle ---------------------------------------------------------


def test_counters_count_requests_per_endpoint_and_connections(fake_api: FakeBillingApi) -> None:
    with httpx.Client() as client:
        _get(fake_api, "/billing/usages", client=client)
        _get(fake_api, "/billing/usages", client=client)
        _get(fake_api, "/teams", client=client)
        _get(fake_api, "/nowhere", client=client)
    assert fake_api.request_count == 4
    assert fake_api.requests_by_endpoint == {"usages": 2, "teams": 1}
    assert fake_api.connection_count == 1  # keep-alive: one connection for all four

    _get(fake_api, "/billing/usages")  # a fresh client: a second connection
    assert fake_api.connection_count == 2

    fake_api.reset_counters()
    assert (fake_api.request_count, fake_api.connection_count) == (0, 0)
    assert fake_api.requests_by_endpoint == {}


def test_dropped_and_refused_requests_are_counted(fake_api: FakeBillingApi) -> None:
    fake_api.fail("usages", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        _get(fake_api, "/billing/usages")
    httpx.get(fake_api.base_url + "/billing/usages", timeout=5)  # no session: 401
    assert fake_api.requests_by_endpoint == {"usages": 2}


def test_stop_closes_everything_and_is_idempotent() -> None:
    api = FakeBillingApi(Account())
    assert repr(api) == "FakeBillingApi(stopped)"
    api.start()
    assert api.start() is api  # starting twice is harmless
    url = api.base_url
    assert repr(api) == f"FakeBillingApi({url})"
    with httpx.Client() as client:
        assert client.get(url + "/teams").status_code == 401
        api.stop()
        api.stop()
        with pytest.raises(httpx.TransportError):
            client.get(url + "/teams", timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        api.base_url  # noqa: B018


def test_stop_ends_handlers_sleeping_on_latency() -> None:
    # stop() does not wait for handler threads (they are daemons): without the
    # wake-up, the handler below would sleep on for 30 s after the server stopped.
    api = FakeBillingApi(Account(), latency=30.0).start()
    before = set(threading.enumerate())
    try:
        client = socket.create_connection(("127.0.0.1", api.port), timeout=10)
        client.sendall(b"GET /api/v1/teams HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _wait_for(lambda: api.request_count == 1)
        handlers = [
            thread
            for thread in set(threading.enumerate()) - before
            if "process_request_thread" in thread.name
        ]
    finally:
        api.stop()
    with client:
        assert client.recv(1024) == b""  # the connection is dropped, unanswered
    assert len(handlers) == 1
    handlers[0].join(timeout=5)  # bounded: a handler still asleep fails the test
    assert not handlers[0].is_alive()
    assert api.request_count == 1


def test_a_burst_of_300_connections_is_served_without_a_drop(fake_api: FakeBillingApi) -> None:
    # What 100 resolves at once open. With the standard library's listen backlog
    # of 5 the kernel dropped most of them: stalls, lost requests, errors.
    request = (
        "GET /api/v1/billing/usages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"x-byterover-session-id: {fake_api.session_key}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake_api.port)
        try:
            writer.write(request)
            return await reader.readline()
        finally:
            writer.close()

    async def burst() -> list[bytes | BaseException]:
        # Raw connections: only the server is under test (not a client's pool).
        return await asyncio.gather(
            *(asyncio.wait_for(one(), timeout=5) for _ in range(300)), return_exceptions=True
        )

    start = time.monotonic()
    answers = asyncio.run(burst())
    elapsed = time.monotonic() - start
    assert answers == [b"HTTP/1.1 200 OK\r\n"] * 300
    assert fake_api.connection_count == 300
    assert elapsed < 3  # a dropped connection costs the client a second before it retries


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.005)


def test_a_fresh_account_is_served_empty() -> None:
    window = FreeUserLimitWindow(
        limit=10, used=0, remaining=10, percent_used=0, limit_exceeded=False
    )
    account = Account(
        free_user_limit=FreeUserLimit(daily=window, monthly=window, limit_exceeded=False)
    )
    with FakeBillingApi(account) as api:
        assert _get(api, "/billing/usages").json() == {"organizations": []}
        assert _get(api, "/billing/organizations/tiers").json() == {"organizations": []}
        assert _get(api, "/teams").json()["data"] == {
            "teams": [],
            "total": 0,
            "limit": 100,
            "offset": 0,
        }
