"""Shared by the fuzz tests: an alarm that turns a hang into a test failure. No tests live here."""

from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise :class:`TimeoutError` in the main thread when the block runs longer than ``seconds``."""
    def hang(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
