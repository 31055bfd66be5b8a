"""Image uploads: metadata (EXIF, GPS, XMP, comments) removed by writing every image again from
its pixels, the orientation applied first so nothing looks rotated, dimensions recorded, a
thumbnail made.

These are photos of and by children: a stored image keeps its pixels and colour profile and
nothing else; bytes after the image (text, script, an appended archive) are never stored.
Blocking (Pillow) and memory-hungry: the server runs :func:`process_image` in a short-lived
worker process (see ``imageworker.py``), so its peak is given back when the worker exits.
"""
from __future__ import annotations

import dataclasses
import struct
from typing import Any, Dict, Iterator, Optional, Tuple

from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from chat.errors import BadRequest, TooLarge

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP", "image/bmp": "BMP"}
#: modes each writer stores as they are; anything else is converted to RGB(A) first
_WRITABLE = {"JPEG": ("L", "RGB", "CMYK"), "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"),
             "GIF": ("1", "L", "P", "RGB", "RGBA"), "WEBP": ("RGB", "RGBA"), "BMP": ("1", "L", "P", "RGB", "RGBA")}
#: what a decoder leaves in ``info`` that the image still needs; everything else (EXIF, XMP,
#: comments, text chunks, application extensions) is dropped
_KEEP = ("icc_profile", "transparency")
_ANIMATED = ("GIF", "PNG", "WEBP")  # a JPEG's further pictures (MPO: stereo pair, depth map) are dropped
_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, KeyError, TypeError, IndexError,
                EOFError, ZeroDivisionError, struct.error)


@dataclasses.dataclass
class ImageLimits:
    """How much one image may cost: pixels of one frame, pixels of all frames together, and the
    thumbnail's longest side."""

    max_pixels: int
    max_total_pixels: int
    thumb_px: int


@dataclasses.dataclass
class ProcessedImage:
    """What :func:`process_image` made: the cleaned file to store, its dimensions, its frame
    count, and a thumbnail file."""

    path: str
    width: int
    height: int
    thumbnail_path: str
    thumbnail_mime: str
    frames: int = 1


def image_format(mime: str) -> str:
    """Pillow's format name for a safe image type; ``ValueError`` for any other type."""
    fmt = _FORMATS.get(mime)
    if fmt is None:
        raise ValueError("not an image type: %s" % mime)
    return fmt


def process_image(path: str, mime: str, out_path: str, thumb_path: str, limits: ImageLimits) -> ProcessedImage:
    """Write the image at ``path`` again from its pixels to ``out_path`` (same format, no
    metadata but the colour profile) and its thumbnail to ``thumb_path``. ``TooLarge`` for an
    image over ``limits``, ``BadRequest`` for one that does not decode or cannot be stored."""
    fmt = image_format(mime)
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's own check at open, in step with ours (a worker: no one else)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path, formats=[fmt]) as im:
            _check(im.size, 1, limits)
            frames = getattr(im, "n_frames", 1) if fmt in _ANIMATED else 1
            _check(im.size, frames, limits)  # declared frames; what is decoded is counted too
            if frames > 1:
                size, first = _write_animation(im, fmt, out_path, limits)
            else:
                size, first = _write_still(im, fmt, out_path)
        if fmt == "JPEG":
            first = _jpeg_draft(path, limits.thumb_px)
        thumb_mime = _thumbnail(first, thumb_path, limits.thumb_px)
    except (TooLarge, BadRequest):
        raise
    except Image.DecompressionBombError as exc:
        raise TooLarge("image has more pixels than the %d accepted" % limits.max_pixels) from exc
    except MemoryError as exc:
        raise TooLarge("the image is too large to decode") from exc
    except _READ_ERRORS as exc:
        raise BadRequest("the image could not be read (%s)" % exc.__class__.__name__) from exc
    return ProcessedImage(out_path, size[0], size[1], thumb_path, thumb_mime, frames)


def _check(size: Tuple[int, int], frames: int, limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise TooLarge("image is %dx%d pixels; at most %d pixels are accepted" % (width, height, limits.max_pixels))
    if width * height * frames > limits.max_total_pixels:
        raise TooLarge("image is %dx%d pixels in %d frames; at most %d pixels in all frames are accepted"
                       % (width, height, frames, limits.max_total_pixels))


def _strip(im: Image.Image, keep: "Tuple[str, ...]" = _KEEP) -> Image.Image:
    # In place, not a copy: writers fall back to the image's info dict for comments, EXIF,
    # XMP and the like, so it keeps only what the pixels need (the image is freshly decoded
    # and never shown to anyone as it came).
    kept = {key: im.info[key] for key in keep if key in im.info}
    im.info.clear()
    im.info.update(kept)
    return im


def _storable(im: Image.Image, fmt: str) -> Image.Image:
    if im.mode in _WRITABLE[fmt]:
        return im
    target = "RGBA" if _has_alpha(im) and fmt != "JPEG" else "RGB"
    out = im.convert(target)
    out.info = {key: im.info[key] for key in ("icc_profile",) if key in im.info}
    return out


def _params(fmt: str, icc: Optional[bytes]) -> Dict[str, Any]:
    params: Dict[str, Any] = {}
    if icc:
        params["icc_profile"] = icc
    if fmt == "JPEG":
        # no optimize: its extra pass holds every coefficient of a large photo (+2 bytes a pixel)
        params.update(quality=90)
    elif fmt == "WEBP":
        params.update(quality=90, exif=b"", xmp=b"")
    return params


def _write_still(im: Image.Image, fmt: str, out: str) -> "Tuple[Tuple[int, int], Image.Image]":
    """One picture: decoded once, turned upright in place, written from its pixels."""
    im.seek(0)
    im.load()
    _upright(im)  # orientation lives in EXIF, which is about to go
    icc = im.info.get("icc_profile")
    clean = _storable(_strip(im), fmt)
    clean.save(out, fmt, **_params(fmt, icc))
    return clean.size, clean


def _write_animation(im: Image.Image, fmt: str, out: str, limits: ImageLimits
                     ) -> "Tuple[Tuple[int, int], Image.Image]":
    """Every frame, with its timing, each one a fresh copy of the decoded pixels: no frame
    carries a comment or extension of the source. The pixels decoded are counted as they are."""
    loop = im.info.get("loop", 0)
    params = _params(fmt, im.info.get("icc_profile"))
    decoded = 0

    def fresh_frames() -> Iterator[Image.Image]:
        nonlocal decoded
        for frame in ImageSequence.Iterator(im):
            width, height = frame.size
            decoded += width * height
            _check(frame.size, 1, limits)
            if decoded > limits.max_total_pixels:
                raise TooLarge("the animation has more than %d pixels in all frames" % limits.max_total_pixels)
            copy = _storable(frame.copy(), fmt)
            duration = frame.info.get("duration")  # WebP sets it while decoding, so after the copy
            _strip(copy, ("transparency",) if copy.mode == "P" else ())
            if duration is not None:
                copy.info["duration"] = duration
            yield copy

    frames = fresh_frames()
    head = next(frames)
    params.update(save_all=True, append_images=frames, loop=loop)
    if fmt != "GIF":
        # the PNG and WebP writers go over the frames twice (and WebP takes the timing as a
        # list); only the GIF writer can take them one at a time
        rest = list(frames)
        params.update(append_images=rest, duration=[f.info.get("duration", 0) for f in [head] + rest])
    if fmt == "WEBP":
        params.update(lossless=True)
        params.pop("quality")
    head.save(out, fmt, **params)
    return head.size, head


def _jpeg_draft(path: str, px: int) -> Image.Image:
    """The thumbnail's source for a JPEG: decoded at 1/2, 1/4 or 1/8 of its size (``draft``),
    enough for a thumbnail, then turned upright."""
    with Image.open(path, formats=["JPEG"]) as im:
        im.draft(im.mode if im.mode in ("RGB", "L") else None, (px, px))
        im.load()
        return _upright(im.copy())  # a copy of a small image, detached from the file


def _upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation says, in place; as it is when the EXIF is broken
    (the pixels are still good, and the EXIF is dropped anyway)."""
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except Exception:  # noqa: BLE001 - any parse error of a tag we are about to drop
        pass
    return im


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _thumbnail(im: Image.Image, out: str, px: int) -> str:
    """A small JPEG (PNG when transparent) of ``im``; the big image is only read, not copied."""
    if im.mode.startswith(("I", "F")):  # 16/32-bit and float pixels: scaled into 8 bits
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")  # type: ignore[arg-type, operator]
    alpha = _has_alpha(im)
    if im.mode not in ("RGB", "RGBA", "L", "LA"):
        im = im.convert("RGBA" if alpha else "RGB")
    width, height = im.size
    scale = min(1.0, px / max(width, height, 1))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    thumb = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0) if size != im.size else im
    # a new image object of the small pixels: the source's info (a JPEG thumbnail's source is
    # the uploaded file itself, comments and EXIF included) goes no further
    final = _strip(thumb.convert("RGBA" if alpha else "RGB"), ("icc_profile",))
    if alpha:
        final.save(out, "PNG", optimize=True)
        return "image/png"
    final.save(out, "JPEG", quality=80)
    return "image/jpeg"


def read_exif(path: str) -> Optional[dict]:
    """The EXIF tags of an image file (empty dict for none); for tests and audits."""
    with Image.open(path) as im:
        return dict(im.getexif())
