"""Settings from the environment, the brv CLI's files and the flags, and the services they open.

Read once per run into a :class:`_Settings`, the way the brv CLI reads them,
so that a brv user needs no set-up:

- the session: ``BRV_SESSION_KEY``, else the brv CLI's stored login
  (:func:`~billing_core.adapters.brv_login.load_brv_login`); an expired or
  unreadable login is "not signed in" (exit 4), saying why;
- the active provider: ``--provider``, else ``BRV_ACTIVE_PROVIDER``, else
  brv's ``providers.json``; a given value that is ``byterover`` spelt
  differently is bad usage;
- the endpoints: root domains in ``BRV_BILLING_BASE_URL``, ``BRV_IAM_BASE_URL``
  and ``BRV_WEB_APP_URL`` (:func:`~billing_core.adapters.brv_endpoints.brv_endpoints`),
  checked only when a request needs them;
- the project: ``--project DIR``, else the first ``.brv`` up from the working
  directory (:func:`~billing_core.adapters.brv_project.find_brv_project`).

A bad value is bad usage (exit 2) before any request is made.
:func:`_upstream_errors` turns what the library raises while opening or
using the services into exit codes, naming the host a failure came from.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, NoReturn, TypeAlias
from urllib.parse import urlsplit

from attrs import field, frozen

from billing_core._endpoints import label
from billing_core._session import session_key_flaw
from billing_core.adapters.brv_endpoints import (
    ENV_BILLING_BASE_URL,
    ENV_IAM_BASE_URL,
    ENV_WEB_APP_URL,
    BrvEndpoints,
    brv_endpoints,
)
from billing_core.cli.environment import ENV_ACTIVE_PROVIDER as ENV_ACTIVE_PROVIDER
from billing_core.cli.environment import ENV_DATA_DIR as ENV_DATA_DIR
from billing_core.cli.environment import ENV_SESSION_KEY as ENV_SESSION_KEY
from billing_core.cli.exits import (
    EXIT_NOT_SIGNED_IN,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    _CliError,
)
from billing_core.errors import (
    BillingApiError,
    BillingAuthError,
    BillingConfigError,
    BillingPayloadError,
    NotAuthenticatedError,
    PinStoreError,
)
from billing_core.presentation import DEFAULT_COMMAND_HINTS
from billing_core.resolution import BYTEROVER_PROVIDER

if TYPE_CHECKING:
    from billing_core.adapters.brv_project import BrvProject
    from billing_core.adapters.http import HttpBillingService, HttpTeamService
    from billing_core.adapters.pin_file import FilePinStore
    from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage, Team
    from billing_core.ports import BillingService

__all__ = [
    "ENV_ACTIVE_PROVIDER",
    "ENV_BILLING_BASE_URL",
    "ENV_DATA_DIR",
    "ENV_IAM_BASE_URL",
    "ENV_SESSION_KEY",
    "ENV_WEB_APP_URL",
    "PIN_FILE",
    "SIGN_IN_COMMAND",
]


PIN_FILE: Final = ".brv/brv-provider.json"
"""Where a project's pin lives, relative to the project's root."""

SIGN_IN_COMMAND: Final = DEFAULT_COMMAND_HINTS.sign_in
"""How a user signs in (``brv login``): billing-core reads the login the brv CLI stores."""

# --- failures -------------------------------------------------------------------


def _signed_out(detail: str, *, kind: str = "not-signed-in") -> _CliError:
    return _CliError(EXIT_NOT_SIGNED_IN, f"not signed in: {detail}", kind=kind)


_NO_SESSION: Final = f"run `{SIGN_IN_COMMAND}`, or set {ENV_SESSION_KEY} to your session key"

SessionSource: TypeAlias = Literal["environment", "brv login"]


def _refused(exc: BillingAuthError | None, *, source: SessionSource | None) -> _CliError:
    """The session was sent and refused (401/403): one wording for every command.

    ``exc`` is the refusal, for its HTTP status and message, when it is known.
    """
    fix = (
        f"sign in again and update {ENV_SESSION_KEY}"
        if source == "environment"
        else f"run `{SIGN_IN_COMMAND}` again"
    )
    detail = ""
    if exc is not None:
        status = "" if exc.status_code is None else f"HTTP {exc.status_code}: "
        detail = f" ({status}{exc.message})"
    return _CliError(
        EXIT_NOT_SIGNED_IN, f"the session was refused{detail}: {fix}", kind="session-refused"
    )


def _host(url: str) -> str:
    """``scheme://host[:port]`` of an API URL: what an error names (never a path or a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@contextlib.contextmanager
def _upstream_errors(
    what: str, *, settings: _Settings | None = None, config_kind: str = "bad-endpoint"
) -> Iterator[None]:
    """Turn the library's errors into exit codes and one-line messages.

    ``settings`` names the host a failure came from, and turns a 404 on an API
    path (a wrong base URL, not an outage) into bad usage naming the variable.
    ``config_kind`` is the kind of a :class:`BillingConfigError` met here.
    """
    try:
        yield
    except BillingAuthError as exc:
        source = None if settings is None else settings.session.source
        raise _refused(exc, source=source) from exc
    except NotAuthenticatedError as exc:
        if settings is None:
            raise _signed_out(_NO_SESSION) from exc
        raise settings.signed_out() from exc
    except BillingApiError as exc:
        if settings is not None and exc.status_code == 404:
            raise settings.wrong_base_url(exc) from exc
        where = "" if settings is None else f" ({settings.host_of(exc)})"
        raise _CliError(EXIT_UNAVAILABLE, f"cannot {what}{where}: {exc}") from exc
    except BillingPayloadError as exc:
        raise _CliError(EXIT_UNAVAILABLE, f"cannot {what}: {exc}") from exc
    except BillingConfigError as exc:
        raise _CliError(EXIT_USAGE, str(exc), kind=config_kind) from exc
    except PinStoreError as exc:
        raise _CliError(
            EXIT_USAGE, f"cannot use the project's pin file: {exc}", kind="pin-file-unusable"
        ) from exc


@contextlib.contextmanager
def _named_setting(variable: str) -> Iterator[None]:
    """A service refusing its URL (plain http to a remote host): bad usage naming the variable."""
    try:
        yield
    except BillingConfigError as exc:
        raise _CliError(EXIT_USAGE, f"{variable}: {exc}", kind="bad-endpoint") from exc


# --- settings -------------------------------------------------------------------


@frozen(kw_only=True)
class _Settings:
    """Everything a command needs, read once from the environment, brv's files and the flags.

    ``endpoints`` is ``None`` when a variable is malformed; ``endpoints_problem``
    then says why, and only a command that makes a request fails on it (so
    that a signed-out ``status`` is still "not signed in").
    """

    endpoints: BrvEndpoints | None
    endpoints_problem: str | None = None
    session: _Session
    provider: str
    # Why brv's providers.json could not be used, if it could not.
    provider_problem: str | None = None
    project: BrvProject
    project_given: bool = False
    timeout: float | None  # None: the HTTP adapters' default

    # --- the session ---------------------------------------------------------

    @property
    def session_key(self) -> str | None:
        return self.session.key

    def signed_out(self) -> _CliError:
        """The failure of a command that needs a session and has none."""
        session = self.session
        return _signed_out(session.problem or _NO_SESSION, kind=session.problem_kind)

    def require_session_key(self) -> str:
        if not self.session_key:
            raise self.signed_out()
        return self.session_key

    def needs_billing_requests(self) -> bool:
        """Whether resolving the status asks the billing API anything.

        Only a signed-in session with the ``byterover`` provider active does:
        signed out, or with another provider, the resolution makes no request.
        """
        return bool(self.session_key) and self.provider == BYTEROVER_PROVIDER

    # --- the endpoints -------------------------------------------------------

    def require_endpoints(self) -> BrvEndpoints:
        if self.endpoints is None:
            problem = self.endpoints_problem or "the endpoints are not set"
            raise _CliError(EXIT_USAGE, problem, kind="bad-endpoint")
        return self.endpoints

    def _setting_of(self, exc: BillingApiError) -> tuple[str, str]:
        """The variable and the API URL a failed request used: IAM for the teams, else billing."""
        endpoints = self.require_endpoints()
        if exc.endpoint == label("teams"):
            return ENV_IAM_BASE_URL, endpoints.iam_api_url
        return ENV_BILLING_BASE_URL, endpoints.billing_api_url

    def host_of(self, exc: BillingApiError) -> str:
        """The host a failed request went to."""
        return _host(self._setting_of(exc)[1])

    def wrong_base_url(self, exc: BillingApiError) -> _CliError:
        """A 404 on an API path: bad usage naming the variable to check."""
        variable, url = self._setting_of(exc)
        return _CliError(
            EXIT_USAGE,
            f"{_host(url)} answered 404 to {exc.endpoint}: is {variable} the right root domain?"
            " (it must name the host only; /api/v1 is added)",
            kind="wrong-base-url",
        )

    def billing_host(self) -> str:
        return _host(self.require_endpoints().billing_api_url)

    # --- the project and the services --------------------------------------

    @property
    def pin_path(self) -> Path:
        return self.project.root / PIN_FILE

    def pin_store(self) -> FilePinStore:
        from billing_core.adapters.pin_file import FilePinStore

        with _upstream_errors("use the project directory", config_kind="bad-project"):
            return FilePinStore.for_project(self.project.root)

    def billing_service(self) -> HttpBillingService:
        from billing_core.adapters.http import HttpBillingService

        url = self.require_endpoints().billing_api_url
        with _named_setting(ENV_BILLING_BASE_URL):
            return HttpBillingService(url, timeout=self.http_timeout())

    def team_service(self) -> HttpTeamService:
        from billing_core.adapters.http import HttpTeamService

        url = self.require_endpoints().iam_api_url
        with _named_setting(ENV_IAM_BASE_URL):
            return HttpTeamService(url, timeout=self.http_timeout())

    def http_timeout(self) -> float:
        """``--timeout``, else the HTTP adapters' default."""
        from billing_core.adapters._timeouts import DEFAULT_TIMEOUT

        return DEFAULT_TIMEOUT if self.timeout is None else self.timeout


class _NoBillingService:
    """The billing service of a run that asks nothing (signed out, another provider, a clear).

    So such a run needs no endpoint; a call would be a bug, and says so rather
    than reaching the network.
    """

    def _unused(self) -> NoReturn:
        raise BillingConfigError("the billing endpoint was not needed, so it was not read")

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        self._unused()

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        self._unused()

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        self._unused()

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        self._unused()

    def list_teams(self, session_key: str) -> tuple[Team, ...]:
        self._unused()

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBillingService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class _WatchedBilling:
    """A billing service that remembers a 404 on the usages or the tiers.

    ``resolve_billing`` reports failures as problems, not exceptions; a 404
    there means the base URL is wrong (bad usage), not that billing is down,
    so the command needs the error itself. A 404 on the free-credit limit is
    an answer ("no free credits"), not a wrong URL, and is not watched.
    """

    def __init__(self, inner: BillingService) -> None:
        self._inner = inner
        self.not_found: BillingApiError | None = None
        self.refused: BillingAuthError | None = None

    @contextlib.contextmanager
    def _watching(self, watched: type[BillingApiError]) -> Iterator[None]:
        try:
            yield
        except watched as exc:
            if isinstance(exc, BillingAuthError):
                self.refused = exc
            elif exc.status_code == 404:
                self.not_found = exc
            raise

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        with self._watching(BillingApiError):
            return tuple(self._inner.get_raw_usages(session_key))

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        with self._watching(BillingApiError):
            return tuple(self._inner.get_tiers(session_key))

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        # A 404 there is an answer ("no free credits"); a refusal is not.
        with self._watching(BillingAuthError):
            return self._inner.get_free_user_limit(session_key)

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        return tuple(self._inner.get_usages(session_key))

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _WatchedBilling:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- reading them -----------------------------------------------------------------


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _directory(raw: str, *, what: str) -> Path:
    if not raw.strip():
        raise _CliError(EXIT_USAGE, f"{what}: the directory name is empty", kind="bad-project")
    try:
        path = Path(raw).expanduser()
    except RuntimeError as exc:  # `~someone` with no such user, or no home directory
        raise _CliError(
            EXIT_USAGE, f"{what} {raw}: cannot expand '~': {exc}", kind="bad-project"
        ) from exc
    try:
        resolved = path.resolve()
        # is_dir() swallows only "no such file" errors; a name too long or a
        # directory we may not search raises.
        is_dir = resolved.is_dir()
        exists = is_dir or resolved.exists()
    except (OSError, RuntimeError, ValueError) as exc:
        raise _CliError(EXIT_USAGE, f"{what} {raw}: {exc}", kind="bad-project") from exc
    if not is_dir:
        what_is_wrong = "is not a directory" if exists else "does not exist"
        raise _CliError(EXIT_USAGE, f"{what} {raw}: {what_is_wrong}", kind="bad-project")
    return resolved


def _project(raw: str | None, *, cwd: Path | None) -> tuple[BrvProject, bool]:
    """The project, and whether ``--project`` named where to look for it.

    ``--project DIR`` is found exactly as if run in DIR (like ``git -C``): a
    subdirectory or a linked worktree of a project leads to that project, as
    brv would, so the two never disagree on which pin applies.
    """
    from billing_core.adapters.brv_project import find_brv_project

    try:
        if raw is None:
            return find_brv_project(cwd), False
        return find_brv_project(_directory(raw, what="--project")), True
    except BillingConfigError as exc:
        hint = "" if raw is not None else "; pass --project DIR"
        raise _CliError(
            EXIT_USAGE, f"cannot use the project: {exc}{hint}", kind="bad-project"
        ) from exc


@frozen
class _Session:
    key: str | None = field(repr=False)
    source: SessionSource | None = None
    problem: str | None = None
    problem_kind: str = "not-signed-in"


def _session(environ: Mapping[str, str]) -> _Session:
    """The session key, where it came from, and why there is none (if known)."""
    # Checked here so that every command refuses a mangled key the same way (exit
    # 2), before it could reach a request header. The message never quotes it.
    key = environ.get(ENV_SESSION_KEY) or None
    if key is not None:
        flaw = session_key_flaw(key)
        if flaw is not None:
            raise _CliError(
                EXIT_USAGE,
                f"{ENV_SESSION_KEY} is not a usable session key: it {flaw}",
                kind="bad-session-key",
            )
        return _Session(key, "environment")
    from billing_core.adapters.brv_local import brv_data_dir
    from billing_core.adapters.brv_login import SESSION_EXPIRED, load_brv_login

    read = load_brv_login(data_dir=brv_data_dir(environ=environ)).as_of()
    if read.login is not None:
        return _Session(read.login.session_key, "brv login")
    if read.problem is None:
        return _Session(None)
    if read.problem == SESSION_EXPIRED:
        return _Session(None, problem=read.problem, problem_kind="session-expired")
    problem = f"{read.problem}; run `{SIGN_IN_COMMAND}` again, or set {ENV_SESSION_KEY}"
    return _Session(None, problem=problem, problem_kind="login-unreadable")


@frozen
class _Provider:
    name: str
    # Why brv's providers.json could not be used (then no provider is connected).
    problem: str | None = None


def _provider(args: argparse.Namespace, environ: Mapping[str, str]) -> _Provider:
    """``--provider``, else ``BRV_ACTIVE_PROVIDER``, else brv's ``providers.json``."""
    from billing_core.adapters.brv_providers import check_provider_spelling

    flag: str | None = args.provider
    if flag is not None and not flag.strip():
        # An empty flag is a slip (an unset shell variable), not "no provider".
        raise _CliError(EXIT_USAGE, "--provider: the provider name is empty", kind="bad-provider")
    for given, name in (
        (flag, "--provider"),
        (environ.get(ENV_ACTIVE_PROVIDER), ENV_ACTIVE_PROVIDER),
    ):
        if given is None or not given.strip():
            continue  # an empty variable is unset, as for every other variable
        misspelt = check_provider_spelling(given)
        if misspelt is not None:
            raise _CliError(EXIT_USAGE, f"{name}: {misspelt}", kind="bad-provider")
        return _Provider(given)
    from billing_core.adapters.brv_local import brv_config_dir
    from billing_core.adapters.brv_providers import load_active_provider

    read = load_active_provider(config_dir=brv_config_dir(environ=environ))
    return _Provider(read.provider, read.problem)


def _endpoints(environ: Mapping[str, str]) -> tuple[BrvEndpoints | None, str | None]:
    try:
        return brv_endpoints(environ), None
    except BillingConfigError as exc:
        return None, str(exc)


def _settings(
    args: argparse.Namespace, environ: Mapping[str, str], *, cwd: Path | None = None
) -> _Settings:
    """Read the settings of one run; ``cwd`` is where the project search starts."""
    project, project_given = _project(args.project, cwd=cwd)
    provider = _provider(args, environ)
    session = _session(environ)
    endpoints, endpoints_problem = _endpoints(environ)
    return _Settings(
        endpoints=endpoints,
        endpoints_problem=endpoints_problem,
        session=session,
        provider=provider.name,
        provider_problem=provider.problem,
        project=project,
        project_given=project_given,
        timeout=args.timeout,
    )
