"""Shared fixtures: a running fake upstream API, and a loopback port nobody listens on."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from billing_core.testing import Account, FakeBillingApi

# "ci": the same example counts as the default profile, but nothing that
# depends on the machine's speed can fail a run (a cold cache on a busy 2-core
# box makes the first examples slow: too_slow health checks and deadlines).
# .ci/run selects it with HYPOTHESIS_PROFILE=ci.
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SECRET_SESSION_KEY = "sk-live-SECRET-7f3a9c2e41d0"
"""A distinctive session key, easy to spot if it ever leaks into a message or log."""


@pytest.fixture
def fake_api() -> Iterator[FakeBillingApi]:
    """A running :class:`FakeBillingApi` for an empty account, checking ``SECRET_SESSION_KEY``.

    Set ``fake_api.account`` to serve something else.
    """
    with FakeBillingApi(Account(), session_key=SECRET_SESSION_KEY) as api:
        yield api


@pytest.fixture
def dead_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"
