"""What an upload may be: its type sniffed from the bytes, its name made harmless, and how it
is served back. Pure functions over a file on disk; no storage, no Tornado."""
from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from typing import Iterable, List, Optional

import puremagic

from chat.errors import BadRequest

#: image types a browser renders without running anything: served inline, previewed
SAFE_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})

#: refused whatever the allow-list says: they run script in a browser or on a computer
_MARKUP = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "application/xml", "text/xml",
                     "application/x-docbook+xml"})
_EXECUTABLE = frozenset({"application/vnd.microsoft.portable-executable", "application/x-msdownload",
                         "application/x-executable", "application/x-elf", "application/x-mach-binary",
                         "application/x-sharedlib", "application/x-sh", "application/x-shellscript",
                         "application/java-archive", "application/x-java-applet", "application/x-msi",
                         "application/x-iso9660-appimage", "application/vnd.android.package-archive",
                         "application/x-dosexec", "application/javascript", "text/javascript"})
_EXEC_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
               b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")

#: puremagic's names for a type, mapped to the one the allow-list uses
_ALIASES = {"image/x-ms-bmp": "image/bmp", "audio/wave": "audio/wav", "audio/x-wav": "audio/wav",
            "audio/vnd.wave": "audio/wav", "application/ogg": "audio/ogg", "audio/x-flac": "audio/flac",
            "audio/x-m4a": "audio/mp4", "application/x-matroska": "video/webm", "image/jpg": "image/jpeg"}

_OOXML = (("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
          ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"))
_ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation")
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
# The OLE container is the same for .doc/.xls/.ppt; only the (sniffed) family is trusted and the
# name merely picks which of the three legacy Office types it is labelled as.
_OLE_BY_EXT = {".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
               ".pps": "application/vnd.ms-powerpoint"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RESERVED = re.compile(r'[\\/:*?"<>|]')


def sanitize_name(raw: Optional[str], max_len: int = 200) -> str:
    """A file name safe to store and to put in a ``Content-Disposition``: the last path
    component only, no control or reserved characters, no leading dots, length-capped (the
    extension kept), and ``file`` when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name)
    name = _RESERVED.sub("_", name)
    name = " ".join(name.split())  # runs of whitespace (incl. Unicode spaces) become one space
    name = name.lstrip(". ").rstrip(". ")
    if not name:
        return "file"
    if len(name) > max_len:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[:max(1, max_len - len(ext))].rstrip(". ") + ext
    return name


def sniff(path: str, name: str = "") -> str:
    """The MIME type of the file at ``path``, from its bytes alone (``name`` only labels an OLE
    container). ``application/octet-stream`` when nothing is recognised."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        return "application/x-empty"
    if head.startswith(_OLE_MAGIC):
        return _OLE_BY_EXT.get(os.path.splitext(name.lower())[1], "application/msword")
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    if any(head.startswith(m) for m in _EXEC_MAGIC):
        return "application/x-executable"
    try:
        with open(path, "rb") as fh:
            matches = puremagic.magic_stream(fh)
    except (puremagic.PureError, ValueError):
        matches = []
    for match in matches:
        if match.mime_type:
            return str(_ALIASES.get(match.mime_type, match.mime_type))
    if _looks_like_text(head):
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"<"):
            return "text/html"  # any markup might be rendered as a page; refused below
        return "text/plain"
    return "application/octet-stream"


def _zip_type(path: str) -> str:
    """OOXML and ODF are zip files told apart by their members (puremagic needs the extension)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                declared = zf.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared in _ODF:
                    return declared
            if "[Content_Types].xml" in names:
                for prefix, mime in _OOXML:
                    if any(n.startswith(prefix) for n in names):
                        return mime
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return "application/octet-stream"
    return "application/zip"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return False
        text = head[:exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return controls <= len(text) // 100


def check_type(mime: str, allowed: Iterable[str]) -> None:
    """Refuse a sniffed type with a message saying why (400 ``bad_request``)."""
    if mime == "application/x-empty":
        raise BadRequest("the file is empty")
    if mime in _MARKUP:
        raise BadRequest("HTML, SVG and XML files are not accepted (%s)" % mime)
    if mime in _EXECUTABLE:
        raise BadRequest("programs and scripts are not accepted (%s)" % mime)
    if mime not in set(allowed):
        raise BadRequest("files of type %s are not accepted" % mime)


def is_safe_image(mime: str) -> bool:
    """Shown inline (and thumbnailed) rather than downloaded as an attachment."""
    return mime in SAFE_IMAGE_TYPES


def content_disposition(name: str, inline: bool) -> str:
    """RFC 6266 header with an ASCII fallback and the UTF-8 name."""
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
    kind = "inline" if inline else "attachment"
    return '%s; filename="%s"; filename*=UTF-8\'\'%s' % (kind, ascii_name, quote(name, safe=""))


def allowed_types(values: Iterable[str]) -> List[str]:
    """The allow-list setting, lowercased and stripped."""
    return [v.strip().lower() for v in values if v.strip()]
