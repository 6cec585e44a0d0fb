"""`FakeBillingApi`: the upstream billing and team HTTP API, served for real on loopback.

A standard-library HTTP/1.1 server (keep-alive, one daemon thread per
connection, a listen backlog of 1024 so a burst of connections is queued, not
dropped) that serves an :class:`~billing_core.testing.Account` and lets a
test inject faults per endpoint. Clients talk to it over real TCP, so pooling,
timeouts, dropped connections and redirects behave as they would in production.

>>> from billing_core.testing import Account, FakeBillingApi
>>> with FakeBillingApi(Account()) as api:
...     api.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self, TypeAlias
from urllib.parse import parse_qs, urlsplit

from billing_core._endpoints import BILLING_PATHS, PATHS, Name
from billing_core._session import SESSION_HEADER
from billing_core.models import Team
from billing_core.testing.account import DEFAULT_SESSION_KEY, Account

__all__ = ["Endpoint", "FakeBillingApi"]

Endpoint: TypeAlias = Name
"""The short names :meth:`FakeBillingApi.fail` takes: ``"usages"``, ``"tiers"``,
``"free-limit"`` or ``"teams"``."""

_BILLING_ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    path: name for name, path in BILLING_PATHS.items()
}
_TEAMS_PATH: Final = PATHS["teams"]
# What brv appends to its root domains: the fake serves there by default.
_API_PREFIX: Final = "/api/v1"
_ENDPOINTS: Final[frozenset[str]] = frozenset(PATHS)
_MAX_PAGE_SIZE: Final = 100  # like the real service: a bigger ``limit`` is clamped
# Fixed so that answers are reproducible byte for byte.
_TEAM_TIMESTAMP: Final = "2024-01-01T00:00:00.000Z"
# Connections the kernel queues before the server accepts them (capped by the
# system's somaxconn); each accepted one gets its own handler thread.
_LISTEN_BACKLOG: Final = 1024


class _Fault:
    """One injected misbehaviour; ``times`` is how many more requests it hits (None: all)."""

    __slots__ = ("body", "drop", "headers", "latency", "status", "times")

    def __init__(
        self,
        *,
        status: int | None,
        body: bytes | None,
        headers: Mapping[str, str],
        latency: float | None,
        drop: bool,
        times: int | None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers)
        self.latency = latency
        self.drop = drop
        self.times = times


class _Server(ThreadingHTTPServer):
    """Counts and tracks accepted connections so ``stop`` can close idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = False
    # The standard library listens with a backlog of 5: a burst of connections
    # (100 resolves at once open 300) overflows it, and the kernel drops the
    # excess, which clients see as stalls of a second or more and lost requests.
    request_queue_size = _LISTEN_BACKLOG

    def __init__(self, api: FakeBillingApi) -> None:
        self.api = api
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms
        # to answers that leave in more than one segment.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.api._connection_accepted(conn)
        return conn, address

    def shutdown_request(self, request: Any) -> None:
        self.api._connection_closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) makes the handler write into a
        # closed socket: expected, and not worth a traceback on stderr.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.api._handle(self)

    def _not_allowed(self) -> None:
        self.server.api._handle(self, allowed=False)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _not_allowed

    def answer(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
        """Send one complete response with a Content-Length, keeping the connection open."""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        self.send_response(status, reason)
        has_type = any(name.lower() == "content-type" for name in headers)
        if not has_type:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without a single byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class FakeBillingApi:
    """A real HTTP server on ``127.0.0.1`` serving the upstream API for ``account``.

    - Billing endpoints live under ``base_url`` and ``/teams`` under
      ``team_base_url``: by default both are ``/api/v1`` at the root domain
      :attr:`origin`, the layout of the real hosts, so the brv variables
      (:meth:`brv_environ`) point at it as they point at production.
    - Every request must carry ``x-byterover-session-id: <session_key>``, else
      the answer is ``401`` with the upstream's error body.
    - ``account.free_user_limit`` of ``None`` is served as ``404`` (an account
      the upstream has no free-credit record for), so a client sees a failure
      rather than invented numbers.
    - ``/teams`` serves ``ApiTeam`` objects in snake_case, omitting ``slug``
      when it equals ``name`` and ``avatar_url`` when it is ``None`` (so
      clients exercise both defaults); ``limit`` is clamped to 100.
    - ``latency`` seconds pass before every answer (requests overlap: one
      thread per connection). ``account``, ``session_key`` and ``latency``
      may be changed while the server runs.
    - :meth:`fail` injects faults per endpoint; ``request_count``,
      ``requests_by_endpoint`` and ``connection_count`` count what arrived.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        account: Account,
        *,
        latency: float = 0.0,
        session_key: str = DEFAULT_SESSION_KEY,
        prefix: str = _API_PREFIX,
        team_prefix: str | None = None,
    ) -> None:
        self.account = account
        self.latency = latency
        self.session_key = session_key
        self._prefix = _clean_prefix(prefix)
        self._team_prefix = self._prefix if team_prefix is None else _clean_prefix(team_prefix)
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._request_count = 0
        self._by_endpoint: dict[str, int] = {}
        self._connection_count = 0
        self._open_connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"FakeBillingApi({where})"

    # --- life cycle -------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how fast stop() is noticed
            name=f"FakeBillingApi:{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; stopping twice is fine."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._open_connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where it lives -----------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeBillingApi is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, without any path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The billing base URL, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        return self.origin + self._prefix

    @property
    def team_base_url(self) -> str:
        """The team base URL (the billing one unless ``team_prefix`` was given)."""
        return self.origin + self._team_prefix

    def brv_environ(self, *, session: bool = True) -> dict[str, str]:
        """The variables a brv user sets to use this server, as the brv CLI reads them.

        ``BRV_BILLING_BASE_URL`` and ``BRV_IAM_BASE_URL`` are the root domain
        (:attr:`origin`: ``/api/v1`` is added by whoever reads them),
        ``BRV_WEB_APP_URL`` the origin too (for top-up links; no page is
        served there), ``BRV_ACTIVE_PROVIDER`` is ``byterover`` and, unless
        ``session`` is false, ``BRV_SESSION_KEY`` is the server's key. Needs the
        default prefixes: a root domain cannot name another one.

        >>> from billing_core.testing import sample_account
        >>> with FakeBillingApi(sample_account()) as api:
        ...     api.brv_environ()["BRV_BILLING_BASE_URL"] == api.origin
        True
        """
        if self._prefix != _API_PREFIX or self._team_prefix != _API_PREFIX:
            raise RuntimeError(
                f"brv_environ() needs the {_API_PREFIX} prefix for billing and teams alike"
            )
        environ = {
            "BRV_BILLING_BASE_URL": self.origin,
            "BRV_IAM_BASE_URL": self.origin,
            "BRV_WEB_APP_URL": self.origin,
            "BRV_ACTIVE_PROVIDER": "byterover",
        }
        if session:
            environ["BRV_SESSION_KEY"] = self.session_key
        return environ

    # --- fault injection ----------------------------------------------------

    def fail(
        self,
        endpoint: Endpoint,
        *,
        status: int | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
        latency: float | None = None,
        drop: bool = False,
        times: int | None = None,
    ) -> None:
        """Make ``endpoint`` misbehave for the next ``times`` requests (``None``: until reset).

        - ``status`` alone answers with the upstream's error body for that status;
        - ``body`` replaces the answer body (bytes and str are sent as they are,
          anything else as JSON), with ``status`` or 200;
        - ``headers`` are added to the answer (e.g. ``Location`` for a redirect);
        - ``latency`` replaces the global latency for these requests; alone, the
          answer is otherwise normal;
        - ``drop`` closes the connection without answering.

        Faults queue up: the oldest active one applies to each request.

        >>> from billing_core.testing import Account
        >>> with FakeBillingApi(Account()) as api:
        ...     api.fail("tiers", status=503, times=1)
        """
        if endpoint not in _ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(_ENDPOINTS)}, not {endpoint!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be None or at least 1, not {times!r}")
        fault = _Fault(
            status=status,
            body=_encode_body(body),
            headers=headers or {},
            latency=latency,
            drop=drop,
            times=times,
        )
        with self._lock:
            self._faults.setdefault(endpoint, []).append(fault)

    def reset_faults(self) -> None:
        """Forget every injected fault."""
        with self._lock:
            self._faults.clear()

    # --- counters -----------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Requests received so far (every endpoint, every answer, dropped ones too)."""
        with self._lock:
            return self._request_count

    @property
    def requests_by_endpoint(self) -> dict[str, int]:
        """Requests received per endpoint short name (a copy)."""
        with self._lock:
            return dict(self._by_endpoint)

    @property
    def connection_count(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._connection_count

    def reset_counters(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._request_count = 0
            self._by_endpoint.clear()
            self._connection_count = 0

    # --- serving (called from handler threads) ------------------------------

    def _connection_accepted(self, conn: socket.socket) -> None:
        with self._lock:
            self._connection_count += 1
            self._open_connections.add(conn)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open_connections.discard(conn)

    def _handle(self, handler: _Handler, *, allowed: bool = True) -> None:
        url = urlsplit(handler.path)
        endpoint = self._route(url.path)
        fault = self._count_and_take_fault(endpoint)
        delay = self.latency if fault is None or fault.latency is None else fault.latency
        if delay > 0 and self._stopping.wait(delay):
            handler.drop()
            return
        if fault is not None and fault.drop:
            handler.drop()
            return
        if fault is not None and (fault.status is not None or fault.body is not None):
            status = 200 if fault.status is None else fault.status
            body = _error_body(status) if fault.body is None else fault.body
            handler.answer(status, body, fault.headers)
            return
        extra = {} if fault is None else fault.headers
        if not allowed:
            handler.answer(405, _error_body(405), {"Allow": "GET", **extra})
        elif endpoint is None:
            handler.answer(404, _error_body(404), extra)
        elif handler.headers.get(SESSION_HEADER) != self.session_key:
            handler.answer(401, _error_body(401, "Invalid or expired session"), extra)
        else:
            status, payload = self._serve(endpoint, parse_qs(url.query))
            handler.answer(status, payload, extra)

    def _route(self, path: str) -> Endpoint | None:
        if path.startswith(self._prefix + "/"):
            endpoint = _BILLING_ENDPOINTS.get(path[len(self._prefix) :])
            if endpoint is not None:
                return endpoint
        if path == self._team_prefix + _TEAMS_PATH:
            return "teams"
        return None

    def _count_and_take_fault(self, endpoint: Endpoint | None) -> _Fault | None:
        with self._lock:
            self._request_count += 1
            if endpoint is None:
                return None
            self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times == 0:
                    queue.pop(0)
            return fault

    def _serve(self, endpoint: Endpoint, query: dict[str, list[str]]) -> tuple[int, bytes]:
        account = self.account  # one snapshot per request, even if a test swaps it
        if endpoint == "usages":
            return 200, _json({"organizations": _to_wire(list(account.raw_usages()))})
        if endpoint == "tiers":
            return 200, _json({"organizations": _to_wire(list(account.tiers()))})
        if endpoint == "free-limit":
            if account.free_user_limit is None:
                return 404, _error_body(404, "No free-user limit for this account")
            return 200, _json(_to_wire(account.free_user_limit))
        return self._teams_page(account.teams, query)

    def _teams_page(
        self, teams: tuple[Team, ...], query: dict[str, list[str]]
    ) -> tuple[int, bytes]:
        try:
            limit = int(query.get("limit", [str(_MAX_PAGE_SIZE)])[-1])
            offset = int(query.get("offset", ["0"])[-1])
        except ValueError:
            return 400, _error_body(400, "limit and offset must be integers")
        if limit < 1 or offset < 0:
            return 400, _error_body(400, "limit must be positive and offset not negative")
        limit = min(limit, _MAX_PAGE_SIZE)
        page = [_api_team(team) for team in teams[offset : offset + limit]]
        data = {"teams": page, "total": len(teams), "limit": limit, "offset": offset}
        return 200, _json({"code": 200, "message": "ok", "data": data})


# --- bodies ---------------------------------------------------------------


def _clean_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    return f"/{stripped}" if stripped else ""


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _encode_body(body: bytes | str | Mapping[str, Any] | list[Any] | None) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return _json(body)


def _error_body(status: int, message: str | None = None) -> bytes:
    """The upstream's error shape: ``{"statusCode", "code", "message", "timestamp"}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return _json(
        {
            "statusCode": status,
            "code": phrase.upper().replace(" ", "_").replace("-", "_"),
            "message": message or phrase,
            "timestamp": now,
        }
    )


def _api_team(team: Team) -> dict[str, Any]:
    """A :class:`Team` as the team service spells it (snake_case ``ApiTeam``)."""
    api_team: dict[str, Any] = {
        "id": team.id,
        "name": team.name,
        "display_name": team.display_name,
        "is_default": team.is_default,
        "is_active": True,
        "description": None,
        "created_at": _TEAM_TIMESTAMP,
        "updated_at": _TEAM_TIMESTAMP,
    }
    if team.slug != team.name:
        api_team["slug"] = team.slug
    if team.avatar_url is not None:
        api_team["avatar_url"] = team.avatar_url
    return api_team


def _to_wire(value: Any) -> Any:
    # Imported here: the wire codec loads cattrs, which `import billing_core.testing`
    # must not pay for.
    from billing_core.wire import to_wire

    return to_wire(value)
