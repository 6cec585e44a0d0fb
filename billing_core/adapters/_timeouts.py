"""The HTTP adapters' timeout default and maximum, in a module that imports nothing.

Kept apart from the adapters so that the command line's ``--help`` and its
``--timeout`` check can name them without importing httpx.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_TIMEOUT", "MAX_TIMEOUT"]

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a whole request may take (connect, send, wait, read), retries included."""

# Far beyond any sensible request, and well within what sockets accept (about
# 1e10 s already overflows the platform's time_t deep inside a blocking read).
MAX_TIMEOUT: Final = 86_400.0
"""The largest timeout the adapters accept, in seconds."""
