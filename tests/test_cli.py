"""The ``billing-core`` command line, end to end against the loopback fake API.

A handful of cases run the installed console script in a subprocess (what a
user or an agent runs); the finer checks call ``main(argv)`` in-process, which
exercises the same code without paying a process start-up each.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import attrs
import pytest
from _cli_env import use_environ, user_environ
from _cli_json import checked_document

import billing_core.service
from billing_core import cli
from billing_core.cli import render
from billing_core.cli import terminal as _terminal
from billing_core.models import BillingUsage, Team
from billing_core.testing import Account, FakeBillingApi
from billing_core.testing.sample import ACME_TEAM_ID, SIDE_PROJECT_TEAM_ID, sample_account

SESSION_KEY = "sk-live-CLI-SECRET-5e1d0c9b"
ANSI_ESCAPE = "\x1b["
ACME_LINE = "Billing: Acme Corp (12,400 credits, PRO)"


def _script() -> list[str]:
    found = shutil.which("billing-core")
    if found is None:
        found = str(Path(sys.executable).parent / "billing-core")
    return [found]


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def assert_clean(self) -> None:
        """No traceback and no session key, wherever the run ended."""
        assert "Traceback" not in self.err
        assert SESSION_KEY not in self.out
        assert SESSION_KEY not in self.err

    @property
    def shown(self) -> str:
        """stdout without the line naming the project (tested on its own)."""
        return "".join(
            line for line in self.out.splitlines(keepends=True) if not line.startswith("Project: ")
        )

    def error_line(self) -> str:
        """The one error line an expected failure prints."""
        lines = [line for line in self.err.splitlines() if line.startswith("billing-core: error:")]
        assert len(lines) == 1, self.err
        return lines[0]


class RunScript(Protocol):
    def __call__(
        self, *argv: str, env_overrides: dict[str, str | None] | None = None
    ) -> Result: ...


class Run(Protocol):
    def __call__(self, *argv: str, tty: bool = False) -> Result: ...


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBillingApi]:
    with FakeBillingApi(sample_account(), session_key=SESSION_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_api(api: FakeBillingApi) -> None:
    api.account = sample_account()
    api.reset_faults()


@pytest.fixture
def dead_root(dead_url: str) -> str:
    """A root domain where nothing listens."""
    return dead_url.removesuffix("/api/v1")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    return directory


@pytest.fixture
def env(api: FakeBillingApi, tmp_path: Path) -> dict[str, str]:
    """The environment of a signed-in user of the fake API, without stray settings."""
    return user_environ(api, tmp_path)


@pytest.fixture
def run_script(env: dict[str, str], project: Path) -> RunScript:
    def run(*argv: str, env_overrides: dict[str, str | None] | None = None) -> Result:
        environ = dict(env)
        for name, value in (env_overrides or {}).items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        done = subprocess.run(
            [*_script(), *argv],
            env=environ,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        result.assert_clean()
        if "--json" in argv:
            checked_document(result.out)
        return result

    return run


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def run(
    env: dict[str, str],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """Call ``main(argv)`` in-process, in ``project``, with ``env``; return a Result."""
    use_environ(monkeypatch, env)
    monkeypatch.chdir(project)

    def invoke(*argv: str, tty: bool = False) -> Result:
        if tty:
            terminal = _Terminal()
            with monkeypatch.context() as patch:
                patch.setattr(sys, "stdout", terminal)
                code = cli.main(list(argv))
            captured = capsys.readouterr()
            result = Result(code, terminal.getvalue(), captured.err)
        else:
            code = cli.main(list(argv))
            captured = capsys.readouterr()
            result = Result(code, captured.out, captured.err)
        result.assert_clean()
        if "--json" in argv:
            checked_document(result.out)
        return result

    return invoke


def _pin_file(project: Path) -> Path:
    return project / ".brv" / "brv-provider.json"


def _write_pin(project: Path, team_id: str) -> None:
    _pin_file(project).parent.mkdir(exist_ok=True)
    _pin_file(project).write_text(json.dumps({"billing": {"pinnedTeamId": team_id}}))


def _usage(org_id: str, name: str, *, tier: str, remaining: int = 500) -> BillingUsage:
    return BillingUsage(
        organization_id=org_id,
        organization_name=name,
        organization_status="active",
        limit=1_000,
        add_on_remaining=0,
        total_limit=1_000,
        used=1_000 - remaining,
        remaining=remaining,
        percent_used=100 * (1_000 - remaining) / 1_000,
        limit_exceeded=remaining <= 0,
        tier=tier,
    )


def _two_paid_teams() -> Account:
    sample = sample_account()
    beta = Team(id="org-beta", name="beta", display_name="Beta", slug="beta")
    return attrs.evolve(
        sample,
        teams=(*sample.teams, beta),
        usages=(*sample.usages, _usage("org-beta", "Beta", tier="TEAM", remaining=900)),
    )


# --- the installed console script (subprocess) -------------------------------


def test_module_entry_point_prints_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "billing_core", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: billing-core")
    for command in ("status", "teams", "pin", "demo"):
        assert command in done.stdout
    assert "BRV_BILLING_BASE_URL" in done.stdout


def test_script_status_prints_the_billing_line_without_colour(run_script: RunScript) -> None:
    result = run_script("status")
    assert (result.code, result.shown, result.err) == (0, ACME_LINE + "\n", "")
    assert ANSI_ESCAPE not in result.out


def test_script_status_json(run_script: RunScript) -> None:
    result = run_script("status", "--json")
    assert result.code == 0
    body = json.loads(result.out)
    assert body.pop("project")["source"] == "cwd"  # no .brv in the test's project
    assert body == {
        "status": {
            "source": "paid",
            "organizationId": ACME_TEAM_ID,
            "organizationName": "Acme Corp",
            "remaining": 12_400,
            "total": 20_000,
            "tier": "PRO",
        },
        "problems": [],
    }


def test_script_teams_json(run_script: RunScript) -> None:
    result = run_script("teams", "--json")
    assert result.code == 0
    rows = json.loads(result.out)["teams"]
    assert [row["team"]["id"] for row in rows] == [ACME_TEAM_ID, SIDE_PROJECT_TEAM_ID]
    acme, side = rows
    assert acme == {
        "team": {
            "id": ACME_TEAM_ID,
            "name": "acme",
            "displayName": "Acme Corp",
            "slug": "acme",
            "isDefault": True,
        },
        "tier": "PRO",
        "remaining": 12_400,
        "total": 20_000,
        "selectable": True,
        "reason": None,
        "pinned": False,
        "preselected": True,
    }
    assert (side["tier"], side["selectable"], side["reason"]) == ("FREE", False, "free-tier")
    assert (side["pinned"], side["preselected"]) == (False, False)


def test_script_pin_then_status_then_clear(run_script: RunScript, project: Path) -> None:
    pinned = run_script("pin", "ACME")
    assert pinned.code == 0
    assert "Pinned Acme Corp" in pinned.out
    assert json.loads(_pin_file(project).read_text()) == {"billing": {"pinnedTeamId": ACME_TEAM_ID}}

    status = run_script("status", "--json")
    assert json.loads(status.out)["status"]["organizationId"] == ACME_TEAM_ID

    cleared = run_script("pin", "--clear")
    assert cleared.code == 0
    assert ACME_TEAM_ID in cleared.out
    assert json.loads(_pin_file(project).read_text()) == {}


def test_script_refuses_to_pin_a_free_tier_team(run_script: RunScript, project: Path) -> None:
    result = run_script("pin", "side-project")
    assert result.code == cli.EXIT_USAGE
    assert "Side Project" in result.error_line() or "side-project" in result.error_line()
    assert result.out == ""
    assert not _pin_file(project).exists()


def test_script_require_funds_when_exhausted(api: FakeBillingApi, run_script: RunScript) -> None:
    api.account = sample_account(acme_remaining=0)
    result = run_script("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    assert result.shown == "Billing: Acme Corp (0 credits, PRO) — credits exhausted\n"
    assert "Acme Corp has no credits left" in result.error_line()


def test_script_not_signed_in(run_script: RunScript) -> None:
    result = run_script("status", env_overrides={"BRV_SESSION_KEY": None})
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert "BRV_SESSION_KEY" in result.error_line()
    assert result.out == ""


def test_script_session_refused_upstream(run_script: RunScript) -> None:
    result = run_script("teams", env_overrides={"BRV_SESSION_KEY": "sk-expired"})
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert "the session was refused" in result.error_line()


def test_script_base_url_with_a_path_is_bad_usage(
    api: FakeBillingApi, run_script: RunScript
) -> None:
    # The full API URL, where brv's variable holds the root domain.
    result = run_script("status", env_overrides={"BRV_BILLING_BASE_URL": api.base_url})
    assert result.code == cli.EXIT_USAGE
    assert "BRV_BILLING_BASE_URL must not include a path component" in result.error_line()


def test_script_json_failures_are_documents(run_script: RunScript) -> None:
    for command in ("status", "teams"):
        result = run_script(
            command, "--json", env_overrides={"BRV_BILLING_BASE_URL": _BASE_URL_WITH_PATH}
        )
        assert result.code == cli.EXIT_USAGE
        message = result.error_line().removeprefix("billing-core: error: ")
        error = json.loads(result.out)["error"]
        assert error == {"code": cli.EXIT_USAGE, "kind": "bad-endpoint", "message": message}


def test_script_upstream_down(run_script: RunScript, dead_root: str) -> None:
    result = run_script("status", env_overrides={"BRV_BILLING_BASE_URL": dead_root})
    assert result.code == cli.EXIT_UNAVAILABLE
    assert "unavailable" in result.error_line()
    assert result.out == ""


def test_script_argparse_errors_exit_2(run_script: RunScript) -> None:
    result = run_script("status", "--bogus")
    assert result.code == cli.EXIT_USAGE
    assert "unknown flag '--bogus'" in result.error_line()


def test_script_demo_runs_to_completion(run_script: RunScript) -> None:
    result = run_script(
        "demo", env_overrides={"BRV_BILLING_BASE_URL": None, "BRV_SESSION_KEY": None}
    )
    assert result.code == 0, result.out + result.err
    assert result.err == ""
    out = result.out
    # Every step, in order, with what it showed.
    steps = [
        "$ billing-core status",
        ACME_LINE,
        "$ billing-core teams",
        "Side Project",
        "$ billing-core pin side-project",
        "(exit 2)",
        "$ billing-core pin acme",
        "Pinned Acme Corp",
        "$ billing-core status --require-funds",
        "Billing: Acme Corp (0 credits, PRO)",
        "Acme Corp has no credits left",
        "(exit 3)",
        "$ billing-core pin --clear",
        "Done:",
    ]
    position = 0
    for expected in steps:
        found = out.find(expected, position)
        assert found >= 0, f"{expected!r} missing after position {position}:\n{out}"
        position = found + len(expected)
    assert ANSI_ESCAPE not in out
    assert "test-session-key" not in out


def test_demo_ignores_the_real_settings(
    run: Run, monkeypatch: pytest.MonkeyPatch, dead_root: str
) -> None:
    monkeypatch.setenv("BRV_BILLING_BASE_URL", dead_root)
    monkeypatch.setenv("BRV_SESSION_KEY", "sk-bad\tkey")
    monkeypatch.setenv("BRV_ACTIVE_PROVIDER", "openai")
    result = run("demo")
    assert result.code == 0, result.out + result.err
    assert "(exit 3)" in result.out
    assert "sk-bad" not in result.out


# --- in-process: status ----------------------------------------------------------


def test_status_is_coloured_by_tone_on_a_terminal(run: Run) -> None:
    result = run("status", tty=True)
    assert result.code == 0
    assert result.shown == f"\x1b[32m{ACME_LINE}\x1b[0m\n"  # ok: green


def test_status_tone_follows_the_credits(api: FakeBillingApi, run: Run) -> None:
    api.account = sample_account(acme_remaining=1_000)  # 5 % of 20,000 left: warn
    result = run("status", tty=True)
    assert result.out.startswith("\x1b[33mBilling: Acme Corp (1,000 credits, PRO)")


def test_no_color_disables_colour_even_on_a_terminal(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    result = run("status", tty=True)
    assert result.shown == ACME_LINE + "\n"


def test_status_with_a_pin_to_a_paid_team(api: FakeBillingApi, run: Run, project: Path) -> None:
    api.account = _two_paid_teams()
    _write_pin(project, "org-beta")
    result = run("status")
    assert (result.code, result.shown) == (0, "Billing: Beta (900 credits, TEAM)\n")


def test_status_needs_a_pick_with_two_paid_teams(api: FakeBillingApi, run: Run) -> None:
    api.account = _two_paid_teams()
    result = run("status", "--json")
    status = json.loads(result.out)["status"]
    assert result.code == 0
    assert status["source"] == "needs-pick"
    assert [c["organizationName"] for c in status["candidates"]] == ["Acme Corp", "Beta"]
    assert (status["remaining"], status["total"]) == (950, 1_000)


def test_require_funds_passes_when_there_are_credits(run: Run) -> None:
    result = run("status", "--require-funds")
    assert (result.code, result.shown, result.err) == (0, ACME_LINE + "\n", "")


def test_require_funds_names_the_other_paid_teams(api: FakeBillingApi, run: Run) -> None:
    account = _two_paid_teams()
    acme = sample_account(acme_remaining=0).usages[0]
    api.account = attrs.evolve(account, usages=(acme, *account.usages[1:]))
    _pin = "org-acme-7f3a"
    run("pin", _pin)
    result = run("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    assert "Beta (900 credits)" in result.error_line()


def test_require_funds_refuses_an_invalid_pin(run: Run, project: Path) -> None:
    _write_pin(project, SIDE_PROJECT_TEAM_ID)
    plain = run("status")
    assert plain.code == 0  # an invalid pin is a resolved status...
    assert "Side Project" in plain.out
    guarded = run("status", "--require-funds")
    assert guarded.code == cli.EXIT_NO_FUNDS  # ...that cannot pay
    assert "FREE tier" in guarded.error_line()


def test_require_funds_exits_3_for_exhausted_free_credits(api: FakeBillingApi, run: Run) -> None:
    sample = sample_account()
    assert sample.free_user_limit is not None
    exhausted = attrs.evolve(
        sample.free_user_limit.monthly,
        remaining=0,
        used=1_000,
        limit_exceeded=True,
    )
    api.account = attrs.evolve(
        sample,
        usages=sample.usages[1:],  # only the free team: personal credits pay
        free_user_limit=attrs.evolve(sample.free_user_limit, monthly=exhausted),
    )
    result = run("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    assert result.shown == "Billing: Personal free credits (0 / 1,000) — credits exhausted\n"
    assert "Upgrade" in result.error_line()


def test_status_json_when_not_signed_in(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRV_SESSION_KEY")
    result = run("status", "--json")
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    body = json.loads(result.out)
    assert body["status"] is None
    assert [p["part"] for p in body["problems"]] == ["auth"]


def test_status_json_when_the_session_is_refused(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRV_SESSION_KEY", "sk-expired")
    result = run("status", "--json")
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert json.loads(result.out)["status"] is None
    assert "sk-expired" not in result.out + result.err


def test_status_json_when_usages_fail(api: FakeBillingApi, run: Run) -> None:
    api.fail("usages", status=500)
    result = run("status", "--json")
    assert result.code == cli.EXIT_UNAVAILABLE
    body = json.loads(result.out)
    assert body["status"] is None
    assert "usages" in [p["part"] for p in body["problems"]]
    assert "unavailable" in result.error_line()


def test_tiers_down_with_a_pin_still_names_the_team(
    api: FakeBillingApi, run: Run, project: Path
) -> None:
    _write_pin(project, ACME_TEAM_ID)
    api.fail("tiers", status=503)
    result = run("status")
    assert result.code == 0
    assert result.shown == "Billing: Acme Corp (12,400 credits)\n"
    assert "billing-core: warning: tiers:" in result.err


def test_free_limit_down_is_a_warning(api: FakeBillingApi, run: Run) -> None:
    api.account = attrs.evolve(sample_account(), usages=sample_account().usages[1:])
    api.fail("free-limit", status=500)
    result = run("status")
    assert (result.code, result.shown) == (0, "Billing: Personal free credits\n")
    assert "billing-core: warning: free-limit:" in result.err


def test_other_provider(run: Run) -> None:
    result = run("--provider", "openai", "status")
    assert (result.code, result.shown) == (0, "Using openai\n")


def test_provider_from_the_environment(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRV_ACTIVE_PROVIDER", "anthropic")
    assert run("status").shown == "Using anthropic\n"
    # The option wins over the environment, before or after the subcommand.
    assert run("status", "--provider", "byterover").shown == ACME_LINE + "\n"


def test_corrupt_pin_file_is_a_warning_not_a_failure(run: Run, project: Path) -> None:
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text("{not json")
    result = run("status")
    assert (result.code, result.shown) == (0, ACME_LINE + "\n")
    assert "billing-core: warning: pins:" in result.err
    assert "corrupt" in result.err


def test_pin_over_a_corrupt_file_keeps_a_backup(run: Run, project: Path) -> None:
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text("{not json")
    result = run("pin", "acme")
    assert result.code == 0
    assert json.loads(_pin_file(project).read_text()) == {"billing": {"pinnedTeamId": ACME_TEAM_ID}}
    backups = list(_pin_file(project).parent.glob("brv-provider.json.corrupt-*"))
    assert [b.read_text() for b in backups] == ["{not json"]
    assert str(backups[0]) in result.err


def test_pin_keeps_other_keys_of_the_pin_file(run: Run, project: Path) -> None:
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text(json.dumps({"activeProvider": "byterover", "billing": {"x": 1}}))
    assert run("pin", "Acme Corp").code == 0
    assert json.loads(_pin_file(project).read_text()) == {
        "activeProvider": "byterover",
        "billing": {"x": 1, "pinnedTeamId": ACME_TEAM_ID},
    }


def test_bad_base_url_is_bad_usage(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRV_BILLING_BASE_URL", "http://billing.example.com/api/v1")
    result = run("status")
    assert result.code == cli.EXIT_USAGE
    assert "https://" in result.error_line()


def test_session_key_with_control_characters_is_refused(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRV_SESSION_KEY", SESSION_KEY + "\r\nX-Evil: 1")
    for argv in (["status"], ["teams"], ["pin", "acme"]):
        result = run(*argv)
        assert result.code == cli.EXIT_USAGE, argv
        assert "control characters" in result.error_line()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--project", "missing-dir", "status"], "does not exist"),
        (["status", "--project", "file.txt"], "is not a directory"),
        (["pin"], "give a TEAM or --clear"),
        (["pin", "acme", "--clear"], "give a TEAM or --clear"),
        (["--timeout", "0", "status"], "positive number of seconds"),
        (["teams", "--require-funds"], "unknown flag '--require-funds'"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_usage(run: Run, project: Path, argv: list[str], message: str) -> None:
    (project / "file.txt").write_text("")
    result = run(*argv)
    assert result.code == cli.EXIT_USAGE
    assert message in result.error_line()


def test_help_and_version(run: Run) -> None:
    assert run("--version").out.startswith("billing-core ")
    helped = run("pin", "--help")
    assert helped.code == 0
    assert "--clear" in helped.out


# --- in-process: teams and pin ----------------------------------------------------


def test_teams_table(run: Run, project: Path) -> None:
    _write_pin(project, ACME_TEAM_ID)
    result = run("teams")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["TEAM", "SLUG", "CREDITS", "TIER", "STATE"]
    assert lines[1].split() == [
        *(">", "Acme", "Corp", "acme", "12.4k", "/", "20k", "PRO"),
        *("pinned,", "selectable"),
    ]
    assert lines[2].split()[:6] == ["Side", "Project", "side-project", "500", "/", "500"]
    assert lines[2].endswith("not selectable: FREE tier")


def test_teams_colours_the_credits_by_tone_on_a_terminal(run: Run) -> None:
    out = run("teams", tty=True).out
    assert "\x1b[32m12.4k / 20k" in out  # ok: green
    assert "\x1b[32m500 / 500" in out


def test_teams_marks_a_free_tier_pin_and_suggests_nothing_with_two_paid(
    api: FakeBillingApi, run: Run, project: Path
) -> None:
    api.account = _two_paid_teams()
    _write_pin(project, SIDE_PROJECT_TEAM_ID)
    rows = json.loads(run("teams", "--json").out)["teams"]
    assert [(r["team"]["slug"], r["pinned"], r["preselected"]) for r in rows] == [
        ("acme", False, False),
        ("side-project", True, False),
        ("beta", False, False),
    ]


def test_teams_with_a_team_billing_does_not_know(api: FakeBillingApi, run: Run) -> None:
    sample = sample_account()
    ghost = Team(id="org-ghost", name="ghost", display_name="Ghost", slug="ghost")
    api.account = attrs.evolve(sample, teams=(*sample.teams, ghost))
    rows = json.loads(run("teams", "--json").out)["teams"]
    ghost_row = rows[-1]
    assert (ghost_row["tier"], ghost_row["remaining"], ghost_row["total"]) == (None, None, None)
    assert (ghost_row["selectable"], ghost_row["reason"]) == (False, "no-usage")
    assert "no usage reported" in run("teams").out


def test_teams_upstream_failures(
    api: FakeBillingApi, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.fail("teams", status=500)
    down = run("teams")
    assert down.code == cli.EXIT_UNAVAILABLE
    assert down.out == ""
    assert "cannot list teams" in down.error_line()

    api.reset_faults()
    monkeypatch.delenv("BRV_SESSION_KEY")
    assert run("teams").code == cli.EXIT_NOT_SIGNED_IN


def test_team_base_url_is_used_for_teams(
    api: FakeBillingApi, run: Run, monkeypatch: pytest.MonkeyPatch, dead_root: str
) -> None:
    monkeypatch.setenv("BRV_IAM_BASE_URL", dead_root)
    result = run("teams")
    assert result.code == cli.EXIT_UNAVAILABLE


def test_pin_unknown_and_ambiguous_teams(api: FakeBillingApi, run: Run, project: Path) -> None:
    unknown = run("pin", "globex")
    assert unknown.code == cli.EXIT_USAGE
    assert "no team matches 'globex'" in unknown.error_line()

    sample = sample_account()
    twin = Team(id="org-acme-2", name="acme-two", display_name="Acme Corp", slug="acme-two")
    api.account = attrs.evolve(sample, teams=(*sample.teams, twin))
    ambiguous = run("pin", "acme corp")
    assert ambiguous.code == cli.EXIT_USAGE
    assert "several teams" in ambiguous.error_line()
    assert not _pin_file(project).exists()


def test_pin_upstream_failures(
    api: FakeBillingApi, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.fail("teams", status=503)
    assert run("pin", "acme").code == cli.EXIT_UNAVAILABLE
    api.reset_faults()
    monkeypatch.setenv("BRV_SESSION_KEY", "sk-expired")
    assert run("pin", "acme").code == cli.EXIT_NOT_SIGNED_IN
    monkeypatch.delenv("BRV_SESSION_KEY")
    assert run("pin", "--clear").code == cli.EXIT_NOT_SIGNED_IN


def test_clear_without_a_pin(run: Run, project: Path) -> None:
    result = run("pin", "--clear")
    assert result.code == 0
    assert "nothing to clear" in result.out
    assert not _pin_file(project).exists()


def test_unexpected_errors_are_one_line_without_the_key(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom with {SESSION_KEY}")

    monkeypatch.setattr(billing_core.service, "list_team_choices", explode)
    result = run("teams")  # assert_clean: no key, no traceback
    assert result.code == cli.EXIT_UNEXPECTED
    assert "unexpected RuntimeError: boom with ***" in result.error_line()


def test_library_log_records_do_not_leak_to_stderr(run: Run, project: Path) -> None:
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text("[]")
    result = run("teams")
    warnings = [line for line in result.err.splitlines() if line]
    assert len(warnings) == 1
    assert warnings[0].startswith("billing-core: warning: pins:")


# --- when the network is needed: signed in, then the provider, then the base URL ---

_REFUSED_BASE_URL = "http://billing.example.com"  # plain http to a remote host
_BASE_URL_WITH_PATH = "https://billing.example.com/api/v1"  # brv's variables hold a root domain


def test_status_of_another_provider_needs_no_base_url(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRV_BILLING_BASE_URL")
    result = run("status", "--provider", "openai")
    assert (result.code, result.shown, result.err) == (0, "Using openai\n", "")
    body = json.loads(run("status", "--provider", "openai", "--json").out)
    assert (body["status"], body["problems"]) == (
        {"source": "other-provider", "activeProvider": "openai"},
        [],
    )
    assert run("status", "--provider", "openai", "--require-funds").code == 0
    # Not read at all: even a base URL that would be refused does not matter.
    monkeypatch.setenv("BRV_BILLING_BASE_URL", _REFUSED_BASE_URL)
    assert run("status", "--provider", "openai").shown == "Using openai\n"


@pytest.mark.parametrize("base_url", [None, _REFUSED_BASE_URL, "not a url"])
@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["status", "--require-funds"],
        # Signed out is checked before anything else, whatever the provider.
        ["--provider", "openai", "status"],
        ["teams"],
        ["teams", "--json"],
        ["pin", "acme"],
        ["pin", "--clear"],
    ],
)
def test_signed_out_is_exit_4_whatever_the_base_url(
    run: Run, monkeypatch: pytest.MonkeyPatch, base_url: str | None, argv: list[str]
) -> None:
    monkeypatch.delenv("BRV_SESSION_KEY")
    if base_url is None:
        monkeypatch.delenv("BRV_BILLING_BASE_URL")
    else:
        monkeypatch.setenv("BRV_BILLING_BASE_URL", base_url)
    result = run(*argv)
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert "not signed in: run `brv login`" in result.error_line()


def test_script_status_without_base_url(run_script: RunScript) -> None:
    other = run_script(
        "status", "--provider", "openai", env_overrides={"BRV_BILLING_BASE_URL": None}
    )
    assert (other.code, other.shown, other.err) == (0, "Using openai\n", "")
    signed_out = run_script(
        "status", env_overrides={"BRV_BILLING_BASE_URL": None, "BRV_SESSION_KEY": None}
    )
    assert signed_out.code == cli.EXIT_NOT_SIGNED_IN
    assert "BRV_SESSION_KEY" in signed_out.error_line()


# --- the project directory --------------------------------------------------------

_NO_SUCH_USER = "billing-core-no-such-user-7c1e"


def test_project_under_an_unknown_users_home_is_bad_usage(run: Run) -> None:
    result = run("status", "--project", f"~{_NO_SUCH_USER}/x")
    assert result.code == cli.EXIT_USAGE
    assert f"--project ~{_NO_SUCH_USER}/x: cannot expand '~'" in result.error_line()


def test_project_name_too_long_is_bad_usage(run: Run) -> None:
    result = run("teams", "--project", "d" * 5_000)
    assert result.code == cli.EXIT_USAGE
    assert "--project ddd" in result.error_line()


def test_script_project_under_an_unknown_users_home(run_script: RunScript) -> None:
    result = run_script("status", "--project", f"~{_NO_SUCH_USER}/x")
    assert result.code == cli.EXIT_USAGE
    assert "cannot expand '~'" in result.error_line()


# --- nothing from upstream or the user is obeyed by the terminal -------------------

# Clears the screen, sets the window title, rings the bell, forges a second
# billing line, then reverses the text (bidi override), starts a CSI with the
# one-byte C1 form, and ends with DEL.
HOSTILE = (
    "Acme\x1b[2J\x1b]0;pwned\x07\nBilling: Personal free credits (999,999 / 1,000,000)"
    "\u202e\x9b5m\x7f"
)
FORGED_LINE = "Billing: Personal free credits"
_OWN_CODES = ("\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[2m", "\x1b[1m", "\x1b[0m")


def _unprintable(text: str) -> set[str]:
    """What in ``text`` a terminal could act on, but the CLI's own colours and newlines."""
    for code in _OWN_CODES:
        text = text.replace(code, "")
    return {char for char in text if char != "\n" and not char.isprintable()}


def _assert_inert(result: Result) -> None:
    """No byte a terminal would obey, and no forged line, in what the run printed.

    Other layers may also clean names up (shown as escapes here, as a
    replacement character there): whatever they do, this must hold.
    """
    assert _unprintable(result.out) == set(), repr(result.out)
    assert _unprintable(result.err) == set(), repr(result.err)
    for line in (result.out + result.err).splitlines():
        assert not line.startswith(FORGED_LINE), repr(line)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Acme\x1b[2J", "Acme\\x1b[2J"),  # ESC: C0
        ("a\nb\rc\td", "a\\nb\\rc\\td"),  # line structure is not the name's to make
        ("\x9b5m\x7f\x85", "\\x9b5m\\x7f\\x85"),  # C1 CSI, DEL, NEL
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # bidi override (Cf)
        ("a\u200bb\U000e0041", "a\\u200bb\\U000e0041"),  # zero width space, tag (Cf)
        ("a\u2028b\u2029", "a\\u2028b\\u2029"),  # line and paragraph separators
        ("lone \ud800", "lone \\ud800"),  # a surrogate no encoder accepts
        ("Société 株式会社 🚀 a\u00a0b", "Société 株式会社 🚀 a\u00a0b"),  # printable: kept
    ],
)
def test_printable_shows_what_a_terminal_would_obey_as_escapes(text: str, shown: str) -> None:
    assert _terminal.printable(text) == shown


def _hostile_account() -> Account:
    sample = sample_account()
    acme_team, *teams = sample.teams
    acme_usage, *usages = sample.usages
    return attrs.evolve(
        sample,
        teams=(attrs.evolve(acme_team, display_name=HOSTILE, slug="acme\x1b[5m"), *teams),
        usages=(attrs.evolve(acme_usage, organization_name=HOSTILE), *usages),
    )


@pytest.mark.parametrize("tty", [False, True])
def test_status_line_shows_hostile_names_inert(api: FakeBillingApi, run: Run, tty: bool) -> None:
    api.account = _hostile_account()
    result = run("status", tty=tty)
    assert result.code == 0
    _assert_inert(result)
    assert result.shown.count("\n") == 1  # one billing line, not a forged second one
    assert result.shown.startswith("\x1b[32mBilling: Acme" if tty else "Billing: Acme")
    assert result.shown.endswith("\x1b[0m\n" if tty else "(12,400 credits, PRO)\n")


@pytest.mark.parametrize("tty", [False, True])
def test_status_line_is_inert_even_if_presentation_passes_names_raw(
    api: FakeBillingApi, run: Run, monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    # The console is the last guard: it must not rely on the labels being clean.
    monkeypatch.setattr(render, "format_billing_line", lambda status: f"Billing: {HOSTILE}")
    result = run("status", tty=tty)
    assert result.code == 0
    _assert_inert(result)
    shown = "Billing: Acme\\x1b[2J\\x1b]0;pwned\\x07\\nBilling: Personal free credits"
    assert result.shown.startswith(f"\x1b[32m{shown}" if tty else shown)
    assert result.shown.endswith("\\u202e\\x9b5m\\x7f\x1b[0m\n" if tty else "\\x7f\n")


@pytest.mark.parametrize("command", ["status", "teams"])
def test_json_keeps_hostile_names_exact_and_inert(
    api: FakeBillingApi, run: Run, command: str
) -> None:
    api.account = _hostile_account()
    result = run(command, "--json")
    assert result.code == 0
    assert _unprintable(result.out) == set(), repr(result.out)
    body = json.loads(result.out)
    if command == "status":
        assert body["status"]["organizationName"] == HOSTILE
    else:
        first = body["teams"][0]["team"]
        assert (first["displayName"], first["slug"]) == (HOSTILE, "acme\x1b[5m")


def test_json_keeps_non_ascii_readable(api: FakeBillingApi, run: Run) -> None:
    sample = sample_account()
    acme = attrs.evolve(sample.usages[0], organization_name="Société Générale 株式会社 🚀")
    api.account = attrs.evolve(sample, usages=(acme, *sample.usages[1:]))
    out = run("status", "--json").out
    assert '"organizationName": "Société Générale 株式会社 🚀"' in out


@pytest.mark.parametrize("tty", [False, True])
def test_teams_table_shows_hostile_names_inert(api: FakeBillingApi, run: Run, tty: bool) -> None:
    api.account = _hostile_account()
    result = run("teams", tty=tty)
    assert result.code == 0
    _assert_inert(result)
    lines = result.shown.splitlines()
    assert len(lines) == 5  # header, two rows, a blank line, the hint
    acme_row = lines[1]
    assert "acme\\x1b[5m" in acme_row
    # Piped, no width limit: the wide table; on a terminal of unknown size (80
    # columns), too narrow for the long name: the compact one.
    assert acme_row.endswith("yes" if tty else "selectable")
    # The columns still line up: the slug column starts at the same place.
    assert lines[0].index("SLUG") == acme_row.index("acme\\x1b") == lines[2].index("side-project")


def test_pin_output_shows_hostile_names_inert(api: FakeBillingApi, run: Run) -> None:
    api.account = _hostile_account()
    result = run("pin", ACME_TEAM_ID)
    assert result.code == 0
    _assert_inert(result)
    assert result.out.count("\n") == 1
    assert result.out.startswith("Pinned Acme\ufffd[2J")  # team_label replaced the ESC


def test_pin_errors_listing_hostile_names_are_one_inert_line(api: FakeBillingApi, run: Run) -> None:
    api.account = _hostile_account()
    result = run("pin", "globex\x1b[2J")  # TeamNotFoundError lists the display names
    assert result.code == cli.EXIT_USAGE
    _assert_inert(result)
    assert result.err.count("\n") == 1
    assert "available teams" in result.error_line()


def test_clearing_a_hostile_pin_shows_it_inert(run: Run, project: Path) -> None:
    _write_pin(project, "org\x1b[2J\nBilling: Personal free credits")
    result = run("pin", "--clear")
    assert result.code == 0
    _assert_inert(result)
    assert result.out.count("\n") == 1


def test_upstream_error_messages_are_one_inert_line(api: FakeBillingApi, run: Run) -> None:
    api.fail("usages", status=500, body={"statusCode": 500, "message": HOSTILE})
    result = run("status")
    assert result.code == cli.EXIT_UNAVAILABLE
    _assert_inert(result)
    assert result.err.count("\n") == 1
    assert "billing is unavailable" in result.error_line()


def test_user_input_is_shown_inert(run: Run, project: Path) -> None:
    provider = run("status", "--provider", "x\x1b[2J\nBilling: Personal free credits")
    assert (provider.code, provider.shown.count("\n")) == (0, 1)
    assert provider.out.startswith("Using x")
    _assert_inert(provider)
    for argv, message in (
        (["status", "x\x1b[2J\nBilling: Personal free credits"], "unrecognized arguments: x"),
        (["status", "--project", "x\x1b[2J\nBilling: Personal free credits"], "--project x"),
    ):
        result = run(*argv)
        assert result.code == cli.EXIT_USAGE
        _assert_inert(result)
        assert message in result.error_line()


def test_unexpected_errors_are_one_inert_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\x1b[2J\nBilling: Personal free credits")

    monkeypatch.setattr(billing_core.service, "list_team_choices", explode)
    result = run("teams")
    assert result.code == cli.EXIT_UNEXPECTED
    _assert_inert(result)
    assert result.err.count("\n") == 1


def test_output_the_terminal_cannot_encode_is_escaped(
    api: FakeBillingApi, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = sample_account()
    acme = attrs.evolve(sample.usages[0], organization_name="Société")
    api.account = attrs.evolve(sample, usages=(acme, *sample.usages[1:]))
    raw = io.BytesIO()
    ascii_stdout = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_stdout)
    result = run("status")
    assert result.code == 0
    assert raw.getvalue().splitlines()[0] == b"Billing: Soci\\xe9t\\xe9 (12,400 credits, PRO)"


def test_script_teams_shows_hostile_names_inert(api: FakeBillingApi, run_script: RunScript) -> None:
    api.account = _hostile_account()
    result = run_script("teams")
    assert result.code == 0
    _assert_inert(result)
    assert len(result.shown.splitlines()) == 5


def test_a_removed_current_directory_is_bad_usage(
    run: Run, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = project / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = run("status")
    assert result.code == cli.EXIT_USAGE
    assert "the working directory cannot be used" in result.error_line()
    assert "--project DIR" in result.error_line()


@pytest.mark.parametrize(
    ("corrupt", "kept"),
    [
        ('{"billing": {"pinnedTeamId": 5}, "other": 1}', {"other": 1}),
        ("{not json", {}),
        ('{"billing": []}', {}),
    ],
)
def test_clearing_an_unreadable_pin_names_the_backup(
    run: Run, project: Path, corrupt: str, kept: dict[str, object]
) -> None:
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text(corrupt)
    result = run("pin", "--clear")
    assert result.code == 0
    (backup,) = _pin_file(project).parent.glob("brv-provider.json.corrupt-*")
    assert backup.read_text() == corrupt
    assert result.shown == (
        f"Cleared an unreadable pin (old content kept in {backup}) in {_pin_file(project)}.\n"
    )
    assert result.err == ""
    assert json.loads(_pin_file(project).read_text()) == kept


# --- --json: a document on stdout, whatever the exit code ---------------------------


class _Scene(Protocol):
    def __call__(self, api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None: ...


def _fine(api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    pass


def _explode(name: str, error: BaseException) -> _Scene:
    def scene(api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None:
        def explode(**arguments: object) -> None:
            raise error

        monkeypatch.setattr(billing_core.service, name, explode)

    return scene


def _env_scene(name: str, value: str | None) -> _Scene:
    def scene(api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None:
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)

    return scene


def _exhausted(api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    api.account = sample_account(acme_remaining=0)


def _down(part: str) -> _Scene:
    def scene(api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch) -> None:
        api.fail(part, status=500)  # type: ignore[arg-type]

    return scene


_SETTINGS_FAILURES = [
    pytest.param(_env_scene("BRV_BILLING_BASE_URL", _BASE_URL_WITH_PATH), [], id="path-in-url"),
    pytest.param(_env_scene("BRV_BILLING_BASE_URL", _REFUSED_BASE_URL), [], id="remote-http"),
    pytest.param(_env_scene("BRV_SESSION_KEY", SESSION_KEY + "\r\nX: 1"), [], id="bad-key"),
    pytest.param(_fine, ["--project", "missing-dir"], id="bad-project"),
    pytest.param(_fine, ["--timeout", "0"], id="bad-timeout"),
    pytest.param(_fine, ["--bogus"], id="unknown-argument"),
]
_SIGNED_OUT = [
    pytest.param(_env_scene("BRV_SESSION_KEY", None), [], id="signed-out"),
    pytest.param(_env_scene("BRV_SESSION_KEY", "sk-expired"), [], id="refused"),
]


def _run_json(
    run: Run, api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch, scene: _Scene, argv: list[str]
) -> tuple[Result, object]:
    scene(api, monkeypatch)
    result = run(*argv)
    body = json.loads(result.out)  # whatever happened, stdout is one JSON document
    if result.code != cli.EXIT_OK:
        prefix = "billing-core: error: "
        message = result.error_line().removeprefix(prefix)
        assert isinstance(body, dict)
        assert body["error"] == {
            "code": result.code,
            "kind": body["error"]["kind"],  # tests/test_cli_json.py checks each kind
            "message": message,
        }
    return result, body


@pytest.mark.parametrize(
    ("scene", "extra", "code"),
    [
        pytest.param(_fine, [], cli.EXIT_OK, id="ok"),
        pytest.param(_explode("resolve_billing", RuntimeError("boom")), [], cli.EXIT_UNEXPECTED),
        *[pytest.param(*p.values, cli.EXIT_USAGE, id=p.id) for p in _SETTINGS_FAILURES],
        pytest.param(_exhausted, ["--require-funds"], cli.EXIT_NO_FUNDS, id="no-funds"),
        *[pytest.param(*p.values, cli.EXIT_NOT_SIGNED_IN, id=p.id) for p in _SIGNED_OUT],
        pytest.param(_down("usages"), [], cli.EXIT_UNAVAILABLE, id="usages-down"),
        pytest.param(
            _explode("resolve_billing", KeyboardInterrupt()), [], cli.EXIT_INTERRUPTED, id="ctrl-c"
        ),
    ],
)
def test_status_json_is_a_document_for_every_exit_code(
    run: Run,
    api: FakeBillingApi,
    monkeypatch: pytest.MonkeyPatch,
    scene: _Scene,
    extra: list[str],
    code: int,
) -> None:
    result, body = _run_json(run, api, monkeypatch, scene, ["status", "--json", *extra])
    assert result.code == code
    assert isinstance(body, dict)
    common = {"status", "problems", "project"}
    assert set(body) == (common if code == 0 else common | {"error"})
    assert isinstance(body["problems"], list)
    # A status is shown whenever one was resolved, even if it cannot pay.
    assert (body["status"] is not None) == (code in (cli.EXIT_OK, cli.EXIT_NO_FUNDS))


@pytest.mark.parametrize(
    ("scene", "extra", "code"),
    [
        pytest.param(_fine, [], cli.EXIT_OK, id="ok"),
        pytest.param(
            _explode("list_team_choices", RuntimeError("boom")), [], cli.EXIT_UNEXPECTED, id="bug"
        ),
        *[pytest.param(*p.values, cli.EXIT_USAGE, id=p.id) for p in _SETTINGS_FAILURES],
        *[pytest.param(*p.values, cli.EXIT_NOT_SIGNED_IN, id=p.id) for p in _SIGNED_OUT],
        pytest.param(_down("teams"), [], cli.EXIT_UNAVAILABLE, id="teams-down"),
        pytest.param(
            _explode("list_team_choices", KeyboardInterrupt()),
            [],
            cli.EXIT_INTERRUPTED,
            id="ctrl-c",
        ),
    ],
)
def test_teams_json_is_a_document_for_every_exit_code(
    run: Run,
    api: FakeBillingApi,
    monkeypatch: pytest.MonkeyPatch,
    scene: _Scene,
    extra: list[str],
    code: int,
) -> None:
    result, body = _run_json(run, api, monkeypatch, scene, ["teams", "--json", *extra])
    assert result.code == code
    assert isinstance(body, dict)
    common = {"teams", "problems", "project"}
    assert set(body) == (common if code == cli.EXIT_OK else common | {"error"})
    assert len(body["teams"]) == (2 if code == cli.EXIT_OK else 0)


def test_json_failure_before_the_command_name(run: Run) -> None:
    # Options given before the command, --json after it, a bad value:
    # the document is still the command's.
    result = run("--timeout", "-1", "status", "--json")
    assert result.code == cli.EXIT_USAGE
    body = json.loads(result.out)
    assert (body["status"], body["problems"], body["error"]["code"]) == (None, [], 2)
    assert "--timeout" in body["error"]["message"]
    named_status = run("--project", "status", "teams", "--json")  # a directory named status
    assert set(json.loads(named_status.out)) == {"teams", "problems", "project", "error"}


@pytest.mark.parametrize("argv", [["status"], ["teams"], ["pin", "acme"], ["status", "--bogus"]])
def test_without_json_a_failure_prints_nothing_on_stdout(
    run: Run, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("BRV_BILLING_BASE_URL", "https://billing.example.com/api/v1")
    result = run(*argv)
    assert result.code == cli.EXIT_USAGE
    assert result.out == ""


def test_json_failure_documents_hide_the_session_key(
    run: Run, api: FakeBillingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _explode("list_team_choices", RuntimeError(f"boom with {SESSION_KEY}"))(api, monkeypatch)
    result = run("teams", "--json")  # assert_clean: no key anywhere
    message = json.loads(result.out)["error"]["message"]
    assert message == "unexpected RuntimeError: boom with *** (please report this)"


# --- --require-funds asks for the usages again only to word a refusal -----------------


def test_require_funds_makes_no_extra_request_when_the_payer_can_pay(
    api: FakeBillingApi, run: Run
) -> None:
    before = api.request_count
    assert run("status").code == 0
    plain = api.request_count - before
    before = api.request_count
    assert run("status", "--require-funds").code == 0
    assert api.request_count - before == plain


def test_require_funds_fetches_the_usages_to_word_a_refusal(api: FakeBillingApi, run: Run) -> None:
    api.account = sample_account(acme_remaining=0)
    before = api.request_count
    run("status")
    plain = api.request_count - before
    before = api.request_count
    result = run("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    # The usages (raw usages and tiers) and the teams, for the payer's top-up link.
    assert api.request_count - before == plain + 3
    assert result.error_line().endswith(f"keep going: {api.origin}/settings/acme/billing")


def test_require_funds_refuses_even_if_the_usages_cannot_be_fetched_again(
    api: FakeBillingApi, run: Run
) -> None:
    api.account = sample_account(acme_remaining=0)
    api.fail("usages", latency=0, times=1)  # a normal answer, for the resolve
    api.fail("usages", status=500)  # then down
    result = run("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    assert result.shown == "Billing: Acme Corp (0 credits, PRO) — credits exhausted\n"
    assert "Acme Corp has no credits left" in result.error_line()


# --- --timeout, exit codes, and what --help costs ------------------------------------


@pytest.mark.parametrize("value", ["1e9", "inf", "nan", "-1", "0", "soon"])
def test_a_timeout_the_adapters_refuse_is_bad_usage_at_once(run: Run, value: str) -> None:
    result = run("status", "--timeout", value)
    assert result.code == cli.EXIT_USAGE
    assert "argument --timeout:" in result.error_line()
    assert "seconds" in result.error_line()


def test_the_timeout_limit_is_the_adapters(run: Run) -> None:
    from billing_core.adapters.http import MAX_TIMEOUT

    assert run("status", "--timeout", f"{MAX_TIMEOUT:g}").code == cli.EXIT_OK
    over = run("status", "--timeout", f"{MAX_TIMEOUT * 2:g}")
    assert over.code == cli.EXIT_USAGE
    assert f"up to {MAX_TIMEOUT:g}" in over.error_line()


def test_the_default_timeout_is_the_adapters() -> None:
    from billing_core.adapters.http import DEFAULT_TIMEOUT

    args = cli._parser().parse_args(["status"])
    settings = cli._settings(args, {"BRV_BILLING_BASE_URL": "https://billing.example.com"})
    assert settings.http_timeout() == DEFAULT_TIMEOUT
    args = cli._parser().parse_args(["--timeout", "2.5", "status"])
    assert cli._settings(args, {}).http_timeout() == 2.5


def test_help_lists_every_exit_code_and_imports_no_httpx() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from billing_core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['--help']) == 0\n"
        "    assert main(['status', '--help']) == 0\n"
        "assert 'httpx' not in sys.modules, 'billing-core --help imported httpx'\n"
        "print(out.getvalue())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for exit_code, meaning in cli.EXIT_CODES.items():
        assert f"  {exit_code:<3}  {meaning}" in lines
    assert "--timeout SECONDS" in done.stdout


def test_readme_documents_the_options_exit_codes_and_json_shapes() -> None:
    from billing_core.adapters._timeouts import DEFAULT_TIMEOUT, MAX_TIMEOUT

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    for exit_code in cli.EXIT_CODES:
        assert f"\n| {exit_code} |" in section
    assert f"`--timeout SECONDS` bounds each HTTP request (default {DEFAULT_TIMEOUT:g}," in section
    assert f"`MAX_TIMEOUT`, {MAX_TIMEOUT:g}, is" in section
    assert '"error": {"code": 5, "kind": "upstream-unavailable"' in section
    assert "docs/cli-json.schema.json" in section


# --- gates fail closed, pipes and Ctrl-C ----------------------------------------------


@pytest.mark.parametrize("pin_bytes", ["{not json", '{"billing": {"pinnedTeamId": 42}}'])
def test_require_funds_refuses_when_the_pin_cannot_be_read(
    run: Run, project: Path, pin_bytes: str
) -> None:
    # Read as unpinned, the status bills the default payer: a gate that passed
    # would charge a team other than the one pinned.
    _pin_file(project).parent.mkdir()
    _pin_file(project).write_text(pin_bytes)
    result = run("status", "--require-funds")
    assert result.code == cli.EXIT_NO_FUNDS
    assert "pin could not be read" in result.err
    assert run("status").code == cli.EXIT_OK  # without the gate, a warning only
    as_json = run("status", "--require-funds", "--json")
    assert json.loads(as_json.out)["error"]["code"] == cli.EXIT_NO_FUNDS


def test_require_funds_with_another_provider_says_nothing_was_checked(run: Run) -> None:
    result = run("status", "--provider", "openai", "--require-funds")
    assert (result.code, result.shown) == (cli.EXIT_OK, "Using openai\n")
    assert "--require-funds: nothing to check: openai is the active provider" in result.err


@pytest.mark.parametrize("argv", [["teams"], ["status"], ["teams", "--json"]])
def test_a_closed_stdout_ends_quietly_as_pipes_expect(
    env: dict[str, str], project: Path, argv: list[str]
) -> None:
    process = subprocess.Popen(
        [*_script(), *argv],
        env=env,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before anything is written
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (cli.EXIT_BROKEN_PIPE, "")


@pytest.mark.parametrize("closed", [">&-", "2>&-"])
def test_a_closed_stdout_or_stderr_keeps_the_exit_code(
    env: dict[str, str], project: Path, closed: str
) -> None:
    # Python starts with sys.stdout (or sys.stderr) set to None: nothing to
    # print to, but the exit code must still say what happened (4, not 1).
    environ = {**env, "BRV_SESSION_KEY": "sk-refused-by-the-fake"}
    done = subprocess.run(
        ["sh", "-c", f'"$0" status --json {closed}', *_script()],
        env=environ,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == cli.EXIT_NOT_SIGNED_IN
    assert "Traceback" not in done.stderr
