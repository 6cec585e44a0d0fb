"""The I/O of the HTTP adapters: httpx clients, the attempts of a GET and its retry loop.

:class:`SyncTransport` sends over one pooled ``httpx.Client``,
:class:`AsyncTransport` over one ``httpx.AsyncClient`` per event loop. Both
leave every decision to :class:`~billing_core.adapters._http_get.Get`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from billing_core._endpoints import Name
from billing_core.adapters._http_config import (
    check_base_url,
    check_max_retries,
    check_timeout,
    client_options,
)
from billing_core.adapters._http_get import Failed, Get
from billing_core.errors import BillingConfigError

__all__ = ["AsyncTransport", "SyncTransport"]


class _Transport:
    """The settings every service checks at construction, and how it prepares a GET."""

    def __init__(self, base_url: object, timeout: object, max_retries: object) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = check_timeout(timeout)
        self.max_retries = check_max_retries(max_retries)

    def prepare(
        self, endpoint: Name, session_key: str, params: Mapping[str, int] | None = None
    ) -> Get:
        """A GET of ``endpoint`` with this transport's settings (the key is checked here)."""
        return Get(
            base_url=self.base_url,
            endpoint=endpoint,
            session_key=session_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            params=params,
        )


class SyncTransport(_Transport):
    """One pooled ``httpx.Client`` (created on first use) and the retry loop."""

    def __init__(
        self, base_url: object, timeout: object, client: httpx.Client | None, max_retries: object
    ) -> None:
        super().__init__(base_url, timeout, max_retries)
        if client is not None and not isinstance(client, httpx.Client):
            raise BillingConfigError("client must be an httpx.Client")
        self._client = client
        self._owns_client = client is None
        self._closed = False
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        """The client to send with; a config error once closed."""
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            if self._client is None:
                self._client = httpx.Client(**client_options(self.base_url, self.timeout))
            if self._client.is_closed:
                raise BillingConfigError("the HTTP client is closed")
            return self._client

    def close(self) -> None:
        """Close the client if this transport made it. Idempotent."""
        with self._lock:
            client, self._client = self._client, None
            self._closed = True
        if client is not None and self._owns_client:
            client.close()

    def send(self, get: Get) -> dict[str, Any]:
        """The JSON object ``get`` answers with, retrying transient failures."""
        while True:
            try:
                return self._attempt(get)
            except Failed as failure:
                pause = get.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                time.sleep(pause)

    def _attempt(self, get: Get) -> dict[str, Any]:
        client = self.client()
        try:
            with client.stream(
                "GET",
                get.url,
                params=get.params,
                headers=get.headers,
                timeout=get.attempt_timeout(),
                follow_redirects=False,
            ) as response:
                get.check_length(response.headers)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    get.check_progress(len(body))
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        return get.answer(response, bytes(body))


class AsyncTransport(_Transport):
    """One pooled ``httpx.AsyncClient`` per event loop (created on first use) and the retry loop.

    Pooled connections belong to the loop that opened them: reused from another
    loop (a second ``asyncio.run``, say) they fail with "Event loop is closed".
    So a service that owns its client keeps one per loop, and forgets the client
    of a loop once that loop is closed (its sockets can no longer be closed
    through asyncio; the garbage collector closes them). A caller-owned client
    cannot be replaced: using it from a second loop is a configuration error.
    """

    def __init__(
        self,
        base_url: object,
        timeout: object,
        client: httpx.AsyncClient | None,
        max_retries: object,
    ) -> None:
        super().__init__(base_url, timeout, max_retries)
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise BillingConfigError("client must be an httpx.AsyncClient")
        self._caller_client = client
        # The loop the caller's client was first used in (weak: never keep a loop alive).
        self._caller_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._own_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._closed = False
        # Tasks of one loop cannot race here (no await inside), but loops in threads can.
        self._lock = threading.Lock()

    def client(self) -> httpx.AsyncClient:
        """The client to send with in the running loop; a config error once closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise BillingConfigError("the service is closed")
            client = self._caller_client
            if client is None:
                client = self._own_client(loop)
            else:
                self._check_caller_loop(loop)
        if client.is_closed:
            raise BillingConfigError("the HTTP client is closed")
        return client

    def _check_caller_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._caller_loop is None:
            self._caller_loop = weakref.ref(loop)
        elif self._caller_loop() is not loop:
            raise BillingConfigError(
                "the httpx.AsyncClient given to this service was first used in another event"
                " loop, and its connections cannot move between loops: create the client and"
                " the service inside the loop that uses them, or let the service own its client"
            )

    def _own_client(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
        for other in [other for other in self._own_clients if other.is_closed()]:
            del self._own_clients[other]  # dead connections: nothing can reuse or close them
        client = self._own_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(**client_options(self.base_url, self.timeout))
            self._own_clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close this loop's own client and let the others go. Idempotent."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._closed = True
            client = self._own_clients.pop(loop, None)
            # Clients of other loops can only be closed from their loop: they are let go.
            self._own_clients.clear()
        if client is not None:
            await client.aclose()

    async def send(self, get: Get) -> dict[str, Any]:
        """The JSON object ``get`` answers with, retrying transient failures."""
        while True:
            try:
                return await self._attempt(get)
            except Failed as failure:
                pause = get.retry_pause(failure)
                if pause is None:
                    raise failure.error from None
                await asyncio.sleep(pause)

    async def _attempt(self, get: Get) -> dict[str, Any]:
        client = self.client()
        budget = get.attempt_timeout()
        try:
            # httpx bounds each network operation; asyncio bounds the whole attempt.
            async with asyncio.timeout(budget):
                async with client.stream(
                    "GET",
                    get.url,
                    params=get.params,
                    headers=get.headers,
                    timeout=budget,
                    follow_redirects=False,
                ) as response:
                    get.check_length(response.headers)
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        get.check_progress(len(body))
        except TimeoutError:
            raise get.timed_out() from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # ValueError (UnicodeError): a host name the IDNA encoding refuses;
            # check_base_url should have caught it already.
            raise get.transport_failure(exc) from None
        return get.answer(response, bytes(body))
