"""Run a coroutine to completion from sync code: in scripts and inside a running loop (Jupyter).

One implementation for every sync entry point of svgkit (``judge``, ``score_response``,
``calibrate``, ``generate``, evaluation): :func:`run_sync`.
"""

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["CANCEL_WAIT_S", "run_sync"]

_T = TypeVar("_T")

#: After an interrupt, how long the caller waits for the cancelled work to wind down.
CANCEL_WAIT_S = 5.0

#: How often the waiting caller wakes up, so an interrupt is noticed promptly.
_POLL_S = 0.1


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion and return its result (or raise its exception).

    With no event loop running in this thread it is simply :func:`asyncio.run`. Inside a
    running loop (a Jupyter cell, an async test) it runs on a fresh loop in a worker thread
    while the caller waits. If the caller is interrupted while waiting (``KeyboardInterrupt``
    from Jupyter's stop button, or any other exception raised in the caller's thread), the
    coroutine is cancelled, so no further requests are sent; the caller waits up to
    :data:`CANCEL_WAIT_S` for it to wind down, then the interrupt is re-raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _run_in_worker_thread(coro)


def _run_in_worker_thread(coro: Coroutine[Any, Any, _T]) -> _T:
    box: dict[str, Any] = {}
    lock = threading.Lock()
    finished = threading.Event()

    async def main() -> _T:
        with lock:
            if box.get("abandoned"):  # interrupted before the work began: never start it
                coro.close()
                raise asyncio.CancelledError
            box["loop"] = asyncio.get_running_loop()
            box["task"] = asyncio.current_task()
        return await coro

    def worker() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=worker, name="svgkit-run-sync", daemon=True)
    try:
        thread.start()
        while not finished.wait(_POLL_S):
            pass
    except BaseException:
        with lock:
            box["abandoned"] = True
            loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(task.cancel)
        if not thread.is_alive() and not finished.is_set():  # the thread never started
            coro.close()
        finished.wait(CANCEL_WAIT_S)
        raise
    thread.join()
    if "error" in box:
        raise box.pop("error")
    return box["result"]
