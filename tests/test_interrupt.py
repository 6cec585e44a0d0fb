"""Ctrl-C against a silent upstream: the caller gets KeyboardInterrupt at once, nothing lingers.

Each test runs a fresh interpreter against a server that accepts connections
and never answers, sends it SIGINT once its requests are in flight, and
measures how long it takes to end. The timeout of the requests is 60 s: an
exit within a few seconds can only come from the interruption.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX")

# Generous against a busy machine, far below the requests' 60 s timeout.
PROMPT_SECONDS = 5.0


class SilentServer:
    """Accepts connections on loopback, reads nothing back, never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/v1"
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)
            self.connected.set()

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _interrupt_when_connected(
    process: subprocess.Popen[str], server: SilentServer, *, presses: int = 1
) -> tuple[float, str, str]:
    """SIGINT once a request reached ``server``; seconds until exit, stdout, stderr.

    With ``presses`` > 1, the further SIGINTs follow 20 ms apart: an impatient user.
    """
    assert server.connected.wait(30), "the requests never reached the server"
    time.sleep(0.2)  # let the other requests of the round start too
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    for _ in range(presses - 1):
        time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running 60 s after SIGINT: {err}")
    return time.monotonic() - interrupted, out, err


_LIBRARY_SCRIPT = """
import sys
from billing_core import HttpBillingService, HttpTeamService, {function}
from billing_core.testing import InMemoryPinStore

url = sys.argv[1]
billing = HttpBillingService(url, timeout=60)
teams = HttpTeamService(url, timeout=60)
arguments = {{"session_key": "sk-test", "billing": billing, "pins": InMemoryPinStore()}}
if "{function}" == "resolve_billing":
    arguments["active_provider"] = "byterover"
else:
    arguments["teams"] = teams
if "{function}" == "pin_billing_team":
    arguments["query"] = "acme"
try:
    {function}(**arguments)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    raise SystemExit(130)
print("returned", flush=True)
"""


@pytest.mark.parametrize("function", ["resolve_billing", "pin_billing_team", "list_team_choices"])
def test_a_sync_call_raises_keyboard_interrupt_at_once_and_nothing_lingers(
    silent: SilentServer, function: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _LIBRARY_SCRIPT.format(function=function), silent.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    seconds, out, err = _interrupt_when_connected(process, silent)
    assert (process.returncode, out.strip()) == (130, "KeyboardInterrupt"), err
    # Exit included: no worker thread still waiting on the server kept the
    # interpreter alive.
    assert seconds < PROMPT_SECONDS


@pytest.mark.parametrize("presses", [1, 3])
def test_the_cli_exits_130_at_once_without_a_traceback(
    silent: SilentServer, tmp_path: Path, presses: int
) -> None:
    environment = {
        **os.environ,
        "BRV_BILLING_BASE_URL": silent.url.removesuffix("/api/v1"),  # a root domain
        "BRV_SESSION_KEY": "sk-test",
        "BRV_ACTIVE_PROVIDER": "byterover",
        "NO_COLOR": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "billing_core", "status", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environment,
    )
    seconds, _, err = _interrupt_when_connected(process, silent, presses=presses)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert seconds < PROMPT_SECONDS
