"""Reading one small file another program owns: a regular file only, never blocking, bounded.

The brv CLI's files (its login, its settings, a worktree pointer) are read
here and never written. Whatever sits in a file's place that is not a regular
file (a FIFO, a device, a socket, a directory) is refused before it is opened
for reading: a FIFO would wait for a writer forever, ``/dev/zero`` would never
end. A file larger than the caller's bound is refused without reading past it.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "small").write_bytes(b"{}")
>>> read_small_file(folder / "small", limit=16)
b'{}'
>>> read_small_file(folder, limit=16)
Traceback (most recent call last):
  ...
billing_core.adapters._small_file.UnreadableFile: ... is a directory, not a regular file
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Final

__all__ = ["UnreadableFile", "read_small_file"]

# Opening a FIFO for reading waits for a writer unless the open is
# non-blocking; for a regular file the flag changes nothing.
_FLAGS: Final[int] = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOFOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0)

_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),
)


class UnreadableFile(Exception):
    """``path`` is there but cannot be used; ``reason`` says why, as the end of a sentence
    about the file (``"is a FIFO, not a regular file"``). Never quotes the file's bytes."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} {reason}")


def read_small_file(path: Path, *, limit: int, follow_links: bool = True) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``follow_links=False`` refuses a symbolic link at ``path`` itself (its
    parents may be links). Raises ``FileNotFoundError`` when nothing is
    there (a dangling link included), :class:`UnreadableFile` otherwise.
    """
    try:
        found = os.stat(path) if follow_links else os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({_why(exc)})") from None
    # Checked before opening: opening a device may itself act.
    _require_regular(path, found)
    try:
        fd = os.open(path, _FLAGS | (0 if follow_links else _NOFOLLOW))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise UnreadableFile(path, "is a symbolic link, which is never followed") from None
        raise UnreadableFile(path, f"cannot be read ({_why(exc)})") from None
    try:
        # Checked again on what was opened: the name may have changed since.
        _require_regular(path, os.fstat(fd))
        data = _read_at_most(fd, limit)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({_why(exc)})") from None
    finally:
        os.close(fd)
    if data is None:
        raise UnreadableFile(path, f"is larger than {limit:,} bytes")
    return data


def _require_regular(path: Path, found: os.stat_result) -> None:
    if stat.S_ISREG(found.st_mode):
        return
    kind = next((name for test, name in _KINDS if test(found.st_mode)), "an unknown kind of file")
    if kind == "a symbolic link":
        raise UnreadableFile(path, "is a symbolic link, which is never followed")
    raise UnreadableFile(path, f"is {kind}, not a regular file")


def _read_at_most(fd: int, limit: int) -> bytes | None:
    # Never more than limit + 1 bytes, whatever the file claims its size is.
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(1 << 16, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None
    return b"".join(chunks)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
