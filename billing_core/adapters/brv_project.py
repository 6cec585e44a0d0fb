"""The project a directory is in, found as the brv CLI finds it: the first ``.brv`` up the tree.

Like git with ``.git``, brv (its ``resolveProject``, 3.14.0) walks up from the
working directory to the *first* ``.brv`` and never past it:

- a ``.brv/`` directory: that directory is the project (``"direct"``);
- a ``.brv`` *file*: a linked worktree's pointer, ``{"projectRoot": "<path>"}``,
  followed to the parent project, whose ``.brv/`` holds the pin (``"linked"``);
- no ``.brv`` up to the root: the start directory itself (``"cwd"``).

Two deviations, both on purpose. brv also requires ``.brv/config.json`` (and
treats a ``.brv/`` without it as no project); a pin written by billing_core
alone has no ``config.json``, so any ``.brv/`` directory counts here. And a
relative ``projectRoot`` (brv only ever writes absolute ones) is read
relative to the pointer's directory, not to wherever the program runs.

Everything is read, nothing written. Paths are resolved once (``realpath``),
so a symbolic link loop is an error, never a hang; a ``.brv`` that is a
symbolic link, a FIFO or a device is refused, never followed or opened (brv
stops there too), and a pointer file is read only up to 16 KiB.

>>> import tempfile, pathlib
>>> project = pathlib.Path(tempfile.mkdtemp()).resolve()
>>> (project / ".brv").mkdir()
>>> (project / "src" / "deep").mkdir(parents=True)
>>> found = find_brv_project(project / "src" / "deep")
>>> found.root == project, found.source
(True, 'direct')
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final, Literal, TypeAlias

from attrs import frozen

from billing_core._json import loads_strict
from billing_core.adapters._small_file import UnreadableFile, read_small_file
from billing_core.errors import BillingConfigError

__all__ = ["BRV_DIR", "BrvProject", "ProjectSource", "find_brv_project"]

BRV_DIR: Final = ".brv"
"""A project's directory (or, as a file, a worktree's pointer to its project)."""

ProjectSource: TypeAlias = Literal["direct", "linked", "cwd"]
"""How the project was found: its own ``.brv/``, a worktree pointer, or no ``.brv`` at all."""

# A pointer holds one path: a few hundred bytes, pretty-printed.
_MAX_POINTER_BYTES: Final = 16 * 1024
_POINTER_KEY: Final = "projectRoot"


@frozen
class BrvProject:
    """The project a directory belongs to.

    ``root`` is the project's directory, whose ``.brv/`` (:attr:`brv_dir`)
    holds the pin; ``worktree_root`` is the directory the user works in: the
    project's root, or a linked worktree's (the directory of its pointer).
    With ``source`` ``"cwd"`` no ``.brv`` was found and both are the start
    directory. Every path is absolute and resolved.
    """

    root: Path
    source: ProjectSource
    worktree_root: Path

    @property
    def brv_dir(self) -> Path:
        """``<root>/.brv``, the directory of the pin file (it may not exist yet)."""
        return self.root / BRV_DIR


def find_brv_project(start: str | os.PathLike[str] | None = None) -> BrvProject:
    """The project ``start`` (default: the working directory) belongs to, as brv resolves it.

    Walks up from ``start`` to the first ``.brv`` (see the module's
    documentation). A ``.brv/`` directory counts with or without
    ``.brv/config.json``. Raises :class:`~billing_core.BillingConfigError`,
    naming the path, when ``start`` is not a usable directory, when the first
    ``.brv`` is neither a directory nor a regular file (a symbolic link, a
    FIFO...), when a worktree pointer is malformed (unreadable, larger than
    16 KiB, not JSON, no non-empty string ``projectRoot``) and when the
    directory it names does not exist or has no ``.brv/`` directory.
    """
    origin = _start_directory(start)
    for directory in (origin, *origin.parents):
        candidate = directory / BRV_DIR
        found = _lstat(candidate)
        if found is None:
            continue
        if stat.S_ISDIR(found.st_mode):
            return BrvProject(root=directory, source="direct", worktree_root=directory)
        if stat.S_ISREG(found.st_mode):
            return BrvProject(root=_follow(candidate), source="linked", worktree_root=directory)
        raise BillingConfigError(
            f"{_shown(candidate)} is {_kind(found)}, neither a project's .brv directory"
            " nor a worktree pointer file; it is never followed"
        )
    return BrvProject(root=origin, source="cwd", worktree_root=origin)


def _start_directory(start: str | os.PathLike[str] | None) -> Path:
    try:
        given = os.getcwd() if start is None else os.fspath(start)
        resolved = Path(os.path.realpath(given, strict=True))
    except OSError as exc:
        what = "the working directory" if start is None else _shown(Path(os.fspath(start)))
        raise BillingConfigError(f"{what} cannot be used ({_why(exc)})") from None
    except ValueError:  # a NUL in the path
        raise BillingConfigError("the start directory's path contains a NUL character") from None
    if not resolved.is_dir():
        raise BillingConfigError(f"{_shown(resolved)} is not a directory")
    return resolved


def _follow(pointer: Path) -> Path:
    """The project root the worktree pointer names, resolved; it has a ``.brv/`` directory."""
    try:
        raw = read_small_file(pointer, limit=_MAX_POINTER_BYTES, follow_links=False)
    except FileNotFoundError:
        raise _malformed(pointer, "it was removed while being read") from None
    except UnreadableFile as exc:
        raise _malformed(pointer, f"it {exc.reason}") from None
    try:
        document = loads_strict(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        raise _malformed(pointer, "it is not JSON") from None
    named = document.get(_POINTER_KEY) if isinstance(document, dict) else None
    if not isinstance(named, str) or not named:
        raise _malformed(pointer, f'it has no "{_POINTER_KEY}" path')
    target = pointer.parent / named  # an absolute path replaces the pointer's directory
    try:
        root = Path(os.path.realpath(target, strict=True))
    except (OSError, ValueError):
        raise _broken(pointer, target, "which does not exist") from None
    brv = _lstat(root / BRV_DIR)
    if brv is None or not stat.S_ISDIR(brv.st_mode):
        raise _broken(pointer, root, f"which has no {BRV_DIR} directory")
    return root


def _malformed(pointer: Path, reason: str) -> BillingConfigError:
    return BillingConfigError(
        f"the worktree pointer {_shown(pointer)} is malformed: {reason}. Fix it, or run"
        f" `brv worktree remove` in {_shown(pointer.parent)} to remove it"
    )


def _broken(pointer: Path, target: Path, what: str) -> BillingConfigError:
    return BillingConfigError(
        f"the worktree pointer {_shown(pointer)} names {_shown(target)}, {what}."
        f" Run `brv worktree remove` in {_shown(pointer.parent)} to remove the pointer"
    )


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # absent, or not ours to look at: brv keeps walking too


def _kind(found: os.stat_result) -> str:
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(found.st_mode)), "an unknown kind of file")


def _shown(path: Path) -> str:
    # A repository chooses its directory names and a pointer's contents:
    # control characters are escaped rather than sent to the terminal.
    text = str(path)
    return text if text.isprintable() else repr(text)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
