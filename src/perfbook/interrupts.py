"""SIGINT and SIGTERM end a command the same way: promptly, cleanly, with 130 or 143.

Python turns Ctrl-C into :class:`KeyboardInterrupt`; SIGTERM (``kill``, systemd, a CI timeout)
would end the process on the spot, leaving no partial result and no audit entry. :func:`install`
makes SIGTERM raise :class:`Terminated`, a KeyboardInterrupt, so every ``except KeyboardInterrupt``
that cleans up (a fix mid-apply, a lab half started) handles both; inside an event loop it
cancels the loop's tasks instead, as ``asyncio.run`` does for Ctrl-C. Long commands that run their
own event loop (load, capacity) catch both signals themselves through :class:`StopFlag`, stop
within a tick and return a partial result marked interrupted.

    install()                                  # once, in the CLI's main
    try: ...
    except KeyboardInterrupt as err: sys.exit(exit_code(err))   # 130, or 143 for SIGTERM
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (exit 143)."""


def exit_code_for(signum: int) -> int:
    """The shell's code for a command ended by ``signum``: 128 + the signal number (130, 143).

    >>> exit_code_for(signal.SIGINT), exit_code_for(signal.SIGTERM)
    (130, 143)
    """
    return 128 + int(signum)


def exit_code(err: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (raised, or the cancellation it caused in an event loop)."""
    terminated = isinstance(err, Terminated) or last_signal() == signal.SIGTERM
    return exit_code_for(signal.SIGTERM if terminated else signal.SIGINT)


_received: list[int] = []  # the stop signals this process got (Typer turns every KeyboardInterrupt into 130)


def _raise_terminated(signum: int, frame: Any) -> None:
    """SIGTERM: inside an event loop, cancel its tasks (they unwind as under Ctrl-C, cleanups run);
    elsewhere, or at a second SIGTERM, raise :class:`Terminated` where the program is."""
    _received.append(signum)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or len(_received) > 1:
        raise Terminated()
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.call_soon_threadsafe(lambda: None)  # wake a select() with a long timeout


def last_signal() -> int | None:
    """The last SIGTERM :func:`install`'s handler raised for, or None."""
    return _received[-1] if _received else None


def install() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (elsewhere: nothing to do)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def raise_for(signum: int | None) -> None:
    """Raise the interrupt a caught signal stands for (after a partial result was written)."""
    if signum == signal.SIGTERM:
        _received.append(signum)  # Typer reports every KeyboardInterrupt as 130: main reads this for 143
        raise Terminated()
    if signum is not None:
        raise KeyboardInterrupt()


class StopFlag:
    """Which stop signal arrived, if one did; set from a signal handler or an event loop."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def set(self, signum: int) -> None:
        if self.signum is None:
            self.signum = int(signum)

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def caught(flag: StopFlag, loop: Any = None) -> Iterator[StopFlag]:
    """While inside, SIGINT and SIGTERM set ``flag`` instead of raising; handlers restored after.

    With ``loop`` the handlers are the loop's own (``add_signal_handler``), so they run between
    callbacks; without, plain ``signal.signal`` handlers. Outside the main thread: no handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    try:
        for sig in SIGNALS:
            if loop is not None:
                loop.add_signal_handler(sig, flag.set, sig)
            else:
                signal.signal(sig, lambda signum, frame: flag.set(signum))
        yield flag
    finally:
        for sig in SIGNALS:
            if loop is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            signal.signal(sig, saved[sig] if saved[sig] is not None else signal.SIG_DFL)
