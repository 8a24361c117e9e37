"""Stopping a long job cleanly on Ctrl-C (SIGINT) or a kill (SIGTERM).

:func:`stop_on_signals` (the CLI, around ``qa ingest``) turns both signals into :class:`Stopped`,
raised at once, unless the main thread is inside a :func:`shielded` section (a write to the
store: catalogue rows, Chroma vectors, the commit that joins them), in which case it is raised
when that section ends. So a stopped ingest leaves only whole writes behind, and what it had
committed stays. SIGKILL cannot be caught; the store's crash recovery (``Store.recover``)
covers it.

Outside :func:`stop_on_signals`, or in any thread but the main one (signal handlers run only
there), :func:`shielded` does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal; a ``KeyboardInterrupt``, so ``except Exception`` lets it through."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        """``"SIGINT"`` or ``"SIGTERM"``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


_depth = 0  # shielded sections the main thread is in
_pending: int | None = None  # a signal that came during one


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _handle(signum: int, frame) -> None:
    global _pending
    if _depth:
        _pending = _pending or signum
        return
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Stopped` (at the end of a :func:`shielded` section, when in one).

    Only in the main thread; elsewhere this does nothing. The previous handlers come back after.
    """
    global _pending
    if not _in_main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    _pending = None
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending = None


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A section that a stop must not cut in half: a signal that comes meanwhile takes effect at its end."""
    global _depth, _pending
    if not _in_main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if not _depth and _pending is not None:  # the section ended whole: now stop
        signum, _pending = _pending, None
        raise Stopped(signum)
