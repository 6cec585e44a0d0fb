"""A directory opened without following links, and the only file calls the pin store makes in it.

A repository can ship ``.brv`` or a file in it as a symbolic link (to
``~/.bashrc``, to ``/dev/zero``, to nowhere), a FIFO or a device. A
:class:`Folder` never follows a link, neither at the directory itself nor at
a name in it, and :meth:`Folder.open_regular` only ever hands back a
descriptor of a regular file, opened without blocking. On POSIX every call is
made relative to a descriptor of the directory with ``O_NOFOLLOW``, so a
directory swapped for a link after it was opened redirects nothing. Where
that is not available (Windows) each name is checked with ``lstat`` just
before use: the same refusals, without that guarantee against a concurrent swap.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "link").symlink_to("/dev/zero")
>>> with Folder.open(root) as folder:
...     folder.open_regular("link", os.O_RDONLY)
Traceback (most recent call last):
  ...
billing_core.adapters._folder.NotFollowed: .../link is a symbolic link, which is never followed
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Final, Self

from billing_core.ports import Closing

__all__ = ["Folder", "NotFollowed", "read_at_most"]

_NOFOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: Final[int] = getattr(os, "O_DIRECTORY", 0)
# Opening a FIFO for reading waits for a writer, and a device may too, unless
# the open is non-blocking; for a regular file the flag changes nothing.
_NONBLOCK: Final[int] = getattr(os, "O_NONBLOCK", 0)
_ALWAYS: Final[int] = (
    getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
)

_RELATIVE_CALLS: Final = bool(
    _NOFOLLOW
    and _DIRECTORY
    and {os.open, os.stat, os.unlink, os.rename} <= os.supports_dir_fd
    and os.listdir in os.supports_fd
)


def _kind(found: os.stat_result) -> str:
    if _is_link(found):
        return "a symbolic link"
    kinds = (
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(found.st_mode)), "an unknown kind of file")


def _is_link(found: os.stat_result) -> bool:
    # Windows junctions and other reparse points redirect like links do.
    reparse = getattr(found, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_REPARSE_POINT
    return stat.S_ISLNK(found.st_mode) or bool(reparse)


def _refuse_unless(
    path: Path, found: os.stat_result, is_expected: Callable[[int], bool], *, expected: str
) -> None:
    if _is_link(found) or not is_expected(found.st_mode):
        raise NotFollowed(path, _kind(found), expected=expected)


class NotFollowed(OSError):
    """``path`` is not what it must be (a link, a FIFO, a device...): refused, never opened
    through. ``kind`` says what it is, e.g. ``"a symbolic link"``."""

    def __init__(self, path: Path, kind: str, *, expected: str = "a regular file") -> None:
        self.path = path
        self.kind = kind
        self.expected = expected
        super().__init__(errno.EPERM, self.describe(str(path)))

    def describe(self, subject: str) -> str:
        """The refusal as a clause about ``subject`` (the path, or ``"it"``)."""
        if self.kind == "a symbolic link":
            return f"{subject} is a symbolic link, which is never followed"
        return f"{subject} is {self.kind}, not {self.expected}"

    def __str__(self) -> str:
        return self.describe(str(self.path))


class Folder(Closing):
    """An open directory whose names are looked up without following links.

    Made by :meth:`open`; close it, or use it in a ``with`` block.
    """

    def __init__(self, path: Path, fd: int | None) -> None:
        self._path = path
        self._fd = fd  # None where calls relative to a directory are not available

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open the directory ``path`` (its parents may be links, ``path`` itself not).

        Raises ``FileNotFoundError`` when it is missing, :class:`NotFollowed`
        when it is a link, another ``OSError`` (e.g. ``NotADirectoryError``)
        when it cannot be opened as a directory.
        """
        if not _RELATIVE_CALLS:
            found = os.lstat(path)
            if _is_link(found):
                raise NotFollowed(path, "a symbolic link", expected="a directory")
            if not stat.S_ISDIR(found.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
            return cls(path, None)
        try:
            fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _ALWAYS)
        except OSError:
            if os.path.islink(path):
                raise NotFollowed(path, "a symbolic link", expected="a directory") from None
            raise
        return cls(path, fd)

    def close(self) -> None:
        """Release the directory's descriptor (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    @property
    def path(self) -> Path:
        """The directory's path, for messages."""
        return self._path

    def open_regular(self, name: str, flags: int, mode: int = 0o666) -> tuple[int, os.stat_result]:
        """Open the regular file ``name`` without following a link and without
        blocking; return its descriptor and its ``fstat``.

        A link, FIFO, device, socket or directory there raises
        :class:`NotFollowed` and is never opened for what it points to.
        ``flags`` may hold ``O_CREAT``: a missing file without it raises
        ``FileNotFoundError``; with ``O_EXCL`` too, anything already at
        ``name`` (a link included) raises ``FileExistsError``.
        """
        path = self.path_of(name)
        if not flags & os.O_EXCL:  # O_CREAT | O_EXCL refuses whatever is there, links too
            # Looked at before opening: opening a device or a FIFO may itself act.
            try:
                _refuse_unless(path, self._lstat(name), stat.S_ISREG, expected="a regular file")
            except FileNotFoundError:
                if not flags & os.O_CREAT:
                    raise
        fd = self._open(name, flags | _NONBLOCK, mode)
        try:
            # Checked again on what was opened: the name may have changed since.
            found = os.fstat(fd)
            _refuse_unless(path, found, stat.S_ISREG, expected="a regular file")
        except BaseException:
            os.close(fd)
            raise
        return fd, found

    def _open(self, name: str, flags: int, mode: int = 0o666) -> int:
        if self._fd is None:
            return os.open(self.path_of(name), flags | _ALWAYS, mode)
        try:
            return os.open(name, flags | _NOFOLLOW | _ALWAYS, mode, dir_fd=self._fd)
        except OSError as exc:
            if exc.errno != errno.EEXIST and self._is_link(name):
                raise NotFollowed(self.path_of(name), "a symbolic link") from None
            raise

    def _is_link(self, name: str) -> bool:
        try:
            return _is_link(self._lstat(name))
        except OSError:
            return False

    def _lstat(self, name: str) -> os.stat_result:
        if self._fd is None:
            return os.lstat(self.path_of(name))
        return os.stat(name, dir_fd=self._fd, follow_symlinks=False)

    def set_mode(self, fd: int, name: str, mode: int) -> None:
        """Set the permission bits of ``name``, opened as ``fd``."""
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:  # Windows: by name, which lstat checked when it was opened
            os.chmod(self.path_of(name), mode)

    def path_of(self, name: str) -> Path:
        """The path of ``name`` in this directory, for messages and results."""
        return self._path / name

    def names(self) -> list[str]:
        """The names in the directory."""
        return os.listdir(self._path if self._fd is None else self._fd)

    def unlink(self, name: str) -> None:
        """Remove ``name`` (a link is removed, never what it points to)."""
        if self._fd is None:
            os.unlink(self.path_of(name))
        else:
            os.unlink(name, dir_fd=self._fd)

    def replace(self, source: str, target: str) -> None:
        """Rename ``source`` over ``target`` atomically (a link at ``target`` is
        replaced, never written through)."""
        if self._fd is None:
            os.replace(self.path_of(source), self.path_of(target))
        else:
            os.replace(source, target, src_dir_fd=self._fd, dst_dir_fd=self._fd)

    def fsync(self) -> None:
        """Make renames in the directory durable, where the platform allows (best effort)."""
        if self._fd is None:
            return  # Windows cannot open a directory for fsync
        with contextlib.suppress(OSError):
            os.fsync(self._fd)


def read_at_most(fd: int, limit: int) -> bytes | None:
    """Everything ``fd`` holds, or ``None`` as soon as it holds more than ``limit`` bytes.

    Never reads more than ``limit + 1`` bytes, whatever the file claims its size is.
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(1 << 16, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
