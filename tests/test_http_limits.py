"""The HTTP adapters' bounds: time per whole request, requests in flight, memory per listing.

Also what a service does once rather than per request: check the session key,
and build an SSL context only when the base URL needs one; and what the
connections a service makes itself send, and when they are not reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from _billing_samples import team

import billing_core.adapters._request as request_module
import billing_core.adapters.http as http_adapter
from billing_core import (
    AsyncHttpBillingService,
    AsyncHttpTeamService,
    BillingApiError,
    BillingConfigError,
    BillingPayloadError,
    HttpBillingService,
    HttpTeamService,
)
from billing_core.testing import Account, FakeBillingApi

FAST = 2.0


# --- the timeout is the budget of the whole request ----------------------------------------


@contextlib.contextmanager
def raw_server(
    answer: bytes, *, drip: float | None = None, heads: list[bytes] | None = None
) -> Iterator[str]:
    """A loopback server that reads each request and sends ``answer`` as it is, then closes.

    With ``drip``, one byte every ``drip`` seconds: each read of the client gets
    a byte well within any per-read timeout, so only a budget for the whole
    request can end it (the server gives up after 6 s). With ``heads``, the
    head of each request (its line and headers) is appended to it.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def respond(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(6.0)
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(4096) or b"\r\n\r\n"
            if heads is not None:
                heads.append(received)
            if drip is None:
                conn.sendall(answer)
                return
            give_up = time.monotonic() + 6.0
            for byte in answer:
                if stop.wait(drip) or time.monotonic() > give_up:
                    return
                conn.sendall(bytes([byte]))

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=respond, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()


def dripping_server() -> contextlib.AbstractContextManager[str]:
    """A server sending its headers one byte every 0.2 s."""
    return raw_server(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 1000, drip=0.2)


def test_a_server_dripping_its_headers_cannot_stretch_a_sync_request() -> None:
    with dripping_server() as url, HttpBillingService(url, timeout=1.0) as billing:
        start = time.monotonic()
        with pytest.raises(BillingApiError, match=r"timed out after 1s"):
            billing.get_raw_usages("key")
        assert time.monotonic() - start < 1.6


def test_a_server_dripping_its_headers_cannot_stretch_an_async_request() -> None:
    async def go() -> None:
        async with AsyncHttpBillingService(url, timeout=1.0) as billing:
            await billing.get_raw_usages("key")

    with dripping_server() as url:
        start = time.monotonic()
        with pytest.raises(BillingApiError, match=r"timed out after 1s"):
            asyncio.run(go())
        assert time.monotonic() - start < 1.6


def test_the_deadline_stays_with_its_request(fake_api: FakeBillingApi) -> None:
    # A pooled connection serves the next request with that request's budget,
    # not with what was left of the previous one's.
    with HttpBillingService(fake_api.base_url, timeout=0.5) as billing:
        billing.get_tiers(fake_api.session_key)
        time.sleep(0.6)
        assert billing.get_tiers(fake_api.session_key) == ()
    assert fake_api.connection_count == 1


# --- requests in flight -------------------------------------------------------------------


class InFlight:
    """Counts the requests a client has sent and not yet had headers back for."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def sent(self, _request: httpx.Request) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def answered(self, _response: httpx.Response) -> None:
        with self._lock:
            self.now -= 1

    async def asent(self, request: httpx.Request) -> None:
        self.sent(request)

    async def aanswered(self, response: httpx.Response) -> None:
        self.answered(response)


def test_a_sync_service_has_at_most_max_in_flight_requests_out(fake_api: FakeBillingApi) -> None:
    fake_api.latency = 0.02
    counter = InFlight()
    hooks: dict[str, list[Callable[[Any], None]]] = {
        "request": [counter.sent],
        "response": [counter.answered],
    }
    with (
        httpx.Client(event_hooks=hooks) as client,
        HttpBillingService(fake_api.base_url, client=client, max_in_flight=3) as billing,
        # More threads than slots, and a client whose pool would take them all.
        ThreadPoolExecutor(24) as pool,
    ):
        results = list(pool.map(lambda _: billing.get_tiers(fake_api.session_key), range(60)))
    assert results == [()] * 60
    assert counter.peak == 3


def test_an_async_service_has_at_most_max_in_flight_requests_out(
    fake_api: FakeBillingApi,
) -> None:
    fake_api.latency = 0.02
    counter = InFlight()

    async def go() -> list[Any]:
        hooks = {"request": [counter.asent], "response": [counter.aanswered]}
        async with (
            httpx.AsyncClient(event_hooks=hooks) as client,
            AsyncHttpBillingService(fake_api.base_url, client=client, max_in_flight=4) as billing,
        ):
            return await asyncio.gather(
                *(billing.get_tiers(fake_api.session_key) for _ in range(60))
            )

    assert asyncio.run(go()) == [()] * 60
    assert counter.peak == 4


def test_waiting_for_a_slot_counts_in_the_budget(fake_api: FakeBillingApi) -> None:
    # One slot, answers in 0.3 s, budgets of 0.5 s: the second request waits
    # 0.25 s for the slot, then has 0.25 s left for a 0.3 s answer. Had the wait
    # been free, it would have succeeded at 0.55 s.
    fake_api.fail("tiers", latency=0.3)
    with HttpBillingService(fake_api.base_url, timeout=0.5, max_in_flight=1) as billing:
        first = ThreadPoolExecutor(1)
        holder = first.submit(billing.get_tiers, fake_api.session_key)
        time.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(BillingApiError, match=r"tiers: timed out after 0.5s"):
            billing.get_tiers(fake_api.session_key)
        assert time.monotonic() - start < 0.65
        assert holder.result() == ()
        first.shutdown()


def test_waiting_for_a_slot_counts_in_the_budget_async(fake_api: FakeBillingApi) -> None:
    fake_api.fail("tiers", latency=0.3)

    async def go() -> float:
        async with AsyncHttpBillingService(
            fake_api.base_url, timeout=0.5, max_in_flight=1
        ) as billing:
            holder = asyncio.ensure_future(billing.get_tiers(fake_api.session_key))
            await asyncio.sleep(0.05)
            start = time.monotonic()
            with pytest.raises(BillingApiError, match=r"tiers: timed out after 0.5s"):
                await billing.get_tiers(fake_api.session_key)
            assert await holder == ()
            return time.monotonic() - start

    assert asyncio.run(go()) < 0.65


@pytest.mark.parametrize("max_in_flight", [0, -1, True, 2.0, "3"])
def test_a_bad_in_flight_bound_is_refused(max_in_flight: Any) -> None:
    for service_type in (
        HttpBillingService,
        AsyncHttpBillingService,
        HttpTeamService,
        AsyncHttpTeamService,
    ):
        with pytest.raises(BillingConfigError, match="max_in_flight must be an int >= 1"):
            service_type("https://api.example.com", max_in_flight=max_in_flight)


# --- memory per team listing --------------------------------------------------------------


def _wide_teams(count: int) -> Account:
    """Teams with long names: a page of 100 is about 60 kB."""
    return Account(teams=[team(f"org-{i:04}", name=f"{i:04}" + "n" * 200) for i in range(count)])


def test_a_team_listing_stops_at_its_byte_budget(fake_api: FakeBillingApi) -> None:
    fake_api.account = _wide_teams(1000)
    message = r"the team list is larger than 150000 bytes over all its pages"
    with (
        HttpTeamService(fake_api.team_base_url, max_listing_bytes=150_000) as teams,
        pytest.raises(BillingPayloadError, match=message),
    ):
        teams.list_teams(fake_api.session_key)
    # Two pages fit; the third announces more than what is left: refused unread.
    assert fake_api.request_count == 3

    async def go() -> None:
        async with AsyncHttpTeamService(fake_api.team_base_url, max_listing_bytes=150_000) as teams:
            await teams.list_teams(fake_api.session_key)

    with pytest.raises(BillingPayloadError, match=message):
        asyncio.run(go())
    assert fake_api.request_count == 6


def test_a_listing_within_its_budget_is_whole(fake_api: FakeBillingApi) -> None:
    fake_api.account = _wide_teams(250)
    with HttpTeamService(fake_api.team_base_url, max_listing_bytes=1_000_000) as teams:
        assert len(teams.list_teams(fake_api.session_key)) == 250


def test_an_unannounced_body_is_cut_at_the_listing_budget() -> None:
    # Without a Content-Length, the body is refused as it streams past the budget.
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{" + b" " * 200_000 + b"}"
    with (
        raw_server(answer) as url,
        HttpTeamService(url, max_listing_bytes=100_000) as teams,
        pytest.raises(BillingPayloadError, match="larger than 100000 bytes over all its pages"),
    ):
        teams.list_teams("key")


def test_the_listing_caps_are_documented_and_bounded() -> None:
    assert http_adapter.MAX_LISTING_BYTES <= 64 * 1024 * 1024
    for service_type in (HttpTeamService, AsyncHttpTeamService):
        doc = service_type.__doc__ or ""
        assert "per body" in doc
        assert "per listing" in doc
        assert "page count" in doc
    with pytest.raises(BillingConfigError, match="max_listing_bytes must be an int >= 1"):
        HttpTeamService("https://api.example.com", max_listing_bytes=0)


# --- done once per service, not per request ------------------------------------------------


def test_the_session_key_is_checked_once_per_key(
    fake_api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = request_module.session_key_flaw

    def counting(key: str) -> str | None:
        checked.append(key)
        return real(key)

    monkeypatch.setattr(request_module, "session_key_flaw", counting)
    with HttpBillingService(fake_api.base_url, timeout=FAST) as billing:
        for _ in range(3):
            billing.get_usages(fake_api.session_key)
        with pytest.raises(BillingApiError):
            billing.get_tiers("another-key")  # refused by the server, checked first
        with pytest.raises(BillingConfigError, match="control characters"):
            billing.get_tiers("bad\nkey")
    assert len(checked) == 3  # the key, another key, the bad key


def test_no_ssl_context_is_built_for_a_loopback_http_url(
    fake_api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    for module, name in ((httpx, "create_ssl_context"), (ssl, "create_default_context")):
        real = getattr(module, name)

        def counting(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            built.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)

    async def go() -> None:
        async with AsyncHttpBillingService(fake_api.base_url) as billing:
            await billing.get_usages(fake_api.session_key)

    with HttpBillingService(fake_api.base_url) as billing:
        billing.get_usages(fake_api.session_key)
    asyncio.run(go())
    assert built == []

    with HttpBillingService("https://billing.example.com") as remote:
        remote._http.sender()  # the connections it would send with
    assert "create_ssl_context" in built


# --- what a service's own connections send ------------------------------------------------


def _request_head(head: bytes) -> tuple[str, dict[str, str]]:
    line, *fields = head.decode("ascii").split("\r\n\r\n")[0].split("\r\n")
    pairs = [field.split(":", 1) for field in fields]
    return line, {name.lower(): value.strip() for name, value in pairs}


def test_own_connections_send_the_usual_headers_and_never_a_cookie() -> None:
    # Requests skip httpx's client layer: they must still carry what it would
    # have added, and a cookie the upstream sets for one key must not travel
    # with the next request, whatever its key.
    body = b'{"organizations": []}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: seen=key-1; Path=/\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    heads: list[bytes] = []

    async def go(url: str) -> list[Any]:
        async with AsyncHttpBillingService(url, timeout=FAST) as billing:
            return [await billing.get_tiers("key-1"), await billing.get_tiers("key-2")]

    with raw_server(answer, heads=heads) as url:
        with HttpBillingService(url, timeout=FAST) as billing:
            assert [billing.get_tiers("key-1"), billing.get_tiers("key-2")] == [(), ()]
        assert asyncio.run(go(url)) == [(), ()]
        host = url.removeprefix("http://").split("/")[0]

    assert len(heads) == 4
    for head, key in zip(heads, ["key-1", "key-2"] * 2, strict=True):
        assert _request_head(head) == (
            "GET /api/v1/billing/organizations/tiers HTTP/1.1",
            {
                "host": host,
                "accept": "application/json",
                "accept-encoding": "gzip, deflate",
                "connection": "keep-alive",
                "user-agent": "billing-core",
                "x-byterover-session-id": key,
            },
        )


def test_a_team_page_query_reaches_the_upstream() -> None:
    body = b'{"data": {"teams": [], "total": 0}}'
    answer = (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    heads: list[bytes] = []

    async def go(url: str) -> Any:
        async with AsyncHttpTeamService(url, timeout=FAST) as teams:
            return await teams.list_teams("key")

    with raw_server(answer, heads=heads) as url:
        with HttpTeamService(url, timeout=FAST) as teams:
            assert teams.list_teams("key") == ()
        assert asyncio.run(go(url)) == ()
    lines = [_request_head(head)[0] for head in heads]
    assert lines == ["GET /api/v1/teams?limit=100&offset=0 HTTP/1.1"] * 2


def test_a_connection_the_server_closed_is_not_reused() -> None:
    # The server closes each connection once it has answered, without saying
    # so: the pool must notice before sending on it (no retry would save it).
    body = b'{"organizations": []}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    heads: list[bytes] = []

    async def go(url: str) -> list[Any]:
        async with AsyncHttpBillingService(url, timeout=FAST, max_retries=0) as billing:
            first = await billing.get_tiers("key")
            await asyncio.sleep(0.1)  # for the server's close to arrive
            return [first, await billing.get_tiers("key")]

    with raw_server(answer, heads=heads) as url:
        with HttpBillingService(url, timeout=FAST, max_retries=0) as billing:
            first = billing.get_tiers("key")
            time.sleep(0.1)
            assert [first, billing.get_tiers("key")] == [(), ()]
        assert asyncio.run(go(url)) == [(), ()]
    assert len(heads) == 4
