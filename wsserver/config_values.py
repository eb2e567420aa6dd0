"""How each setting's value is read (wsserver/config.py declares the settings): text from the
environment or <instance>/config.py in, a value of the right type out, or ValueError saying what was
expected (config turns it into a ConfigError naming the setting)."""
import re

def _text(value):
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _optional_text(value):
    if value is None:
        return None
    value = _text(value).strip()
    return value or None


def _integer(value):
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("expected an integer") from None


def _int_between(low, high):
    def parse(value):
        number = _integer(value)
        if not low <= number <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return number

    return parse


def _boolean(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _name_list(value):
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [_text(item).strip() for item in value]
    else:
        raise ValueError("expected a comma-separated list")
    return frozenset(item.lower() for item in items if item)


def _public_url(value):
    value = _optional_text(value)
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


RATE_LIMIT_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


def _rate_limit(value):
    """`300/minute`, `10 per second`, ... or `off`; returned as `N/unit` or None."""
    text = str(value).strip().lower()
    if text in ("off", "none", "0", "false", ""):
        return None
    match = RATE_LIMIT_PATTERN.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError("expected N/second, N/minute, N/hour, N/day or off")
    return f"{int(match.group(1))}/{match.group(2)}"


LOGIN_LIMIT_PATTERN = re.compile(
    r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE
)


def _login_limit(value):
    """`10/15 minutes`, `100 per hour`, ... or `off`; returned as `N/unit` or `N/M units` (`limits` syntax) or None."""
    text = str(value).strip().lower()
    if text in ("off", "none", "0", "false", ""):
        return None
    match = LOGIN_LIMIT_PATTERN.match(text)
    if not match or int(match.group(1)) < 1 or (match.group(2) is not None and int(match.group(2)) < 1):
        raise ValueError("expected N/second, N/minute, N/hour, N/day (or N/M minutes, ...) or off")
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    return f"{count}/{unit}" if multiple == 1 else f"{count}/{multiple} {unit}s"


def _choice(*choices):
    def parse(value):
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _origins(value):
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [_text(item).strip() for item in value]
    else:
        raise ValueError("expected a comma-separated list of origins")
    origins = [item.rstrip("/") for item in items if item]
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
            raise ValueError(f"{origin!r} is not an origin like https://app.example.com or *")
    return tuple(origins)


def _optional_time(value):
    """ISO 8601 text, stored in the canonical form of wsserver.ids; empty: unset."""
    from .ids import canonical_time

    value = _optional_text(value)
    return None if value is None else canonical_time(value)


FLAVOR_NAMES = ("engineering", "geoscience", "platform")
# Paths a flavor may not be mounted at or under: the native API, the web page, the docs, test mode's.
_TAKEN_MOUNTS = ("/api", "/ui", "/docs", "/__admin__", "/avatars", "/healthz", "/readyz", "/openapi.json", "/static")


def _flavors(value):
    """{flavor name: mount} with a mount "" for the root; None (unset) means every flavor at /flavors/<name>."""
    value = _optional_text(value) if isinstance(value, str) or value is None else value
    if value is None:
        return {name: f"/flavors/{name}" for name in FLAVOR_NAMES}
    if isinstance(value, dict):
        items = [f"{name}={mount}" for name, mount in value.items()]
    else:
        items = [item.strip() for item in str(value).split(",") if item.strip()]
    if [item.lower() for item in items] == ["none"]:
        return {}
    mounts = {}
    for item in items:
        name, equals, mount = (part.strip() for part in item.partition("="))
        if name not in FLAVOR_NAMES:
            raise ValueError(f"unknown flavor {name!r}: expected some of {', '.join(FLAVOR_NAMES)} (or none)")
        if name in mounts:
            raise ValueError(f"flavor {name!r} is named twice")
        mount = (mount if equals else f"/flavors/{name}").rstrip("/")
        if equals and not (mount == "" or re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", mount)):
            raise ValueError(f"mount of {name!r}: expected / or a path such as /flavors/{name}")
        if any(mount == taken or mount.startswith(taken + "/") for taken in _TAKEN_MOUNTS):
            raise ValueError(f"mount of {name!r}: {mount} belongs to wsserver itself")
        if mount and mount in mounts.values():
            raise ValueError(f"two flavors at {mount}: give each its own mount (only / may be shared)")
        mounts[name] = mount
    return mounts


def _optional_uuid(value):
    """A UUID in its canonical lower-case text; empty: unset."""
    import uuid

    value = _optional_text(value)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("expected a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6") from None


def _optional_integer(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _integer(value)


def _tls_mode(value):
    """None (the files of TLS_CERT/TLS_KEY, or none) or `self-signed`."""
    value = _optional_text(value)
    if value is None or value.lower() in ("off", "false", "0", "no"):
        return None
    if value.lower() != "self-signed":
        raise ValueError("expected self-signed, or empty")
    return "self-signed"


def _database_url(value):
    """None (the instance's SQLite file) or a URL of an engine wsserver runs on."""
    from .storage.db import UnknownEngine, engine_for

    value = _optional_text(value)
    if value is not None:
        try:
            engine_for(value)
        except UnknownEngine as exc:
            raise ValueError(str(exc)) from None
    return value


def _storage_uri(value):
    """None (the counter file in the instance folder) or a redis:// URI."""
    value = _optional_text(value)
    if value is not None and not re.match(r"(redis|rediss|redis\+unix)://", value):
        raise ValueError("expected a redis://host:port/db URI")
    return value


def _secret_key(value):
    text = _optional_text(value)
    if text is not None and len(text) < 32:
        raise ValueError("at least 32 characters")
    return text


def masked(url):
    """A URL with its password replaced by ***, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url) if isinstance(url, str) else url
