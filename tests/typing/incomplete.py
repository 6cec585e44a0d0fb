"""Dispatches on StatusBilling that each leave one case out: mypy must reject each of them.

Read by tests/test_typing.py: every line marked ``# error: T`` must get exactly
one mypy error, naming the unhandled type ``T``, and no other line any.
"""

from __future__ import annotations

from billing_core.models import (
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    TeamPickNeededBilling,
    unhandled_status,
)


def describe_without_invalid_pin(status: StatusBilling) -> str:
    match status:
        case OtherProviderBilling():
            return "another provider"
        case PaidBilling():
            return "a paid team"
        case FreeBilling():
            return "free credits"
        case TeamPickNeededBilling():
            return "free credits until a team is picked"
        case _:
            raise unhandled_status(status)  # error: InvalidPinBilling


def describe_without_none(status: StatusBilling | None) -> str:
    match status:
        case (
            OtherProviderBilling()
            | PaidBilling()
            | FreeBilling()
            | TeamPickNeededBilling()
            | InvalidPinBilling()
        ):
            return status.source
        case _:
            raise unhandled_status(status)  # error: None
