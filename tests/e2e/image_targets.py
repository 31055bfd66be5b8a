"""Stand-ins for the image cleaner run in the worker processes of tests/e2e/test_hardening_img.py
(imported there by the worker, so only the standard library and the cleaner itself), and
sample files that are costly or impossible to make with Pillow's writers."""
from __future__ import annotations

import os
import signal
import struct
import time
from typing import Any


def hang(path: str, mime: str, out: str, thumb: str, limits: Any) -> Any:
    """A decoder that never finishes."""
    while True:
        time.sleep(3600)


def killed(path: str, mime: str, out: str, thumb: str, limits: Any) -> Any:
    """A worker the kernel kills (as the OOM killer would)."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def crashed(path: str, mime: str, out: str, thumb: str, limits: Any) -> Any:
    """A decoder that crashes the process (a bug in a C library)."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def gated(path: str, mime: str, out: str, thumb: str, limits: Any) -> Any:
    """The real cleaner, once a file ``gate`` exists in the work directory; each worker leaves
    a file ``started-<pid>`` there first, so a test sees how many run at once."""
    work = os.path.dirname(out)
    open(os.path.join(work, "started-%d" % os.getpid()), "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(work, "gate")) and time.monotonic() < deadline:
        time.sleep(0.01)
    from chat.uploads.images import process_image

    return process_image(path, mime, out, thumb, limits)


def many_frame_gif(frames: int, width: int, height: int, index: int = 1) -> bytes:
    """A GIF of ``frames`` frames on a ``width`` x ``height`` screen, each frame one pixel of
    colour ``index`` (0 black, 1 white): 23 bytes a frame, but every frame decodes to the
    whole screen. 3,000 frames of 400x400 are 69 KB, like the file of the issue."""
    pixel = {0: b"\x02\x02\x44\x01\x00", 1: b"\x02\x02\x4c\x01\x00"}[index]  # LZW: clear, index, end
    out = [b"GIF89a", struct.pack("<HHBBB", width, height, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff",
           b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"]
    for i in range(frames):
        x, y = i % width, (i // width) % height
        out.append(b"\x21\xf9\x04\x00\x02\x00\x00\x00")  # 20 ms
        out.append(b"\x2c" + struct.pack("<HHHHB", x, y, 1, 1, 0) + pixel)
    out.append(b"\x3b")
    return b"".join(out)


def with_frame_comment(gif: bytes, frame: int, text: bytes) -> bytes:
    """``gif`` with a comment extension in front of frame ``frame`` (counted from 0)."""
    at = -1
    for _ in range(frame + 1):
        at = gif.index(b"\x21\xf9", at + 1)
    return gif[:at] + b"\x21\xfe" + bytes([len(text)]) + text + b"\x00" + gif[at:]


def big_jpeg(side: int = 7000) -> Any:
    """A smooth ``side`` x ``side`` JPEG (about 850 KB at 7000): small to send, big to decode."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.linear_gradient("L").resize((side, side)).convert("RGB").save(out, "JPEG", quality=75)
    return out.getvalue()
