"""Sans-I/O plans: what a use case asks of the ports, and the rule for which failure wins.

How the shell shares code between sync and async (the one idiom, everywhere):
the logic that needs I/O is written once as a pure object or generator that
*says what it needs* and *takes what came back*; a thin sync driver and a thin
async driver do the I/O and nothing else. The HTTP adapters do this for one
request (``Get``) and for a team listing (``TeamPages``); the use cases do it
here, as generator *plans*:

- a plan yields :class:`Calls`: the primitive port calls of one round (read or
  write the pin, raw usages, tiers, free limit, teams), made at once by the
  driver (:mod:`billing_core._drive`), so a round costs one round trip;
- it receives :class:`Fetched`: one typed :data:`Outcome` (``Ok`` or ``Err``)
  per call of the round, never a bare exception;
- it returns its answer, decided by the pure core.

A plan never does I/O, never reads a clock and never sees a thread or an
event loop; the drivers never decide anything. Joining usages with tiers is
:func:`~billing_core.join_usages_with_tiers`; which of several failures to act
on is :func:`winning_error`.

>>> plan = usages_plan()
>>> next(plan)
Calls(read_pin=False, write_pin=None, raw_usages=True, tiers=True, free_limit=False, teams=False)
>>> try:
...     plan.send(Fetched(raw_usages=Ok(()), tiers=Ok(())))
... except StopIteration as done:
...     done.value
()
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Generic, TypeAlias, TypeVar

from attrs import frozen

from billing_core.errors import BillingAuthError
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team
from billing_core.ports import PinRead
from billing_core.resolution import join_usages_with_tiers

__all__ = [
    "Calls",
    "Err",
    "Fetched",
    "Ok",
    "Outcome",
    "PinWrite",
    "Plan",
    "unwrap",
    "usages_plan",
    "winning_error",
]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


@frozen
class Ok(Generic[_T_co]):
    """A call that answered ``value``."""

    value: _T_co


@frozen
class Err:
    """A call that raised ``error`` (an ``Exception``: anything else is not the plan's)."""

    error: Exception


Outcome: TypeAlias = Ok[_T] | Err
"""What one port call gave: :class:`Ok` or :class:`Err`."""


def asked(outcome: Outcome[_T] | None) -> Outcome[_T]:
    """The outcome of a call the plan asked for (a driver gives one for every call asked)."""
    if outcome is None:
        raise AssertionError("the driver left out a call the plan asked for")
    return outcome


def unwrap(outcome: Outcome[_T]) -> _T:
    """The value of ``outcome``, or raise its error."""
    if isinstance(outcome, Err):
        raise outcome.error
    return outcome.value


@frozen
class PinWrite:
    """Pin ``team_id`` (``None`` clears the pin)."""

    team_id: str | None


@frozen(kw_only=True)
class Calls:
    """The port calls of one round of a plan, made at once."""

    read_pin: bool = False
    write_pin: PinWrite | None = None
    raw_usages: bool = False
    tiers: bool = False
    free_limit: bool = False
    teams: bool = False


@frozen(kw_only=True)
class Fetched:
    """The outcomes of one round: one per call asked for, ``None`` for the others."""

    pin: Outcome[PinRead] | None = None
    pin_written: Outcome[None] | None = None
    raw_usages: Outcome[tuple[RawUsage, ...]] | None = None
    tiers: Outcome[tuple[OrganizationTier, ...]] | None = None
    free_limit: Outcome[FreeUserLimit] | None = None
    teams: Outcome[tuple[Team, ...]] | None = None


Plan: TypeAlias = Generator[Calls, Fetched, _T]
"""A use case: yields the calls of each round, receives their outcomes, returns the answer."""


def winning_error(*outcomes: Outcome[object] | None) -> Exception | None:
    """The failure to act on among ``outcomes``, or ``None`` when none failed.

    An expired or refused session (:class:`~billing_core.BillingAuthError`)
    wins over every other failure, since signing in again is what the user can
    do about it; otherwise the first failure in the order given.

    >>> from billing_core.errors import BillingApiError
    >>> down = Err(BillingApiError("down", endpoint="GET /a"))
    >>> expired = Err(BillingAuthError("expired", endpoint="GET /b", status_code=401))
    >>> winning_error(Ok(1), down, expired) is expired.error
    True
    >>> winning_error(Ok(1), None) is None
    True
    """
    errors = [outcome.error for outcome in outcomes if isinstance(outcome, Err)]
    return next((error for error in errors if isinstance(error, BillingAuthError)), None) or (
        errors[0] if errors else None
    )


def usages_plan() -> Plan[tuple[BillingUsage, ...]]:
    """``get_usages``: raw usages and tiers at once, then joined; the winning error raised."""
    fetched = yield Calls(raw_usages=True, tiers=True)
    raw_usages, tiers = asked(fetched.raw_usages), asked(fetched.tiers)
    error = winning_error(raw_usages, tiers)
    if error is not None:
        raise error
    return join_usages_with_tiers(unwrap(raw_usages), unwrap(tiers))
