"""The TOML config file (``--config FILE`` or ``CHAT_CONFIG``): every setting, by its name.

Keys are the names of ``chat.settings.OPTIONS`` (``port = 8443``, ``allowed_origins =
["https://lms.example.org"]``), all at the top level. An unknown key or a value of the wrong
type is an error that names the file, the key and what was expected, so a typo can never
silently leave a default in force.
"""
from __future__ import annotations

import datetime
import difflib
import importlib.util
import ipaddress
import os
import ssl
import stat
import time
import tomllib
from typing import Any, Dict, List, Mapping, Optional

from chat.settings import OPTIONS, Settings, SettingsError, _bool, _list, is_secret, mask, range_problems

__all__ = ["CONFIG_ENV", "MAX_CONFIG_BYTES", "config_path", "mask", "read_config", "ssl_context", "validate",
           "warnings"]

CONFIG_ENV = "CHAT_CONFIG"
#: a config file is a few KB; past this it is refused unread (``--config /dev/zero`` must not hang)
MAX_CONFIG_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


def _convert(path: str, key: str, value: Any, conv: Any, default: Any) -> Any:
    """A TOML value as the setting's type, or SettingsError."""
    where = "%s: %s" % (path, key)
    if conv is _bool:
        if isinstance(value, bool):
            return value
        raise SettingsError("%s must be true or false, not %r" % (where, value))
    if conv is _list:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return [item.strip() for item in value if item.strip()]
        if isinstance(value, str):
            return _list(value)
        raise SettingsError("%s must be a list of strings, not %r" % (where, value))
    if conv is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingsError("%s must be an integer, not %r" % (where, value))
    if conv is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise SettingsError("%s must be a number, not %r" % (where, value))
    if isinstance(value, str):
        return value
    raise SettingsError("%s must be a string, not %r" % (where, value))


def read_config(path: str) -> Dict[str, Any]:
    """The settings a config file sets, converted and checked; raises SettingsError."""
    data = _read_bounded(path)
    if data.startswith(_BOM):  # editors on Windows write one; TOML itself does not allow it
        data = data[len(_BOM):]
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SettingsError("%s is not UTF-8 text: %s" % (path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("%s is not valid TOML: %s" % (path, exc)) from None
    table = {name: (conv, default) for name, _env, conv, default, _help in OPTIONS}
    values: Dict[str, Any] = {}
    for key, value in raw.items():
        if key not in table:
            close = difflib.get_close_matches(key.replace("-", "_"), list(table), n=1)
            hint = " (did you mean %r?)" % close[0] if close else ""
            raise SettingsError("%s: unknown setting %r%s" % (path, key, hint))
        conv, default = table[key]
        values[key] = _convert(path, key, value, conv, default)
    if values.get("data_dir") and not os.path.isabs(values["data_dir"]):
        # a relative data dir in a file means "next to the file", not "wherever the service started"
        values["data_dir"] = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), values["data_dir"]))
    return values


def _read_bounded(path: str) -> bytes:
    """A regular file's bytes, at most MAX_CONFIG_BYTES; SettingsError for anything else (a device,
    a FIFO, a directory, a huge file), without blocking on it."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SettingsError("cannot read the config file %s: %s" % (path, exc.strerror or exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SettingsError("the config file %s is not a regular file" % path)
        if info.st_size > MAX_CONFIG_BYTES:
            raise SettingsError("the config file %s is larger than %d bytes" % (path, MAX_CONFIG_BYTES))
        chunks: List[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES:  # it may grow while read: never more than the bound
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            raise SettingsError("the config file %s is larger than %d bytes" % (path, MAX_CONFIG_BYTES))
        return b"".join(chunks)
    except OSError as exc:
        raise SettingsError("cannot read the config file %s: %s" % (path, exc.strerror or exc)) from None
    finally:
        os.close(fd)


def config_path(flag: Optional[str], environ: Mapping[str, str]) -> Optional[str]:
    """The config file to read: ``--config`` wins over ``CHAT_CONFIG``; None when neither is set."""
    return flag or environ.get(CONFIG_ENV) or None


def validate(settings: Settings) -> List[str]:
    """Problems that would stop or cripple the server, each naming its setting (empty: fine)."""
    problems = range_problems(settings)  # every number in its documented range, every word known
    if settings.metrics_port > 0 and settings.metrics_port == settings.port:
        problems.append("metrics_port must differ from port (0 serves /metrics on the main port)")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        problems.append("tls_cert and tls_key go together: set both or neither")
    elif settings.tls_cert:
        try:
            ssl_context(settings)
        except (OSError, ssl.SSLError) as exc:
            problems.append("tls_cert/tls_key cannot be loaded: %s" % exc)
    for name in ("trusted_proxies", "metrics_allow"):
        for cidr in getattr(settings, name):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                problems.append("%s: %r is not an address or CIDR" % (name, cidr))
    for name in ("jwt_public_key_file", "jwt_private_key_file"):
        path = getattr(settings, name)
        if path and not os.access(path, os.R_OK):
            problems.append("%s: cannot read %s" % (name, path))
    if settings.event_loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        problems.append("event_loop uvloop needs the uvloop package (pip install uvloop)")
    if 0 < settings.ws_ping_interval < settings.ws_ping_timeout:
        # Tornado would cut the timeout down to the interval with a warning at every start
        problems.append("ws_ping_timeout (%g) cannot be longer than ws_ping_interval (%g)"
                        % (settings.ws_ping_timeout, settings.ws_ping_interval))
    for name, *_rest in OPTIONS:
        value = getattr(settings, name)
        if is_secret(name) and isinstance(value, str) and value and len(value) < 32:
            problems.append("%s is shorter than 32 characters (empty generates a strong one)" % name)
    if not settings.mongodb_uri:
        problems.extend(_data_dir_problems(settings.data_dir))
    elif not settings.mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        problems.append("mongodb_uri must start with mongodb:// or mongodb+srv://")
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("redis_url must start with redis://, rediss:// or unix://")
    return problems


def warnings(settings: Settings, now: Optional[float] = None) -> List[str]:
    """Things that do not stop the server but need a person soon (logged at start, shown by
    check-config): a TLS certificate that has expired, is not valid yet, or expires within 14 days."""
    found: List[str] = []
    if settings.tls_cert:
        found.extend(_certificate_warnings(settings.tls_cert, time.time() if now is None else now))
    return found


def _certificate_warnings(path: str, now: float) -> List[str]:
    from cryptography import x509

    try:
        with open(path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read(MAX_CONFIG_BYTES))  # the first of the chain: ours
    except (OSError, ValueError) as exc:
        return ["tls_cert %s: cannot read its validity dates: %s" % (path, exc)]
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    stamp = "%Y-%m-%d %H:%M UTC"
    if end <= moment:
        return ["tls_cert %s expired on %s: clients will refuse the connection" % (path, end.strftime(stamp))]
    if start > moment:
        return ["tls_cert %s is not valid before %s: clients will refuse the connection until then"
                % (path, start.strftime(stamp))]
    if end - moment < datetime.timedelta(days=14):
        return ["tls_cert %s expires on %s: renew it" % (path, end.strftime(stamp))]
    return []


def _data_dir_problems(path: str) -> List[str]:
    probe = os.path.abspath(path)
    while not os.path.exists(probe):  # the server creates it: its nearest existing parent must be writable
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return ["data_dir: %s is not a directory" % probe]
    if not os.access(probe, os.W_OK | os.X_OK):
        return ["data_dir: %s is not writable by this user" % probe]
    return []


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The server-side TLS context of ``tls_cert``/``tls_key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context
