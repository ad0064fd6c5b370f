"""Bounds on work that do not depend on the machine, for tests of adversarial inputs.

* :func:`watchdog` fails a test that runs for ``seconds`` (30 by default): it only catches a
  hang, never judges speed, so a loaded machine cannot make it fail.
* :func:`calls` counts the Python and C function calls a piece of work makes: the same on
  any machine, so "linear in the input" and "stops at the limit" can be asserted as counts.

Speed itself is measured in ``bench/`` (``bench_limits.py`` for these inputs).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
HANG_S = 30.0


@contextmanager
def watchdog(seconds: float = HANG_S) -> Iterator[None]:
    """Fail with "hang" if the block runs longer than ``seconds`` (main thread only; elsewhere
    the block simply runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds:.0f} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except TimeoutError as exc:
        pytest.fail(str(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def calls(work: Callable[[], T]) -> tuple[T, int]:
    """Run ``work``; return its result and how many function calls it made."""
    count = 0

    def profile(_frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        result = work()
    finally:
        sys.setprofile(None)
    return result, count
