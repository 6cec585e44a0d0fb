"""The brv CLI's active provider, read from its ``providers.json`` (never written); its spelling.

brv keeps the provider it sends LLM requests to in
``<config dir>/providers.json`` (:func:`~billing_core.adapters.brv_local.brv_config_dir`)::

    {"activeProvider": "byterover", "providers": {"byterover": {...}}}

Reading follows brv's own (3.14.0): whenever brv cannot use the file (it is
missing, unreadable, not JSON, or not an object with a string
``activeProvider`` and an object ``providers``) it acts on its default,
``activeProvider: ""``, meaning no provider connected. So does
:func:`read_active_provider`, so that billing_core and brv never disagree on
who is active. A file that is there but unusable is also logged as a
warning on the ``billing_core`` logger, where brv stays silent.

>>> import tempfile
>>> read_active_provider(config_dir=tempfile.mkdtemp())  # no providers.json: brv's default
''
>>> print(check_provider_spelling("ByteRover"))
'ByteRover' is not a provider id; did you mean 'byterover'? Provider ids are matched exactly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

from attrs import frozen

from billing_core._json import json_kind, loads_strict
from billing_core.adapters._small_file import UnreadableFile, read_small_file
from billing_core.adapters.brv_local import brv_config_dir
from billing_core.resolution import BYTEROVER_PROVIDER

__all__ = [
    "NO_PROVIDER",
    "PROVIDERS_FILE",
    "ActiveProviderRead",
    "check_provider_spelling",
    "load_active_provider",
    "read_active_provider",
]

PROVIDERS_FILE: Final = "providers.json"
"""The provider settings, in the config directory."""

NO_PROVIDER: Final = ""
"""brv's default ``activeProvider``: no provider connected."""

# The file lists connected providers and a few models each: kilobytes. The
# bound only keeps a file that cannot be brv's from being read whole.
_MAX_BYTES: Final = 256 * 1024

_logger = logging.getLogger(__name__)


@frozen
class ActiveProviderRead:
    """What reading brv's ``providers.json`` found: the provider id, and why the file
    could not be used if it could not (``provider`` is then :data:`NO_PROVIDER`, as in brv).

    ``problem`` names the file and the reason, never its contents.
    """

    provider: str
    problem: str | None = None


def load_active_provider(*, config_dir: str | os.PathLike[str] | None = None) -> ActiveProviderRead:
    """The brv CLI's active provider id and, when ``providers.json`` is there but
    unusable, why; never raises for what it finds (see :func:`read_active_provider`).

    >>> import tempfile, pathlib
    >>> directory = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (directory / "providers.json").write_text("nope")
    >>> load_active_provider(config_dir=directory).problem.endswith("is not JSON")
    True
    """
    directory = brv_config_dir() if config_dir is None else Path(config_dir)
    path = directory / PROVIDERS_FILE
    try:
        raw = read_small_file(path, limit=_MAX_BYTES)
    except FileNotFoundError:
        return ActiveProviderRead(NO_PROVIDER)
    except UnreadableFile as exc:
        return _unusable(path, exc.reason)
    try:
        # Decoded as brv's Node.js does: bad bytes become U+FFFD and a byte
        # order mark stays, so that JSON.parse and this agree on what is JSON.
        document = loads_strict(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return _unusable(path, "is not JSON")
    if not isinstance(document, dict):
        return _unusable(path, f"is {json_kind(document)}, not a JSON object")
    active, providers = document.get("activeProvider"), document.get("providers")
    if not isinstance(active, str):
        return _unusable(path, "has no string activeProvider")
    # JavaScript's typeof says "object" for an array too, and brv accepts it.
    if not isinstance(providers, dict | list):
        return _unusable(path, "has no object providers")
    return ActiveProviderRead(active)


def read_active_provider(*, config_dir: str | os.PathLike[str] | None = None) -> str:
    """The brv CLI's active provider id, as brv reads it: ``""`` when none is connected.

    ``config_dir`` defaults to :func:`brv_config_dir`. The value is returned
    as written (brv compares it exactly). Never raises for what it finds: a
    missing file, an unreadable one (permissions, a directory or a FIFO in
    its place, more than 256 KiB), invalid JSON, or a document without a
    string ``activeProvider`` and an object ``providers`` all give
    :data:`NO_PROVIDER`, as in brv; all but the missing file are logged
    (:func:`load_active_provider` returns the reason instead).
    """
    read = load_active_provider(config_dir=config_dir)
    if read.problem is not None:
        _logger.warning("%s; reading it as brv does: no provider connected", read.problem)
    return read.provider


def check_provider_spelling(value: str) -> str | None:
    """Why the provider id ``value`` someone typed is a misspelt ``byterover``; else ``None``.

    A value that equals ``byterover`` up to case or surrounding whitespace but
    is not exactly ``byterover`` would silently count as another provider,
    which is never billed: callers refuse it as bad usage with this message,
    which names the right spelling. Every other value passes.

    >>> check_provider_spelling("byterover") is None, check_provider_spelling("openai") is None
    (True, True)
    >>> print(check_provider_spelling(" byterover"))
    ' byterover' is not a provider id; did you mean 'byterover'? Provider ids are matched exactly.
    """
    if value == BYTEROVER_PROVIDER or value.strip().lower() != BYTEROVER_PROVIDER:
        return None
    return (
        f"{value!r} is not a provider id; did you mean {BYTEROVER_PROVIDER!r}?"
        " Provider ids are matched exactly."
    )


def _unusable(path: Path, reason: str) -> ActiveProviderRead:
    shown = str(path) if str(path).isprintable() else repr(str(path))
    return ActiveProviderRead(NO_PROVIDER, f"{shown} {reason}")
