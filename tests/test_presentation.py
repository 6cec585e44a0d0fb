"""Laws and exact strings of presentation: credits, billing lines, tones and top-up links."""

from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import unquote, urlsplit

import attrs
import pytest
from _billing_samples import usage as sample_usage
from hypothesis import example, given
from hypothesis import strategies as st

from billing_core import (
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    TeamPickNeededBilling,
)
from billing_core._labels import is_unshowable
from billing_core._labels import shown as _labels_shown
from billing_core.funds import is_billing_exhausted
from billing_core.presentation import (
    billing_tone,
    build_top_up_url,
    format_billing_line,
    format_credits,
    usage_tone,
)
from billing_core.resolution import build_status_billing
from billing_core.testing import Account
from billing_core.testing.strategies import accounts, billing_usages, credits, status_billings

_UNSHOWABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def shown(text: str) -> str:
    """What a view prints for upstream text: unshowable characters as U+FFFD."""
    return "".join("\ufffd" if unicodedata.category(c) in _UNSHOWABLE else c for c in text)


def shows_safely(text: str) -> bool:
    """No control or format character a terminal would act on, no line break."""
    return text == shown(text) and len(text.splitlines()) == 1


@given(st.characters())
def test_unshowable_characters_are_never_printable(char: str) -> None:
    # shown() skips printable text whole: sound only if no printable character is unshowable.
    assert is_unshowable(char) == (unicodedata.category(char) in _UNSHOWABLE)
    if is_unshowable(char):
        assert not char.isprintable()
        assert _labels_shown(f"a{char}b") == "a\ufffdb"
    else:
        assert _labels_shown(f"a{char}b") == f"a{char}b"


# --- format_credits ------------------------------------------------------------------


def reference_credits(n: int) -> str:
    """format_credits' rule, written independently with Decimal (exact, halves up)."""
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
        assert shown(name if name and name.strip() else status.organization_id) in line
    if isinstance(status, (FreeBilling, TeamPickNeededBilling)):
        assert "Personal free credits" in line
    if isinstance(status, TeamPickNeededBilling):
        for candidate in status.candidates:
            name = candidate.organization_name
            assert shown(name if name and name.strip() else candidate.organization_id) in line
        assert "`billing-core pin TEAM`" in line
    if isinstance(status, (PaidBilling, FreeBilling, TeamPickNeededBilling)):
        if status.remaining is not None:
            assert f"{status.remaining:,}" in line
        elif isinstance(status, PaidBilling):
            assert line.endswith("(usage unavailable)")


_text = st.text(max_size=12)


@st.composite
def statuses_with_any_text(draw: st.DrawFn) -> StatusBilling:
    """Any status, its names, ids, tier and provider replaced by arbitrary text."""

    def retexted(status: StatusBilling) -> StatusBilling:
        changes: dict[str, object] = {}
        for attribute in attrs.fields(type(status)):
            if attribute.name == "organization_id":
                changes[attribute.name] = draw(st.text(min_size=1, max_size=12))
            elif attribute.name in ("organization_name", "tier", "active_provider"):
                changes[attribute.name] = draw(st.one_of(st.none(), _text))
        if isinstance(status, TeamPickNeededBilling):
            candidates: dict[str, PaidBilling] = {}
            for candidate in status.candidates:
                changed = retexted(candidate)
                assert isinstance(changed, PaidBilling)
                candidates.setdefault(changed.organization_id, changed)
            changes["candidates"] = list(candidates.values())
        return attrs.evolve(status, **changes)  # type: ignore[arg-type]

    return retexted(draw(status_billings()))


@given(st.one_of(status_billings(), statuses_with_any_text()))
@example(PaidBilling(organization_id="o", organization_name="A\nBilling: Free", remaining=1))
@example(PaidBilling(organization_id="o\x1b[2J", remaining=1, tier="PRO\u202e"))
@example(OtherProviderBilling(active_provider="x\u2028y"))
@example(InvalidPinBilling(organization_id="\ud800", reason="free-tier", organization_name="\r"))
def test_the_line_is_one_safe_line_whatever_the_names(status: StatusBilling) -> None:
    assert shows_safely(format_billing_line(status))


def test_a_forged_name_cannot_forge_a_line() -> None:
    status = PaidBilling(
        organization_id="org-1",
        organization_name="Evil\nBilling: Personal free credits \x1b[32m\u202e",
        remaining=12_400,
        tier="PRO",
    )
    assert format_billing_line(status) == (
        "Billing: Evil\ufffdBilling: Personal free credits \ufffd[32m\ufffd (12,400 credits, PRO)"
    )


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


@pytest.mark.parametrize(("remaining", "total"), [(500, 1_000), (100, 1_000), (None, None)])
def test_an_exceeded_limit_is_danger_whatever_the_numbers(
    remaining: int | None, total: int | None
) -> None:
    statuses: list[StatusBilling] = [
        FreeBilling(remaining=remaining, total=total, limit_exceeded=True),
        PaidBilling(organization_id="o", remaining=remaining, total=total, limit_exceeded=True),
        TeamPickNeededBilling(candidates=[], remaining=remaining, total=total, limit_exceeded=True),
    ]
    for status in statuses:
        assert billing_tone(status) == "danger"
        assert is_billing_exhausted(status)


def test_the_status_line_and_the_picker_agree_on_an_exceeded_limit() -> None:
    # The reviewer's case: PRO, 500 of 1,000 left, limit exceeded upstream.
    usage = sample_usage("org-1", "Acme", tier="PRO", remaining=500, exceeded=True)
    status = build_status_billing(
        active_provider="byterover", is_authenticated=True, usages=[usage]
    )
    assert usage_tone(usage) == "danger"
    assert billing_tone(status) == "danger"


def test_tone_of_the_other_variants() -> None:
    assert billing_tone(None) == "inactive"
    assert billing_tone(OtherProviderBilling(active_provider="openai")) == "inactive"
    assert billing_tone(InvalidPinBilling(organization_id="o", reason="not-a-member")) == "danger"


@given(status_billings())
def test_tone_agrees_with_exhaustion(status: StatusBilling) -> None:
    # One rule: danger exactly when exhausted (no credits left, or the limit exceeded).
    tone = billing_tone(status)
    if isinstance(status, (FreeBilling, PaidBilling, TeamPickNeededBilling)):
        remaining, exceeded = status.remaining, status.limit_exceeded
        assert (tone == "danger") == is_billing_exhausted(status)
        assert (tone == "danger") == (exceeded or (remaining is not None and remaining <= 0))
        assert (tone == "inactive") == (remaining is None and not exceeded)
        if remaining is not None and remaining > 0 and not exceeded and status.total is not None:
            assert (tone == "warn") == (Decimal(remaining) <= Decimal(status.total) / 10)
    elif isinstance(status, InvalidPinBilling):
        assert tone == "danger"
    else:
        assert tone == "inactive"


@given(billing_usages())
def test_usage_tone_follows_the_same_rule(usage: BillingUsage) -> None:
    # A picker row and a status line with the same numbers and flag share a tone.
    as_status = PaidBilling(
        organization_id="o",
        remaining=usage.remaining,
        total=usage.total_limit,
        limit_exceeded=usage.limit_exceeded,
    )
    assert usage_tone(usage) == billing_tone(as_status)
    assert (usage_tone(usage) == "danger") == (usage.limit_exceeded or usage.remaining <= 0)


_PAYER_OVER_ITS_LIMIT = sample_usage("org-1", "Acme", tier="PRO", remaining=1_000, exceeded=True)


@given(accounts())
@example(Account(usages=[_PAYER_OVER_ITS_LIMIT]))
@example(Account(usages=[_PAYER_OVER_ITS_LIMIT], pinned_team_id="org-1"))
def test_a_paid_status_has_the_tone_of_the_usage_that_pays(account: Account) -> None:
    status = build_status_billing(
        active_provider="byterover",
        is_authenticated=True,
        usages=account.usages,
        pinned_team_id=account.pinned_team_id,
        free_user_limit=account.free_user_limit,
    )
    if isinstance(status, PaidBilling):
        (payer,) = {u for u in account.usages if u.organization_id == status.organization_id}
        assert billing_tone(status) == usage_tone(payer)


def test_usage_tone_of_unknown_usage_is_inactive() -> None:
    assert usage_tone(None) == "inactive"


@pytest.mark.parametrize("remaining", [0, -1])
def test_usage_tone_of_no_credits_left_is_danger_even_if_not_over_the_limit(
    remaining: int,
) -> None:
    usage = attrs.evolve(_PAYER_OVER_ITS_LIMIT, remaining=remaining, limit_exceeded=False)
    assert usage_tone(usage) == "danger"


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
        # Dot segments: browsers resolve "..", and "%2E%2E" too, to the parent page.
        ("https://app.example.com", "..", None),
        ("https://app.example.com", ".", None),
        ("https://app.example.com", "...", "https://app.example.com/settings/.../billing"),
        (
            "https://app.example.com",
            "%2e%2e",
            "https://app.example.com/settings/%252e%252e/billing",
        ),
        ("https://app.example.com", "a.b", "https://app.example.com/settings/a.b/billing"),
    ],
)
def test_top_up_url(base: str | None, slug: str | None, url: str | None) -> None:
    assert build_top_up_url(web_app_url=base, team_slug=slug) == url


# What the WHATWG URL standard (browsers) reads as "this" or "parent" directory.
_WHATWG_DOT_SEGMENTS = {".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"}


@given(st.one_of(st.text(), st.text(alphabet="./%2eE\\", max_size=4)))
@example("..")
@example(".")
def test_the_slug_is_exactly_one_path_segment(slug: str) -> None:
    base = "https://app.example.com/web"
    url = build_top_up_url(web_app_url=base, team_slug=slug)
    if slug in ("", ".", ".."):
        assert url is None
        return
    assert url is not None
    assert url.startswith(base + "/")
    segments = urlsplit(url).path.split("/")
    assert segments[:2] == ["", "web"]
    assert segments[2] == "settings"
    assert segments[4:] == ["billing"]
    assert unquote(segments[3]) == slug
    assert segments[3].lower() not in _WHATWG_DOT_SEGMENTS
    assert "\\" not in segments[3]  # browsers read a backslash as a slash
