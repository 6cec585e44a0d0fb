"""``billing-core`` on a real brv user's machine: their login, provider, endpoints and project.

Nothing is set but what the brv CLI leaves behind (its login and
``providers.json`` under an isolated home) and the endpoint variables
pointing at the fake API's root domain, as a brv user points them at
production. No output may show the session key or the tokens.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from _brv_files import SECRETS, SESSION_KEY, login_document, write_login
from _cli_json import checked_document

import billing_core.service
from billing_core import cli
from billing_core.cli.exits import ERROR_KINDS
from billing_core.models import Team
from billing_core.testing import Account, FakeBillingApi
from billing_core.testing.sample import ACME_TEAM_ID, SIDE_PROJECT_TEAM_ID, sample_account

# Two paid teams and no pin: the user must pick one.
UNPINNED_LINE = (
    "Billing: Personal free credits (950 / 1,000) — 2 paid teams available (Acme Corp, Beta):"
    " pick one with `billing-core pin TEAM`"
)
BETA_LINE = "Billing: Beta (900 credits, TEAM)"


def _account() -> Account:
    """The sample account with a second paid team, Beta, to pin."""
    sample = sample_account()
    beta_usage = attrs.evolve(
        sample.usages[0],
        organization_id="org-beta",
        organization_name="Beta",
        tier="TEAM",
        remaining=900,
        total_limit=1_000,
        limit=1_000,
        used=100,
        percent_used=10.0,
    )
    beta = Team(id="org-beta", name="beta", display_name="Beta", slug="beta")
    return attrs.evolve(sample, teams=(*sample.teams, beta), usages=(*sample.usages, beta_usage))


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.startswith("billing-core: error:")]
        assert len(lines) == 1, self.err
        return lines[0]


@attrs.define
class Machine:
    """A brv user's machine: a home with brv's directories, a working directory, the API."""

    api: FakeBillingApi
    home: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    @property
    def data_dir(self) -> Path:
        return self.home / ".local" / "share" / "brv"

    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "brv"

    def sign_in(self, **changes: object) -> None:
        write_login(self.data_dir, login_document(**changes))

    def connect(self, provider: str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        document = {"activeProvider": provider, "providers": {provider: {}}}
        (self.config_dir / "providers.json").write_text(json.dumps(document))

    def run(self, *argv: str, cwd: Path) -> Result:
        self.monkeypatch.chdir(cwd)
        code = cli.main(list(argv))
        captured = self.capsys.readouterr()
        for secret in SECRETS:
            assert secret not in captured.out + captured.err
        assert "Traceback" not in captured.err
        if "--json" in argv:
            checked_document(captured.out)
        return Result(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBillingApi]:
    with FakeBillingApi(_account(), session_key=SESSION_KEY) as server:
        yield server


@pytest.fixture
def machine(
    api: FakeBillingApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Machine:
    api.account = _account()
    api.reset_faults()
    api.reset_counters()
    for name in list(os.environ):
        if name.startswith(("BRV_", "XDG_")) or name in ("NO_COLOR", "TERM"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    # The endpoints only: the session and the provider come from brv's files.
    environ = api.brv_environ(session=False)
    del environ["BRV_ACTIVE_PROVIDER"]
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    machine = Machine(api=api, home=home, monkeypatch=monkeypatch, capsys=capsys)
    machine.sign_in()
    machine.connect("byterover")
    return machine


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a .brv directory, pinned to Beta, and a subdirectory."""
    root = tmp_path / "repo"
    (root / "src" / "deep").mkdir(parents=True)
    (root / ".brv").mkdir()
    (root / ".brv" / "brv-provider.json").write_text(
        json.dumps({"billing": {"pinnedTeamId": "org-beta"}})
    )
    return root


# --- the login ----------------------------------------------------------------------


def test_status_signs_in_with_the_brv_login(machine: Machine, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = machine.run("status", cwd=elsewhere)
    assert result.code == cli.EXIT_OK, result.err
    assert result.lines[0] == UNPINNED_LINE
    assert machine.api.request_count == 3  # usages, tiers, free limit: with the login's key


def test_an_expired_login_is_not_signed_in_and_names_brv_login(
    machine: Machine, tmp_path: Path
) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    machine.sign_in(expiresAt=yesterday.isoformat().replace("+00:00", "Z"))
    for argv in (["status"], ["teams"], ["pin", "acme"], ["status", "--json"]):
        result = machine.run(*argv, cwd=tmp_path)
        assert result.code == cli.EXIT_NOT_SIGNED_IN, argv
        assert "the session expired: run `brv login`" in result.error_line()
    assert machine.api.request_count == 0


def test_an_unreadable_login_says_why_and_is_not_signed_in(
    machine: Machine, tmp_path: Path
) -> None:
    credentials = machine.data_dir / "credentials"
    text = credentials.read_text()
    credentials.write_text(text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB"))
    result = machine.run("status", cwd=tmp_path)
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert "the brv login could not be read" in result.error_line()
    assert "brv login" in result.error_line()


def test_no_login_at_all_asks_to_sign_in(machine: Machine, tmp_path: Path) -> None:
    for name in ("credentials", ".token-key"):
        (machine.data_dir / name).unlink()
    result = machine.run("status", cwd=tmp_path)
    assert result.code == cli.EXIT_NOT_SIGNED_IN
    assert "run `brv login`, or set BRV_SESSION_KEY" in result.error_line()


def test_the_session_key_variable_wins_over_the_login(machine: Machine, tmp_path: Path) -> None:
    machine.monkeypatch.setenv("BRV_SESSION_KEY", "sk-another-key")
    result = machine.run("status", cwd=tmp_path)
    assert result.code == cli.EXIT_NOT_SIGNED_IN  # the fake knows only the login's key
    assert "the session was refused" in result.error_line()
    assert "update BRV_SESSION_KEY" in result.error_line()


def test_a_refused_login_asks_to_sign_in_again(machine: Machine, tmp_path: Path) -> None:
    machine.api.session_key = "sk-rotated-on-the-server"
    try:
        for command in ("status", "teams"):
            result = machine.run(command, cwd=tmp_path)
            assert result.code == cli.EXIT_NOT_SIGNED_IN
            # One wording for every command.
            assert result.error_line().startswith("billing-core: error: the session was refused (")
            assert result.error_line().endswith("run `brv login` again")
    finally:
        machine.api.session_key = SESSION_KEY


# --- the provider -------------------------------------------------------------------


def test_the_provider_comes_from_brv_providers_json(machine: Machine, tmp_path: Path) -> None:
    machine.connect("openai")
    result = machine.run("status", cwd=tmp_path)
    assert (result.code, result.lines[0]) == (cli.EXIT_OK, "Using openai")
    assert machine.api.request_count == 0


def test_no_provider_connected_bills_nothing_and_says_so(machine: Machine, tmp_path: Path) -> None:
    (machine.config_dir / "providers.json").unlink()
    result = machine.run("status", cwd=tmp_path)
    assert result.code == cli.EXIT_OK
    assert "no LLM provider is connected" in result.err


@pytest.mark.parametrize("spelling", ["ByteRover", " byterover", "BYTEROVER\t"])
def test_a_misspelt_byterover_is_bad_usage(machine: Machine, tmp_path: Path, spelling: str) -> None:
    flag = machine.run("status", "--provider", spelling, cwd=tmp_path)
    machine.monkeypatch.setenv("BRV_ACTIVE_PROVIDER", spelling)
    variable = machine.run("status", cwd=tmp_path)
    for result, name in ((flag, "--provider"), (variable, "BRV_ACTIVE_PROVIDER")):
        assert result.code == cli.EXIT_USAGE
        assert name in result.error_line()
        assert "did you mean 'byterover'?" in result.error_line()


# --- the endpoints ------------------------------------------------------------------


def test_a_full_api_url_in_a_root_domain_variable_is_bad_usage(
    machine: Machine, tmp_path: Path
) -> None:
    for name in ("BRV_BILLING_BASE_URL", "BRV_IAM_BASE_URL"):
        with machine.monkeypatch.context() as patch:
            patch.setenv(name, machine.api.base_url)  # .../api/v1
            result = machine.run("teams", cwd=tmp_path)
        assert result.code == cli.EXIT_USAGE
        assert f"{name} must not include a path component" in result.error_line()


def test_a_404_on_an_api_path_is_a_wrong_base_url_naming_the_variable(
    machine: Machine, tmp_path: Path
) -> None:
    with FakeBillingApi(_account(), session_key=SESSION_KEY, prefix="/elsewhere") as other:
        machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", other.origin)
        status = machine.run("status", cwd=tmp_path)
        assert status.code == cli.EXIT_USAGE
        assert "answered 404" in status.error_line()
        assert "BRV_BILLING_BASE_URL" in status.error_line()
        assert other.origin in status.error_line()

        machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", machine.api.origin)
        machine.monkeypatch.setenv("BRV_IAM_BASE_URL", other.origin)
        teams = machine.run("teams", cwd=tmp_path)
        assert teams.code == cli.EXIT_USAGE
        assert "BRV_IAM_BASE_URL" in teams.error_line()


def test_an_unreachable_host_is_named(machine: Machine, tmp_path: Path, dead_url: str) -> None:
    dead_root = dead_url.removesuffix("/api/v1")
    machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", dead_root)
    status = machine.run("status", cwd=tmp_path)
    assert status.code == cli.EXIT_UNAVAILABLE
    assert f"billing is unavailable at {dead_root}" in status.error_line()
    machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", machine.api.origin)
    machine.monkeypatch.setenv("BRV_IAM_BASE_URL", dead_root)
    teams = machine.run("teams", cwd=tmp_path)
    assert teams.code == cli.EXIT_UNAVAILABLE
    assert dead_root in teams.error_line()


def test_clearing_the_pin_reads_no_endpoint(machine: Machine, project: Path) -> None:
    machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", "not a url")
    result = machine.run("pin", "--clear", cwd=project)
    assert result.code == cli.EXIT_OK, result.err
    assert "Cleared the billing pin (org-beta)" in result.out
    assert machine.api.request_count == 0


# --- the project ----------------------------------------------------------------------


def test_a_subdirectory_of_a_pinned_project_bills_the_pinned_team(
    machine: Machine, project: Path
) -> None:
    result = machine.run("status", cwd=project / "src" / "deep")
    assert result.code == cli.EXIT_OK, result.err
    assert result.lines == [BETA_LINE, f"Project: {project.resolve()}"]


def test_a_linked_worktree_bills_its_projects_pinned_team(
    machine: Machine, project: Path, tmp_path: Path
) -> None:
    worktree = tmp_path / "worktree"
    (worktree / "pkg").mkdir(parents=True)
    (worktree / ".brv").write_text(json.dumps({"projectRoot": str(project)}))
    result = machine.run("status", cwd=worktree / "pkg")
    assert result.code == cli.EXIT_OK, result.err
    assert result.lines == [
        BETA_LINE,
        f"Project: {project.resolve()} (through the linked worktree {worktree.resolve()})",
    ]
    # Pinning from the worktree writes the project's pin, not the worktree's.
    assert machine.run("pin", "acme", cwd=worktree).code == cli.EXIT_OK
    pinned = json.loads((project / ".brv" / "brv-provider.json").read_text())
    assert pinned["billing"]["pinnedTeamId"] == ACME_TEAM_ID
    assert (worktree / ".brv").is_file()


@pytest.mark.parametrize(
    ("pointer", "why"),
    [
        ("{not json", "is malformed"),
        ('{"projectRoot": ""}', "is malformed"),
        ('{"projectRoot": "/nowhere/at/all"}', "which does not exist"),
    ],
)
def test_a_broken_worktree_pointer_is_bad_usage(
    machine: Machine, tmp_path: Path, pointer: str, why: str
) -> None:
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / ".brv").write_text(pointer)
    result = machine.run("status", cwd=worktree)
    assert result.code == cli.EXIT_USAGE
    assert why in result.error_line()
    assert "worktree pointer" in result.error_line()


def test_no_brv_anywhere_is_the_working_directory(machine: Machine, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = machine.run("status", cwd=plain)
    assert (
        result.lines[1]
        == f"Project: {plain.resolve()} (no .brv found above: the current directory)"
    )


def test_project_option_overrides_the_search(
    machine: Machine, project: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = machine.run("status", "--project", str(project), cwd=plain)
    assert result.lines == [BETA_LINE, f"Project: {project.resolve()} (--project)"]
    # From inside the project, --project still names the one to use.
    other = machine.run("status", "--project", str(plain), cwd=project / "src")
    assert other.lines == [UNPINNED_LINE, f"Project: {plain.resolve()} (--project)"]


def test_teams_says_which_project_it_used(machine: Machine, project: Path) -> None:
    result = machine.run("teams", cwd=project / "src")
    assert result.code == cli.EXIT_OK
    assert result.lines[-1] == f"Project: {project.resolve()}"


# --- --json: one document per run, and a stable error kind per failure ------------------


def test_pin_json_says_what_was_done(machine: Machine, project: Path) -> None:
    pinned = json.loads(machine.run("pin", "acme", "--json", cwd=project).out)
    assert pinned["pin"]["action"] == "pinned"
    assert pinned["pin"]["team"]["id"] == ACME_TEAM_ID
    assert pinned["pin"]["file"] == str(project.resolve() / ".brv" / "brv-provider.json")
    assert (pinned["problems"], pinned["project"]["root"]) == ([], str(project.resolve()))
    cleared = json.loads(machine.run("pin", "--clear", "--json", cwd=project).out)["pin"]
    assert (cleared["action"], cleared["previousTeamId"], cleared["team"]) == (
        "cleared",
        ACME_TEAM_ID,
        None,
    )
    again = json.loads(machine.run("pin", "--clear", "--json", cwd=project).out)["pin"]
    assert (again["action"], again["previousTeamId"]) == ("unchanged", None)


def test_pin_json_reports_the_backup_of_a_corrupt_file(machine: Machine, project: Path) -> None:
    (project / ".brv" / "brv-provider.json").write_text("{not json")
    body = json.loads(machine.run("pin", "beta", "--json", cwd=project).out)
    assert body["pin"]["backup"] is not None
    assert [p["part"] for p in body["problems"]] == ["pins"]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[FakeBillingApi]:
    """A server that serves the API under another prefix: its root domain answers 404."""
    with FakeBillingApi(_account(), session_key=SESSION_KEY, prefix="/elsewhere") as server:
        yield server


def _kind_scenes(machine: Machine, project: Path, elsewhere: FakeBillingApi) -> dict[str, Any]:
    """For each documented kind: what to set up, and the command that fails with it."""
    setenv, pin_file = machine.monkeypatch.setenv, project / ".brv" / "brv-provider.json"

    def pin(team_id: str) -> None:
        pin_file.write_text(json.dumps({"billing": {"pinnedTeamId": team_id}}))

    def exhausted() -> None:
        pin(ACME_TEAM_ID)
        machine.api.account = attrs.evolve(
            _account(),
            usages=(attrs.evolve(_account().usages[0], remaining=0), *_account().usages[1:]),
        )

    def twin_betas() -> None:
        twins = tuple(
            Team(id=f"org-gamma-{n}", name=f"gamma-{n}", display_name="Gamma", slug=f"gamma-{n}")
            for n in (1, 2)
        )
        machine.api.account = attrs.evolve(_account(), teams=(*_account().teams, *twins))

    def explode(exc: BaseException) -> Callable[[], None]:
        def raising(**kwargs: object) -> None:
            raise exc

        return lambda: machine.monkeypatch.setattr(billing_core.service, "resolve_billing", raising)

    def nothing() -> None:
        pass

    return {
        "bad-arguments": (nothing, ["status", "--bogus"]),
        "bad-endpoint": (
            lambda: setenv("BRV_BILLING_BASE_URL", "https://x.example/api/v1"),
            ["status"],
        ),
        "wrong-base-url": (lambda: setenv("BRV_BILLING_BASE_URL", elsewhere.origin), ["status"]),
        "bad-session-key": (lambda: setenv("BRV_SESSION_KEY", "sk-key\r\nX: 1"), ["status"]),
        "bad-provider": (nothing, ["status", "--provider", "ByteRover"]),
        "bad-project": (nothing, ["status", "--project", str(project / "missing")]),
        "pin-file-unusable": (lambda: (pin_file.unlink(), pin_file.mkdir()), ["pin", "acme"]),
        "team-not-found": (nothing, ["pin", "nosuch"]),
        "team-ambiguous": (twin_betas, ["pin", "Gamma"]),
        "team-not-billable": (nothing, ["pin", "side-project"]),
        "no-funds": (exhausted, ["status", "--require-funds"]),
        "invalid-pin": (lambda: pin(SIDE_PROJECT_TEAM_ID), ["status", "--require-funds"]),
        "pin-unreadable": (lambda: pin_file.write_text("{not json"), ["status", "--require-funds"]),
        "not-signed-in": (lambda: (machine.data_dir / "credentials").unlink(), ["status"]),
        "session-expired": (lambda: machine.sign_in(expiresAt="2020-01-01T00:00:00Z"), ["teams"]),
        "login-unreadable": (
            lambda: (machine.data_dir / ".token-key").write_bytes(b"k" * 32),
            ["teams"],
        ),
        "session-refused": (lambda: setenv("BRV_SESSION_KEY", "sk-someone-else"), ["teams"]),
        "upstream-unavailable": (lambda: machine.api.fail("usages", status=500), ["status"]),
        "interrupted": (explode(KeyboardInterrupt()), ["status"]),
        "unexpected": (explode(RuntimeError("boom")), ["status"]),
    }


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_every_documented_error_kind_is_reachable(
    machine: Machine, project: Path, elsewhere: FakeBillingApi, kind: str
) -> None:
    setup, argv = _kind_scenes(machine, project, elsewhere)[kind]
    setup()
    result = machine.run(*argv, "--json", cwd=project)
    error = json.loads(result.out)["error"]
    assert (result.code, error["kind"], error["code"]) == (ERROR_KINDS[kind][0], kind, result.code)
    assert result.error_line() == f"billing-core: error: {error['message']}"


def test_the_readme_lists_every_error_kind() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    listed = set(re.findall(r"^\| `([a-z-]+)` \| (\d+) \|", readme, flags=re.MULTILINE))
    assert listed == {(kind, str(code)) for kind, (code, _) in ERROR_KINDS.items()}


# --- found in review --------------------------------------------------------------------


def test_the_demo_never_writes_a_project_above_its_temporary_directory(
    machine: Machine, project: Path
) -> None:
    # A .brv above the temporary directory (the user's, or a hostile /tmp/.brv
    # pointer) must never become the demo's project.
    temporary = project / "tmp"
    temporary.mkdir()
    machine.monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    pin_file = project / ".brv" / "brv-provider.json"
    before = pin_file.read_bytes()
    assert machine.run("demo", cwd=project).code == cli.EXIT_OK
    assert pin_file.read_bytes() == before


def test_an_empty_provider_flag_is_bad_usage_and_an_empty_variable_is_unset(
    machine: Machine, tmp_path: Path
) -> None:
    for value in ("", "  "):
        result = machine.run("status", "--provider", value, cwd=tmp_path)
        assert result.code == cli.EXIT_USAGE
        assert "--provider: the provider name is empty" in result.error_line()
    machine.connect("openai")
    machine.monkeypatch.setenv("BRV_ACTIVE_PROVIDER", "")
    assert machine.run("status", cwd=tmp_path).lines[0] == "Using openai"


def test_an_unusable_providers_json_says_why(machine: Machine, tmp_path: Path) -> None:
    (machine.config_dir / "providers.json").write_text("nope")
    result = machine.run("status", cwd=tmp_path)
    assert result.code == cli.EXIT_OK
    assert "providers.json is not JSON, so brv reads it as none" in result.err


def test_pin_json_names_the_pin_it_replaced(machine: Machine, project: Path) -> None:
    first = json.loads(machine.run("pin", "acme", "--json", cwd=project).out)["pin"]
    assert (first["action"], first["previousTeamId"]) == ("pinned", "org-beta")
    again = json.loads(machine.run("pin", "acme", "--json", cwd=project).out)["pin"]
    assert (again["action"], again["previousTeamId"]) == ("unchanged", ACME_TEAM_ID)


def test_project_option_on_a_subdirectory_finds_its_project(
    machine: Machine, project: Path, tmp_path: Path
) -> None:
    # As if run there: brv and billing-core agree on the pin that applies.
    result = machine.run("status", "--project", str(project / "src" / "deep"), cwd=tmp_path)
    assert result.lines == [BETA_LINE, f"Project: {project.resolve()} (--project)"]
    assert not (project / "src" / "deep" / ".brv").exists()


def test_a_refused_session_says_what_was_answered_once(machine: Machine, tmp_path: Path) -> None:
    machine.monkeypatch.setenv("BRV_SESSION_KEY", "sk-someone-else")
    for command in ("status", "teams"):
        line = machine.run(command, cwd=tmp_path).error_line()
        assert line.startswith("billing-core: error: the session was refused (HTTP 401: ")
        assert line.count("sign in again") == 1


def test_require_funds_with_another_provider_reads_no_endpoint(
    machine: Machine, tmp_path: Path
) -> None:
    machine.connect("openai")
    machine.monkeypatch.setenv("BRV_BILLING_BASE_URL", "not a url")
    result = machine.run("status", "--require-funds", cwd=tmp_path)
    assert result.code == cli.EXIT_OK
    assert "nothing to check: openai is the active provider" in result.err


def test_plain_http_to_a_remote_host_names_the_variable(machine: Machine, tmp_path: Path) -> None:
    machine.monkeypatch.setenv("BRV_IAM_BASE_URL", "http://teams.example.com")
    result = machine.run("teams", "--json", cwd=tmp_path)
    assert result.code == cli.EXIT_USAGE
    assert json.loads(result.out)["error"]["kind"] == "bad-endpoint"
    assert result.error_line().startswith("billing-core: error: BRV_IAM_BASE_URL: ")
