"""One process-wide pool of worker threads for the blocking shell's concurrent calls.

:func:`start` runs a call in the pool and returns a :class:`Pending` to wait
for it. The pool is made on first use (threads are reused across resolves)
and made again in a forked child.

Tasks may start tasks and wait for them (``pin_billing_team`` runs
``get_usages`` in a worker, which fetches the tiers in another): a bounded
pool could then deadlock, every worker waiting for a task queued behind it.
So a waiter never waits for a task that no worker has picked up yet: it takes
the task back and runs it itself. A wait is then only ever for a running
task, and running tasks finish. Under load the calls run one after the other
instead of at once; they never hang.

>>> pending = start(lambda: 6 * 7)
>>> pending()
42
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, Generic, TypeVar

__all__ = ["MAX_WORKERS", "Pending", "start"]

_T = TypeVar("_T")

# A resolve keeps at most three workers busy (the pin read runs in the
# caller's thread), so ten resolves can be in flight before calls queue up.
MAX_WORKERS: Final = 32

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class Pending(Generic[_T]):
    """A call started by :func:`start`: call it (once) for the result, or :meth:`abandon` it."""

    __slots__ = ("_future", "_thunk")

    def __init__(self, thunk: Callable[[], _T], future: Future[_T] | None) -> None:
        self._thunk = thunk
        self._future = future  # None: no thread could start it; it runs when waited for

    def __call__(self) -> _T:
        """Wait for the result (or raise the call's exception).

        A call that no worker has started yet runs in the waiting thread.
        """
        if self._future is None or self._future.cancel():
            return self._thunk()
        return self._future.result()

    def abandon(self) -> None:
        """The result is not needed: drop the call if it has not started, else let it end.

        Returns once no thread runs it any more (its outcome is discarded).
        """
        if self._future is not None and not self._future.cancel():
            self._future.exception()  # waits; the outcome is not ours to report


def start(thunk: Callable[[], _T]) -> Pending[_T]:
    """Start ``thunk`` in the shared pool; the returned :class:`Pending` waits for it.

    At interpreter shutdown (no new threads) the call runs in the waiting
    thread, when waited for.
    """
    try:
        future = _shared_pool().submit(thunk)
    except RuntimeError:  # the interpreter is shutting down: no new threads
        return Pending(thunk, None)
    return Pending(thunk, future)


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="billing-core")
        return _pool


def _forget_pool_in_child() -> None:
    # A forked child inherits the pool's bookkeeping but not its threads:
    # submitting to it would wait forever. The child makes its own.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
