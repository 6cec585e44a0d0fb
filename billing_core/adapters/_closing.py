"""The context-manager half of every service: ``with`` closes it on the way out."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncClosing", "Closing"]


class Closing:
    """``with service:`` calls ``service.close()`` on the way out."""

    __slots__ = ()

    def close(self) -> None:
        """Release what the service holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """``async with service:`` awaits ``service.aclose()`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        """Release what the service holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
