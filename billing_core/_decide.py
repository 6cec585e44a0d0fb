"""The resolve's decision: one ``BillingResolution`` from the typed outcomes of its port calls.

Pure: no I/O, no clock. :func:`decide` is the one place that turns what the
ports answered (``Ok`` / ``Err`` outcomes in a :class:`~billing_core._plan.Fetched`)
into a status and the problems met on the way. :func:`~billing_core.resolve_billing`
decides with it after each round trip, and the billing monitors
(:mod:`billing_core.monitor`) decide with it again from the inputs they keep,
whenever the pin changes: one decision, however the inputs were obtained.

>>> from billing_core._plan import Fetched, Ok
>>> from billing_core.ports import PinRead
>>> decide(Fetched(pin=Ok(PinRead(None)), raw_usages=Ok(()), tiers=Ok(())), session_key="k")
BillingResolution(status=FreeBilling(remaining=None, total=None, limit_exceeded=False), \
problems=(), pinned_team_id=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from billing_core._plan import Err, Fetched, Ok, Outcome, asked, unwrap, winning_error
from billing_core.errors import BillingAuthError, BillingError
from billing_core.models import (
    BillingResolution,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    Problem,
    ProblemPart,
    RawUsage,
    StatusBilling,
    TeamPickNeededBilling,
    unhandled_status,
)
from billing_core.ports import PinRead
from billing_core.resolution import (
    BYTEROVER_PROVIDER,
    build_status_billing,
    build_status_without_tiers,
    join_usages_with_tiers,
)

__all__ = [
    "AUTH_PROBLEM",
    "decide",
    "fixed_resolution",
    "pin_of",
    "problem",
    "redacted",
    "shows_free_credits",
]


def fixed_resolution(*, active_provider: str | None, session_key: str | None) -> BillingResolution:
    """The answer when nothing is fetched: no session (``status=None``, no problem)
    or another provider (:class:`~billing_core.OtherProviderBilling`).

    Callers fetch instead when there is a session and the provider is ByteRover
    (:data:`~billing_core.resolution.BYTEROVER_PROVIDER`).
    """
    if not session_key:
        return BillingResolution(status=None)
    status = build_status_billing(active_provider=active_provider, is_authenticated=True)
    return BillingResolution(status=status)


def shows_free_credits(status: StatusBilling | None) -> bool:
    """Whether ``status`` shows the personal free credits (free, or a team to pick)."""
    match status:
        case FreeBilling() | TeamPickNeededBilling():
            return True
        case PaidBilling() | InvalidPinBilling() | OtherProviderBilling() | None:
            return False
        case _:
            raise unhandled_status(status)


AUTH_PROBLEM: Final = Problem(part="auth", message="session invalid or expired: sign in again")
"""The problem of a refused session (401/403): it comes with ``status=None``."""


def decide(fetched: Fetched, *, session_key: str) -> BillingResolution:
    """The answer from the fetched outcomes of the pin, raw usages, tiers and free limit.

    The free limit may not have been fetched (``fetched.free_limit is None``);
    a failed one matters only when the answer shows free credits. See
    :func:`~billing_core.resolve_billing` for how each failure degrades the answer.
    Every answer records the pin it read (``pinned_team_id``), whatever failed.
    """
    pinned_team_id, problems = pin_of(asked(fetched.pin), session_key=session_key)
    raw_usages, tiers = asked(fetched.raw_usages), asked(fetched.tiers)
    error = winning_error(raw_usages, tiers)
    if isinstance(error, BillingAuthError):
        return BillingResolution(
            status=None, problems=[*problems, AUTH_PROBLEM], pinned_team_id=pinned_team_id
        )
    if isinstance(raw_usages, Err):
        failed = problem("usages", raw_usages.error, _UNKNOWN, session_key=session_key)
        return BillingResolution(
            status=None, problems=[*problems, failed], pinned_team_id=pinned_team_id
        )
    try:
        usages = join_usages_with_tiers(raw_usages.value, unwrap(tiers))
    except Exception as error:  # the tiers failed, or conflict with each other
        return _without_tiers(
            raw_usages.value, error, pinned_team_id, problems, session_key=session_key
        )
    free_limit = fetched.free_limit
    try:
        status = build_status_billing(
            active_provider=BYTEROVER_PROVIDER,
            is_authenticated=True,
            usages=usages,
            pinned_team_id=pinned_team_id,
            free_user_limit=free_limit.value if isinstance(free_limit, Ok) else None,
        )
    except Exception as error:  # e.g. one organisation listed twice, differently
        failed = problem("usages", error, _UNKNOWN, session_key=session_key)
        return BillingResolution(
            status=None, problems=[*problems, failed], pinned_team_id=pinned_team_id
        )
    # A free limit that failed matters only if the answer shows free credits;
    # so the answer does not depend on whether it was prefetched.
    if isinstance(free_limit, Err) and shows_free_credits(status):
        if isinstance(winning_error(free_limit), BillingAuthError):
            return BillingResolution(
                status=None, problems=[*problems, AUTH_PROBLEM], pinned_team_id=pinned_team_id
            )
        problems.append(
            problem("free-limit", free_limit.error, _NO_NUMBERS, session_key=session_key)
        )
    return BillingResolution(status=status, problems=problems, pinned_team_id=pinned_team_id)


def _without_tiers(
    raw_usages: tuple[RawUsage, ...],
    error: Exception,
    pinned_team_id: str | None,
    problems: list[Problem],
    *,
    session_key: str,
) -> BillingResolution:
    """Tiers unknown: only a pin among the usages can be shown, and without its tier
    (see :func:`~billing_core.resolution.build_status_without_tiers`)."""
    status = build_status_without_tiers(raw_usages=raw_usages, pinned_team_id=pinned_team_id)
    if status is None:
        failed = problem(
            "tiers", error, "cannot tell which teams are paid", session_key=session_key
        )
        return BillingResolution(
            status=None, problems=[*problems, failed], pinned_team_id=pinned_team_id
        )
    failed = problem(
        "tiers", error, "showing the pinned team without its tier", session_key=session_key
    )
    return BillingResolution(
        status=status, problems=[*problems, failed], pinned_team_id=pinned_team_id
    )


def pin_of(outcome: Outcome[PinRead], *, session_key: str) -> tuple[str | None, list[Problem]]:
    """The pin, or no pin and the problem that hid it."""
    if isinstance(outcome, Err):
        return None, [problem("pins", outcome.error, _UNPINNED, session_key=session_key)]
    read = outcome.value
    if read.problem is not None:  # e.g. a corrupt pin file
        message = redacted(f"{read.problem}; {_UNPINNED}", session_key)
        return None, [Problem(part="pins", message=message)]
    return read.team_id or None, []


_UNPINNED: Final = "treating the project as unpinned"
_UNKNOWN: Final = "billing status unknown"
_NO_NUMBERS: Final = "showing free credits without numbers"

_WHAT_FAILED: Final[Mapping[ProblemPart, str]] = {
    "usages": "could not load credit usage",
    "tiers": "could not load subscription tiers",
    "free-limit": "could not load personal free credits",
    "pins": "could not read the billing pin",
}


def problem(part: ProblemPart, error: Exception, consequence: str, *, session_key: str) -> Problem:
    """The problem "could not load <part>: <error>; <consequence>", the key redacted."""
    # Our errors and OSError say what went wrong without secrets; anything else
    # comes from third-party code and is named, never quoted.
    known = isinstance(error, BillingError | OSError) and str(error)
    detail = str(error) if known else f"unexpected {type(error).__name__}"
    return Problem(
        part=part,
        message=redacted(f"{_WHAT_FAILED[part]}: {detail}; {consequence}", session_key),
    )


def redacted(message: str, session_key: str) -> str:
    """``message`` with every occurrence of the session key replaced."""
    # Belt and braces: a misbehaving adapter may have put the key in its message.
    return message.replace(session_key, "[session key]") if session_key else message
