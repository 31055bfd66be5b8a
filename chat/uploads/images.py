"""Image uploads: metadata (EXIF, GPS, XMP, comments) removed by re-encoding the pixels, the
orientation applied first so nothing looks rotated, dimensions recorded, a thumbnail made.

These are photos of and by children: a stored image keeps its pixels and colour profile and
nothing else. Blocking (Pillow); the service runs it in a thread.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any, Dict, Optional

from PIL import Image, ImageOps, UnidentifiedImageError

from chat.errors import BadRequest

_ANIMATION_KEYS = ("duration", "loop", "transparency", "background", "disposal", "icc_profile", "version")
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP", "image/bmp": "BMP"}


@dataclasses.dataclass
class ProcessedImage:
    """What :func:`process_image` made: the file to store (a new temporary file, or the input
    when it was already clean), its dimensions, and a thumbnail file."""

    path: str
    width: int
    height: int
    thumbnail_path: str
    thumbnail_mime: str


def process_image(path: str, mime: str, work_dir: str, thumb_px: int, max_pixels: int) -> ProcessedImage:
    """Strip metadata from the image at ``path`` and make its thumbnail, in ``work_dir``.
    Raises ``BadRequest`` for a file that does not decode or is too large to decode safely."""
    fmt = _FORMATS.get(mime)
    if fmt is None:
        raise ValueError("not an image type: %s" % mime)
    try:
        with Image.open(path, formats=[fmt]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise BadRequest("image is %dx%d pixels; at most %d pixels are accepted"
                                 % (width, height, max_pixels))
            im.load()
            frames = getattr(im, "n_frames", 1)
            out_path = path if fmt == "BMP" else _reencode(im, fmt, frames, work_dir)
        with Image.open(out_path, formats=[fmt]) as clean:
            width, height = clean.size
            thumb_path, thumb_mime = _thumbnail(clean, work_dir, thumb_px)
    except BadRequest:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise BadRequest("the image could not be read (%s)" % exc.__class__.__name__) from exc
    return ProcessedImage(out_path, width, height, thumb_path, thumb_mime)


def _temp(work_dir: str, suffix: str) -> str:
    fd, name = tempfile.mkstemp(dir=work_dir, suffix=suffix)
    os.close(fd)
    return name


def _reencode(im: Image.Image, fmt: str, frames: int, work_dir: str) -> str:
    """Write the pixels again with no metadata but the colour profile."""
    out = _temp(work_dir, "." + fmt.lower())
    icc = im.info.get("icc_profile")
    params: Dict[str, Any] = {}
    if frames > 1:
        # Animations: every frame is kept, with its timing. Writers fall back to the source's
        # info dict for comments, EXIF and XMP, so it keeps only what animation needs.
        for key in list(im.info):
            if key not in _ANIMATION_KEYS:
                del im.info[key]
        params.update(save_all=True, duration=im.info.get("duration"), loop=im.info.get("loop", 0))
        if fmt == "WEBP":
            params.update(lossless=True, exif=b"", xmp=b"")
        im.save(out, fmt, **{k: v for k, v in params.items() if v is not None})
        return out
    upright = ImageOps.exif_transpose(im)  # orientation lives in EXIF, which is about to go
    if icc:
        params["icc_profile"] = icc
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        params.update(quality=90, optimize=True)
    elif fmt == "WEBP":
        params.update(quality=90)
    # A fresh image carries no info dict, so no EXIF, XMP, text chunks or comments are written.
    fresh = Image.new(upright.mode, upright.size)
    fresh.paste(upright)
    palette = upright.getpalette() if upright.mode == "P" else None
    if palette:
        fresh.putpalette(palette)
        if "transparency" in upright.info:
            params["transparency"] = upright.info["transparency"]
    fresh.save(out, fmt, **params)
    return out


def _thumbnail(im: Image.Image, work_dir: str, px: int) -> "tuple[str, str]":
    thumb = im.copy()
    thumb.thumbnail((px, px))
    has_alpha = thumb.mode in ("RGBA", "LA") or (thumb.mode == "P" and "transparency" in thumb.info)
    if has_alpha:
        out = _temp(work_dir, ".png")
        thumb.convert("RGBA").save(out, "PNG", optimize=True)
        return out, "image/png"
    out = _temp(work_dir, ".jpg")
    thumb.convert("RGB").save(out, "JPEG", quality=80)
    return out, "image/jpeg"


def read_exif(path: str) -> Optional[dict]:
    """The EXIF tags of an image file (empty dict for none); for tests and audits."""
    with Image.open(path) as im:
        return dict(im.getexif())
