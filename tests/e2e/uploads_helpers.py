"""Shared helpers of the upload tests: sample files made on the spot, raw HTTP uploads."""
from __future__ import annotations

import io
import zipfile
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

from PIL import Image

from tests.conftest import Api

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<<>>\n%%EOF\n"


def png(size: Tuple[int, int] = (40, 30), color: str = "red", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(size: Tuple[int, int] = (64, 48), orientation: Optional[int] = None) -> bytes:
    """A JPEG carrying EXIF with a GPS position, a camera model and a comment."""
    im = Image.new("RGB", size, "blue")
    exif = Image.Exif()
    exif[0x0110] = "KidCam 3000"  # Model
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, comment=b"taken at 12 Example Road")
    return out.getvalue()


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("_rels/.rels", "<Relationships/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


async def upload(api: Api, user: str, data: bytes, name: Optional[str] = "file.bin",
                 content_type: str = "application/octet-stream", headers: Optional[Dict[str, str]] = None
                 ) -> Tuple[int, Dict[str, Any]]:
    """``curl --data-binary @file -H 'Content-Type: …' /api/uploads?name=…``"""
    path = "/api/uploads" + ("?name=" + quote(name, safe="") if name is not None else "")
    hdrs = {"Content-Type": content_type}
    hdrs.update(headers or {})
    return await api.post(path, user, raw=data, headers=hdrs)
