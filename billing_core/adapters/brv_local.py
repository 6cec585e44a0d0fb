r"""Where the brv CLI keeps its files on this machine: its data and its config directories.

The rules are the published brv CLI's (``byterover-cli`` 3.14.0), so that
billing_core finds the files brv wrote, on every platform:

- ``brv_data_dir()`` (the login): ``$BRV_DATA_DIR`` when set, on every
  platform; else on Linux ``$XDG_DATA_HOME/brv`` or ``~/.local/share/brv``;
  on macOS ``~/Library/Application Support/brv``; on Windows
  ``%LOCALAPPDATA%\brv`` or ``~\AppData\Local\brv``; elsewhere
  ``~/.local/share/brv``.
- ``brv_config_dir()`` (``providers.json``; no override): on Linux
  ``$XDG_CONFIG_HOME/brv`` or ``~/.config/brv``; on macOS
  ``~/Library/Application Support/brv``; on Windows ``%APPDATA%\brv`` or
  ``~\AppData\Roaming\brv``; elsewhere ``~/.config/brv``.

One deviation, on purpose: brv uses an XDG variable as soon as it is set,
even to ``""`` (giving the relative directory ``brv``, wherever brv happens
to run). Here an XDG variable that is empty or relative counts as unset, as
the XDG Base Directory specification requires; so does an empty
``BRV_DATA_DIR``, ``LOCALAPPDATA`` or ``APPDATA``. Like brv, the XDG
variables count on Linux only (not on macOS, not on the BSDs).

These are not platformdirs' answers, which is why it is not used: on macOS
its config directory was ``~/Library/Preferences`` before 3.0 and recent
versions honour the XDG variables there, which brv ignores; on Windows its
config directory is the *local* AppData (brv's is the roaming one), under an
author folder by default, and it asks the shell rather than reading
``%APPDATA%`` / ``%LOCALAPPDATA%``; and it applies XDG on every Unix.

``environ``, ``platform`` (a :data:`sys.platform` value) and ``home`` are
there for tests: the platform's path rules follow ``platform``.

>>> print(brv_data_dir(environ={}, platform="linux", home="/home/ada"))
/home/ada/.local/share/brv
>>> print(brv_data_dir(environ={"XDG_DATA_HOME": ""}, platform="linux", home="/home/ada"))
/home/ada/.local/share/brv
>>> print(brv_config_dir(environ={}, platform="win32", home=r"C:\Users\ada"))
C:\Users\ada\AppData\Roaming\brv
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Final

__all__ = ["ENV_DATA_DIR", "brv_config_dir", "brv_data_dir"]

ENV_DATA_DIR: Final = "BRV_DATA_DIR"
"""The variable that overrides the data directory, as in brv."""

_BRV: Final = "brv"
"""The directory brv names after itself, in each base directory."""

_MACOS_BASE: Final = ("Library", "Application Support")


def brv_data_dir(
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Path:
    """The brv CLI's data directory, where it keeps its login (``credentials``, ``.token-key``).

    ``environ`` defaults to :data:`os.environ`, ``platform`` to
    :data:`sys.platform`, ``home`` to the user's home directory (looked up only
    when a rule needs it). The rules are in the module's documentation.
    """
    env = os.environ if environ is None else environ
    override = _set(env, ENV_DATA_DIR)
    if override is not None:
        return Path(override)  # used as given, relative or not, as brv does
    return _base_dir(
        env,
        platform,
        home,
        windows=("LOCALAPPDATA", ("AppData", "Local")),
        linux=("XDG_DATA_HOME", (".local", "share")),
    )


def brv_config_dir(
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Path:
    """The brv CLI's config directory, where it keeps ``providers.json``.

    Arguments as for :func:`brv_data_dir`; there is no ``BRV_CONFIG_DIR``
    override (brv has none).
    """
    env = os.environ if environ is None else environ
    return _base_dir(
        env,
        platform,
        home,
        windows=("APPDATA", ("AppData", "Roaming")),
        linux=("XDG_CONFIG_HOME", (".config",)),
    )


def _base_dir(
    environ: Mapping[str, str],
    platform: str | None,
    home: str | os.PathLike[str] | None,
    *,
    windows: tuple[str, tuple[str, ...]],
    linux: tuple[str, tuple[str, ...]],
) -> Path:
    system = sys.platform if platform is None else platform
    flavour: Callable[..., PurePath] = PureWindowsPath if system == "win32" else PurePosixPath

    def under_home(*parts: str) -> Path:
        return _native(flavour(Path.home() if home is None else home, *parts, _BRV))

    if system == "win32":
        variable, fallback = windows
        value = _set(environ, variable)
        return _native(flavour(value, _BRV)) if value is not None else under_home(*fallback)
    if system == "darwin":
        return under_home(*_MACOS_BASE)
    variable, fallback = linux
    value = _set(environ, variable) if system.startswith("linux") else None
    if value is not None and PurePosixPath(value).is_absolute():
        return _native(flavour(value, _BRV))
    return under_home(*fallback)


def _native(path: PurePath) -> Path:
    # Through str: Path() given a PurePath of the other flavour (a test
    # injecting "win32" on Linux) would re-split its parts with its own rules.
    return Path(str(path))


def _set(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or ``None`` when it is unset or empty."""
    return environ.get(name) or None
