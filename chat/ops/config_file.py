"""The TOML config file (``--config FILE`` or ``CHAT_CONFIG``): every setting, by its name.

Keys are the names of ``chat.settings.OPTIONS`` (``port = 8443``, ``allowed_origins =
["https://lms.example.org"]``), all at the top level. An unknown key or a value of the wrong
type is an error that names the file, the key and what was expected, so a typo can never
silently leave a default in force.
"""
from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import os
import ssl
import tomllib
from typing import Any, Dict, List, Mapping, Optional

from chat.settings import OPTIONS, SECRETS, Settings, SettingsError, _bool, _list

CONFIG_ENV = "CHAT_CONFIG"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")


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
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError("cannot read the config file %s: %s" % (path, exc.strerror or exc)) from None
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


def config_path(flag: Optional[str], environ: Mapping[str, str]) -> Optional[str]:
    """The config file to read: ``--config`` wins over ``CHAT_CONFIG``; None when neither is set."""
    return flag or environ.get(CONFIG_ENV) or None


def validate(settings: Settings) -> List[str]:
    """Problems that would stop or cripple the server, each naming its setting (empty: fine)."""
    problems: List[str] = []
    if not 0 <= settings.port <= 65535:
        problems.append("port must be 0..65535, not %d" % settings.port)
    if not -1 <= settings.metrics_port <= 65535:
        problems.append("metrics_port must be -1..65535, not %d" % settings.metrics_port)
    if settings.metrics_port > 0 and settings.metrics_port == settings.port:
        problems.append("metrics_port must differ from port (0 serves /metrics on the main port)")
    if settings.log_level.lower() not in LOG_LEVELS:
        problems.append("log_level must be one of %s, not %r" % (", ".join(LOG_LEVELS), settings.log_level))
    if settings.log_format not in LOG_FORMATS:
        problems.append("log_format must be text or json, not %r" % settings.log_format)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        problems.append("tls_cert and tls_key go together: set both or neither")
    elif settings.tls_cert:
        try:
            ssl_context(settings)
        except (OSError, ssl.SSLError) as exc:
            problems.append("tls_cert/tls_key cannot be loaded: %s" % exc)
    for cidr in settings.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            problems.append("trusted_proxies: %r is not an address or CIDR" % cidr)
    for name in ("jwt_public_key_file", "jwt_private_key_file"):
        path = getattr(settings, name)
        if path and not os.access(path, os.R_OK):
            problems.append("%s: cannot read %s" % (name, path))
    if settings.event_loop not in ("asyncio", "uvloop"):
        problems.append("event_loop must be asyncio or uvloop, not %r" % settings.event_loop)
    elif settings.event_loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        problems.append("event_loop uvloop needs the uvloop package (pip install uvloop)")
    if settings.listen_backlog < 1:
        problems.append("listen_backlog must be at least 1, not %d" % settings.listen_backlog)
    if 0 < settings.ws_ping_interval < settings.ws_ping_timeout:
        # Tornado would cut the timeout down to the interval with a warning at every start
        problems.append("ws_ping_timeout (%g) cannot be longer than ws_ping_interval (%g)"
                        % (settings.ws_ping_timeout, settings.ws_ping_interval))
    if settings.jwt_secret and len(settings.jwt_secret) < 32:
        problems.append("jwt_secret is shorter than 32 characters (empty generates a strong one)")
    for name in ("db_workers", "max_body_bytes", "ws_max_message_size", "sync_limit", "search_chunk"):
        if getattr(settings, name) <= 0:
            problems.append("%s must be positive" % name)
    if not settings.mongodb_uri:
        problems.extend(_data_dir_problems(settings.data_dir))
    elif not settings.mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        problems.append("mongodb_uri must start with mongodb:// or mongodb+srv://")
    return problems


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


def mask(name: str, value: Any) -> Any:
    """A setting's value fit to print: secrets hidden, passwords cut out of URIs."""
    if name in SECRETS:
        return "***" if value else ""
    if name == "mongodb_uri" and isinstance(value, str) and "@" in value and "://" in value:
        scheme, rest = value.split("://", 1)
        return scheme + "://***@" + rest.split("@", 1)[1]
    return value
