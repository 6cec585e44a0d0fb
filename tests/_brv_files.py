"""The brv CLI's files, written as brv writes them, for the tests that read them.

A login (``credentials`` + ``.token-key``, AES-256-GCM as brv's
``FileTokenStore`` seals it) and its secrets, which no test output may show.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billing_core.adapters.brv_login import CREDENTIALS_FILE, KEY_FILE

SESSION_KEY = "sk-SECRET-session-9c1f4e"
ACCESS_TOKEN = "at-SECRET-access-77aa02"
REFRESH_TOKEN = "rt-SECRET-refresh-31bb5d"
SECRETS = (SESSION_KEY, ACCESS_TOKEN, REFRESH_TOKEN)

EXPIRES = "2026-12-31T23:59:59.000Z"


def login_document(**changes: Any) -> dict[str, Any]:
    """brv's plaintext login (its AuthToken.toJson()); a change to ``...`` removes the key."""
    document: dict[str, Any] = {
        "accessToken": ACCESS_TOKEN,
        "expiresAt": EXPIRES,
        "refreshToken": REFRESH_TOKEN,
        "sessionKey": SESSION_KEY,
        "tokenType": "Bearer",
        "userEmail": "ada@example.com",
        "userId": "user-1",
        "userName": "Ada",
    }
    document.update(changes)
    return {name: value for name, value in document.items() if value is not ...}


def encrypt(plaintext: bytes, key: bytes, iv: bytes | None = None) -> str:
    """brv's ``credentials`` text: base64(iv):base64(tag):base64(ciphertext), AES-256-GCM."""
    iv = os.urandom(16) if iv is None else iv
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return ":".join(base64.b64encode(part).decode() for part in (iv, tag, ciphertext))


def write_login(
    directory: Path, document: object | None = None, *, plaintext: bytes | None = None
) -> bytes:
    """Write ``.token-key`` and ``credentials`` in ``directory``; return the key."""
    directory.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    if plaintext is None:
        plaintext = json.dumps(login_document() if document is None else document).encode()
    (directory / KEY_FILE).write_bytes(key)
    (directory / CREDENTIALS_FILE).write_text(encrypt(plaintext, key))
    return key
