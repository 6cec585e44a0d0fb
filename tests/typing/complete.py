"""A dispatch on StatusBilling that handles every variant, and None: mypy must accept it.

Read by tests/test_typing.py. A new variant makes mypy reject this module too,
as it must: update it along with the union.
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


def describe(status: StatusBilling) -> str:
    match status:
        case OtherProviderBilling():
            return "another provider"
        case PaidBilling():
            return "a paid team"
        case FreeBilling():
            return "free credits"
        case TeamPickNeededBilling():
            return "free credits until a team is picked"
        case InvalidPinBilling():
            return "an invalid pin"
        case _:
            raise unhandled_status(status)


def describe_optional(status: StatusBilling | None) -> str:
    match status:
        case None:
            return "nothing known"
        case (
            OtherProviderBilling()
            | PaidBilling()
            | FreeBilling()
            | TeamPickNeededBilling()
            | InvalidPinBilling()
        ):
            return describe(status)
        case _:
            raise unhandled_status(status)
