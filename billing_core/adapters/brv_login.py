"""The brv CLI's stored login, read and never written: who is signed in, and their session key.

brv keeps it in its data directory (:func:`~billing_core.adapters.brv_local.brv_data_dir`)
as two files, on every platform:

- ``.token-key``: 32 random bytes, an AES-256 key (brv makes a new one at each sign-in);
- ``credentials``: the text ``base64(iv):base64(tag):base64(ciphertext)``, the
  login encrypted with AES-256-GCM under that key (16-byte IV, 16-byte tag, no
  associated data). The plaintext is a JSON object with the non-empty strings
  ``accessToken``, ``expiresAt`` (ISO 8601), ``refreshToken``, ``sessionKey``,
  ``userEmail``, ``userId`` and, optionally, ``tokenType`` and ``userName``.

Only what billing needs is kept (:class:`BrvLogin`): the session key, who the
user is and when the session ends. The access and refresh tokens are
checked for presence, as brv does, and dropped. The files are never written,
rotated or deleted: signing in, refreshing and signing out are brv's business.

``cryptography`` is imported only when a login is there to decrypt, so that
``import billing_core`` stays light.

>>> import tempfile
>>> load_brv_login(data_dir=tempfile.mkdtemp())  # no brv login there
BrvLoginRead(login=None, problem=None)
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from attrs import Attribute, field, frozen

from billing_core._json import json_kind, loads_strict
from billing_core._session import session_key_flaw
from billing_core.adapters._small_file import UnreadableFile, read_small_file
from billing_core.adapters.brv_local import brv_data_dir

__all__ = [
    "CREDENTIALS_FILE",
    "KEY_FILE",
    "PROBLEM_PREFIX",
    "SESSION_EXPIRED",
    "BrvLogin",
    "BrvLoginRead",
    "load_brv_login",
    "read_brv_login",
]

CREDENTIALS_FILE: Final = "credentials"
"""The encrypted login, in the data directory."""

KEY_FILE: Final = ".token-key"
"""The key that decrypts it, in the data directory."""

PROBLEM_PREFIX: Final = "the brv login could not be read: "
"""How every :attr:`BrvLoginRead.problem` about an unusable login starts."""

SESSION_EXPIRED: Final = "the session expired: run `brv login`"
"""The problem :meth:`BrvLoginRead.as_of` reports for an expired login."""

# Tokens take a few hundred bytes to a few KiB; the bound leaves room for
# large JWTs and still refuses anything that cannot be a login.
_MAX_CREDENTIALS_BYTES: Final = 64 * 1024
_MAX_KEY_FILE_BYTES: Final = 1024  # the key is 32 bytes: refused below if it is not
_KEY_BYTES: Final = 32
_IV_BYTES: Final = 16
_TAG_BYTES: Final = 16

# The fields brv itself requires (its AuthToken.fromJson), in its order.
_REQUIRED: Final = ("accessToken", "expiresAt", "refreshToken", "sessionKey", "userEmail", "userId")

_logger = logging.getLogger(__name__)


def _non_empty_text(instance: object, attribute: Attribute[str], value: str) -> None:
    # attrs' own validators quote the value, and one of these is the session key.
    if not isinstance(value, str) or not value:
        raise ValueError(f"BrvLogin.{attribute.name} must be a non-empty string")


def _optional_text(instance: object, attribute: Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"BrvLogin.{attribute.name} must be a non-empty string or None")


def _aware(instance: object, attribute: Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"BrvLogin.{attribute.name} must be a datetime with a time zone")


@frozen(kw_only=True)
class BrvLogin:
    """A login the brv CLI stored: the session key and who it belongs to.

    ``session_key`` is left out of the repr (and so of ``str()``); nothing
    this package writes ever quotes it. ``expires_at`` is timezone-aware.

    >>> login = BrvLogin(session_key="sk-SECRET", user_email="ada@example.com",
    ...                  user_id="u-1", expires_at=datetime(2026, 12, 31, tzinfo=UTC))
    >>> "sk-SECRET" in repr(login) or "sk-SECRET" in str(login)
    False
    >>> login.is_expired(datetime(2027, 1, 1, tzinfo=UTC))
    True
    """

    session_key: str = field(repr=False, validator=_non_empty_text)
    user_email: str = field(validator=_non_empty_text)
    user_id: str = field(validator=_non_empty_text)
    user_name: str | None = field(default=None, validator=_optional_text)
    expires_at: datetime = field(validator=_aware)

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the session has ended at ``now`` (aware; default: the current time).

        As in brv, a session ends *at* ``expires_at``: equal counts as expired.
        """
        moment = datetime.now(UTC) if now is None else now
        if moment.utcoffset() is None:
            raise ValueError("now must be a datetime with a time zone")
        return self.expires_at <= moment


def _one_at_most(
    instance: BrvLoginRead, attribute: Attribute[str | None], value: str | None
) -> None:
    if value is not None and instance.login is not None:
        raise ValueError("BrvLoginRead has either a login or a problem, not both")


@frozen
class BrvLoginRead:
    """What reading the brv login found: the login, or why there is none.

    - a login (``problem`` is ``None``), expired or not: the caller decides;
    - no login and no problem: brv has no login here (a file is missing);
    - no login and a ``problem``, starting with :data:`PROBLEM_PREFIX`: the
      files are there but unusable. The reason never quotes a value or the bytes.

    Callers that follow brv treat an expired login as not signed in; :meth:`as_of`
    does that.
    """

    login: BrvLogin | None
    problem: str | None = field(default=None, validator=_one_at_most)

    def as_of(self, now: datetime | None = None) -> BrvLoginRead:
        """This read as brv acts on it at ``now``: an expired login is no login, with the
        problem :data:`SESSION_EXPIRED` (which names ``brv login``). Other reads are
        returned unchanged.

        >>> login = BrvLogin(session_key="sk", user_email="ada@example.com", user_id="u-1",
        ...                  expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        >>> BrvLoginRead(login).as_of(datetime(2026, 1, 1, tzinfo=UTC))
        BrvLoginRead(login=None, problem='the session expired: run `brv login`')
        """
        if self.login is not None and self.login.is_expired(now):
            return BrvLoginRead(None, SESSION_EXPIRED)
        return self


class _Unusable(Exception):
    """The login files are there but cannot be used; the message is the reason."""


def load_brv_login(*, data_dir: str | os.PathLike[str] | None = None) -> BrvLoginRead:
    """Read the brv CLI's login from ``data_dir`` (default: :func:`brv_data_dir`).

    Never raises for what it finds on disk: see :class:`BrvLoginRead`. As in
    brv, a missing ``credentials`` or ``.token-key`` means no login. An
    unreadable file (permissions, a directory or a FIFO in its place, more
    than 64 KiB), a key that is not 32 bytes, text not in brv's
    ``iv:tag:ciphertext`` form, a login that does not decrypt with the key
    (another key, a changed byte), a plaintext that is not a JSON object, a
    required field missing, empty or not a string, a session key that could
    not be sent in a header, or an ``expiresAt`` that is not an ISO 8601 date
    and time *with* a UTC offset (``Z`` or ``+hh:mm``, as brv writes it) is
    a problem. An expired login is returned as it is.
    """
    directory = brv_data_dir() if data_dir is None else Path(data_dir)
    key_path, credentials_path = directory / KEY_FILE, directory / CREDENTIALS_FILE
    # brv looks for both files before reading either: one missing is no login,
    # even when the other could not be read.
    if _missing(key_path) or _missing(credentials_path):
        return BrvLoginRead(None)
    try:
        key = read_small_file(key_path, limit=_MAX_KEY_FILE_BYTES)
        text = read_small_file(credentials_path, limit=_MAX_CREDENTIALS_BYTES)
        if len(key) != _KEY_BYTES:
            raise _Unusable(f"{key_path} does not hold a {_KEY_BYTES}-byte key")
        login = _login(_decrypt(text, key, credentials_path))
    except FileNotFoundError:
        return BrvLoginRead(None)  # removed since it was looked for: signed out meanwhile
    except (UnreadableFile, _Unusable) as exc:
        return BrvLoginRead(None, PROBLEM_PREFIX + str(exc))
    return BrvLoginRead(login)


def read_brv_login(*, data_dir: str | os.PathLike[str] | None = None) -> BrvLogin | None:
    """The brv CLI's login from ``data_dir``, or ``None``: :func:`load_brv_login`'s login.

    A problem is logged as a warning on the ``billing_core`` logger (it never
    quotes a secret); use :func:`load_brv_login` to show it to the user.
    """
    read = load_brv_login(data_dir=data_dir)
    if read.problem is not None:
        _logger.warning("%s", read.problem)
    return read.login


def _missing(path: Path) -> bool:
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # there, but unreadable: reading it says why
    return False


def _decrypt(text: bytes, key: bytes, path: Path) -> bytes:
    garbled = _Unusable(f"{path} is not in the iv:tag:ciphertext form brv writes")
    try:
        parts = text.decode("ascii").strip().split(":")
        if len(parts) != 3:
            raise garbled
        iv, tag, ciphertext = (base64.b64decode(part, validate=True) for part in parts)
    except (UnicodeDecodeError, binascii.Error):
        raise garbled from None
    if len(iv) != _IV_BYTES or len(tag) != _TAG_BYTES:
        raise garbled
    # Imported here, not at the top: `import billing_core` must not load it.
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        # AESGCM takes the tag appended to the ciphertext.
        return AESGCM(key).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        raise _Unusable(
            f"{path} does not decrypt with the key in {KEY_FILE}"
            " (one of the two files was changed or truncated)"
        ) from None


def _login(plaintext: bytes) -> BrvLogin:
    try:
        document = loads_strict(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Unusable("the decrypted login is not JSON") from None
    if not isinstance(document, dict):
        raise _Unusable(f"the decrypted login is {json_kind(document)}, not a JSON object")
    for name in _REQUIRED:
        value = document.get(name)
        if value is None or value == "":
            raise _Unusable(f"the login has no {name}")
        if not isinstance(value, str):
            raise _Unusable(f"the login's {name} is {json_kind(value)}, not a string")
    flaw = session_key_flaw(document["sessionKey"])
    if flaw is not None:
        raise _Unusable(f"the login's sessionKey {flaw}")
    expires_at = _instant(document["expiresAt"])
    if expires_at is None:
        raise _Unusable("the login's expiresAt is not an ISO 8601 date and time with a UTC offset")
    user_name = document.get("userName")
    return BrvLogin(
        session_key=document["sessionKey"],
        user_email=document["userEmail"],
        user_id=document["userId"],
        # Optional and only ever shown: anything but a non-empty string is no name.
        user_name=user_name if isinstance(user_name, str) and user_name else None,
        expires_at=expires_at,
    )


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)  # its error message quotes the text: dropped
    except ValueError:
        return None
    if moment.utcoffset() is None:
        return None  # brv always writes an offset; a local time would be a guess
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        return None
