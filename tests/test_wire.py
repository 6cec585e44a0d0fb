"""The wire codec: exact wire dicts, strictness with exact paths, round trips."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core import (
    BillingPayloadError,
    BillingResolution,
    BillingUsage,
    FreeBilling,
    FreeUserLimit,
    FreeUserLimitWindow,
    InvalidPinBilling,
    OrganizationTier,
    OtherProviderBilling,
    PaidBilling,
    Problem,
    RawUsage,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
)
from billing_core.testing import strategies as bst
from billing_core.wire import from_wire, to_wire

# --- fixtures as plain data ---------------------------------------------------------

RAW_WIRE: dict[str, Any] = {
    "organizationId": "org-1",
    "organizationName": "Acme Corp",
    "organizationStatus": "active",
    "limit": 20_000,
    "addOnRemaining": 500,
    "totalLimit": 20_500,
    "used": 8_100,
    "remaining": 12_400,
    "percentUsed": 39.51,
    "limitExceeded": False,
}
RAW = RawUsage(
    organization_id="org-1",
    organization_name="Acme Corp",
    organization_status="active",
    limit=20_000,
    add_on_remaining=500,
    total_limit=20_500,
    used=8_100,
    remaining=12_400,
    percent_used=39.51,
    limit_exceeded=False,
)
USAGE_WIRE: dict[str, Any] = {**RAW_WIRE, "tier": "ENTERPRISE", "isTrialing": True}
USAGE = RAW.with_tier("ENTERPRISE", is_trialing=True)

WINDOW_WIRE: dict[str, Any] = {
    "limit": 1_000,
    "used": 50,
    "remaining": 950,
    "percentUsed": 5,
    "limitExceeded": False,
}
WINDOW = FreeUserLimitWindow(
    limit=1_000, used=50, remaining=950, percent_used=5, limit_exceeded=False
)
FREE_LIMIT_WIRE: dict[str, Any] = {
    "daily": {**WINDOW_WIRE, "remaining": 0, "limitExceeded": True},
    "monthly": WINDOW_WIRE,
    "limitExceeded": True,
}
FREE_LIMIT = FreeUserLimit(
    daily=FreeUserLimitWindow(
        limit=1_000, used=50, remaining=0, percent_used=5, limit_exceeded=True
    ),
    monthly=WINDOW,
    limit_exceeded=True,
)

BETA = PaidBilling(organization_id="org-b", organization_name="beta", remaining=5, total=10)
ACME = PaidBilling(organization_id="org-a", organization_name="Acme", tier="PRO")
NEEDS_PICK = TeamPickNeededBilling(candidates=[BETA, ACME], remaining=950, total=1_000)
NEEDS_PICK_WIRE: dict[str, Any] = {
    "source": "needs-pick",
    "candidates": [  # sorted by name, case-insensitively
        {"source": "paid", "organizationId": "org-a", "organizationName": "Acme", "tier": "PRO"},
        {
            "source": "paid",
            "organizationId": "org-b",
            "organizationName": "beta",
            "remaining": 5,
            "total": 10,
        },
    ],
    "remaining": 950,
    "total": 1_000,
}

# (value, its exact wire form): both directions are checked.
EXACT: list[tuple[Any, Any]] = [
    (
        OrganizationTier(organization_id="org-1", tier="PRO", is_trialing=False),
        {"organizationId": "org-1", "tier": "PRO", "isTrialing": False},
    ),
    (RAW, RAW_WIRE),
    (USAGE, USAGE_WIRE),
    (WINDOW, WINDOW_WIRE),
    (FREE_LIMIT, FREE_LIMIT_WIRE),
    (
        Team(id="t-1", name="acme", display_name="Acme Corp", slug="acme-corp"),
        {
            "id": "t-1",
            "name": "acme",
            "displayName": "Acme Corp",
            "slug": "acme-corp",
            "isDefault": False,
        },
    ),
    (
        Team(
            id="t-2",
            name="beta",
            display_name="Beta",
            slug="beta",
            avatar_url="https://example.com/b.png",
            is_default=True,
        ),
        {
            "id": "t-2",
            "name": "beta",
            "displayName": "Beta",
            "slug": "beta",
            "avatarUrl": "https://example.com/b.png",
            "isDefault": True,
        },
    ),
    (OtherProviderBilling(), {"source": "other-provider"}),
    (
        OtherProviderBilling(active_provider="openai"),
        {"source": "other-provider", "activeProvider": "openai"},
    ),
    (PaidBilling(organization_id="org-1"), {"source": "paid", "organizationId": "org-1"}),
    (
        PaidBilling(
            organization_id="org-1",
            organization_name="Acme Corp",
            remaining=0,
            total=20_500,
            tier="TEAM",
        ),
        {
            "source": "paid",
            "organizationId": "org-1",
            "organizationName": "Acme Corp",
            "remaining": 0,
            "total": 20_500,
            "tier": "TEAM",
        },
    ),
    (
        PaidBilling(organization_id="org-1", remaining=500, total=1_000, limit_exceeded=True),
        {
            "source": "paid",
            "organizationId": "org-1",
            "remaining": 500,
            "total": 1_000,
            "limitExceeded": True,
        },
    ),
    (FreeBilling(), {"source": "free"}),
    (FreeBilling(remaining=950, total=1_000), {"source": "free", "remaining": 950, "total": 1000}),
    (FreeBilling(limit_exceeded=True), {"source": "free", "limitExceeded": True}),
    (NEEDS_PICK, NEEDS_PICK_WIRE),
    (
        TeamPickNeededBilling(candidates=[ACME]),
        {"source": "needs-pick", "candidates": [{**NEEDS_PICK_WIRE["candidates"][0]}]},
    ),
    (
        TeamPickNeededBilling(
            candidates=[ACME, attrs.evolve(BETA, limit_exceeded=True)], limit_exceeded=True
        ),
        {
            "source": "needs-pick",
            "candidates": [
                NEEDS_PICK_WIRE["candidates"][0],
                {**NEEDS_PICK_WIRE["candidates"][1], "limitExceeded": True},
            ],
            "limitExceeded": True,
        },
    ),
    (
        InvalidPinBilling(organization_id="org-9", reason="not-a-member"),
        {"source": "invalid-pin", "organizationId": "org-9", "reason": "not-a-member"},
    ),
    (
        InvalidPinBilling(organization_id="org-1", reason="free-tier", organization_name="Acme"),
        {
            "source": "invalid-pin",
            "organizationId": "org-1",
            "reason": "free-tier",
            "organizationName": "Acme",
        },
    ),
    (
        Problem(part="tiers", message="tiers unavailable"),
        {"part": "tiers", "message": "tiers unavailable"},
    ),
    (BillingResolution(status=None), {"status": None, "problems": []}),
    (
        BillingResolution(
            status=FreeBilling(), problems=[Problem(part="free-limit", message="timed out")]
        ),
        {
            "status": {"source": "free"},
            "problems": [{"part": "free-limit", "message": "timed out"}],
        },
    ),
]


@pytest.mark.parametrize(("value", "wire"), EXACT, ids=lambda v: type(v).__name__)
def test_to_wire_gives_the_exact_wire_form(value: Any, wire: Any) -> None:
    assert to_wire(value) == wire


@pytest.mark.parametrize(("value", "wire"), EXACT, ids=lambda v: type(v).__name__)
def test_from_wire_reads_the_exact_wire_form(value: Any, wire: Any) -> None:
    assert from_wire(type(value), wire) == value


@pytest.mark.parametrize(
    ("value", "wire"),
    [pair for pair in EXACT if hasattr(pair[0], "source")],
    ids=lambda v: type(v).__name__,
)
def test_status_billing_is_read_by_its_source(value: Any, wire: Any) -> None:
    result = from_wire(StatusBilling, wire)
    assert type(result) is type(value)
    assert result == value


def test_lists_and_tuples_become_lists() -> None:
    assert to_wire([RAW, RAW]) == [RAW_WIRE, RAW_WIRE]
    assert to_wire((FreeBilling(), ACME)) == [{"source": "free"}, NEEDS_PICK_WIRE["candidates"][0]]
    assert to_wire([]) == []
    assert from_wire(list[RawUsage], [RAW_WIRE, RAW_WIRE]) == [RAW, RAW]
    assert from_wire(list[StatusBilling], [{"source": "free"}, NEEDS_PICK_WIRE]) == [
        FreeBilling(),
        NEEDS_PICK,
    ]
    assert from_wire(list[Team], []) == []


def test_candidates_are_written_sorted_whatever_order_they_are_read_in() -> None:
    reversed_wire = {**NEEDS_PICK_WIRE, "candidates": NEEDS_PICK_WIRE["candidates"][::-1]}
    status = from_wire(StatusBilling, reversed_wire)
    assert status == NEEDS_PICK
    assert to_wire(status) == NEEDS_PICK_WIRE


def test_candidates_may_leave_out_their_source() -> None:
    bare = [{k: v for k, v in c.items() if k != "source"} for c in NEEDS_PICK_WIRE["candidates"]]
    assert from_wire(StatusBilling, {**NEEDS_PICK_WIRE, "candidates": bare}) == NEEDS_PICK


def test_a_variant_read_on_its_own_may_carry_its_source() -> None:
    wire = {"source": "paid", "organizationId": "org-1"}
    assert from_wire(PaidBilling, wire) == PaidBilling(organization_id="org-1")
    assert from_wire(PaidBilling, {"organizationId": "org-1"}) == PaidBilling(
        organization_id="org-1"
    )


@pytest.mark.parametrize(("number", "kind"), [(38, int), (38.0, float), (0, int), (99.5, float)])
def test_percent_used_keeps_int_or_float(number: float, kind: type) -> None:
    usage = from_wire(RawUsage, {**RAW_WIRE, "percentUsed": number})
    assert type(usage.percent_used) is kind
    assert type(to_wire(usage)["percentUsed"]) is kind


@pytest.mark.parametrize("tier", ["ENTERPRISE", "enterprise", "Pro ", "ÉQUIPE-✨", "FREE"])
def test_unknown_tiers_are_preserved_byte_for_byte(tier: str) -> None:
    wire = {**USAGE_WIRE, "tier": tier}
    usage = from_wire(BillingUsage, wire)
    assert usage.tier == tier
    assert json.dumps(to_wire(usage)) == json.dumps(wire)
    assert from_wire(OrganizationTier, {"organizationId": "o", "tier": tier, "isTrialing": False})


def test_extra_keys_are_ignored_at_every_level() -> None:
    junk = {"unknown": [1, {"x": None}], "organization_id": 3}
    wire = {
        **NEEDS_PICK_WIRE,
        **junk,
        "candidates": [{**c, **junk} for c in NEEDS_PICK_WIRE["candidates"]],
    }
    assert from_wire(StatusBilling, wire) == NEEDS_PICK
    limit_wire = {
        **FREE_LIMIT_WIRE,
        **junk,
        "daily": {**FREE_LIMIT_WIRE["daily"], **junk},
    }
    assert from_wire(FreeUserLimit, limit_wire) == FREE_LIMIT
    assert from_wire(BillingUsage, {**USAGE_WIRE, **junk}) == USAGE


@given(bst.status_billings())
def test_limit_exceeded_is_written_only_when_true(status: StatusBilling) -> None:
    # Clients that ignore the key, and payloads from before it, see the same objects.
    wire = to_wire(status)
    objects = [wire, *wire.get("candidates", [])]
    values = [status, *getattr(status, "candidates", ())]
    for obj, value in zip(objects, values, strict=True):
        expected = True if getattr(value, "limit_exceeded", False) else "absent"
        assert obj.get("limitExceeded", "absent") == expected


def test_a_status_without_limit_exceeded_is_not_exceeded() -> None:
    for wire in ({"source": "free", "remaining": 0}, {"source": "paid", "organizationId": "o"}):
        assert from_wire(StatusBilling, wire).limit_exceeded is False
    assert from_wire(StatusBilling, {"source": "free", "limitExceeded": False}) == FreeBilling()


def test_optional_keys_may_be_null_or_missing() -> None:
    wire = {"source": "paid", "organizationId": "o", "organizationName": None, "tier": None}
    assert from_wire(PaidBilling, wire) == PaidBilling(organization_id="o")
    team = {"id": "t", "name": "n", "displayName": "N", "slug": "n", "isDefault": False}
    assert from_wire(Team, {**team, "avatarUrl": None}) == from_wire(Team, team)


# --- strictness: the exact path and message -------------------------------------------


def _without(wire: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if k != key}


_UNKNOWN_SOURCE = "expected one of: other-provider, paid, free, needs-pick, invalid-pin"
_PARTS = "['auth', 'free-limit', 'pins', 'tiers', 'usages']"

STRICT = [  # tp, data, path, detail
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "remaining": "12"},
        "remaining",
        "expected an int, got str",
        id="string where int",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "used": 1.0},
        "used",
        "expected an int, got float",
        id="float where int",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "limit": True},
        "limit",
        "expected an int, got bool",
        id="bool where int",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "limitExceeded": 1},
        "limitExceeded",
        "expected a bool, got int",
        id="int where bool",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "organizationName": None},
        "organizationName",
        "expected a string, got null",
        id="null for required",
    ),
    pytest.param(
        RawUsage,
        _without(RAW_WIRE, "totalLimit"),
        "totalLimit",
        "required key is missing",
        id="missing key",
    ),
    pytest.param(
        BillingUsage,
        _without(USAGE_WIRE, "tier"),
        "tier",
        "required key is missing",
        id="missing tier",
    ),
    pytest.param(
        OrganizationTier,
        {"organizationId": "o", "tier": "PRO"},
        "isTrialing",
        "required key is missing",
        id="missing isTrialing",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "percentUsed": "39.5"},
        "percentUsed",
        "expected a number, got str",
        id="string percent",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "percentUsed": False},
        "percentUsed",
        "expected a number, got bool",
        id="bool percent",
    ),
    pytest.param(
        RawUsage,
        {**RAW_WIRE, "percentUsed": math.inf},
        "percentUsed",
        "percentUsed must be a finite number, not inf",
        id="infinite percent",
    ),
    pytest.param(
        FreeUserLimitWindow,
        {**WINDOW_WIRE, "percentUsed": math.nan},
        "percentUsed",
        "percentUsed must be a finite number, not nan",
        id="nan percent",
    ),
    pytest.param(
        Team,
        {"id": "", "name": "n", "displayName": "N", "slug": "n", "isDefault": False},
        "id",
        "id must not be empty",
        id="empty team id",
    ),
    pytest.param(
        Team,
        {
            "id": "t",
            "name": "n",
            "displayName": "N",
            "slug": "n",
            "avatarUrl": 3,
            "isDefault": False,
        },
        "avatarUrl",
        "expected a string, got int",
        id="number for avatar",
    ),
    pytest.param(RawUsage, [RAW_WIRE], "", "expected an object, got list", id="array for object"),
    pytest.param(RawUsage, None, "", "expected an object, got null", id="null for object"),
    pytest.param(Team, "t-1", "", "expected an object, got str", id="string for object"),
    pytest.param(
        FreeUserLimit,
        {**FREE_LIMIT_WIRE, "monthly": {**WINDOW_WIRE, "limit": None}},
        "monthly.limit",
        "expected an int, got null",
        id="nested null",
    ),
    pytest.param(
        FreeUserLimit,
        {**FREE_LIMIT_WIRE, "daily": _without(WINDOW_WIRE, "used")},
        "daily.used",
        "required key is missing",
        id="nested missing",
    ),
    pytest.param(
        FreeUserLimit,
        {**FREE_LIMIT_WIRE, "daily": [WINDOW_WIRE]},
        "daily",
        "expected an object, got list",
        id="nested non-object",
    ),
    pytest.param(
        StatusBilling,
        {"source": "credit-card"},
        "source",
        f"unknown source 'credit-card'; {_UNKNOWN_SOURCE}",
        id="unknown source",
    ),
    pytest.param(
        StatusBilling,
        {"organizationId": "o"},
        "source",
        "required key is missing",
        id="missing source",
    ),
    pytest.param(
        StatusBilling, {"source": 1}, "source", "expected a string, got int", id="non-string source"
    ),
    pytest.param(
        StatusBilling,
        {"source": ["paid"]},
        "source",
        "expected a string, got list",
        id="unhashable source",
    ),
    pytest.param(
        PaidBilling,
        {"source": "free", "organizationId": "o"},
        "source",
        "expected source 'paid', got 'free'",
        id="variant with another source",
    ),
    pytest.param(
        StatusBilling,
        {"source": "invalid-pin", "organizationId": "o", "reason": "expired"},
        "reason",
        "reason must be 'free-tier' or 'not-a-member', not 'expired'",
        id="unknown reason",
    ),
    pytest.param(
        InvalidPinBilling,
        {"organizationId": "o", "reason": ["free-tier"]},
        "reason",
        "expected a string, got list",
        id="non-string reason",
    ),
    pytest.param(
        StatusBilling,
        {
            **NEEDS_PICK_WIRE,
            "candidates": [
                {"source": "paid", "organizationId": "a"},
                {"source": "paid", "organizationId": 7},
            ],
        },
        "candidates[1].organizationId",
        "expected a string, got int",
        id="candidate field",
    ),
    pytest.param(
        StatusBilling,
        {**NEEDS_PICK_WIRE, "candidates": [{"source": "free", "organizationId": "a"}]},
        "candidates[0].source",
        "expected source 'paid', got 'free'",
        id="candidate of another source",
    ),
    pytest.param(
        StatusBilling,
        {**NEEDS_PICK_WIRE, "candidates": {"0": {}}},
        "candidates",
        "expected a list, got dict",
        id="candidates not a list",
    ),
    pytest.param(
        StatusBilling,
        {"source": "needs-pick"},
        "candidates",
        "required key is missing",
        id="candidates missing",
    ),
    pytest.param(
        StatusBilling,
        {
            "source": "needs-pick",
            "candidates": [
                {"organizationId": "a", "organizationName": "Acme", "remaining": 5},
                {"organizationId": "b"},
                {"organizationId": "a", "organizationName": "Acme", "remaining": 9},
            ],
        },
        "candidates",
        "candidates must list each organization once; 'a' is repeated",
        id="candidates repeating a team",
    ),
    pytest.param(
        StatusBilling,
        {"source": "free", "limitExceeded": None},
        "limitExceeded",
        "expected a bool, got null",
        id="null limitExceeded",
    ),
    pytest.param(
        PaidBilling,
        {"organizationId": "o", "limitExceeded": "true"},
        "limitExceeded",
        "expected a bool, got str",
        id="string limitExceeded",
    ),
    pytest.param(
        StatusBilling,
        {**NEEDS_PICK_WIRE, "candidates": [{"organizationId": "a", "limitExceeded": 1}]},
        "candidates[0].limitExceeded",
        "expected a bool, got int",
        id="candidate limitExceeded",
    ),
    pytest.param(
        list[RawUsage],
        [RAW_WIRE, RAW_WIRE, RAW_WIRE, {**RAW_WIRE, "remaining": "0"}],
        "[3].remaining",
        "expected an int, got str",
        id="list index",
    ),
    pytest.param(
        list[BillingUsage],
        [USAGE_WIRE, 7],
        "[1]",
        "expected an object, got int",
        id="list element not an object",
    ),
    pytest.param(
        list[RawUsage], {"organizations": []}, "", "expected a list, got dict", id="object for list"
    ),
    pytest.param(list[Team], "[]", "", "expected a list, got str", id="string for list"),
    pytest.param(
        list[StatusBilling],
        [{"source": "free"}, {"source": "paid"}],
        "[1].organizationId",
        "required key is missing",
        id="status list",
    ),
    pytest.param(
        BillingResolution,
        {"status": None, "problems": [{"part": "network", "message": "m"}]},
        "problems[0].part",
        f"part must be one of {_PARTS}, not 'network'",
        id="problem part",
    ),
    pytest.param(
        BillingResolution,
        {"status": {"source": "nope"}, "problems": []},
        "status.source",
        f"unknown source 'nope'; {_UNKNOWN_SOURCE}",
        id="resolution status",
    ),
    pytest.param(
        BillingResolution,
        {"problems": []},
        "status",
        "required key is missing",
        id="resolution without status",
    ),
]


@pytest.mark.parametrize(("tp", "data", "path", "detail"), STRICT)
def test_bad_payloads_name_the_path_and_the_problem(
    tp: Any, data: Any, path: str, detail: str
) -> None:
    with pytest.raises(BillingPayloadError) as caught:
        from_wire(tp, data)
    assert (caught.value.path, caught.value.detail) == (path, detail)
    assert str(caught.value) == (f"{path}: {detail}" if path else detail)


def test_the_path_prefix_locates_the_payload_in_its_body() -> None:
    body = {"organizations": [RAW_WIRE, RAW_WIRE, RAW_WIRE, {**RAW_WIRE, "remaining": "0"}]}
    with pytest.raises(BillingPayloadError) as caught:
        from_wire(list[RawUsage], body["organizations"], path="organizations")
    assert caught.value.path == "organizations[3].remaining"
    assert str(caught.value) == "organizations[3].remaining: expected an int, got str"

    with pytest.raises(BillingPayloadError) as caught:
        from_wire(list[RawUsage], None, path="organizations")
    assert (caught.value.path, caught.value.detail) == (
        "organizations",
        "expected a list, got null",
    )

    with pytest.raises(BillingPayloadError) as caught:
        from_wire(FreeUserLimit, {**FREE_LIMIT_WIRE, "monthly": 1}, path="body")
    assert caught.value.path == "body.monthly"


def test_the_first_bad_value_is_reported() -> None:
    data = [RAW_WIRE, {**RAW_WIRE, "used": "1", "remaining": "2"}, {**RAW_WIRE, "limit": None}]
    with pytest.raises(BillingPayloadError) as caught:
        from_wire(list[RawUsage], data)
    assert caught.value.path == "[1].used"


def test_payload_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"^remaining: expected an int, got str$"):
        from_wire(RawUsage, {**RAW_WIRE, "remaining": "1"})


@pytest.mark.parametrize("tp", [dict, int, list[int], list, RawUsage | None, tuple[RawUsage, ...]])
def test_from_wire_refuses_types_it_does_not_read(tp: Any) -> None:
    with pytest.raises(TypeError, match="from_wire reads"):
        from_wire(tp, {})


@pytest.mark.parametrize("obj", [None, {"source": "free"}, [FreeBilling(), "free"], 3])
def test_to_wire_refuses_values_that_are_not_models(obj: Any) -> None:
    with pytest.raises(TypeError, match="to_wire expects a billing_core model"):
        to_wire(obj)


def test_the_codec_loads_only_on_first_use() -> None:
    code = (
        "import sys, billing_core\n"
        "assert 'cattrs' not in sys.modules, 'imported eagerly'\n"
        "billing_core.to_wire(billing_core.FreeBilling())\n"
        "assert 'cattrs' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Counts the hooks cattrs generates, in a fresh interpreter where nothing is cached yet.
_COUNTING = """
import cattrs.gen
made = {"read": 0, "write": 0}

def counted(kind, make):
    def wrapper(*args, **kwargs):
        made[kind] += 1
        return make(*args, **kwargs)
    return wrapper

cattrs.gen.make_dict_structure_fn_from_attrs = counted(
    "read", cattrs.gen.make_dict_structure_fn_from_attrs
)
cattrs.gen.make_dict_unstructure_fn = counted("write", cattrs.gen.make_dict_unstructure_fn)
"""


def test_importing_the_codec_generates_no_hook() -> None:
    code = _COUNTING + (
        "import billing_core.wire as wire\n"
        "assert made == {'read': 0, 'write': 0}, made\n"
        "assert not (wire._FAST or wire._DETAILED or wire._UNSTRUCTURE)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_each_hook_is_generated_on_its_first_use_once() -> None:
    code = _COUNTING + (
        "import threading\n"
        "from billing_core.models import FreeUserLimit, FreeUserLimitWindow, StatusBilling\n"
        "from billing_core.wire import from_wire, to_wire\n"
        "window = {'limit': 10, 'used': 1, 'remaining': 9, 'percentUsed': 10,"
        " 'limitExceeded': False}\n"
        "free = {'daily': window, 'monthly': window, 'limitExceeded': False}\n"
        # Threads racing to the first use: one generates, the others wait.
        "threads = [threading.Thread(target=from_wire, args=(FreeUserLimit, free))"
        " for _ in range(8)]\n"
        "[thread.start() for thread in threads]\n"
        "[thread.join() for thread in threads]\n"
        "assert made == {'read': 2, 'write': 0}, made  # the limit and its window\n"
        "from_wire(FreeUserLimitWindow, window)\n"
        "assert made == {'read': 2, 'write': 0}, made  # already there\n"
        "to_wire(from_wire(FreeUserLimit, free))\n"
        "assert made == {'read': 2, 'write': 2}, made\n"
        "from_wire(StatusBilling, {'source': 'free'})\n"
        "assert made == {'read': 3, 'write': 2}, made  # that variant only\n"
        "try:\n"
        "    from_wire(FreeUserLimit, {**free, 'daily': {**window, 'used': '1'}})\n"
        "except ValueError as error:\n"
        "    assert error.path == 'daily.used', error.path\n"
        "assert made == {'read': 5, 'write': 2}, made  # the detailed readers, on the error\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- laws ------------------------------------------------------------------------------

models = st.one_of(
    bst.organization_tiers(),
    bst.raw_usages(),
    bst.billing_usages(),
    bst.free_user_limit_windows(),
    bst.free_user_limits(),
    bst.teams(),
    bst.status_billings(),
    bst.problems(),
    bst.billing_resolutions(),
)


@given(models)
def test_every_value_survives_the_round_trip(value: Any) -> None:
    assert from_wire(type(value), to_wire(value)) == value


@given(bst.status_billings())
def test_every_status_survives_the_round_trip_as_a_status_billing(status: StatusBilling) -> None:
    assert from_wire(StatusBilling, to_wire(status)) == status


@given(models)
def test_the_wire_form_is_plain_json(value: Any) -> None:
    wire = to_wire(value)
    text = json.dumps(wire, allow_nan=False)
    assert json.loads(text) == wire
    assert from_wire(type(value), json.loads(text)) == value


@given(st.lists(bst.billing_usages(), max_size=5))
def test_lists_survive_the_round_trip(usages: list[BillingUsage]) -> None:
    assert from_wire(list[BillingUsage], json.loads(json.dumps(to_wire(usages)))) == usages


@given(st.lists(bst.status_billings(), max_size=5))
def test_status_lists_survive_the_round_trip(statuses: list[StatusBilling]) -> None:
    assert from_wire(list[StatusBilling], to_wire(tuple(statuses))) == statuses


_WIRE_KEYS = sorted(
    {key for _, wire in EXACT if isinstance(wire, dict) for key in wire}
    | set(RAW_WIRE)
    | {"daily", "monthly", "candidates", "avatarUrl", "activeProvider"}
)
_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["paid", "free", "needs-pick", "invalid-pin", "other-provider", "free-tier"]),
)
json_values = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(_WIRE_KEYS), st.text(max_size=4)), children, max_size=6
        ),
    ),
    max_leaves=25,
)
READABLE = [
    OrganizationTier,
    RawUsage,
    BillingUsage,
    FreeUserLimitWindow,
    FreeUserLimit,
    Team,
    StatusBilling,
    PaidBilling,
    TeamPickNeededBilling,
    InvalidPinBilling,
    Problem,
    BillingResolution,
    list[RawUsage],
    list[StatusBilling],
]


def _read(tp: Any, data: Any, *, path: str = "") -> Any:
    """The value read, or the payload error raised (any other exception escapes)."""
    try:
        return from_wire(tp, data, path=path)
    except BillingPayloadError as error:
        return error


@given(st.sampled_from(READABLE), json_values)
def test_arbitrary_json_is_read_or_refused_with_a_payload_error(tp: Any, data: Any) -> None:
    result = _read(tp, data)
    if isinstance(result, BillingPayloadError):
        assert result.detail
        assert str(result).endswith(result.detail)
    else:
        assert from_wire(tp, to_wire(result)) == result


_FIELD_OF_KEY = {
    key: field.name for key, field in zip(USAGE_WIRE, attrs.fields(BillingUsage), strict=True)
}


@given(bst.billing_usages(), st.sampled_from(sorted(USAGE_WIRE)), json_values)
def test_a_corrupted_key_is_named_by_the_error(
    usage: BillingUsage, key: str, replacement: Any
) -> None:
    wire = {**to_wire(usage), key: replacement}
    result = _read(list[BillingUsage], [to_wire(usage), wire], path="organizations")
    if isinstance(result, BillingPayloadError):
        assert result.path == f"organizations[1].{key}"
    else:  # the replacement happened to be a valid value for that key
        assert result[1] == BillingUsage(**{**attrs.asdict(usage), _FIELD_OF_KEY[key]: replacement})


@given(bst.team_pick_needed_billings(), st.data())
def test_a_corrupted_candidate_is_named_by_the_error(
    status: TeamPickNeededBilling, data: st.DataObject
) -> None:
    wire = to_wire(status)
    index = data.draw(st.integers(min_value=0, max_value=len(wire["candidates"]) - 1))
    key = data.draw(st.sampled_from(["organizationId", "source", "remaining", "tier"]))
    invalid = [[], {}, 1.5, True, *(["free", None] if key == "source" else [])]
    wire["candidates"][index][key] = data.draw(st.sampled_from(invalid))
    with pytest.raises(BillingPayloadError) as caught:
        from_wire(StatusBilling, wire)
    assert caught.value.path == f"candidates[{index}].{key}"
