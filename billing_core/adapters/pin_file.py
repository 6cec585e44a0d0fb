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
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

from billing_core._json import NotStrictJson, json_kind, loads_strict
from billing_core.errors import BillingConfigError, PinStoreError
from billing_core.ports import PinRead

__all__ = ["PIN_FILE_NAME", "FilePinStore"]

PIN_FILE_NAME = "brv-provider.json"
"""The file name inside the ``.brv`` directory."""

_LOCK_SUFFIX = ".lock"
_BACKUP_INFIX = ".corrupt-"
_TEMP_PREFIX = f".{PIN_FILE_NAME}."
_TEMP_SUFFIX = ".tmp"

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
    """

    def __init__(self, brv_dir: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> None:
        self._directory = _absolute_directory(brv_dir)
        self._path = self._directory / PIN_FILE_NAME
        self._lock_path = self._directory / (PIN_FILE_NAME + _LOCK_SUFFIX)
        self._lock_timeout = _check_lock_timeout(lock_timeout)
        self.last_backup_path: Path | None = None
        """Where the last write that met a corrupt file kept its bytes; else ``None``."""

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
        return self._snapshot().pin

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
        >>> store = FilePinStore(tempfile.mkdtemp())
        >>> store.update(lambda doc: {**doc, "activeProvider": "byterover"})
        >>> store.set_pinned_team_id("team-1")
        >>> json.loads(store.path.read_text())
        {'activeProvider': 'byterover', 'billing': {'pinnedTeamId': 'team-1'}}
        """
        self._rewrite(change)

    # -- internals -------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return _Snapshot(raw=b"", document={}, pin=PinRead(None), needs_backup=False)
        except OSError as exc:
            raise PinStoreError(f"cannot read pin file {self._path}: {_reason(exc)}") from exc
        return _parse(raw, where=str(self._path))

    def _rewrite(self, change: Callable[[Document], Document]) -> None:
        with self._locked():
            snapshot = self._snapshot()
            before = _canonical(snapshot.document)
            document = change(snapshot.document)
            if not isinstance(document, dict):
                raise TypeError(f"update() must return a dict, not {type(document).__name__}")
            if not snapshot.needs_backup and _canonical(document) == before:
                return  # unchanged (an empty object in a missing file included)
            content = _serialise(document, where=str(self._path))
            if snapshot.needs_backup:
                self._back_up(snapshot)
            self._replace(content)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # One budget for both locks: the thread lock first, the file lock with what is left.
        deadline = time.monotonic() + self._lock_timeout
        thread_lock = _thread_lock(self._lock_path)
        if not thread_lock.acquire(timeout=min(self._lock_timeout, threading.TIMEOUT_MAX)):
            raise self._timed_out("another thread of this process is writing the pin file")
        try:
            fd = self._open_lock_file()
            try:
                self._acquire(fd, deadline)
                try:
                    yield
                finally:
                    _unlock_file(fd)
            finally:
                os.close(fd)
        finally:
            thread_lock.release()

    def _open_lock_file(self) -> int:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except (FileExistsError, NotADirectoryError) as exc:
            # mkdir's own words ("File exists") would not say what is in the way.
            blocker = _not_a_directory(self._directory)
            raise PinStoreError(
                f"cannot lock pin file {self._path}: {blocker} exists and is not a directory"
            ) from exc
        except OSError as exc:
            raise PinStoreError(f"cannot lock pin file {self._path}: {_reason(exc)}") from exc

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

    def _back_up(self, snapshot: _Snapshot) -> None:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{PIN_FILE_NAME}{_BACKUP_INFIX}{stamp}"
        mode = _file_mode(self._path)
        for attempt in range(1, 1000):
            backup = self._directory / (base if attempt == 1 else f"{base}-{attempt}")
            try:
                _write_new_file(backup, snapshot.raw, mode=mode)
            except FileExistsError:
                continue
            except OSError as exc:
                raise PinStoreError(
                    f"cannot back up corrupt pin file {self._path}: {_reason(exc)}"
                ) from exc
            break
        else:
            raise PinStoreError(f"cannot back up corrupt pin file {self._path}: too many backups")
        self.last_backup_path = backup
        why = snapshot.pin.problem or "it repeats keys that a rewrite would merge"
        _logger.warning("%s; its bytes were kept in %s before rewriting it", why, backup)

    def _replace(self, content: bytes) -> None:
        # Write through a symlink rather than replacing it with a plain file.
        target = Path(os.path.realpath(self._path)) if self._path.is_symlink() else self._path
        mode = _file_mode(target)
        temp: Path | None = None
        try:
            for _ in range(100):
                candidate = target.with_name(f"{_TEMP_PREFIX}{secrets.token_hex(6)}{_TEMP_SUFFIX}")
                try:
                    _write_new_file(candidate, content, mode=mode)
                except FileExistsError:
                    continue
                temp = candidate
                break
            if temp is None:
                raise FileExistsError(errno.EEXIST, "no free temporary file name")
            os.replace(temp, target)
            temp = None
        except OSError as exc:
            raise PinStoreError(f"cannot write pin file {self._path}: {_reason(exc)}") from exc
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()
        _fsync_directory(target.parent)


# -- pure helpers ---------------------------------------------------------


def _absolute_directory(brv_dir: str | os.PathLike[str]) -> Path:
    try:
        text = os.fspath(brv_dir)
    except TypeError:
        raise BillingConfigError(
            f"the .brv directory must be a path, not {type(brv_dir).__name__}"
        ) from None
    if not isinstance(text, str):
        raise BillingConfigError("the .brv directory must be a text path, not bytes")
    if not text.strip():
        raise BillingConfigError("the .brv directory is empty: give an absolute path")
    if "\0" in text:
        raise BillingConfigError("the .brv directory contains a NUL character")
    if not os.path.isabs(text):
        raise BillingConfigError(f"the .brv directory must be an absolute path, not {text!r}")
    return Path(text)


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


def _parse(raw: bytes, *, where: str) -> _Snapshot:
    def corrupt(problem: str, document: Document | None = None) -> _Snapshot:
        return _Snapshot(
            raw=raw,
            document={} if document is None else document,
            pin=PinRead(None, f"pin file {where} is corrupt: {problem}"),
            needs_backup=True,
        )

    if not raw.strip():
        # A blank file (e.g. left by a crashed non-atomic writer) holds nothing to lose.
        return _Snapshot(raw=raw, document={}, pin=PinRead(None), needs_backup=False)
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
        return _Snapshot(raw=raw, document=document, pin=PinRead(None), needs_backup=lossy)
    if not isinstance(billing, dict):
        return corrupt(f'"billing" should be an object, found {json_kind(billing)}', document)
    team_id = billing.get(_PINNED_TEAM_ID)
    if team_id is not None and not isinstance(team_id, str):
        found = json_kind(team_id)
        return corrupt(f'"billing.pinnedTeamId" should be a string, found {found}', document)
    return _Snapshot(raw=raw, document=document, pin=PinRead(team_id or None), needs_backup=lossy)


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


def _write_new_file(path: Path, content: bytes, *, mode: int | None) -> None:
    """Create ``path`` (never over an existing file), write, flush and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb", closefd=False) as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(path, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)


def _file_mode(path: Path) -> int | None:
    """The permission bits of an existing file, kept across rewrites; ``None`` if absent."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _not_a_directory(directory: Path) -> Path:
    """The first of ``directory`` and its parents that exists but is not a directory."""
    for candidate in (directory, *directory.parents):
        if os.path.lexists(candidate) and not candidate.is_dir():
            return candidate
    return directory  # gone again since mkdir failed: name the directory itself


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
