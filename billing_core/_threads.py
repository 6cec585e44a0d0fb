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

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Final, Generic, TypeVar

__all__ = ["MAX_WORKERS", "Pending", "start"]

_T = TypeVar("_T")

# A resolve keeps at most three workers busy (the pin read runs in the
# caller's thread), so ten resolves can be in flight before calls queue up.
MAX_WORKERS: Final = 32

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class Pending(Generic[_T]):
    """A call started by :func:`start`: call it for the result, or :meth:`abandon` it.

    The call runs exactly once, in whichever thread claims it first: a pool
    worker, or the thread that waits for it. Waiting again returns the same
    outcome.
    """

    __slots__ = ("_claim", "_outcome", "_thunk")

    def __init__(self, thunk: Callable[[], _T]) -> None:
        self._thunk = thunk
        self._claim = threading.Lock()  # whoever acquires it runs the call
        self._outcome: Future[_T] = Future()

    def __call__(self) -> _T:
        """Wait for the result (or raise the call's exception).

        A call that no worker has started yet runs in the waiting thread.
        """
        self.run_if_unclaimed()
        return self._outcome.result()

    def abandon(self) -> None:
        """The result is not needed: drop the call if it has not started, else let it end.

        Returns once no thread runs it any more (its outcome is discarded).
        """
        if self._claim.acquire(blocking=False):
            self._outcome.cancel()
        else:
            with contextlib.suppress(CancelledError):
                self._outcome.exception()  # waits; the outcome is not ours to report

    def run_if_unclaimed(self) -> None:
        """Run the call here unless another thread already has (or is running it)."""
        if not self._claim.acquire(blocking=False):
            return
        try:
            result = self._thunk()
        except BaseException as error:  # handed to the waiter, who re-raises it
            self._outcome.set_exception(error)
        else:
            self._outcome.set_result(result)


def start(thunk: Callable[[], _T]) -> Pending[_T]:
    """Start ``thunk`` in the shared pool; the returned :class:`Pending` waits for it.

    When no thread can be started (interpreter shutdown, a thread limit) the
    call runs in the waiting thread, when waited for; a work item that was
    queued all the same finds the call claimed and does nothing.
    """
    pending = Pending(thunk)
    with contextlib.suppress(RuntimeError):
        _shared_pool().submit(pending.run_if_unclaimed)
    return pending


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
