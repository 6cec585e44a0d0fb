"""The command line's conventions, gh's and ruff's: flags spelt in full, "did you mean",
a subcommand's own usage, ``-V``, help that says it once, tone in words, a
progress indicator on a terminal only, and a team table that fits the terminal.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pytest
from _cli_env import use_environ, user_environ

from billing_core import __version__, cli
from billing_core.adapters._timeouts import DEFAULT_TIMEOUT, MAX_TIMEOUT
from billing_core.cli import parser as cli_parser
from billing_core.cli import render, terminal
from billing_core.cli.exits import EXIT_OK, EXIT_USAGE, PROG, _CliError
from billing_core.cli.terminal import Console
from billing_core.models import (
    BillingUsage,
    FreeBilling,
    InvalidPinBilling,
    OtherProviderBilling,
    PaidBilling,
    StatusBilling,
    Team,
)
from billing_core.resolution import TeamChoice
from billing_core.testing import FakeBillingApi
from billing_core.testing.sample import ACME_TEAM_ID, SIDE_PROJECT_TEAM_ID, sample_account

SESSION_KEY = "sk-live-CONVENTIONS-0a1b2c3d"
ERASE = "\r\x1b[K"


# --- helpers ------------------------------------------------------------------------


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.startswith(f"{PROG}: error:")]
        assert len(lines) == 1, self.err
        return lines[0]

    @property
    def usage(self) -> str:
        """The first line of the usage printed on stderr."""
        return next(line for line in self.err.splitlines() if line.startswith("usage:"))


def _main(*argv: str) -> Result:
    """``main(argv)`` with stdout and stderr captured (for what fails before any request)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    assert "Traceback" not in err.getvalue()
    return Result(code, out.getvalue(), err.getvalue())


def _script() -> str:
    found = shutil.which("billing-core")
    return found if found is not None else str(Path(sys.executable).parent / "billing-core")


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBillingApi]:
    with FakeBillingApi(sample_account(), session_key=SESSION_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_api(request: pytest.FixtureRequest) -> None:
    if "api" in request.fixturenames:
        server: FakeBillingApi = request.getfixturevalue("api")
        server.account = sample_account()
        server.reset_faults()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    (directory / ".brv").mkdir(parents=True)
    return directory


@pytest.fixture
def env(api: FakeBillingApi, tmp_path: Path) -> dict[str, str]:
    """A signed-in user of the fake API; the brv CLI's files looked for in an empty home."""
    return {**user_environ(api, tmp_path), "BRV_SESSION_KEY": SESSION_KEY}


@pytest.fixture
def run(
    env: dict[str, str],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> _Runner:
    use_environ(monkeypatch, env)
    monkeypatch.chdir(project)
    return _Runner(monkeypatch, capsys)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@attrs.frozen
class _Runner:
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str, tty: bool = False) -> Result:
        """``main(argv)`` in the project; ``tty``: stdout is a terminal."""
        if tty:
            screen = _Terminal()
            with self.monkeypatch.context() as patch:
                patch.setattr(sys, "stdout", screen)
                code = cli.main(list(argv))
            captured = self.capsys.readouterr()
            result = Result(code, screen.getvalue(), captured.err)
        else:
            code = cli.main(list(argv))
            captured = self.capsys.readouterr()
            result = Result(code, captured.out, captured.err)
        assert "Traceback" not in result.err
        assert SESSION_KEY not in result.out + result.err
        return result


def _shown(out: str) -> list[str]:
    """stdout's lines but the one naming the project."""
    return [line for line in out.splitlines() if not line.startswith("Project: ")]


def _subcommands() -> dict[str, cli_parser._Parser]:
    top = cli_parser._parser()
    assert isinstance(top, cli_parser._Parser)
    return top.commands


def _help(*argv: str) -> str:
    result = _main(*argv, "--help")
    assert result.code == EXIT_OK
    return result.out


# --- 1. abbreviations are refused -------------------------------------------------------


def test_every_parser_refuses_abbreviations() -> None:
    top = cli_parser._parser()
    parsers = [top, *_subcommands().values()]
    assert [p.allow_abbrev for p in parsers] == [False] * 5


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["status", "--js"], "--js"),
        (["status", "--require"], "--require"),
        (["--proj", ".", "status"], "--proj"),
        (["status", "--time", "5"], "--time"),
        (["--vers"], "--vers"),
        (["pin", "--cl"], "--cl"),
    ],
)
def test_an_abbreviated_flag_is_an_unknown_flag(argv: list[str], flag: str) -> None:
    result = _main(*argv)
    assert result.code == EXIT_USAGE
    assert result.error_line().startswith(f"{PROG}: error: unknown flag {flag!r}")
    assert result.out == ""  # in particular no --version, and no JSON document


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--json"],
        ["status", "--js"],
        ["teams", "--json", "--project", "status"],
        ["--project", "teams", "status", "--json"],
        ["--proj", "teams", "status", "--json"],
        ["--timeout", "5", "teams", "--json"],
        ["--timeo", "5", "teams", "--json"],
        ["status", "--jso"],
        ["teams", "--json=1"],
        ["pin", "--json"],
        ["status", "--", "--json"],
        ["--json", "status"],
    ],
)
def test_the_json_scan_reads_the_arguments_as_argparse_does(argv: list[str]) -> None:
    # Whenever argparse accepts the arguments, the scan owes a document exactly
    # when argparse set --json; when it refuses them, the scan names the command
    # the failure document is for, and only for --json spelt in full.
    owed = cli_parser._json_command(argv)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = cli_parser._parser().parse_args(argv)
    except _CliError:
        spelt_in_full = any(token.partition("=")[0] == "--json" for token in argv)
        assert owed is None or spelt_in_full
        return
    assert owed == (args.command if getattr(args, "json", False) else None)


def test_an_abbreviated_json_flag_gets_no_document(run: _Runner) -> None:
    result = run("status", "--js")
    assert result.code == EXIT_USAGE
    assert result.out == ""
    assert result.error_line() == f"{PROG}: error: unknown flag '--js' (did you mean '--json'?)"


# --- 2. "did you mean" -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stauts"], "unknown command 'stauts' (did you mean 'status'?)"),
        (["tems"], "unknown command 'tems' (did you mean 'teams'?)"),
        (["stat"], "unknown command 'stat' (did you mean 'status'?)"),
        (["pn", "acme"], "unknown command 'pn' (did you mean 'pin'?)"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["status", "--jsno"], "unknown flag '--jsno' (did you mean '--json'?)"),
        (
            ["status", "--require-fund"],
            "unknown flag '--require-fund' (did you mean '--require-funds'?)",
        ),
        (["teams", "--jsn"], "unknown flag '--jsn' (did you mean '--json'?)"),
        (["pin", "--claer"], "unknown flag '--claer' (did you mean '--clear'?)"),
        (["status", "--projet", "."], "unknown flag '--projet' (did you mean '--project'?)"),
        (["status", "--timeot=5"], "unknown flag '--timeot' (did you mean '--timeout'?)"),
        (["--timout", "5", "status"], "unknown flag '--timout' (did you mean '--timeout'?)"),
        (["-v"], "unknown flag '-v' (did you mean '-V'?)"),
        (["--verison"], "unknown flag '--verison' (did you mean '--version'?)"),
        (["status", "--frobnicate"], "unknown flag '--frobnicate'"),
        # The flags of the subcommand in use count: given before it, say where it goes.
        (["--jsno", "status"], "unknown flag '--jsno' (did you mean 'status --json'?)"),
        (["--json", "teams"], "unknown flag '--json' (did you mean 'teams --json'?)"),
        (["--clear", "pin"], "unknown flag '--clear' (did you mean 'pin --clear'?)"),
        # ...but not another subcommand's.
        (["teams", "--require-funds"], "unknown flag '--require-funds'"),
        (["--clear", "status"], "unknown flag '--clear'"),
        # With no command, any command's flag counts: the first command that has it.
        (["--json"], "unknown flag '--json' (did you mean 'status --json'?)"),
        (["--jsno"], "unknown flag '--jsno' (did you mean 'status --json'?)"),
        (
            ["--require-funds"],
            "unknown flag '--require-funds' (did you mean 'status --require-funds'?)",
        ),
        (["--clear"], "unknown flag '--clear' (did you mean 'pin --clear'?)"),
        # A flag's name typed as a command.
        (["help"], "unknown command 'help' (did you mean '--help'?)"),
        (["version"], "unknown command 'version' (did you mean '--version'?)"),
        (["Version"], "unknown command 'Version' (did you mean '--version'?)"),
        (["json"], "unknown command 'json' (did you mean 'status --json'?)"),
    ],
)
def test_unknown_commands_and_flags_say_what_was_meant(argv: list[str], message: str) -> None:
    result = _main(*argv)
    assert result.code == EXIT_USAGE
    assert result.error_line() == f"{PROG}: error: {message}"


def test_without_a_command_an_unknown_flag_is_named_first() -> None:
    assert _main("-v").error_line().endswith("(did you mean '-V'?)")
    # A command's flag with no command: the suggestion, and no JSON document (which command's?).
    json_alone = _main("--json")
    assert json_alone.error_line().endswith("(did you mean 'status --json'?)")
    assert (json_alone.code, json_alone.out) == (EXIT_USAGE, "")
    assert json_alone.usage.startswith(f"usage: {PROG} [-h]")
    missing = _main()
    assert missing.error_line() == f"{PROG}: error: the following arguments are required: COMMAND"


def test_the_suggestions_come_from_the_parsers_themselves() -> None:
    # A flag added to a subcommand is suggested without touching a list.
    status = _subcommands()["status"]
    assert {"--json", "--require-funds", "--project", "--timeout"} <= cli_parser._option_strings(
        status
    )
    assert cli_parser._closest("--json", ["--json"]) == "--json"
    assert cli_parser._closest("--xyzzy", ["--json", "--clear"]) is None


# --- 3. a subcommand's mistake prints the subcommand's usage ------------------------------


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["status", "--jsno"], f"usage: {PROG} status "),
        (["teams", "--require-funds"], f"usage: {PROG} teams "),
        (["pin", "--claer"], f"usage: {PROG} pin "),
        (["pin", "a", "b"], f"usage: {PROG} pin "),
        (["status", "--timeout", "soon"], f"usage: {PROG} status "),
        (["--jsno", "status"], f"usage: {PROG} [-h]"),
        (["stauts"], f"usage: {PROG} [-h]"),
    ],
)
def test_the_usage_printed_is_the_parser_that_met_the_mistake(argv: list[str], usage: str) -> None:
    result = _main(*argv)
    assert result.code == EXIT_USAGE
    assert result.usage.startswith(usage)


# --- 4. -V is --version -------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-V", "--version", "-VV", "-Vh"])
def test_dash_capital_v_is_the_version(flag: str) -> None:
    result = _main(flag)
    assert (result.code, result.out, result.err) == (EXIT_OK, f"{PROG} {__version__}\n", "")


@pytest.mark.parametrize(
    "argv",
    [
        ["-V"],
        ["-VV"],
        ["-Vh"],
        ["-hV"],
        ["-h", "-V"],
        ["-V", "-h"],
        ["-v"],
        ["-V", "status"],
        ["status", "-V"],
        ["--project", "x", "-V"],
        ["--project", "-V"],
        ["--project=x", "-V"],
        ["--proj", "x", "-V"],  # an unknown flag, then x is the command
        ["--vers"],
        ["--version=1"],
        ["-V="],
        ["-", "-V"],
        ["-1", "-V"],
        ["--bogus", "-V"],
        ["--", "-V"],
    ],
)
def test_the_version_scan_never_answers_where_argparse_would_not(argv: list[str]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli_parser._parser().parse_args(argv)
            code: object = None
        except SystemExit as exit_:
            code = exit_.code
        except _CliError:
            code = "refused"
    argparse_says_version = code == 0 and out.getvalue() == f"{PROG} {__version__}\n"
    assert cli_parser._asks_version(argv) == argparse_says_version


# --- 5. help ---------------------------------------------------------------------------------

_ENVIRONMENT = [
    "BRV_SESSION_KEY",
    "BRV_BILLING_BASE_URL",
    "BRV_IAM_BASE_URL",
    "BRV_WEB_APP_URL",
    "BRV_ACTIVE_PROVIDER",
    "BRV_DATA_DIR",
    "NO_COLOR",
]


def _section(text: str, title: str) -> list[str]:
    """The lines of the help section ``title:`` (up to the next blank line after it starts)."""
    lines = text.splitlines()
    start = lines.index(f"{title}:")
    section: list[str] = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        section.append(line)
    return section


def test_the_top_level_help_lists_the_environment_and_the_exit_codes_once() -> None:
    text = _help()
    assert text.count("\nenvironment:\n") == 1
    assert text.count("\nexit codes:\n") == 1
    section = _section(text, "environment")
    names = [line.split()[0] for line in section if line.startswith("  ") and line[2] != " "]
    assert names == _ENVIRONMENT
    assert "BRV_TEAM_BASE_URL" not in text
    for code, meaning in cli.EXIT_CODES.items():
        assert f"  {code:<3}  {meaning}" in text.splitlines()


def test_the_environment_names_are_the_ones_the_settings_read() -> None:
    from billing_core.adapters import brv_endpoints
    from billing_core.adapters.brv_local import brv_data_dir
    from billing_core.cli import settings
    from billing_core.resolution import BYTEROVER_PROVIDER

    text = _help()
    for name in ("ENV_BILLING_BASE_URL", "ENV_IAM_BASE_URL", "ENV_WEB_APP_URL"):
        assert getattr(brv_endpoints, name) in text
    assert cli_parser._ENV_SESSION_KEY == settings.ENV_SESSION_KEY
    assert cli_parser._ENV_ACTIVE_PROVIDER == settings.ENV_ACTIVE_PROVIDER
    assert settings.ENV_DATA_DIR == cli_parser._ENV_DATA_DIR
    data_dir = brv_data_dir(environ={cli_parser._ENV_DATA_DIR: "/somewhere/brv"})
    assert str(data_dir) == "/somewhere/brv"
    assert cli_parser._BYTEROVER == BYTEROVER_PROVIDER
    for default in (
        brv_endpoints.DEFAULT_BILLING_BASE_URL,
        brv_endpoints.DEFAULT_IAM_BASE_URL,
        brv_endpoints.DEFAULT_WEB_APP_URL,
    ):
        assert default in text


@pytest.mark.parametrize("command", ["status", "teams", "pin", "demo"])
def test_every_subcommand_has_examples_and_no_environment(command: str) -> None:
    text = _help(command)
    assert "\nenvironment:\n" not in text
    assert "\nexit codes:\n" not in text
    examples = [line for line in _section(text, "examples") if line.startswith(f"  {PROG} ")]
    assert 2 <= len(examples) <= 4
    assert all(command in line for line in examples)
    assert f"`{PROG} --help`" in text  # where the rest is


def test_help_shows_the_real_defaults() -> None:
    text = " ".join(_help("status").split())  # argparse wraps the help text
    assert f"(default: {DEFAULT_TIMEOUT:g};" in text
    assert f"(default: {DEFAULT_TIMEOUT:g}; at most {MAX_TIMEOUT:g})" in text
    assert "(default: 10;" in text
    assert (
        "find the project from DIR instead of the current directory, the way brv finds it:"
        " the nearest .brv up the tree" in text
    )


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["-h"], ["demo", "-h"]])
def test_help_loads_neither_httpx_nor_the_models(argv: list[str]) -> None:
    code = (
        "import contextlib, io, sys\n"
        "from billing_core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({argv!r}) == 0\n"
        "print(sorted(m for m in ('httpx', 'billing_core.models') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


# --- 6. the demo refuses the options it has no use for ----------------------------------


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["demo", "--project", "x"], "--project"),
        (["--project", "x", "demo"], "--project"),
        (["demo", "--provider", "openai"], "--provider"),
        (["--provider=openai", "demo"], "--provider"),
        (["demo", "--timeout", "5"], "--timeout"),
        (["--timeout", "5", "demo"], "--timeout"),
    ],
)
def test_the_demo_refuses_project_provider_and_timeout(argv: list[str], flag: str) -> None:
    result = _main(*argv)
    assert result.code == EXIT_USAGE
    assert result.error_line() == (
        f"{PROG}: error: demo takes no {flag}: the demo brings its own project, session and"
        " fake API"
    )
    assert result.usage.startswith(f"usage: {PROG} demo")
    assert result.out == ""  # nothing ran


def test_the_demo_help_does_not_offer_them() -> None:
    text = _help("demo")
    for flag in ("--project", "--provider", "--timeout"):
        assert f"  {flag}" not in text
        assert flag not in text.splitlines()[0]  # the usage line


# --- 7. tone in words ----------------------------------------------------------------------


def _usage(remaining: int, *, total: int = 1_000, tier: str = "TEAM") -> BillingUsage:
    return BillingUsage(
        organization_id="org-r",
        organization_name="Research",
        organization_status="active",
        limit=total,
        add_on_remaining=0,
        total_limit=total,
        used=total - remaining,
        remaining=remaining,
        percent_used=100 * (total - remaining) / total,
        limit_exceeded=remaining <= 0,
        tier=tier,
    )


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (
            PaidBilling(
                organization_id="org-r",
                organization_name="Research",
                remaining=5,
                total=1_000,
                tier="TEAM",
            ),
            "Billing: Research (5 credits, TEAM) — credits low",
        ),
        (
            PaidBilling(
                organization_id="org-r",
                organization_name="Research",
                remaining=0,
                total=1_000,
                tier="TEAM",
            ),
            "Billing: Research (0 credits, TEAM) — credits exhausted",
        ),
        (
            PaidBilling(
                organization_id="org-r",
                organization_name="Research",
                remaining=900,
                total=1_000,
                tier="TEAM",
            ),
            "Billing: Research (900 credits, TEAM)",
        ),
        (
            FreeBilling(remaining=50, total=1_000),
            "Billing: Personal free credits (50 / 1,000) — credits low",
        ),
        (FreeBilling(remaining=950, total=1_000), "Billing: Personal free credits (950 / 1,000)"),
        (OtherProviderBilling(active_provider="openai"), "Using openai"),
    ],
)
def test_the_billing_line_says_low_and_exhausted_in_words(status: StatusBilling, line: str) -> None:
    assert render._billing_line(status) == line


def test_an_invalid_pin_line_needs_no_word_it_says_what_is_wrong() -> None:
    status = InvalidPinBilling(organization_id="org-9", reason="not-a-member")
    from billing_core.presentation import format_billing_line

    assert render._billing_line(status) == format_billing_line(status)


@pytest.mark.parametrize(("tty", "no_color"), [(False, False), (True, True), (True, False)])
def test_low_credits_read_the_same_with_or_without_colour(
    api: FakeBillingApi, run: _Runner, monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: bool
) -> None:
    api.account = sample_account(acme_remaining=1_000)  # 5 % of 20,000: low
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    result = run("status", tty=tty)
    assert result.code == EXIT_OK
    line = "Billing: Acme Corp (1,000 credits, PRO) — credits low"
    coloured = tty and not no_color
    assert _shown(result.out) == [f"\x1b[33m{line}\x1b[0m" if coloured else line]


@pytest.mark.parametrize(
    ("remaining", "cell"), [(50, "50 / 1k (low)"), (0, "0 / 1k (exhausted)"), (900, "900 / 1k")]
)
def test_the_credits_cell_says_low_and_exhausted_in_words(remaining: int, cell: str) -> None:
    team = Team(id="org-r", name="research", display_name="Research", slug="research")
    assert render._credits_cell(TeamChoice(team=team, usage=_usage(remaining))) == cell


# --- 8. progress ----------------------------------------------------------------------------


class _TtyErr(io.StringIO):
    """A terminal stderr whose writes tests can wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        count = super().write(text)
        self.written.set()
        return count


def _console(err: io.StringIO, *, progress: bool = True, delay: float = 0.0) -> Console:
    return Console(
        out=io.StringIO(),
        err=err,
        colour=False,
        secret=None,
        prog=PROG,
        progress=progress,
        progress_delay=delay,
    )


def test_a_slow_call_shows_the_indicator_then_erases_it() -> None:
    err = _TtyErr()
    console = _console(err, delay=0)
    with console.progress("resolving billing"):
        assert err.written.wait(10), "the indicator never showed"
    shown = err.getvalue()
    assert "resolving billing" in shown
    assert shown.startswith("\r")
    assert shown.endswith(ERASE)  # gone once the call returned
    time.sleep(0.25)  # the spinner's thread has stopped: nothing more comes
    assert err.getvalue() == shown


def test_a_quick_call_shows_nothing() -> None:
    # The threshold itself: an answer within the delay prints nothing at all.
    err = _TtyErr()
    console = _console(err, delay=3600)
    with console.progress("resolving billing"):
        pass
    assert err.getvalue() == ""


def test_the_default_delay_is_a_third_of_a_second() -> None:
    assert terminal.PROGRESS_DELAY == 0.3
    assert _console(_TtyErr()).progress_delay == 0.0
    assert (
        Console(
            out=io.StringIO(), err=_TtyErr(), colour=False, secret=None, prog=PROG
        ).progress_delay
        == 0.3
    )


def test_the_indicator_is_erased_before_anything_else_is_printed() -> None:
    err = _TtyErr()
    console = _console(err, delay=0)
    with console.progress("listing teams"):
        assert err.written.wait(10)
        console.warn("something")
        after_warning = err.getvalue()
    assert after_warning.endswith(f"{ERASE}{PROG}: warning: something\n")
    assert err.getvalue() == after_warning  # no second erase, no new frame


def test_the_indicator_is_erased_when_the_call_fails() -> None:
    err = _TtyErr()
    console = _console(err, delay=0)

    def interrupted_call() -> None:
        with console.progress("pinning the team"):
            assert err.written.wait(10)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_call()
    assert err.getvalue().endswith(ERASE)


@pytest.mark.parametrize(
    ("err", "progress"),
    [(io.StringIO(), True), (_TtyErr(), False)],
    ids=["stderr-piped", "not-allowed"],
)
def test_no_indicator_is_even_started_when_piped_or_not_allowed(
    monkeypatch: pytest.MonkeyPatch, err: io.StringIO, progress: bool
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an indicator was started")

    monkeypatch.setattr(terminal, "_Indicator", refuse)
    with _console(err, progress=progress, delay=0).progress("resolving billing"):
        pass
    assert err.getvalue() == ""


def test_wants_progress_needs_a_terminal_that_obeys_escapes() -> None:
    assert terminal.wants_progress(_TtyErr(), _TtyErr(), {}) is True
    assert terminal.wants_progress(_TtyErr(), _TtyErr(), {"TERM": "dumb"}) is False
    assert terminal.wants_progress(_TtyErr(), io.StringIO(), {}) is False
    # colour is another matter
    assert terminal.wants_progress(_TtyErr(), _TtyErr(), {"NO_COLOR": "1"}) is True


def test_wants_progress_needs_stdout_on_a_terminal_too() -> None:
    # `billing-core teams | less`, `line=$(billing-core status)`: a program reads the answer.
    assert terminal.wants_progress(io.StringIO(), _TtyErr(), {}) is False


def _run_on_a_pty(
    argv: Sequence[str], env: dict[str, str], cwd: Path, *, stdout_on_a_pty: bool = True
) -> tuple[int, str, str]:
    """Run the console script with stderr on a pseudo-terminal, and stdout on another
    one or piped; return the exit code, stdout and what stderr's terminal received."""
    import pty  # POSIX only, like the rest of these pty tests

    err_master, err_slave = pty.openpty()
    out_master, out_slave = pty.openpty() if stdout_on_a_pty else (-1, subprocess.PIPE)
    try:
        process = subprocess.Popen(
            [_script(), *argv],
            env={**env, "TERM": "xterm"},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out_slave,
            stderr=err_slave,
        )
    finally:
        os.close(err_slave)
        if stdout_on_a_pty:
            os.close(out_slave)
    received = {err_master: bytearray(), out_master: bytearray()}
    open_masters = [master for master in received if master >= 0]
    try:
        deadline = time.monotonic() + 60
        while open_masters and time.monotonic() < deadline:
            ready, _, _ = select.select(open_masters, [], [], 1)
            if not ready and process.poll() is not None:
                break
            for master in ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end closed
                    chunk = b""
                if chunk:
                    received[master] += chunk
                else:
                    open_masters.remove(master)
        piped, _ = process.communicate(timeout=60)
    finally:
        for master in received:
            if master >= 0:
                os.close(master)
    out = received[out_master] if stdout_on_a_pty else piped
    return process.returncode, out.decode(), received[err_master].decode(errors="replace")


pty_only = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@pty_only
def test_a_slow_upstream_shows_the_indicator_on_a_terminal(
    api: FakeBillingApi, env: dict[str, str], project: Path
) -> None:
    api.fail("usages", latency=1.5, times=1)  # a normal answer, slowly
    code, out, screen = _run_on_a_pty(["status"], env, project)
    assert code == EXIT_OK, screen
    assert "Billing: Acme Corp (12,400 credits, PRO)" in out
    assert "resolving billing" in screen
    assert screen.rstrip("\n").endswith(ERASE)  # erased: the terminal is left clean


@pty_only
def test_no_indicator_when_stdout_is_piped_even_with_stderr_on_a_terminal(
    api: FakeBillingApi, env: dict[str, str], project: Path
) -> None:
    api.fail("usages", latency=1.5, times=1)
    code, out, screen = _run_on_a_pty(["status"], env, project, stdout_on_a_pty=False)
    assert code == EXIT_OK, screen
    assert "Billing: Acme Corp (12,400 credits, PRO)" in out
    assert "\x1b[" not in out  # stdout, piped, holds no escape
    assert screen == ""


@pty_only
def test_no_indicator_with_json_even_on_a_terminal(
    api: FakeBillingApi, env: dict[str, str], project: Path
) -> None:
    api.fail("usages", latency=1.5, times=1)
    code, out, screen = _run_on_a_pty(["status", "--json"], env, project)
    assert code == EXIT_OK, screen
    assert json.loads(out)["status"] is not None
    assert screen == ""


def test_no_indicator_when_stderr_is_piped(
    api: FakeBillingApi, env: dict[str, str], project: Path
) -> None:
    api.fail("teams", latency=1.5, times=1)
    done = subprocess.run(
        [_script(), "teams"],
        env={**env, "TERM": "xterm"},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stderr == ""
    assert "acme" in done.stdout


# --- 9. the team table fits the terminal ------------------------------------------------------

_LONG_NAME = "The Extremely Long Research Department of Acme Corporation"


def _choice(
    name: str,
    slug: str,
    remaining: int,
    *,
    total: int = 20_000,
    tier: str = "PRO",
    pinned: bool = False,
) -> TeamChoice:
    team = Team(id=f"org-{slug}", name=slug, display_name=name, slug=slug)
    usage = attrs.evolve(_usage(remaining, total=total, tier=tier), organization_id=team.id)
    return TeamChoice(team=team, usage=usage, is_pinned=pinned)


_CHOICES = [
    _choice(_LONG_NAME, "research-dept", 12_400, pinned=True),
    _choice("Side Project", "side-project", 500, tier="FREE"),
    _choice("株式会社テスト", "kk-test", 900),
]


def _table(width: int | None, choices: Sequence[TeamChoice] = _CHOICES) -> list[str]:
    out = io.StringIO()
    console = Console(out=out, err=io.StringIO(), colour=False, secret=None, prog=PROG, width=width)
    render._print_team_table(console, choices, preselected=choices[0].team.id)
    return out.getvalue().splitlines()


def _narrowest(choices: Sequence[TeamChoice]) -> int:
    """The narrowest the table gets: TEAM and STATE at their least, the rest whole."""
    lines = _table(1, choices)
    return max(terminal.display_width(line) for line in lines[: len(choices) + 1])


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_table_fits_the_width_with_every_slug_whole(width: int) -> None:
    lines = _table(width)
    limit = max(width, _narrowest(_CHOICES))  # when it cannot fit at all: as narrow as it gets
    assert all(terminal.display_width(line) <= limit for line in lines), "\n".join(lines)
    body = lines[1 : 1 + len(_CHOICES)]
    for choice, line in zip(_CHOICES, body, strict=True):
        assert choice.team.slug in line.split()  # whole, between its gaps
    if width == 200:
        assert _LONG_NAME in body[0]
        assert "…" not in "\n".join(lines)
    else:
        assert _LONG_NAME not in body[0]
        assert body[0].lstrip("> ").startswith("The")
        assert "…" in body[0]


def test_a_small_table_fits_forty_columns() -> None:
    choices = [
        _choice("Research Department", "rd", 900, total=1_000, pinned=True),
        _choice("Ops", "ops", 800, total=1_000),
    ]
    lines = _table(40, choices)
    assert all(terminal.display_width(line) <= 40 for line in lines), "\n".join(lines)
    # The narrow layout: its short cells leave more of the name than the wide one could.
    assert lines[1] == "> Research Depart… rd   900/1k  pinned"
    assert "`billing-core pin TEAM`" in "\n".join(lines)  # the hint wrapped, never split


def test_the_columns_stay_aligned_with_wide_characters() -> None:
    header, *rows = _table(200)[:4]
    wide = next(row for row in rows if "kk-test" in row)
    assert terminal.display_width(wide[: wide.index("kk-test")]) == header.index("SLUG")


def test_without_a_width_nothing_is_cut() -> None:
    assert _LONG_NAME in "\n".join(_table(None))


@pytest.mark.parametrize(
    ("environ", "tty", "width"),
    [
        ({"COLUMNS": "40"}, False, 40),
        ({"COLUMNS": "132"}, True, 132),
        ({}, False, None),  # piped: a reader of `teams | grep` wants every name whole
        ({"COLUMNS": "zero"}, False, None),
        ({}, True, 80),  # a terminal of unknown size
    ],
)
def test_terminal_width(environ: dict[str, str], tty: bool, width: int | None) -> None:
    stream = _TtyErr() if tty else io.StringIO()
    assert terminal.terminal_width(stream, environ) == width


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_teams_honours_columns(
    api: FakeBillingApi, run: _Runner, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    sample = sample_account()
    acme_team, *teams = sample.teams
    api.account = attrs.evolve(
        sample, teams=(attrs.evolve(acme_team, display_name=_LONG_NAME), *teams)
    )
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run("teams")
    assert result.code == EXIT_OK, result.err
    lines = _shown(result.out)
    rows = [line for line in lines if "acme" in line or "side-project" in line][:2]
    assert len(rows) == 2
    assert all("acme" in row.split() or "side-project" in row.split() for row in rows)
    widest = max(terminal.display_width(line) for line in lines)
    assert widest <= columns, "\n".join(lines)
    assert (_LONG_NAME in result.out) == (columns == 200)


def _state_cells(rows: Sequence[str], header: str) -> list[str]:
    """The last column of ``rows``: from where ``header`` shows its last column on."""
    start = header.rindex(header.split()[-1])
    return [row[start:] for row in rows]


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_the_sample_teams_fit_the_columns_and_say_which_can_be_pinned(
    run: _Runner, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = run("teams")
    assert result.code == EXIT_OK, result.err
    lines = _shown(result.out)
    # Every row and the hint under them, not only the table's widest line.
    assert all(terminal.display_width(line) <= columns for line in lines), "\n".join(lines)
    header, acme, side = lines[:3]
    assert ("acme" in acme.split(), "side-project" in side.split()) == (True, True)  # whole
    assert "`billing-core pin TEAM`" in "\n".join(lines)  # the hint wrapped, never split
    states = _state_cells([acme, side], header)
    if columns >= 80:
        # The wide layout, unchanged where it fits.
        assert header.split() == ["TEAM", "SLUG", "CREDITS", "TIER", "STATE"]
        assert acme.split()[:6] == [">", "Acme", "Corp", "acme", "12.4k", "/"]
        assert states == ["selectable", "not selectable: FREE tier"]
    else:
        # Whether each team can be pinned, whole: never "selecta…" nor "not sel…".
        assert header.split() == ["TEAM", "SLUG", "CREDITS", "PINNABLE"]
        assert acme.split()[2:] == ["acme", "12.4k/20k", "yes"]
        assert side.split()[1:] == ["side-project", "500/500", "no:", "FREE"]
        assert states == ["yes", "no: FREE"]


def _sample_choices(*, pinned: str | None = None) -> list[TeamChoice]:
    account = sample_account()
    usages = {usage.organization_id: usage for usage in account.usages}
    return [
        TeamChoice(team=team, usage=usages.get(team.id), is_pinned=team.id == pinned)
        for team in account.teams
    ]


def test_a_pinned_team_says_so_in_forty_columns() -> None:
    lines = _table(40, _sample_choices(pinned=ACME_TEAM_ID))
    assert all(terminal.display_width(line) <= 40 for line in lines), "\n".join(lines)
    assert _state_cells(lines[1:3], lines[0]) == ["pinned", "no: FREE"]


def test_a_team_without_usage_says_so_in_the_short_cells() -> None:
    side = _sample_choices()[1]
    ghost = TeamChoice(team=attrs.evolve(side.team, id="org-ghost", slug="ghost"), usage=None)
    lines = _table(44, [ghost])
    assert all(terminal.display_width(line) <= 44 for line in lines), "\n".join(lines)
    assert lines[1].split() == [">", "Side", "Project", "ghost", "-", "no:", "no", "usage"]


def test_a_pinned_team_that_cannot_be_billed_says_both_answer_first() -> None:
    side = _sample_choices(pinned=SIDE_PROJECT_TEAM_ID)[1]
    assert render._short_state_cell(side) == "no: FREE, pinned"
    # Cut short as a last resort, the cell still begins with the answer.
    lines = _table(1, [side])
    assert lines[1].endswith("no: FRE…")


def test_between_wide_and_narrow_the_compact_layout_keeps_the_tier_and_the_names() -> None:
    lines = _table(60, _sample_choices())
    assert all(terminal.display_width(line) <= 60 for line in lines), "\n".join(lines)
    assert lines[0].split() == ["TEAM", "SLUG", "CREDITS", "TIER", "PINNABLE"]
    assert lines[1].split() == [">", "Acme", "Corp", "acme", "12.4k/20k", "PRO", "yes"]
    assert lines[2].split() == ["Side", "Project", "side-project", "500/500", "FREE", "no:", "FREE"]


def test_the_ellipsis_falls_back_to_dots_where_it_cannot_be_shown() -> None:
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    console = Console(out=ascii_out, err=io.StringIO(), colour=False, secret=None, prog=PROG)
    assert console.ellipsis == "..."
    assert terminal.truncate("Acme Corporation", 8, ellipsis="...") == "Acme..."


def test_truncate_and_display_width_count_columns() -> None:
    assert terminal.display_width("株式会社") == 8
    assert terminal.truncate("株式会社テスト", 7) == "株式会…"
    assert terminal.display_width(terminal.truncate("株式会社テスト", 6)) <= 6
    assert terminal.truncate("abc", 0) == ""
    assert terminal.truncate("Acme", 2) == "A…"
