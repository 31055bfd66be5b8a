"""The image cleaner in this process, without its worker processes: every image Pillow writes,
of the types uploads accept, is stored cleanly or refused (tests/e2e/test_hardening_img.py
drives the workers and the server)."""
from __future__ import annotations

import io
import os
from typing import Any, List, Tuple

import pytest
from PIL import Image

from chat.errors import ChatError

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp"}


def encoded(fmt: str, mode: str = "RGB", size: Tuple[int, int] = (60, 40), **params: Any) -> bytes:
    out = io.BytesIO()
    im = Image.new(mode, size)
    if mode == "P":
        im.info["transparency"] = 0
    im.save(out, fmt, **params)
    return out.getvalue()


def test_a_closed_worker_refuses_with_unavailable(tmp_path):
    from chat.uploads.images import ImageLimits
    from chat.uploads.imageworker import ImageWorker

    worker = ImageWorker(ImageLimits(1000, 1000, 32), 5, 1, str(tmp_path))
    worker.close()
    path = tmp_path / "a.png"
    path.write_bytes(encoded("PNG"))
    with pytest.raises(ChatError) as caught:
        worker.process(str(path), "image/png")
    assert caught.value.code == "unavailable" and os.listdir(str(tmp_path)) == ["a.png"]


def _written() -> List[Tuple[str, str]]:
    """Every (format, mode) Pillow writes, of the image types uploads accept."""
    pairs = []
    for fmt in MIME:
        for mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "I;16", "I;16B",
                     "F", "LAB", "HSV"):
            try:
                encoded(fmt, mode)
            except (OSError, ValueError, KeyError):
                continue
            pairs.append((fmt, mode))
    return pairs


@pytest.mark.parametrize("fmt,mode", _written())
def test_every_mode_pillow_writes_is_stored_cleanly_or_refused(tmp_path, fmt, mode):
    from chat.uploads.images import ImageLimits, process_image

    src = tmp_path / "in"
    src.write_bytes(encoded(fmt, mode))
    try:
        done = process_image(str(src), MIME[fmt], str(tmp_path / "out"), str(tmp_path / "thumb"),
                             ImageLimits(50_000_000, 50_000_000, 32))
    except ChatError as exc:
        assert exc.code in ("bad_request", "too_large")
        return
    with Image.open(done.path) as clean:
        assert clean.format == fmt and clean.size == (60, 40) == (done.width, done.height)
        clean.load()
    with Image.open(done.thumbnail_path) as thumb:
        assert thumb.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[done.thumbnail_mime]
        assert max(thumb.size) == 32
