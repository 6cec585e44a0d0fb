"""Settings from the environment and the flags, and the services they open.

Read once per run into a :class:`_Settings`; a bad value is bad usage (exit
2) before any request is made. :func:`_upstream_errors` turns what the library
raises while opening or using those services into exit codes, for the
commands too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from attrs import field, frozen

from billing_core._session import session_key_flaw
from billing_core.cli.exits import (
    EXIT_NOT_SIGNED_IN,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    PROG,
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
from billing_core.models import BillingUsage, FreeUserLimit, OrganizationTier, RawUsage
from billing_core.resolution import BYTEROVER_PROVIDER

if TYPE_CHECKING:
    from billing_core.adapters.http import HttpBillingService, HttpTeamService
    from billing_core.adapters.pin_file import FilePinStore

__all__ = [
    "ENV_ACTIVE_PROVIDER",
    "ENV_BILLING_BASE_URL",
    "ENV_SESSION_KEY",
    "ENV_TEAM_BASE_URL",
    "PIN_FILE",
]

ENV_BILLING_BASE_URL: Final = "BRV_BILLING_BASE_URL"
ENV_TEAM_BASE_URL: Final = "BRV_TEAM_BASE_URL"
ENV_SESSION_KEY: Final = "BRV_SESSION_KEY"
ENV_ACTIVE_PROVIDER: Final = "BRV_ACTIVE_PROVIDER"

PIN_FILE: Final = ".brv/brv-provider.json"

# --- failures -------------------------------------------------------------------


def _signed_out(detail: str) -> _CliError:
    return _CliError(EXIT_NOT_SIGNED_IN, f"not signed in: {detail}")


_NO_SESSION: Final = f"set {ENV_SESSION_KEY} to your session key"


@contextlib.contextmanager
def _upstream_errors(what: str) -> Iterator[None]:
    """Turn the library's errors into exit codes and one-line messages."""
    try:
        yield
    except BillingAuthError as exc:
        raise _signed_out(
            f"the session was refused ({exc.message}); sign in again and update {ENV_SESSION_KEY}"
        ) from exc
    except NotAuthenticatedError as exc:
        raise _signed_out(_NO_SESSION) from exc
    except (BillingApiError, BillingPayloadError) as exc:
        raise _CliError(EXIT_UNAVAILABLE, f"cannot {what}: {exc}") from exc
    except BillingConfigError as exc:
        raise _CliError(EXIT_USAGE, str(exc)) from exc
    except PinStoreError as exc:
        raise _CliError(EXIT_USAGE, f"cannot use the project's pin file: {exc}") from exc


# --- settings -------------------------------------------------------------------


@frozen(kw_only=True)
class _Settings:
    """Everything a command needs, read once from the environment and the arguments."""

    base_url: str | None
    team_base_url: str | None
    session_key: str | None = field(repr=False)
    provider: str
    project: Path
    timeout: float | None  # None: the HTTP adapters' default

    def require_base_url(self) -> str:
        if not self.base_url:
            raise _CliError(
                EXIT_USAGE,
                f"{ENV_BILLING_BASE_URL} is not set: point it at the billing API "
                f"(e.g. https://api.example.com/api/v1), or try `{PROG} demo`",
            )
        return self.base_url

    def require_session_key(self) -> str:
        if not self.session_key:
            raise _signed_out(_NO_SESSION)
        return self.session_key

    def pin_store(self) -> FilePinStore:
        from billing_core.adapters.pin_file import FilePinStore

        with _upstream_errors("use the project directory"):
            return FilePinStore(self.project / ".brv")

    def billing_service(self) -> HttpBillingService:
        from billing_core.adapters.http import HttpBillingService

        with _upstream_errors("reach the billing service"):
            return HttpBillingService(self.require_base_url(), timeout=self.http_timeout())

    def needs_billing_requests(self) -> bool:
        """Whether resolving the status asks the billing API anything.

        Only a signed-in session with the ``byterover`` provider active does:
        signed out, or with another provider, the resolution makes no request.
        """
        return bool(self.session_key) and self.provider == BYTEROVER_PROVIDER

    def team_service(self) -> HttpTeamService:
        from billing_core.adapters.http import HttpTeamService

        base = self.team_base_url or self.require_base_url()
        with _upstream_errors("reach the team service"):
            return HttpTeamService(base, timeout=self.http_timeout())

    def http_timeout(self) -> float:
        """``--timeout``, else the HTTP adapters' default."""
        from billing_core.adapters._timeouts import DEFAULT_TIMEOUT

        return DEFAULT_TIMEOUT if self.timeout is None else self.timeout


class _NoBillingService:
    """The billing service of a resolution that asks nothing (signed out, another provider).

    So ``status`` needs no base URL when it makes no request; a call would be a
    bug, and says so rather than reaching the network.
    """

    def _unused(self) -> NoReturn:
        raise BillingConfigError(f"{ENV_BILLING_BASE_URL} was not needed, so it was not read")

    def get_raw_usages(self, session_key: str) -> tuple[RawUsage, ...]:
        self._unused()

    def get_tiers(self, session_key: str) -> tuple[OrganizationTier, ...]:
        self._unused()

    def get_free_user_limit(self, session_key: str) -> FreeUserLimit:
        self._unused()

    def get_usages(self, session_key: str) -> tuple[BillingUsage, ...]:
        self._unused()

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBillingService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _project_dir(raw: str | None) -> Path:
    if raw is None:
        try:
            text = os.getcwd()
        except OSError as exc:  # run from a directory that was removed since
            raise _CliError(
                EXIT_USAGE, f"cannot use the current directory ({exc.strerror}): pass --project DIR"
            ) from exc
    else:
        text = raw
    if not text.strip():
        raise _CliError(EXIT_USAGE, "--project: the directory name is empty")
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # `~someone` with no such user, or no home directory
        raise _CliError(EXIT_USAGE, f"--project {text}: cannot expand '~': {exc}") from exc
    try:
        resolved = path.resolve()
        # is_dir() swallows only "no such file" errors; a name too long or a
        # directory we may not search raises.
        is_dir = resolved.is_dir()
        exists = is_dir or resolved.exists()
    except (OSError, RuntimeError, ValueError) as exc:
        raise _CliError(EXIT_USAGE, f"--project {text}: {exc}") from exc
    if not is_dir:
        what = "is not a directory" if exists else "does not exist"
        raise _CliError(EXIT_USAGE, f"--project {text}: {what}")
    return resolved


def _session_key(environ: Mapping[str, str]) -> str | None:
    # Checked here so that every command refuses a mangled key the same way (exit
    # 2), before it could reach a request header. The message never quotes it.
    key = environ.get(ENV_SESSION_KEY) or None
    if key is None:
        return None
    flaw = session_key_flaw(key)
    if flaw is None:
        return key
    raise _CliError(EXIT_USAGE, f"{ENV_SESSION_KEY} is not a usable session key: it {flaw}")


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> _Settings:
    provider_arg: str | None = args.provider
    provider = provider_arg if provider_arg is not None else _env(environ, ENV_ACTIVE_PROVIDER)
    return _Settings(
        base_url=_env(environ, ENV_BILLING_BASE_URL),
        team_base_url=_env(environ, ENV_TEAM_BASE_URL),
        session_key=_session_key(environ),
        provider=BYTEROVER_PROVIDER if provider is None else provider.strip(),
        project=_project_dir(args.project),
        timeout=args.timeout,
    )
