"""Laws and exact strings of presentation (spec §5)."""

from __future__ import annotations

import doctest
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import billing_core.presentation
from billing_core import (
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    TeamPickNeededBilling,
)
from billing_core.funds import is_billing_exhausted
from billing_core.presentation import (
    billing_tone,
    build_top_up_url,
    format_billing_line,
    format_credits,
    usage_tone,
)
from billing_core.testing.strategies import billing_usages, credits, status_billings


def test_docstring_examples() -> None:
    assert doctest.testmod(billing_core.presentation).failed == 0


# --- format_credits ------------------------------------------------------------------


def reference_credits(n: int) -> str:
    """The spec's rule, written with Decimal (exact, halves up)."""
    if n <= 0:
        return "0"
    if n < 1_000:
        return str(n)
    unit, suffix = (Decimal(1_000_000), "m") if n >= 999_500 else (Decimal(1_000), "k")
    value = (Decimal(n) / unit).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = f"{value:f}"
    return (text.removesuffix(".0") if text.endswith(".0") else text) + suffix


def credits_value(text: str) -> Decimal:
    scale = {"k": Decimal(1_000), "m": Decimal(1_000_000)}
    if text[-1] in scale:
        return Decimal(text[:-1]) * scale[text[-1]]
    return Decimal(text)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (-1, "0"),
        (0, "0"),
        (1, "1"),
        (999, "999"),
        (1_000, "1k"),
        (1_049, "1k"),
        (1_050, "1.1k"),
        (1_250, "1.3k"),
        (12_400, "12.4k"),
        (12_450, "12.5k"),
        (99_950, "100k"),
        (999_449, "999.4k"),
        (999_450, "999.5k"),
        (999_499, "999.5k"),
        (999_500, "1m"),
        (999_999, "1m"),
        (1_000_000, "1m"),
        (1_050_000, "1.1m"),
        (2_500_000, "2.5m"),
        (10**12, "1000000m"),
    ],
)
def test_format_credits_examples(n: int, expected: str) -> None:
    assert format_credits(n) == expected


@given(credits())
@example(1_250)
@example(12_450)
@example(999_950)
def test_format_credits_matches_an_exact_decimal_reference(n: int) -> None:
    assert format_credits(n) == reference_credits(n)


@given(st.integers(min_value=-10, max_value=10**13), st.integers(min_value=0, max_value=10**6))
def test_format_credits_is_monotone(n: int, step: int) -> None:
    assert credits_value(format_credits(n)) <= credits_value(format_credits(n + step))


def test_format_credits_refuses_non_ints() -> None:
    with pytest.raises(TypeError):
        format_credits(True)
    with pytest.raises(TypeError):
        format_credits(1.5)  # type: ignore[arg-type]


# --- format_billing_line ---------------------------------------------------------------

ACME = PaidBilling(
    organization_id="org-1",
    organization_name="Acme Corp",
    remaining=12_400,
    total=20_000,
    tier="PRO",
)


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (OtherProviderBilling(active_provider="openai"), "Using openai"),
        (OtherProviderBilling(), "Using another provider"),
        (FreeBilling(remaining=950, total=1_000), "Billing: Personal free credits (950 / 1,000)"),
        (
            FreeBilling(remaining=1_234_567, total=2_000_000),
            "Billing: Personal free credits (1,234,567 / 2,000,000)",
        ),
        (FreeBilling(), "Billing: Personal free credits"),
        (FreeBilling(total=1_000), "Billing: Personal free credits"),
        (FreeBilling(remaining=950), "Billing: Personal free credits (950 credits)"),
        (FreeBilling(remaining=-5, total=1_000), "Billing: Personal free credits (-5 / 1,000)"),
        (ACME, "Billing: Acme Corp (12,400 credits, PRO)"),
        (
            PaidBilling(organization_id="org-1", organization_name="Acme Corp", remaining=12_400),
            "Billing: Acme Corp (12,400 credits)",
        ),
        (
            PaidBilling(organization_id="org-1", remaining=12_400, tier="PRO"),
            "Billing: org-1 (12,400 credits, PRO)",
        ),
        (
            PaidBilling(organization_id="org-1", organization_name=" ", remaining=0),
            "Billing: org-1 (0 credits)",
        ),
        (
            PaidBilling(organization_id="org-1", organization_name="Acme Corp", tier="PRO"),
            "Billing: Acme Corp (usage unavailable)",
        ),
        (
            TeamPickNeededBilling(
                candidates=[
                    PaidBilling(organization_id="o2", organization_name="Beta"),
                    PaidBilling(organization_id="o1", organization_name="Acme"),
                ],
                remaining=950,
                total=1_000,
            ),
            "Billing: Personal free credits (950 / 1,000) — 2 paid teams available (Acme, Beta): "
            "pick one with `billing-core pin TEAM`",
        ),
        (
            TeamPickNeededBilling(candidates=[PaidBilling(organization_id="o1")]),
            "Billing: Personal free credits — 1 paid team available (o1): "
            "pick one with `billing-core pin TEAM`",
        ),
        (
            TeamPickNeededBilling(candidates=[]),
            "Billing: Personal free credits — pick a paid team with `billing-core pin TEAM`",
        ),
        (
            InvalidPinBilling(
                organization_id="org-7", reason="free-tier", organization_name="Home"
            ),
            "Billing: pinned team Home (org-7) is on the FREE tier and cannot be billed — "
            "pin a paid team with `billing-core pin TEAM` "
            "or clear the pin with `billing-core pin --clear`",
        ),
        (
            InvalidPinBilling(organization_id="org-9", reason="not-a-member"),
            "Billing: pinned team org-9 is not one of your teams — "
            "pin a paid team with `billing-core pin TEAM` "
            "or clear the pin with `billing-core pin --clear`",
        ),
    ],
)
def test_billing_line_exact_text(status: StatusBilling, line: str) -> None:
    assert format_billing_line(status) == line


@given(status_billings())
def test_the_line_names_who_pays(status: StatusBilling) -> None:
    line = format_billing_line(status)
    if isinstance(status, OtherProviderBilling):
        assert line == f"Using {status.active_provider or 'another provider'}"
        return
    assert line.startswith("Billing: ")
    if isinstance(status, (PaidBilling, InvalidPinBilling)):
        name = status.organization_name
        assert (name if name and name.strip() else status.organization_id) in line
    if isinstance(status, (FreeBilling, TeamPickNeededBilling)):
        assert "Personal free credits" in line
    if isinstance(status, TeamPickNeededBilling):
        for candidate in status.candidates:
            name = candidate.organization_name
            assert (name if name and name.strip() else candidate.organization_id) in line
        assert "`billing-core pin TEAM`" in line
    if isinstance(status, (PaidBilling, FreeBilling, TeamPickNeededBilling)):
        if status.remaining is not None:
            assert f"{status.remaining:,}" in line
        elif isinstance(status, PaidBilling):
            assert line.endswith("(usage unavailable)")


def test_billing_line_refuses_a_non_status() -> None:
    with pytest.raises(TypeError):
        format_billing_line(None)  # type: ignore[arg-type]


# --- tones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "total", "tone"),
    [
        (None, 1_000, "inactive"),
        (None, None, "inactive"),
        (-3, 1_000, "danger"),
        (0, 1_000, "danger"),
        (0, None, "danger"),
        (1, 1_000, "warn"),
        (100, 1_000, "warn"),  # exactly 10 % left
        (101, 1_000, "ok"),  # 10 % + 1
        (1, 10, "warn"),
        (2, 10, "ok"),
        (1, 9, "ok"),  # 10 % of 9 is 0.9: 1 is more
        (5, None, "ok"),
        (5, 0, "ok"),
    ],
)
def test_tone_boundaries(remaining: int | None, total: int | None, tone: str) -> None:
    assert billing_tone(FreeBilling(remaining=remaining, total=total)) == tone
    assert billing_tone(PaidBilling(organization_id="o", remaining=remaining, total=total)) == tone
    needs_pick = TeamPickNeededBilling(candidates=[], remaining=remaining, total=total)
    assert billing_tone(needs_pick) == tone


def test_tone_of_the_other_variants() -> None:
    assert billing_tone(None) == "inactive"
    assert billing_tone(OtherProviderBilling(active_provider="openai")) == "inactive"
    assert billing_tone(InvalidPinBilling(organization_id="o", reason="not-a-member")) == "danger"


@given(status_billings())
def test_tone_agrees_with_exhaustion(status: StatusBilling) -> None:
    tone = billing_tone(status)
    if isinstance(status, (FreeBilling, PaidBilling, TeamPickNeededBilling)):
        assert (tone == "danger") == is_billing_exhausted(status)
        assert (tone == "inactive") == (status.remaining is None)
        if status.remaining is not None and status.remaining > 0 and status.total is not None:
            assert (tone == "warn") == (Decimal(status.remaining) <= Decimal(status.total) / 10)
    elif isinstance(status, InvalidPinBilling):
        assert tone == "danger"
    else:
        assert tone == "inactive"


@given(billing_usages())
def test_usage_tone_follows_the_same_rule(usage: BillingUsage) -> None:
    tone = usage_tone(usage)
    as_status = PaidBilling(organization_id="o", remaining=usage.remaining, total=usage.total_limit)
    if usage.limit_exceeded:
        assert tone == "danger"
    else:
        assert tone == billing_tone(as_status)


def test_usage_tone_of_unknown_usage_is_inactive() -> None:
    assert usage_tone(None) == "inactive"


# --- top-up url ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "slug", "url"),
    [
        ("https://app.example.com", "acme", "https://app.example.com/settings/acme/billing"),
        ("https://app.example.com///", "acme", "https://app.example.com/settings/acme/billing"),
        (" https://app.example.com/ ", "acme", "https://app.example.com/settings/acme/billing"),
        (
            "https://app.example.com/web",
            "a/b c?d",
            "https://app.example.com/web/settings/a%2Fb%20c%3Fd/billing",
        ),
        (
            "https://app.example.com",
            "équipe",
            "https://app.example.com/settings/%C3%A9quipe/billing",
        ),
        (None, "acme", None),
        ("", "acme", None),
        ("/", "acme", None),
        ("https://app.example.com", None, None),
        ("https://app.example.com", "", None),
    ],
)
def test_top_up_url(base: str | None, slug: str | None, url: str | None) -> None:
    assert build_top_up_url(web_app_url=base, team_slug=slug) == url
