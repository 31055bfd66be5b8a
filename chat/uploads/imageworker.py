"""Image decoding away from the server: each image is cleaned in its own short-lived process.

A decoded photo of 7000x7000 pixels takes about 150 MB, and memory a Python process has once
used is rarely given back to the system. So the server never decodes an image itself: a worker
process (forked from multiprocessing's fork server, which has Pillow imported already) cleans
one image and exits, and its memory goes with it. At most ``upload_image_workers`` run at once
(more wait their turn), each for at most ``upload_image_seconds`` (then it is killed and the
upload refused with ``too_large``); a worker that dies (out of memory, a crash in a decoder)
is a refusal too, never a 500 or a hang. Workers die with the server (``PR_SET_PDEATHSIG``
from the fork server, which exits when the server does) and have a CPU-time limit of their own.
"""
from __future__ import annotations

import ctypes
import logging
import math
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import threading
from typing import Any, Callable, Optional, Set, Tuple

from chat.errors import BadRequest, ChatError, TooLarge, Unavailable
from chat.settings import Settings
from chat.uploads.images import ImageLimits, ProcessedImage, image_format, process_image

log = logging.getLogger("chat.uploads")

Target = Callable[[str, str, str, str, ImageLimits], ProcessedImage]
#: how a worker that ran out of time or memory ends: the image was too much, not broken
_OVER_LIMIT = (-signal.SIGKILL, -signal.SIGXCPU)


def _context() -> Any:
    # never "fork": the server has threads (storage executor, event loop) whose locks a forked
    # child could inherit held. The fork server is one clean process that forks the workers.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        preload = ["chat.uploads.images", "chat.uploads.imageworker"]
        # Each worker runs the main script again (as __mp_main__) unless it is a module or the
        # fork server's own main (the one-file executable): with the script's imports already
        # made in the fork server, that costs milliseconds, not 0.3 s and 35 MB of imports.
        main = sys.modules.get("__main__")
        script = getattr(main, "__file__", None)
        if getattr(main, "__spec__", None) is None and script and script.endswith(".py"):
            preload.append(os.path.splitext(os.path.basename(script))[0])
        ctx.set_forkserver_preload(preload)
    return ctx


class ImageWorker:
    """Runs :func:`process_image` (or ``target``, for tests) in worker processes, a bounded
    number at once; :meth:`process` blocks (the service calls it from a thread)."""

    def __init__(self, limits: ImageLimits, seconds: float, workers: int, work_dir: str,
                 target: Target = process_image) -> None:
        self.limits = limits
        self.seconds = seconds
        self.work_dir = work_dir
        self.target = target
        self._ctx = _context()
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self._lock = threading.Lock()
        self._live: Set[Any] = set()
        self._closed = False
        self.waiting = 0  # images waiting for a slot (for tests and metrics)

    @classmethod
    def from_settings(cls, settings: Settings, work_dir: str) -> "ImageWorker":
        """The worker for a server's settings."""
        return cls(ImageLimits(settings.upload_max_pixels, settings.upload_max_total_pixels,
                               settings.upload_thumbnail_px),
                   settings.upload_image_seconds, settings.upload_image_workers, work_dir)

    @property
    def running(self) -> int:
        """Worker processes alive now."""
        with self._lock:
            return len(self._live)

    def process(self, path: str, mime: str) -> ProcessedImage:
        """Clean the image at ``path`` into new files under ``work_dir`` (removed again when it
        is refused). ``TooLarge`` over the limits, ``BadRequest`` when it cannot be read,
        ``Unavailable`` when no worker can be started or the server is stopping."""
        suffix = "." + image_format(mime).lower()
        with self._lock:
            self.waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._lock:
                self.waiting -= 1
        try:
            out = self._temp(suffix)
            thumb = self._temp(".thumb")
            done = False
            try:
                result = self._run(path, mime, out, thumb)
                done = True
                return result
            finally:
                if not done:
                    _unlink(out)
                    _unlink(thumb)
        finally:
            self._slots.release()

    def _temp(self, suffix: str) -> str:
        fd, name = tempfile.mkstemp(dir=self.work_dir, prefix="img-", suffix=suffix)
        os.close(fd)
        return name

    def _run(self, path: str, mime: str, out: str, thumb: str) -> ProcessedImage:
        if self._closed:
            raise Unavailable("the server is stopping")
        receive, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_worker_main, name="image-worker", daemon=True,
                                 args=(send, self.target, (path, mime, out, thumb, self.limits),
                                       math.ceil(self.seconds) + 1))
        try:
            with self._lock:
                self._live.add(proc)
            proc.start()
        except (OSError, ValueError) as exc:
            with self._lock:
                self._live.discard(proc)
            receive.close()
            log.warning("could not start an image worker: %s", exc.__class__.__name__)
            raise Unavailable("images cannot be processed right now") from exc
        finally:
            send.close()  # ours: without closing it a dead worker would never read as EOF
        try:
            return self._result(proc, receive)
        finally:
            receive.close()
            if proc.is_alive():
                proc.kill()
            proc.join(10)
            with self._lock:
                self._live.discard(proc)

    def _result(self, proc: Any, receive: Any) -> ProcessedImage:
        if not receive.poll(self.seconds):
            raise TooLarge("the image takes longer than %g seconds to process" % self.seconds)
        try:
            kind, payload = receive.recv()
        except (EOFError, OSError):
            proc.join(10)
            raise self._died(proc.exitcode) from None
        if kind == "ok":
            return payload  # type: ignore[no-any-return]
        if kind == "too_large":
            raise TooLarge(payload)
        if kind == "error":
            log.warning("image worker failed: %s", payload)
            payload = "the image could not be read (%s)" % payload
        raise BadRequest(payload)

    def _died(self, exitcode: Optional[int]) -> ChatError:
        if self._closed:
            return Unavailable("the server is stopping")
        log.warning("image worker exited with %s", exitcode)
        if exitcode in _OVER_LIMIT:
            return TooLarge("the image needs more memory or time than the server allows")
        return BadRequest("the image could not be read (its decoder stopped)")

    def close(self) -> None:
        """Refuse new images and kill the workers still running (at shutdown)."""
        self._closed = True
        with self._lock:
            live = list(self._live)
        for proc in live:
            try:
                proc.kill()
            except (OSError, ValueError, AttributeError):
                pass


def _worker_main(conn: Any, target: Target, args: Tuple[Any, ...], cpu_seconds: int) -> None:
    """In the worker process: one image, its outcome sent back as (kind, payload)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: gone with the fork server (and so the server)
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    outcome: Tuple[str, Any]
    try:
        outcome = ("ok", target(*args))
    except TooLarge as exc:
        outcome = ("too_large", exc.message)
    except BadRequest as exc:
        outcome = ("bad_request", exc.message)
    except MemoryError:
        outcome = ("too_large", "the image is too large to decode")
    except Exception as exc:  # noqa: BLE001 - whatever a decoder raises is a refusal, not a crash
        outcome = ("error", exc.__class__.__name__)
    conn.send(outcome)
    conn.close()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
