"""Test harness for billing_core and its downstream users.

``Account`` and ``FakeBillingApi`` need nothing beyond billing_core's own
dependencies (the demo uses them). Hypothesis strategies live in
:mod:`billing_core.testing.strategies`, which needs the ``testing`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from billing_core.testing.account import DEFAULT_SESSION_KEY, Account

if TYPE_CHECKING:
    from billing_core.testing.fake_api import FakeBillingApi
    from billing_core.testing.fakes import (
        AsyncInMemoryBillingService,
        AsyncInMemoryTeamService,
        InMemoryBillingService,
        InMemoryPinStore,
        InMemoryTeamService,
    )
    from billing_core.testing.sample import sample_account

_LAZY: dict[str, str] = {
    "AsyncInMemoryBillingService": "billing_core.testing.fakes",
    "AsyncInMemoryTeamService": "billing_core.testing.fakes",
    "FakeBillingApi": "billing_core.testing.fake_api",
    "InMemoryBillingService": "billing_core.testing.fakes",
    "InMemoryPinStore": "billing_core.testing.fakes",
    "InMemoryTeamService": "billing_core.testing.fakes",
    "sample_account": "billing_core.testing.sample",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'billing_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SESSION_KEY",
    "Account",
    "AsyncInMemoryBillingService",
    "AsyncInMemoryTeamService",
    "FakeBillingApi",
    "InMemoryBillingService",
    "InMemoryPinStore",
    "InMemoryTeamService",
    "sample_account",
]
