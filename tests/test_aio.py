"""svgkit._aio.run_sync: one sync entry point for every coroutine, inside Jupyter's running loop too."""

import _thread
import asyncio
import threading
import time
import warnings

import pytest

from svgkit import _aio
from svgkit._aio import CANCEL_WAIT_S, run_sync


async def _where(value):
    await asyncio.sleep(0)
    return value, threading.get_ident()


async def _boom():
    raise LookupError("from the coroutine")


def _in_a_running_loop(make):
    """Call ``make()`` synchronously inside a running loop without asyncio's SIGINT handler (Jupyter)."""
    async def cell():
        return make()

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(cell())
    finally:
        loop.close()


def test_run_sync_without_a_loop_runs_here():
    assert run_sync(_where(7)) == (7, threading.get_ident())
    with pytest.raises(LookupError, match="from the coroutine"):
        run_sync(_boom())


def test_run_sync_inside_a_running_loop_uses_a_worker_thread():
    value, ident = _in_a_running_loop(lambda: run_sync(_where(8)))
    assert value == 8 and ident != threading.get_ident()
    with pytest.raises(LookupError, match="from the coroutine"):
        _in_a_running_loop(lambda: run_sync(_boom()))


def test_run_sync_interrupted_caller_cancels_the_coroutine():
    events = []

    async def work():
        _thread.interrupt_main()  # runs in the worker thread while the caller waits
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        events.append("finished")

    def call():
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_sync(work())
        return time.monotonic() - start

    assert _in_a_running_loop(call) < CANCEL_WAIT_S
    assert events == ["cancelled"]


def test_run_sync_interrupted_before_the_worker_starts_never_runs_the_coroutine(monkeypatch):
    class NoStart(threading.Thread):
        def start(self):
            raise KeyboardInterrupt

    monkeypatch.setattr(_aio.threading, "Thread", NoStart)
    ran = []

    async def work():
        ran.append(True)

    coro = work()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be a RuntimeWarning
        with pytest.raises(KeyboardInterrupt):
            _in_a_running_loop(lambda: run_sync(coro))
    assert ran == [] and coro.cr_frame is None  # closed, never started
