"""A downstream property test built on billing_core's public test harness.

The law: for ANY account, resolving billing over real HTTP (the HTTP adapter
talking to ``FakeBillingApi``) gives exactly what the pure
``build_status_billing`` says for that account's data. A downstream project
would keep a test like this next to its own adapters.

    pytest examples/downstream_property_test.py -q

``BILLING_EXAMPLES`` sets the number of generated accounts (default 50).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

import billing_core as bc
from billing_core.testing import Account, FakeBillingApi, InMemoryPinStore
from billing_core.testing.strategies import accounts


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBillingApi]:
    # One server for every example: each example swaps the account it serves.
    with FakeBillingApi(Account()) as server:
        yield server


@pytest.fixture(scope="module")
def billing(api: FakeBillingApi) -> Iterator[bc.HttpBillingService]:
    with bc.HttpBillingService(api.base_url) as service:
        yield service


@settings(
    max_examples=int(os.environ.get("BILLING_EXAMPLES", "50")),
    deadline=None,  # real sockets: latency is not the property under test
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(account=accounts())
def test_resolution_over_http_matches_the_pure_core(
    api: FakeBillingApi, billing: bc.HttpBillingService, account: Account
) -> None:
    api.account = account
    resolution = bc.resolve_billing(
        active_provider="byterover",
        session_key=api.session_key,
        billing=billing,
        pins=InMemoryPinStore(account.pinned_team_id),
    )
    expected = bc.build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=account.usages,
        pinned_team_id=account.pinned_team_id,
        free_user_limit=account.free_user_limit,
    )
    assert resolution.status == expected
    # The only thing that may go wrong is what the account lacks: free credits.
    assert {p.part for p in resolution.problems} <= (
        {"free-limit"} if account.free_user_limit is None else set()
    )
