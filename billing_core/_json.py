"""Strict JSON reading shared by the adapters: what other readers (e.g. ``JSON.parse``) accept.

Python's :func:`json.loads` takes ``NaN``, ``Infinity`` and ``-Infinity``, and
reads ``1e400`` as ``inf``: neither is JSON, and written back they would make a
file or answer that other tools refuse.

>>> loads_strict(b'{"n": 1.5}')
{'n': 1.5}
>>> loads_strict(b"[NaN]")
Traceback (most recent call last):
  ...
billing_core._json.NotStrictJson: NaN is not a JSON number
>>> json_kind([])
'an array'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final, NoReturn

__all__ = ["NotStrictJson", "json_kind", "loads_strict"]


class NotStrictJson(ValueError):
    """Text Python's json module reads but strict JSON readers refuse (or a rewrite would)."""


def loads_strict(
    raw: bytes | str,
    *,
    finite_floats: bool = False,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """``raw`` parsed as JSON, refusing ``NaN`` and the infinities with :class:`NotStrictJson`.

    With ``finite_floats``, a number too large for a float (``1e400``) is
    refused too, rather than read as ``inf``. Malformed JSON raises
    ``ValueError`` (``json.JSONDecodeError``), nesting too deep ``RecursionError``.
    """
    if not finite_floats and object_pairs_hook is None:
        # What json.loads does, with a decoder made once rather than per call
        # (the HTTP adapters parse every answer through here).
        if isinstance(raw, str):
            if raw.startswith("\ufeff"):
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        else:
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _STRICT_DECODER.decode(raw)
    return json.loads(
        raw,
        parse_constant=_reject_constant,
        parse_float=_finite_float if finite_floats else None,
        object_pairs_hook=object_pairs_hook,
    )


def json_kind(value: object) -> str:
    """What a parsed JSON value is, for a message: ``"null"``, ``"a number"``, ``"an object"``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _reject_constant(name: str) -> NoReturn:
    raise NotStrictJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # Read as inf, it could only be written back as Infinity, which is not JSON.
        shown = text if len(text) <= 40 else text[:39] + "…"
        sign = "-" if value < 0 else ""
        raise NotStrictJson(
            f"the number {shown} is out of range: a rewrite would turn it into"
            f" {sign}Infinity, which is not JSON"
        )
    return value


# Shared by every thread, as json.loads shares its default decoder.
_STRICT_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
