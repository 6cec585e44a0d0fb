"""billing_core: who pays for the next LLM request, how much is left, what to say.

A functional core (models, wire codec, resolution, presentation, funds guard,
team matching) behind a thin shell (HTTP adapters, pin file, orchestration,
CLI). Importing the package is cheap: each public name loads its module on
first use (PEP 562), so a program pays for the models' attrs classes when it
first touches one, for cattrs when it first uses the codec and for httpx when
it first builds an HTTP adapter. Only the exceptions load eagerly.

>>> import billing_core as bc
>>> usage = bc.BillingUsage(
...     organization_id="org-1", organization_name="Acme Corp", organization_status="active",
...     limit=20_000, add_on_remaining=0, total_limit=20_000, used=7_600, remaining=12_400,
...     percent_used=38.0, limit_exceeded=False, tier="PRO")
>>> status = bc.build_status_billing(
...     active_provider="byterover", is_authenticated=True, usages=[usage])
>>> bc.format_billing_line(status)
'Billing: Acme Corp (12,400 credits, PRO)'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from billing_core.errors import (
    AmbiguousTeamError,
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingError,
    BillingPayloadError,
    BillingUnknownError,
    InsufficientCreditsError,
    InvalidPinError,
    NotAuthenticatedError,
    PinStoreError,
    TeamNotFoundError,
)

if TYPE_CHECKING:
    from billing_core.adapters.brv_endpoints import BrvEndpoints, brv_endpoints
    from billing_core.adapters.brv_login import (
        BrvLogin,
        BrvLoginRead,
        load_brv_login,
        read_brv_login,
    )
    from billing_core.adapters.brv_project import BrvProject, find_brv_project
    from billing_core.adapters.brv_providers import (
        ActiveProviderRead,
        load_active_provider,
        read_active_provider,
    )
    from billing_core.adapters.http import (
        AsyncHttpBillingService,
        AsyncHttpTeamService,
        HttpBillingService,
        HttpTeamService,
    )
    from billing_core.adapters.pin_file import FilePinStore
    from billing_core.funds import ensure_billing_funds, is_billing_exhausted
    from billing_core.models import (
        FREE_TIER,
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
        is_paid_tier,
    )
    from billing_core.monitor import AsyncBillingMonitor, BillingMonitor
    from billing_core.ports import (
        AsyncBillingService,
        AsyncTeamService,
        BillingService,
        PinRead,
        PinReader,
        PinStore,
        TeamService,
    )
    from billing_core.presentation import (
        DEFAULT_COMMAND_HINTS,
        BillingTone,
        CommandHints,
        billing_tone,
        build_top_up_url,
        format_billing_line,
        format_credits,
        usage_tone,
    )
    from billing_core.resolution import (
        TeamChoice,
        build_status_billing,
        build_status_without_tiers,
        compute_team_preselection,
        has_paid_team,
        join_usages_with_tiers,
        paid_organization_ids,
        resolve_billing_team_id,
        team_choices,
    )
    from billing_core.service import (
        TeamPicker,
        alist_team_choices,
        apin_billing_team,
        aresolve_billing,
        list_team_choices,
        pin_billing_team,
        resolve_billing,
    )
    from billing_core.teams import match_team, team_label, team_to_pin
    from billing_core.testing.fakes import InMemoryPinStore
    from billing_core.wire import from_wire, to_wire

__version__ = "0.1.0"

# name -> module that defines it; loaded on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "FREE_TIER",
            "BillingResolution",
            "BillingUsage",
            "FreeBilling",
            "FreeUserLimit",
            "FreeUserLimitWindow",
            "InvalidPinBilling",
            "OrganizationTier",
            "OtherProviderBilling",
            "PaidBilling",
            "Problem",
            "RawUsage",
            "StatusBilling",
            "Team",
            "TeamPickNeededBilling",
            "is_paid_tier",
        ),
        "billing_core.models",
    ),
    **dict.fromkeys(("to_wire", "from_wire"), "billing_core.wire"),
    **dict.fromkeys(
        (
            "TeamChoice",
            "build_status_billing",
            "build_status_without_tiers",
            "compute_team_preselection",
            "has_paid_team",
            "join_usages_with_tiers",
            "paid_organization_ids",
            "resolve_billing_team_id",
            "team_choices",
        ),
        "billing_core.resolution",
    ),
    **dict.fromkeys(
        (
            "DEFAULT_COMMAND_HINTS",
            "BillingTone",
            "CommandHints",
            "billing_tone",
            "build_top_up_url",
            "format_billing_line",
            "format_credits",
            "usage_tone",
        ),
        "billing_core.presentation",
    ),
    **dict.fromkeys(("ensure_billing_funds", "is_billing_exhausted"), "billing_core.funds"),
    **dict.fromkeys(("match_team", "team_label", "team_to_pin"), "billing_core.teams"),
    **dict.fromkeys(
        (
            "AsyncBillingService",
            "AsyncTeamService",
            "BillingService",
            "PinRead",
            "PinReader",
            "PinStore",
            "TeamService",
        ),
        "billing_core.ports",
    ),
    **dict.fromkeys(
        (
            "TeamPicker",
            "alist_team_choices",
            "apin_billing_team",
            "aresolve_billing",
            "list_team_choices",
            "pin_billing_team",
            "resolve_billing",
        ),
        "billing_core.service",
    ),
    **dict.fromkeys(("AsyncBillingMonitor", "BillingMonitor"), "billing_core.monitor"),
    **dict.fromkeys(
        (
            "AsyncHttpBillingService",
            "AsyncHttpTeamService",
            "HttpBillingService",
            "HttpTeamService",
        ),
        "billing_core.adapters.http",
    ),
    **dict.fromkeys(("BrvEndpoints", "brv_endpoints"), "billing_core.adapters.brv_endpoints"),
    **dict.fromkeys(
        ("BrvLogin", "BrvLoginRead", "load_brv_login", "read_brv_login"),
        "billing_core.adapters.brv_login",
    ),
    **dict.fromkeys(("BrvProject", "find_brv_project"), "billing_core.adapters.brv_project"),
    **dict.fromkeys(
        ("ActiveProviderRead", "load_active_provider", "read_active_provider"),
        "billing_core.adapters.brv_providers",
    ),
    "FilePinStore": "billing_core.adapters.pin_file",
    "InMemoryPinStore": "billing_core.testing.fakes",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'billing_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_COMMAND_HINTS",
    "FREE_TIER",
    "ActiveProviderRead",
    "AmbiguousTeamError",
    "AsyncBillingMonitor",
    "AsyncBillingService",
    "AsyncHttpBillingService",
    "AsyncHttpTeamService",
    "AsyncTeamService",
    "BillingApiError",
    "BillingAuthError",
    "BillingConfigError",
    "BillingError",
    "BillingMonitor",
    "BillingPayloadError",
    "BillingResolution",
    "BillingService",
    "BillingTone",
    "BillingUnknownError",
    "BillingUsage",
    "BrvEndpoints",
    "BrvLogin",
    "BrvLoginRead",
    "BrvProject",
    "CommandHints",
    "FilePinStore",
    "FreeBilling",
    "FreeUserLimit",
    "FreeUserLimitWindow",
    "HttpBillingService",
    "HttpTeamService",
    "InMemoryPinStore",
    "InsufficientCreditsError",
    "InvalidPinBilling",
    "InvalidPinError",
    "NotAuthenticatedError",
    "OrganizationTier",
    "OtherProviderBilling",
    "PaidBilling",
    "PinRead",
    "PinReader",
    "PinStore",
    "PinStoreError",
    "Problem",
    "RawUsage",
    "StatusBilling",
    "Team",
    "TeamChoice",
    "TeamNotFoundError",
    "TeamPickNeededBilling",
    "TeamPicker",
    "TeamService",
    "__version__",
    "alist_team_choices",
    "apin_billing_team",
    "aresolve_billing",
    "billing_tone",
    "brv_endpoints",
    "build_status_billing",
    "build_status_without_tiers",
    "build_top_up_url",
    "compute_team_preselection",
    "ensure_billing_funds",
    "find_brv_project",
    "format_billing_line",
    "format_credits",
    "from_wire",
    "has_paid_team",
    "is_billing_exhausted",
    "is_paid_tier",
    "join_usages_with_tiers",
    "list_team_choices",
    "load_active_provider",
    "load_brv_login",
    "match_team",
    "paid_organization_ids",
    "pin_billing_team",
    "read_active_provider",
    "read_brv_login",
    "resolve_billing",
    "resolve_billing_team_id",
    "team_choices",
    "team_label",
    "team_to_pin",
    "to_wire",
    "usage_tone",
]
