"""What makes a session key unusable in a request header.

One rule for every caller that takes a key from outside (the HTTP adapters,
the CLI's environment): checked before anything is sent, and the answer never
quotes the key.
"""

from __future__ import annotations

__all__ = ["SESSION_HEADER", "session_key_flaw"]

SESSION_HEADER = "x-byterover-session-id"
"""The request header that carries the session key."""


def session_key_flaw(session_key: str) -> str | None:
    """Why a non-empty ``session_key`` cannot be sent, as the end of a sentence; else None.

    >>> session_key_flaw("abc\\n"), session_key_flaw(" abc"), session_key_flaw("abc")
    ('contains control characters', 'has leading or trailing whitespace', None)
    """
    if session_key.isascii() and session_key.isprintable() and session_key == session_key.strip():
        return None  # the usual key, checked in C rather than character by character
    if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in session_key):
        return "contains control characters"
    if not session_key.isascii():
        return "contains non-ASCII characters"
    if session_key != session_key.strip():
        return "has leading or trailing whitespace"
    return None
