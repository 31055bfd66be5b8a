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

#: a download name never ends in one of these: what Windows, macOS or a Linux desktop would run or
#: open as a program, and markup a browser would render as a page. Microsoft's list of attachments
#: Outlook blocks ("Blocked attachments in Outlook", level 1), plus markup, disk images and the
#: launchers and packages of other systems.
RISKY_EXTENSIONS = frozenset("""
ade adp app application appref-ms asp aspx asx bas bat bgi cab cer chm cmd cnt com cpl crt csh der diagcab
exe fxp gadget grp hlp hpj hta htc inf ins iso isp its jar jnlp js jse ksh lnk mad maf mag mam maq mar mas mat
mau mav maw mcf mda mdb mde mdt mdw mdz msc msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst msu ops osd pcd
pif pl plg prf prg printerexport ps1 ps1xml ps2 ps2xml psc1 psc2 psd1 psdm1 psm1 pssc pst py pyc pyo pyw pyz
pyzw reg scf scr sct settingcontent-ms shb shs theme tmp udl url vb vbe vbp vbs vhd vhdx vsmacros vsw webpnp
website ws wsb wsc wsf wsh xbap xll xnk
htm html xhtml xht shtml mht mhtml svg svgz xml xsl xslt swf
img dmg pkg command tool workflow webloc inetloc fileloc
desktop sh bash zsh fish run bin elf appimage deb rpm snap flatpakref apk ipa xpi crx
mjs cjs wasm
""".split())

#: the extension a neutralised name gets, by sniffed type (``.bin`` for the rest)
_EXTENSION_OF = {"text/plain": ".txt", "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png",
                 "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp", "application/zip": ".zip",
                 "application/msword": ".doc", "application/vnd.ms-excel": ".xls",
                 "application/vnd.ms-powerpoint": ".ppt", "audio/mpeg": ".mp3", "audio/wav": ".wav",
                 "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/flac": ".flac", "video/webm": ".webm",
                 "video/mp4": ".mp4", "video/quicktime": ".mov"}


def _invisible(ch: str) -> bool:
    # format characters (Cf: bidi overrides and isolates, zero-width joiners and spaces, the
    # BOM, soft hyphens...) change how a name reads without being seen
    return unicodedata.category(ch) == "Cf"


def sanitize_name(raw: Optional[str], max_len: int = 200) -> str:
    """A file name safe to store and to put in a ``Content-Disposition``: the last path
    component only, no control, format (Unicode ``Cf``: bidi controls, zero-width characters)
    or reserved characters, no leading dots, length-capped (the extension kept), and ``file``
    when nothing is left. :func:`download_name` then makes its extension harmless."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name)
    name = "".join(ch for ch in name if not _invisible(ch))
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


def download_name(name: str, mime: str, max_len: int = 200) -> str:
    """``name`` (already sanitized) as it may be stored and served for a file sniffed as
    ``mime``: one ending in a :data:`RISKY_EXTENSIONS` extension (whatever its case) has that
    dot turned into ``_`` and the extension of its real type appended (``run.bat`` of plain
    text becomes ``run_bat.txt``), so no download is ever saved under a name its computer
    would run or render. Idempotent; other names are returned as they are."""
    stem, ext = os.path.splitext(name)
    if not stem or ext[1:].lower() not in RISKY_EXTENSIONS:
        return name
    safe = _EXTENSION_OF.get(mime, ".bin")
    base = stem + "_" + ext[1:]
    return base[:max(1, max_len - len(safe))].rstrip(". ") + safe


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
    wide = _wide_text(head)
    if wide is not None:
        markup, text = wide
        if markup:
            return "text/html"  # markup in UTF-16/32 is markup too; refused below
        if text:
            return "text/plain"  # a BOM says which encoding; browsers honour it over the charset
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:4] == b"\x00\x00\xfe\xff":
            return "application/octet-stream"  # a BOM, then control characters: not text
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


#: byte order marks, longest first (the UTF-32 LE one starts like UTF-16 LE's)
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
         (b"\xfe\xff", "utf-16-be"))
_MARKUP_START = re.compile(r"<[!?/A-Za-z]")


def _wide_text(head: bytes) -> "Optional[tuple[bool, bool]]":
    """``(markup, text)`` for the start of a UTF-16 or UTF-32 file: whether it starts with
    markup, and whether it is clean text; None when ``head`` is neither. With a byte order mark
    the markup test does not depend on the rest being clean (control characters must not
    smuggle markup past it); without one every byte order is tried, and markup is all that
    counts (such a file is not taken for text)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            sample = head[len(bom):]
            markup = _starts_with_markup(_unit_aligned(sample, encoding).decode(encoding, "replace"))
            return markup, _decode_text(sample, encoding) is not None
    if b"\x00" not in head[:64]:
        return None  # ASCII-range UTF-16/32 has a zero byte in every character
    for _bom, encoding in _BOMS:
        if _starts_with_markup(_unit_aligned(head, encoding).decode(encoding, "replace")):
            return True, False
    return None


def _unit_aligned(sample: bytes, encoding: str) -> bytes:
    unit = 4 if "32" in encoding else 2
    return sample[:len(sample) - len(sample) % unit]


def _decode_text(sample: bytes, encoding: str) -> Optional[str]:
    sample = _unit_aligned(sample, encoding)
    try:
        text = sample.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:
            return None
        text = sample[:exc.start].decode(encoding)
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return text if controls <= len(text) // 100 else None


def _starts_with_markup(text: str) -> bool:
    return _MARKUP_START.match(text.lstrip("\ufeff \t\r\n")) is not None


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
