"""SIGTERM is never lost, even when completions flood the event loop's wakeup pipe (each one
writes a byte to it; once it is full, a signal's wakeup byte used to be dropped and its handler
never ran): a fresh loop in this process, signalled by the test itself
(tests/e2e/test_stop_signal.py does it to the real server)."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

from handlers.http_server import install_stop_signals


def _run_until_stopped(arrange) -> bool:
    """Run a fresh loop with the stop signals installed until the callback runs;
    ``arrange(loop)`` makes a SIGTERM arrive. True when the signal, not the 60 s bound, ended
    the run: the bound's callback is queued before the loop wakes, so if only the bound wakes
    the loop, it runs first."""
    loop = asyncio.new_event_loop()
    order = []
    before = signal.getsignal(signal.SIGTERM)

    def end(what):
        order.append(what)
        loop.stop()
    uninstall = install_stop_signals(loop, lambda: end("signal"), (signal.SIGTERM,))
    finished = threading.Event()

    def bound():
        if not finished.wait(60):
            loop.call_soon_threadsafe(end, "bound")
    threading.Thread(target=bound, daemon=True).start()
    try:
        arrange(loop)
        loop.run_forever()
    finally:
        finished.set()
        uninstall()
        loop.close()
    assert signal.getsignal(signal.SIGTERM) is before  # put back
    return order[0] == "signal"


def test_a_stop_signal_survives_a_full_loop_wakeup_pipe():
    def arrange(loop):
        for _ in range(5000):  # the loop's self-pipe holds a few hundred wakeups: now it is full
            loop.call_soon_threadsafe(lambda: None)
        os.kill(os.getpid(), signal.SIGTERM)  # with loop.add_signal_handler this one is dropped
    assert _run_until_stopped(arrange)


def test_an_idle_loop_wakes_for_a_signal_another_thread_receives():
    def arrange(loop):
        # the C-level handler runs in that thread; only the wakeup byte tells the main thread,
        # blocked in the loop's poll, to run the Python-level handler
        def later():
            time.sleep(0.3)  # not a wait for anything: lets the loop go idle first (it passes either way)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        threading.Thread(target=later).start()
    assert _run_until_stopped(arrange)
