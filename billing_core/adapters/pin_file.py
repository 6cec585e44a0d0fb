"""The pin file: ``<project>/.brv/brv-provider.json``, shared with other tools.

:class:`FilePinStore` owns one key of that file, ``billing.pinnedTeamId``, and
keeps every other key, at every level, in its order. Each write is a locked,
atomic read-modify-write, so concurrent writers (threads or processes) never
lose an update and readers never see a torn file.

>>> import tempfile, pathlib
>>> brv = pathlib.Path(tempfile.mkdtemp()) / ".brv"
>>> store = FilePinStore(brv)
>>> store.get_pinned_team_id() is None
True
>>> store.set_pinned_team_id("team-42")
>>> store.get_pinned_team_id()
'team-42'
>>> print(store.path.read_text(), end="")
{
  "billing": {
    "pinnedTeamId": "team-42"
  }
}
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import math
import os
import re
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from attrs import frozen

from billing_core._json import NotStrictJson, json_kind, loads_strict
from billing_core.adapters._folder import Folder, NotFollowed, read_at_most
from billing_core.errors import BillingConfigError, PinStoreError
from billing_core.ports import PinRead

__all__ = ["MAX_PIN_FILE_BYTES", "PIN_FILE_NAME", "FilePinStore"]

PIN_FILE_NAME = "brv-provider.json"
"""The file name inside the ``.brv`` directory."""

_BRV_DIR_NAME: Final = ".brv"

MAX_PIN_FILE_BYTES: Final = 4 * 1024 * 1024
"""The largest pin file read (4 MiB); a larger one is refused without being read whole."""

_LOCK_SUFFIX = ".lock"
_BACKUP_INFIX = ".corrupt-"
_TEMP_PREFIX = f".{PIN_FILE_NAME}."
_TEMP_TOKEN_BYTES = 6
_TEMP_SUFFIX = ".tmp"
# Exactly the names _replace gives its temporary files, and nothing else.
_TEMP_NAME: Final = re.compile(
    rf"{re.escape(_TEMP_PREFIX)}[0-9a-f]{{{2 * _TEMP_TOKEN_BYTES}}}{re.escape(_TEMP_SUFFIX)}"
)

_BILLING = "billing"
_PINNED_TEAM_ID = "pinnedTeamId"

_logger = logging.getLogger(__name__)

Document = dict[str, Any]
"""A parsed pin file: a JSON object, in file order."""


@frozen
class _Snapshot:
    """The file as found: its bytes, its object (``{}`` when unusable) and its pin."""

    raw: bytes
    document: Document
    pin: PinRead
    # The bytes hold something a rewrite would drop: corrupt content or
    # duplicate keys. They are copied to a backup before any write.
    needs_backup: bool
    # The file's permission bits, kept across a rewrite; None when there is no file.
    mode: int | None = None
    # Why a write must leave the file alone (it was not read whole); None when it may go on.
    refusal: str | None = None


def _nothing() -> _Snapshot:
    """No file: no pin, nothing to keep (a fresh object, since ``update`` gets it)."""
    return _Snapshot(raw=b"", document={}, pin=PinRead(None), needs_backup=False)


_TOO_LARGE: Final = (
    f"it is larger than {MAX_PIN_FILE_BYTES >> 20} MiB, the most a pin file may hold"
)


def _too_large(*, where: str, mode: int) -> _Snapshot:
    return _Snapshot(
        raw=b"",
        document={},
        pin=PinRead(None, f"pin file {where} was not read: {_TOO_LARGE}"),
        needs_backup=False,
        mode=mode,
        refusal=_TOO_LARGE,
    )


class FilePinStore:
    """The :class:`~billing_core.ports.PinStore` backed by ``<brv_dir>/brv-provider.json``.

    ``brv_dir`` is the project's ``.brv`` directory and must be absolute;
    ``lock_timeout`` is how long a write waits for another writer, in seconds
    (a finite number >= 0).

    Reading never writes and never locks. A missing directory, a missing or
    blank file, ``null`` values and an empty-string pin all mean "no pin". A
    corrupt file (not strict JSON, e.g. ``NaN`` or a number too large for a
    float such as ``1e400``; not an object; ``billing`` not an object;
    ``pinnedTeamId`` not a string) also reads as no pin; :meth:`read_pin`
    says why, and :meth:`get_pinned_team_id` logs a warning on the
    ``billing_core`` logger. A file that cannot be read at all (permissions,
    a directory in its place) raises :class:`~billing_core.PinStoreError`.

    The project may be hostile (a cloned repository ships its ``.brv``), so
    nothing in it is followed or trusted to be a plain file:

    - a symbolic link is never followed, neither as the ``.brv`` directory
      nor as the pin file nor as the lock file (``O_NOFOLLOW``, every name
      looked up in the opened directory): reading and writing raise
      :class:`~billing_core.PinStoreError`, nothing outside ``.brv`` is read,
      created or replaced, and a backup only ever holds bytes of a regular
      file inside ``.brv``. Only the parents of ``.brv`` may be links. (Where
      the OS lacks ``O_NOFOLLOW``, on Windows, each name is checked just
      before use instead.);
    - anything but a regular file (a FIFO, a device, a socket, a directory)
      at the pin or lock path raises :class:`~billing_core.PinStoreError`
      at once: files are opened without blocking and checked before use;
    - a pin file larger than :data:`MAX_PIN_FILE_BYTES` (4 MiB) is not read:
      :meth:`read_pin` reports it as a problem (no pin), and every write
      raises :class:`~billing_core.PinStoreError` and leaves it as it is. At
      most 4 MiB and one byte are ever read, whatever the file's size says.

    Writing creates the directory, keeps every key it does not own, drops
    ``billing`` once it is empty and writes pretty-printed strict JSON (no
    ``NaN`` or ``Infinity``, which other readers reject) through a
    temporary file (``.brv-provider.json.<random>.tmp``, fsynced, then
    ``os.replace``). Before rewriting a corrupt file it copies the bytes to
    ``brv-provider.json.corrupt-<UTC time>[-n]`` beside it (never over an
    earlier backup), logs a warning and records the path in
    :attr:`last_backup_path`. Clearing a pin that is not there writes nothing.

    Writers are serialised by a lock on ``brv-provider.json.lock``: an
    advisory ``flock`` across processes (``msvcrt.locking`` on Windows) plus
    a per-file :class:`threading.Lock` in-process. The lock file is left in
    place on purpose: deleting it would let two writers lock different files.
    A writer creates its temporary file only while it holds the lock and
    renames or removes it before letting go, so a writer that finds
    temporary files of that exact pattern under the lock removes them: they
    were left by writers that were killed.
    """

    reads_without_blocking: Final = True
    """A local file, opened without blocking: the shell reads it in place, no thread hop."""

    def __init__(self, brv_dir: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> None:
        self._directory = _brv_directory(brv_dir)
        self._path = self._directory / PIN_FILE_NAME
        self._lock_path = self._directory / (PIN_FILE_NAME + _LOCK_SUFFIX)
        self._lock_timeout = _check_lock_timeout(lock_timeout)
        self.last_backup_path: Path | None = None
        """Where the last write that met a corrupt file kept its bytes; else ``None``."""

    @classmethod
    def for_project(
        cls, project_dir: str | os.PathLike[str], *, lock_timeout: float = 10.0
    ) -> FilePinStore:
        """The store of the project whose root is ``project_dir``: its ``.brv`` directory.

        ``project_dir`` must be absolute. Passing a ``.brv`` directory itself is
        refused with :class:`~billing_core.BillingConfigError` (it would pin in
        ``.brv/.brv``); to find the project a working directory belongs to, as
        the brv CLI does, see :func:`~billing_core.adapters.brv_project.find_brv_project`.

        >>> import tempfile, pathlib
        >>> project = pathlib.Path(tempfile.mkdtemp())
        >>> FilePinStore.for_project(project).path == project / ".brv" / "brv-provider.json"
        True
        """
        root = _absolute_directory(project_dir, what="the project directory")
        if root.name == _BRV_DIR_NAME:
            raise BillingConfigError(
                f"{str(root)!r} is a .brv directory, not a project: pass the project's root"
                " (the directory that holds .brv)"
            )
        return cls(root / _BRV_DIR_NAME, lock_timeout=lock_timeout)

    @property
    def directory(self) -> Path:
        """The ``.brv`` directory this store writes in."""
        return self._directory

    @property
    def path(self) -> Path:
        """The pin file, ``<directory>/brv-provider.json``."""
        return self._path

    @property
    def lock_path(self) -> Path:
        """The lock file writers hold, ``<directory>/brv-provider.json.lock``."""
        return self._lock_path

    def __repr__(self) -> str:
        return f"FilePinStore({str(self._directory)!r})"

    # -- reading ---------------------------------------------------------

    def read_pin(self) -> PinRead:
        """Read the pin and whether the file has a problem; see :class:`PinRead`.

        Raises :class:`~billing_core.PinStoreError` when the file cannot be read.
        """
        return self._read().pin

    def get_pinned_team_id(self) -> str | None:
        """The pinned team id, or ``None`` (no pin, or a corrupt file: logged as a warning)."""
        read = self.read_pin()
        if read.problem is not None:
            _logger.warning("%s; reading it as no pin", read.problem)
        return read.team_id

    # -- writing ---------------------------------------------------------

    def set_pinned_team_id(self, team_id: str | None) -> None:
        """Pin ``team_id``, or clear the pin with ``None`` (an empty string clears too).

        Raises :class:`~billing_core.PinStoreError` when the file cannot be
        written; the file is then left as it was. A ``team_id`` that is neither
        a string nor ``None`` raises ``TypeError`` before the file is touched.
        """
        if team_id is not None and not isinstance(team_id, str):
            # Written as is, it would turn the file into one this store calls corrupt.
            raise TypeError(f"team_id must be a string or None, not {type(team_id).__name__}")
        if not team_id and not os.path.lexists(self._path):
            return  # nothing to clear: creating a file (or directory) would be noise
        self._rewrite(lambda document: _with_pin(document, team_id or None))

    def update(self, change: Callable[[Document], Document]) -> None:
        """Read-modify-write the whole file under the lock, for co-owners of the file.

        ``change`` receives the current object (``{}`` when the file is missing
        or is not a strict JSON object) and returns the new one; it may run in any
        thread and must not call back into this store. Nothing is written when
        the object is unchanged. A corrupt file is backed up first, as for
        :meth:`set_pinned_team_id`. A result that is not a ``dict`` serialisable
        as strict JSON (``NaN`` and infinities are not) raises
        ``TypeError``/``ValueError`` and writes nothing.

        >>> import tempfile
        >>> store = FilePinStore.for_project(tempfile.mkdtemp())
        >>> store.update(lambda doc: {**doc, "activeProvider": "byterover"})
        >>> store.set_pinned_team_id("team-1")
        >>> json.loads(store.path.read_text())
        {'activeProvider': 'byterover', 'billing': {'pinnedTeamId': 'team-1'}}
        """
        self._rewrite(change)

    # -- internals -------------------------------------------------------

    def _read(self) -> _Snapshot:
        try:
            folder = Folder.open(self._directory)
        except FileNotFoundError:
            return _nothing()
        except OSError as exc:
            raise PinStoreError(f"cannot read pin file {self._path}: {self._why(exc)}") from exc
        with folder:
            return self._snapshot(folder, doing="read")

    def _snapshot(self, folder: Folder, *, doing: str) -> _Snapshot:
        try:
            fd, found = folder.open_regular(PIN_FILE_NAME, os.O_RDONLY)
        except FileNotFoundError:
            return _nothing()
        except OSError as exc:
            raise PinStoreError(f"cannot {doing} pin file {self._path}: {self._why(exc)}") from exc
        try:
            # The size is checked first so that a huge file is not even read in part.
            fits = found.st_size <= MAX_PIN_FILE_BYTES
            raw = read_at_most(fd, MAX_PIN_FILE_BYTES) if fits else None
        except OSError as exc:
            raise PinStoreError(f"cannot {doing} pin file {self._path}: {self._why(exc)}") from exc
        finally:
            os.close(fd)
        mode = stat.S_IMODE(found.st_mode)
        if raw is None:
            return _too_large(where=str(self._path), mode=mode)
        return _parse(raw, where=str(self._path), mode=mode)

    def _rewrite(self, change: Callable[[Document], Document]) -> None:
        with self._locked() as folder:
            self._remove_stale_temporary_files(folder)
            snapshot = self._snapshot(folder, doing="write")
            if snapshot.refusal is not None:
                raise PinStoreError(
                    f"cannot write pin file {self._path}: {snapshot.refusal}; it was left as it is"
                )
            before = _canonical(snapshot.document)
            document = change(snapshot.document)
            if not isinstance(document, dict):
                raise TypeError(f"update() must return a dict, not {type(document).__name__}")
            if not snapshot.needs_backup and _canonical(document) == before:
                return  # unchanged (an empty object in a missing file included)
            content = _serialise(document, where=str(self._path))
            if snapshot.needs_backup:
                self._back_up(folder, snapshot)
            self._replace(folder, content, mode=snapshot.mode)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Folder]:
        # One budget for both locks: the thread lock first, the file lock with what is left.
        deadline = time.monotonic() + self._lock_timeout
        thread_lock = _thread_lock(self._lock_path)
        if not thread_lock.acquire(timeout=min(self._lock_timeout, threading.TIMEOUT_MAX)):
            raise self._timed_out("another thread of this process is writing the pin file")
        try:
            with self._open_directory() as folder:
                fd = self._open_lock_file(folder)
                try:
                    self._acquire(fd, deadline)
                    try:
                        yield folder
                    finally:
                        _unlock_file(fd)
                finally:
                    os.close(fd)
        finally:
            thread_lock.release()

    def _open_directory(self) -> Folder:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            return Folder.open(self._directory)
        except (FileExistsError, NotADirectoryError) as exc:
            # mkdir's own words ("File exists") would not say what is in the way.
            raise PinStoreError(
                f"cannot lock pin file {self._path}: {_in_the_way(self._directory)}"
            ) from exc
        except OSError as exc:
            raise PinStoreError(f"cannot lock pin file {self._path}: {self._why(exc)}") from exc

    def _open_lock_file(self, folder: Folder) -> int:
        try:
            fd, _ = folder.open_regular(self._lock_path.name, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise PinStoreError(f"cannot lock pin file {self._path}: {self._why(exc)}") from exc
        return fd

    def _acquire(self, fd: int, deadline: float) -> None:
        pause = 0.001
        while True:
            try:
                if _try_lock_file(fd):
                    return
            except OSError as exc:
                raise PinStoreError(f"cannot lock pin file {self._path}: {_reason(exc)}") from exc
            if time.monotonic() >= deadline:
                raise self._timed_out("another process is writing the pin file")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _timed_out(self, why: str) -> PinStoreError:
        return PinStoreError(
            f"timed out after {self._lock_timeout:g} s waiting for the lock on"
            f" {self._lock_path}: {why}"
        )

    def _why(self, exc: OSError) -> str:
        if isinstance(exc, NotFollowed):
            return exc.describe("it" if exc.path == self._path else str(exc.path))
        return _reason(exc)

    def _remove_stale_temporary_files(self, folder: Folder) -> None:
        # Only a writer holding the lock creates a temporary file, and it renames or
        # removes it before letting go; so under the lock, every one found was left
        # by a writer that died (the OS released its lock).
        try:
            stale = [name for name in folder.names() if _TEMP_NAME.fullmatch(name)]
        except OSError:
            return
        for name in stale:
            try:
                folder.unlink(name)
            except OSError as exc:  # e.g. a directory by that name: not ours to force
                _logger.warning("cannot remove stale %s: %s", folder.path_of(name), _reason(exc))
            else:
                _logger.info("removed %s, left by a writer that was stopped", folder.path_of(name))

    def _back_up(self, folder: Folder, snapshot: _Snapshot) -> None:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{PIN_FILE_NAME}{_BACKUP_INFIX}{stamp}"
        for attempt in range(1, 1000):
            name = base if attempt == 1 else f"{base}-{attempt}"
            try:
                _write_new_file(folder, name, snapshot.raw, mode=snapshot.mode)
            except FileExistsError:
                continue
            except OSError as exc:
                raise PinStoreError(
                    f"cannot back up corrupt pin file {self._path}: {self._why(exc)}"
                ) from exc
            break
        else:
            raise PinStoreError(f"cannot back up corrupt pin file {self._path}: too many backups")
        backup = folder.path_of(name)
        self.last_backup_path = backup
        why = snapshot.pin.problem or "it repeats keys that a rewrite would merge"
        _logger.warning("%s; its bytes were kept in %s before rewriting it", why, backup)

    def _replace(self, folder: Folder, content: bytes, *, mode: int | None) -> None:
        temp: str | None = None
        try:
            for _ in range(100):
                candidate = f"{_TEMP_PREFIX}{secrets.token_hex(_TEMP_TOKEN_BYTES)}{_TEMP_SUFFIX}"
                try:
                    _write_new_file(folder, candidate, content, mode=mode)
                except FileExistsError:
                    continue
                temp = candidate
                break
            if temp is None:
                raise FileExistsError(errno.EEXIST, "no free temporary file name")
            # A rename replaces whatever is at the pin path, never writes through it.
            folder.replace(temp, PIN_FILE_NAME)
            temp = None
        except OSError as exc:
            raise PinStoreError(f"cannot write pin file {self._path}: {self._why(exc)}") from exc
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    folder.unlink(temp)
        folder.fsync()


# -- pure helpers ---------------------------------------------------------


def _absolute_directory(directory: str | os.PathLike[str], *, what: str) -> Path:
    try:
        text = os.fspath(directory)
    except TypeError:
        raise BillingConfigError(f"{what} must be a path, not {type(directory).__name__}") from None
    if not isinstance(text, str):
        raise BillingConfigError(f"{what} must be a text path, not bytes")
    if not text.strip():
        raise BillingConfigError(f"{what} is empty: give an absolute path")
    if "\0" in text:
        raise BillingConfigError(f"{what} contains a NUL character")
    if not os.path.isabs(text):
        raise BillingConfigError(f"{what} must be an absolute path, not {text!r}")
    return Path(text)


def _brv_directory(brv_dir: str | os.PathLike[str]) -> Path:
    """``brv_dir``, which must be a ``.brv`` directory: a project's root is refused loudly.

    Given the project's root instead, the store would write a stray
    ``brv-provider.json`` beside the user's code that no reader looks at.
    """
    path = _absolute_directory(brv_dir, what="the .brv directory")
    if path.name != _BRV_DIR_NAME:
        raise BillingConfigError(
            f"{str(path)!r} is not a .brv directory: FilePinStore takes the project's .brv"
            " directory; for a project's root use FilePinStore.for_project(root)"
        )
    return path


def _check_lock_timeout(lock_timeout: object) -> float:
    if (
        isinstance(lock_timeout, bool)
        or not isinstance(lock_timeout, int | float)
        or not math.isfinite(lock_timeout)
        or lock_timeout < 0
    ):
        raise BillingConfigError(
            f"lock_timeout must be a finite number of seconds >= 0, not {lock_timeout!r}"
        )
    return float(lock_timeout)


def _parse(raw: bytes, *, where: str, mode: int | None) -> _Snapshot:
    def corrupt(problem: str, document: Document | None = None) -> _Snapshot:
        return _Snapshot(
            raw=raw,
            document={} if document is None else document,
            pin=PinRead(None, f"pin file {where} is corrupt: {problem}"),
            needs_backup=True,
            mode=mode,
        )

    def usable(document: Document, pin: str | None, *, lossy: bool = False) -> _Snapshot:
        return _Snapshot(
            raw=raw, document=document, pin=PinRead(pin), needs_backup=lossy, mode=mode
        )

    if not raw.strip():
        # A blank file (e.g. left by a crashed non-atomic writer) holds nothing to lose.
        return usable({}, None)
    duplicates: list[str] = []

    def build_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            duplicates.append("duplicate")
        return result

    try:
        document = loads_strict(raw, finite_floats=True, object_pairs_hook=build_object)
    except NotStrictJson as exc:
        return corrupt(str(exc))
    except (ValueError, RecursionError) as exc:
        return corrupt(f"not valid JSON ({exc})")
    if not isinstance(document, dict):
        return corrupt(f"expected a JSON object, found {json_kind(document)}")
    lossy = bool(duplicates)
    billing = document.get(_BILLING)
    if billing is None:
        return usable(document, None, lossy=lossy)
    if not isinstance(billing, dict):
        return corrupt(f'"billing" should be an object, found {json_kind(billing)}', document)
    team_id = billing.get(_PINNED_TEAM_ID)
    if team_id is not None and not isinstance(team_id, str):
        found = json_kind(team_id)
        return corrupt(f'"billing.pinnedTeamId" should be a string, found {found}', document)
    return usable(document, team_id or None, lossy=lossy)


def _with_pin(document: Document, team_id: str | None) -> Document:
    result = dict(document)  # dicts keep key order, so untouched keys stay in place
    found = result.get(_BILLING)
    billing = dict(found) if isinstance(found, dict) else {}
    if team_id is None:
        billing.pop(_PINNED_TEAM_ID, None)
    else:
        billing[_PINNED_TEAM_ID] = team_id
    if billing:
        result[_BILLING] = billing
    else:
        result.pop(_BILLING, None)
    return result


def _canonical(document: Document) -> str:
    try:
        return json.dumps(document, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return ""  # not comparable: write it (and let _serialise report what is wrong)


def _serialise(document: Document, *, where: str) -> bytes:
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except RecursionError as exc:
        raise PinStoreError(f"cannot write pin file {where}: it nests too deeply") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (valid as JSON escapes) cannot be UTF-8: escape everything.
        text = json.dumps(document, indent=2, ensure_ascii=True, allow_nan=False)
        return (text + "\n").encode("ascii")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# -- file system helpers ---------------------------------------------------


def _write_new_file(folder: Folder, name: str, content: bytes, *, mode: int | None) -> None:
    """Create ``name`` in ``folder`` (never over anything already there), write,
    flush and fsync it."""
    fd, _ = folder.open_regular(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb", closefd=False) as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            with contextlib.suppress(OSError):
                folder.set_mode(fd, name, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            folder.unlink(name)
        raise
    os.close(fd)


def _in_the_way(directory: Path) -> str:
    """What stops ``directory`` from being created: the first of it and its parents
    that exists but is not a directory (a link to one counts: links are not followed)."""
    for candidate in (directory, *directory.parents):
        if os.path.islink(candidate) and candidate == directory:
            return f"{candidate} is a symbolic link, which is never followed"
        if os.path.lexists(candidate) and not candidate.is_dir():
            return f"{candidate} exists and is not a directory"
    # Gone again since mkdir failed: name the directory itself.
    return f"{directory} exists and is not a directory"


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(lock_path: Path) -> threading.Lock:
    """One lock per lock file, shared by every store of the process."""
    key = os.path.normcase(os.path.normpath(lock_path))
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


if sys.platform == "win32":
    import msvcrt

    def _try_lock_file(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock_file(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock_file(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock_file(fd: int) -> None:
        # Closing the descriptor releases the lock anyway: never mask the real outcome.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
