"""The commands messages cite come from one ``CommandHints``, and so does the top-up link.

Laws: the default hints give billing-core's own wording; a host's hints replace
every command and leave the rest of each message alone, so a message never cites
another CLI's command; the top-up link appears exactly when the web app and the
exhausted payer's slug are known.
"""

from __future__ import annotations

import attrs
import pytest
from _billing_samples import team, usage
from hypothesis import assume, example, given
from hypothesis import strategies as st

import billing_core
from billing_core import (
    BillingError,
    BillingUsage,
    FreeBilling,
    InsufficientCreditsError,
    InvalidPinBilling,
    PaidBilling,
    StatusBilling,
    Team,
    TeamPickNeededBilling,
)
from billing_core._labels import is_unshowable
from billing_core.funds import ensure_billing_funds
from billing_core.presentation import (
    DEFAULT_COMMAND_HINTS,
    PIN_COMMAND_HINT,
    CommandHints,
    build_top_up_url,
    format_billing_line,
)
from billing_core.testing.strategies import (
    billing_usages,
    paid_billings,
    status_billings,
    teams,
)

BRV = CommandHints(
    pin_team="brv providers connect byterover --team TEAM",
    clear_pin="brv providers disconnect byterover",
    sign_in="brv login",
    web_app_url="https://app.example.com",
)
ACME_TEAM = team("org-acme", name="acme", display="Acme", slug="acme")
EXHAUSTED_ACME = PaidBilling(organization_id="org-acme", organization_name="Acme", remaining=0)
BETA_WITH_CREDITS = usage("org-beta", "Beta", tier="PRO", remaining=300)


def refusal(
    status: StatusBilling | None,
    *,
    usages: list[BillingUsage] | tuple[BillingUsage, ...] = (),
    hints: CommandHints = DEFAULT_COMMAND_HINTS,
    team_list: list[Team] | tuple[Team, ...] = (),
) -> str | None:
    """The guard's message for ``status`` (unknown billing refused), or ``None``."""
    try:
        ensure_billing_funds(
            status, usages=usages, when_unknown="refuse", hints=hints, teams=team_list
        )
    except BillingError as error:
        return str(error)
    return None


# --- the value --------------------------------------------------------------------------


def test_the_defaults_are_billing_cores_own_commands_and_no_web_app() -> None:
    assert CommandHints() == DEFAULT_COMMAND_HINTS
    assert attrs.asdict(DEFAULT_COMMAND_HINTS) == {
        "pin_team": "billing-core pin TEAM",
        "clear_pin": "billing-core pin --clear",
        "sign_in": "brv login",
        "web_app_url": None,
    }


def test_the_old_pin_constant_still_reads_as_before() -> None:
    assert PIN_COMMAND_HINT == "`billing-core pin TEAM`"
    assert DEFAULT_COMMAND_HINTS.pin_team in PIN_COMMAND_HINT


def test_the_hints_are_exported_from_the_package() -> None:
    assert billing_core.CommandHints is CommandHints
    assert billing_core.DEFAULT_COMMAND_HINTS is DEFAULT_COMMAND_HINTS


def test_hints_are_frozen_and_hashable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        BRV.pin_team = "other"  # type: ignore[misc]
    assert hash(BRV) == hash(attrs.evolve(BRV))


@pytest.mark.parametrize("name", ["pin_team", "clear_pin", "sign_in"])
@pytest.mark.parametrize(
    ("bad", "error", "says"),
    [
        (None, TypeError, "must be a string"),
        (b"brv login", TypeError, "must be a string"),
        ("", ValueError, "empty or blank"),
        ("   ", ValueError, "empty or blank"),
        (" brv login", ValueError, "whitespace"),
        ("brv login\n", ValueError, "whitespace"),
        ("brv\nlogin", ValueError, "control or format"),
        ("brv \x1b[2Jlogin", ValueError, "control or format"),
        ("brv \u202elogin", ValueError, "control or format"),
        ("brv `login`", ValueError, "backtick"),
    ],
)
def test_a_bad_command_is_refused_naming_the_field(
    name: str, bad: object, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=f"^{name} .*{says}"):
        CommandHints(**{name: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given_url", "kept"),
    [
        (None, None),
        ("", None),
        ("  /// ", None),
        ("https://app.example.com", "https://app.example.com"),
        (" https://app.example.com/web// ", "https://app.example.com/web"),
    ],
)
def test_the_web_app_url_is_read_as_build_top_up_url_reads_it(
    given_url: str | None, kept: str | None
) -> None:
    assert CommandHints(web_app_url=given_url).web_app_url == kept


@pytest.mark.parametrize(
    ("bad", "error"),
    [(b"https://x", TypeError), (1, TypeError), ("https://x\n/evil", ValueError)],
)
def test_a_bad_web_app_url_is_refused(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="web_app_url"):
        CommandHints(web_app_url=bad)


@given(st.one_of(st.none(), st.text(max_size=12)), st.text(max_size=6))
@example(" https://a.example/ ", "acme")
@example("\t", "acme")
def test_hints_give_the_link_build_top_up_url_gives(base: str | None, slug: str) -> None:
    kept = (base or "").strip().rstrip("/")
    if any(is_unshowable(char) for char in kept):  # refused, never altered
        with pytest.raises(ValueError, match="web_app_url"):
            CommandHints(web_app_url=base)
        return
    hints = CommandHints(web_app_url=base)
    expected = build_top_up_url(web_app_url=base, team_slug=slug)
    assert build_top_up_url(web_app_url=hints.web_app_url, team_slug=slug) == expected


@pytest.mark.parametrize("bad", [None, "brv login", {"pin_team": "x"}])
def test_the_views_refuse_anything_but_hints(bad: object) -> None:
    with pytest.raises(TypeError, match="hints must be a CommandHints"):
        format_billing_line(FreeBilling(), hints=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hints must be a CommandHints"):
        ensure_billing_funds(FreeBilling(), hints=bad)  # type: ignore[call-overload]


# --- exact wording with a host's hints ---------------------------------------------------


def test_a_host_s_commands_in_the_billing_lines() -> None:
    assert format_billing_line(TeamPickNeededBilling(candidates=[]), hints=BRV) == (
        "Billing: Personal free credits — pick a paid team with "
        "`brv providers connect byterover --team TEAM`"
    )
    assert format_billing_line(
        InvalidPinBilling(organization_id="org-9", reason="not-a-member"), hints=BRV
    ) == (
        "Billing: pinned team org-9 is not one of your teams — pin a paid team with "
        "`brv providers connect byterover --team TEAM` or clear the pin with "
        "`brv providers disconnect byterover`"
    )


def test_a_host_s_commands_in_the_refusals() -> None:
    pick = TeamPickNeededBilling(
        candidates=[PaidBilling(organization_id="org-beta", organization_name="Beta")],
        remaining=0,
    )
    assert refusal(pick, hints=BRV) == (
        "Your personal free credits are used up and no billing team is pinned. Pick one of "
        "your paid teams (Beta) with `brv providers connect byterover --team TEAM`."
    )
    invalid = InvalidPinBilling(organization_id="org-9", reason="not-a-member")
    assert refusal(invalid, hints=BRV) == (
        "The pinned team org-9 is not one of your teams. Pin a paid team with "
        "`brv providers connect byterover --team TEAM`."
    )
    assert refusal(None, hints=attrs.evolve(BRV, sign_in="brv login --api-key KEY")) == (
        "Who pays for the next request is unknown (not signed in, or billing could not be "
        "resolved). Sign in with `brv login --api-key KEY`, or try again once billing answers."
    )


def test_unknown_billing_names_the_default_sign_in_command() -> None:
    assert refusal(None) == (
        "Who pays for the next request is unknown (not signed in, or billing could not be "
        "resolved). Sign in with `brv login`, or try again once billing answers."
    )


# --- the top-up link ---------------------------------------------------------------------


def test_an_exhausted_team_alone_gets_its_top_up_link() -> None:
    assert refusal(EXHAUSTED_ACME, hints=BRV, team_list=[ACME_TEAM]) == (
        "Acme has no credits left. Top up Acme's credits to keep going: "
        "https://app.example.com/settings/acme/billing"
    )


def test_an_exhausted_team_with_alternatives_offers_both() -> None:
    assert refusal(
        EXHAUSTED_ACME, usages=[BETA_WITH_CREDITS], hints=BRV, team_list=[ACME_TEAM]
    ) == (
        "Acme has no credits left. Paid teams with credits: Beta (300 credits). Pin one with "
        "`brv providers connect byterover --team TEAM`, or top up Acme's credits: "
        "https://app.example.com/settings/acme/billing"
    )


def test_a_team_over_its_limit_gets_the_link_too() -> None:
    over = attrs.evolve(EXHAUSTED_ACME, remaining=50, limit_exceeded=True)
    message = refusal(over, hints=BRV, team_list=[ACME_TEAM])
    assert message == (
        "Acme is over its credit limit. Top up Acme's credits to keep going: "
        "https://app.example.com/settings/acme/billing"
    )


@pytest.mark.parametrize(
    ("hints", "team_list"),
    [
        (DEFAULT_COMMAND_HINTS, [ACME_TEAM]),  # no web app
        (BRV, []),  # the team is not known
        (BRV, [team("org-other", slug="acme")]),  # another team's slug is not the payer's
        (BRV, [Team(id="org-acme", name="acme", display_name="Acme", slug="")]),  # no slug
        (BRV, [Team(id="org-acme", name="acme", display_name="Acme", slug="..")]),  # no page
    ],
)
def test_without_the_web_app_or_the_payer_s_slug_the_message_is_as_before(
    hints: CommandHints, team_list: list[Team]
) -> None:
    assert refusal(EXHAUSTED_ACME, hints=hints, team_list=team_list) == (
        "Acme has no credits left. Top up Acme's credits to keep going."
    )
    assert refusal(
        EXHAUSTED_ACME, usages=[BETA_WITH_CREDITS], hints=hints, team_list=team_list
    ) == (
        "Acme has no credits left. Paid teams with credits: Beta (300 credits). "
        f"Pin one with `{hints.pin_team}`."
    )


def test_the_first_team_listed_with_the_payer_s_id_gives_the_slug() -> None:
    renamed = team("org-acme", name="acme", display="Acme", slug="acme-new")
    with pytest.raises(InsufficientCreditsError) as caught:  # any iterable of teams
        ensure_billing_funds(EXHAUSTED_ACME, hints=BRV, teams=iter([renamed, ACME_TEAM]))
    assert str(caught.value).endswith("/settings/acme-new/billing")


def test_a_hostile_slug_is_one_encoded_path_segment() -> None:
    hostile = team("org-acme", name="acme", display="Acme", slug="a/../b\n\x1b[2J")
    message = refusal(EXHAUSTED_ACME, hints=BRV, team_list=[hostile])
    assert message is not None
    assert message.endswith("/settings/a%2F..%2Fb%0A%1B%5B2J/billing")
    assert message.isprintable()  # ASCII, nothing a terminal acts on


# --- the laws ----------------------------------------------------------------------------

_COMMAND = st.text(alphabet="abcdefghijklmnopqrstuvwxyz -=", min_size=1, max_size=16).map(
    lambda text: f"host {text}".strip()
)


@st.composite
def host_hints(draw: st.DrawFn) -> CommandHints:
    """Hints of a host CLI: three distinct commands of its own, a web app or none."""
    pin_team, clear_pin, sign_in = draw(st.lists(_COMMAND, min_size=3, max_size=3, unique=True))
    web_app_url = draw(st.sampled_from([None, "", "https://app.example.com/", "http://h/w"]))
    return CommandHints(
        pin_team=pin_team, clear_pin=clear_pin, sign_in=sign_in, web_app_url=web_app_url
    )


def messages(
    status: StatusBilling | None,
    usages: list[BillingUsage],
    hints: CommandHints,
    team_list: list[Team],
) -> list[str]:
    """Every message the views word for ``status``: the billing line and the refusal."""
    found = [] if status is None else [format_billing_line(status, hints=hints)]
    message = refusal(status, usages=usages, hints=hints, team_list=team_list)
    return found if message is None else [*found, message]


def back_to_the_defaults(message: str, hints: CommandHints) -> str:
    """``message`` with each of the host's commands put back as billing-core's own."""
    for field_name in ("pin_team", "clear_pin", "sign_in"):
        ours = getattr(hints, field_name)
        default = getattr(DEFAULT_COMMAND_HINTS, field_name)
        message = message.replace(f"`{ours}`", f"`{default}`")
    return message


statuses = st.one_of(st.none(), status_billings())


@given(statuses, st.lists(billing_usages(), max_size=3), host_hints())
def test_hints_change_the_commands_and_nothing_else(
    status: StatusBilling | None, usages: list[BillingUsage], hints: CommandHints
) -> None:
    # Without teams no link can be built: only the commands may differ, each one
    # of them put back gives the default wording (today's, see the exact tests).
    with_hints = messages(status, usages, hints, [])
    by_default = messages(status, usages, DEFAULT_COMMAND_HINTS, [])
    assert [back_to_the_defaults(m, hints) for m in with_hints] == by_default


@given(statuses, st.lists(billing_usages(), max_size=3), host_hints(), st.data())
def test_a_message_never_cites_another_cli_s_command(
    status: StatusBilling | None,
    usages: list[BillingUsage],
    hints: CommandHints,
    data: st.DataObject,
) -> None:
    # Upstream names may hold backticks; without them, every span in backticks is cited.
    assume("`" not in repr(status) and not any("`" in u.organization_name for u in usages))
    team_list = data.draw(st.lists(teams(), max_size=3))  # slugs only reach encoded links
    for message in messages(status, usages, hints, team_list):
        assert "`billing-core" not in message
        assert "`brv login`" not in message
        cited = message.split("`")[1::2]  # the spans in backticks
        assert set(cited) <= {hints.pin_team, hints.clear_pin, hints.sign_in}


@st.composite
def payers_and_teams(draw: st.DrawFn) -> tuple[PaidBilling, list[Team]]:
    """An exhausted paid status, and teams that may list it (under another slug, or none)."""
    payer = draw(paid_billings())
    payer = attrs.evolve(payer, remaining=draw(st.sampled_from([0, -5, None])))
    if payer.remaining is None:
        payer = attrs.evolve(payer, limit_exceeded=True)
    others = draw(st.lists(teams(), max_size=3))
    own = draw(
        st.lists(teams(team_id=st.just(payer.organization_id)), max_size=2)
        | st.just([team(payer.organization_id, slug="..")])
    )
    listed = draw(st.permutations([*others, *own]))
    return payer, listed


@given(payers_and_teams(), st.lists(billing_usages(), max_size=3), host_hints())
@example((EXHAUSTED_ACME, [ACME_TEAM]), [BETA_WITH_CREDITS], BRV)  # a link and alternatives
def test_the_top_up_link_appears_iff_the_web_app_and_the_payer_s_slug_are_known(
    case: tuple[PaidBilling, list[Team]], usages: list[BillingUsage], hints: CommandHints
) -> None:
    payer, team_list = case
    own = [t for t in team_list if t.id == payer.organization_id]
    link = build_top_up_url(web_app_url=hints.web_app_url, team_slug=own[0].slug) if own else None
    message = refusal(payer, usages=usages, hints=hints, team_list=team_list)
    without = refusal(payer, usages=usages, hints=attrs.evolve(hints, web_app_url=None))
    assert message is not None
    assert without is not None
    if link is None:
        assert message == without  # exactly as before
        assert "/settings/" not in message
    else:
        assert message.endswith(f": {link}")  # the link ends the message
        assert message.count(link) == 1
        assert not any(is_unshowable(char) for char in message)


@given(statuses, st.lists(billing_usages(), max_size=3), host_hints(), st.data())
def test_only_an_exhausted_paid_team_gets_a_link(
    status: StatusBilling | None,
    usages: list[BillingUsage],
    hints: CommandHints,
    data: st.DataObject,
) -> None:
    assume(not isinstance(status, PaidBilling))
    team_list = data.draw(st.lists(teams(), max_size=3))
    with_teams = refusal(status, usages=usages, hints=hints, team_list=team_list)
    assert with_teams == refusal(status, usages=usages, hints=hints)


def test_insufficient_credits_is_still_the_error_with_a_link() -> None:
    with pytest.raises(InsufficientCreditsError):
        ensure_billing_funds(EXHAUSTED_ACME, hints=BRV, teams=[ACME_TEAM])
    assert refusal(FreeBilling(remaining=0, total=10), hints=BRV, team_list=[ACME_TEAM]) == (
        "Your personal free credits are used up (0 of 10 left this month). "
        "Upgrade to a paid plan to keep going."
    )
