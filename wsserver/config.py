"""Settings: defaults < <instance>/config.py < WSSERVER_* environment < explicit overrides.

Every setting is declared once in SETTINGS with its parser; the README's
configuration table lists the same names. A bad value raises ConfigError with
a one-line message naming the setting.
"""
import os
import runpy
from dataclasses import dataclass
from typing import Any, Callable

from .config_values import (  # noqa: F401 (masked and FLAVOR_NAMES: also read from here)
    FLAVOR_NAMES, _boolean, _choice,
    _database_url, _flavors, _int_between, _integer, _login_limit, _name_list,
    _optional_integer, _optional_text, _optional_time, _optional_uuid, _origins, _public_url,
    _rate_limit, _secret_key, _storage_uri, _text, _tls_mode, masked,
)

ENV_PREFIX = "WSSERVER_"


class ConfigError(Exception):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False  # a value that may hold a password: never shown whole in a message


DEFAULT_RESERVED_NAMES = frozenset(
    {"admin", "api", "new", "settings", "me", "workspaces", "avatars", "docs",
     "openapi", "healthz", "readyz", "static", "help", "root", "system"}
)

SETTINGS = (
    Setting("HOST", "127.0.0.1", _text, "address `python app.py` listens on"),
    Setting("PORT", 8080, _int_between(0, 65535), "port `python app.py` listens on"),
    Setting("INSTANCE_PATH", "instance", _text, "folder holding the database and avatars"),
    Setting("DATABASE_URL", None, _database_url,
            "database: empty for <instance>/wsserver.sqlite3, or postgresql://user:password@host:5432/name",
            secret=True),
    Setting("AVATAR_PATH", None, _optional_text,
            "folder of uploaded avatars: empty for <instance>/avatars; with several nodes, one folder they all "
            "mount (NFS or a shared volume)"),
    Setting("RATELIMIT_STORAGE", None, _storage_uri,
            "where rate-limit counters live: empty for a file in the instance folder (one machine), "
            "or redis://host:6379/0 (shared by every node)", secret=True),
    Setting("ADMIN_TOKEN", None, _optional_text,
            "token of the bootstrap instance admin `admin` (idempotent across restarts)"),
    Setting("DEFAULT_ORG_ID", None, _optional_uuid,
            "the id (a UUID) of the instance's default organization; empty: generated once"),
    Setting("FLAVORS", _flavors(None), _flavors,
            "other services' APIs served over the same store (README, \"Flavors\"): comma-separated "
            "name or name=/mount; empty: engineering, geoscience and platform at /flavors/<name>; none: no flavors"),
    Setting("TRASH_DAYS", 0, _int_between(0, 36500),
            "days a deleted workspace stays in the trash (restorable; its name taken) before it is purged; "
            "0: DELETE removes it at once"),
    Setting("RESERVED_NAMES", DEFAULT_RESERVED_NAMES, _name_list,
            "comma-separated workspace names nobody may create"),
    Setting("AVATAR_MAX_BYTES", 1024 * 1024, _int_between(1, 64 * 1024 * 1024),
            "largest decoded avatar in bytes (bigger: 413)"),
    # Pillow refuses images over ~179 megapixels outright, so larger sides could never be used
    Setting("AVATAR_MAX_SIDE", 4096, _int_between(1, 10000),
            "largest avatar width or height in pixels"),
    Setting("AVATAR_UPLOADS", 1, _int_between(1, 64),
            "avatar uploads a worker process decodes at once (others wait with their body received)"),
    # Every item of a page must fit: the largest is an engineering workspace carrying its image (under 1 MB).
    Setting("MAX_ANSWER_BYTES", 3 * 1024 * 1024, _int_between(2 * 1024 * 1024, 1024 * 1024 * 1024),
            "largest list answer in bytes: a page that would be larger ends early, its next link leading on "
            "(X-Answer-Partial: page)"),
    # Budgets and quotas (README, "Budgets and quotas"): per ordinary account (instance admins have none),
    # 0 for no limit; and the disk reserve below which writes other than deletes answer 507.
    Setting("MAX_WORKSPACES_PER_ACCOUNT", 1000, _int_between(0, 10**9),
            "workspaces an account may have created that are still stored (the trash included); 0: no limit"),
    Setting("MAX_AVATAR_BYTES_PER_ACCOUNT", 64 * 1024 * 1024, _int_between(0, 2**62),
            "bytes of avatar files the workspaces an account created point at (a file once per workspace); "
            "0: no limit"),
    Setting("MAX_TOKENS_PER_ACCOUNT", 100, _int_between(0, 10**9), "tokens an account may hold; 0: no limit"),
    Setting("TOKEN_MAX_DAYS", 0, _int_between(0, 36500),
            "days a personal access token may live at most (a longer expiresIn: 422; none asked: this); "
            "0: no cap"),
    Setting("DISK_RESERVE_MB", 64, _int_between(0, 2**30),
            "MiB the instance's disk keeps free: below it, writes other than deletes answer 507 and /readyz "
            "fails `storage`; 0: no reserve (writes run until the disk is full, /readyz fails below 1 MiB)"),
    # HTTPS (README, "Running it for real": TLS): granian serves these PEM files, or a self-signed set.
    Setting("TLS_CERT", None, _optional_text,
            "PEM certificate (or chain, the server's first) `python app.py` serves HTTPS with; with TLS_KEY"),
    Setting("TLS_KEY", None, _optional_text, "PEM private key (unencrypted) of TLS_CERT"),
    Setting("TLS", None, _tls_mode,
            "`self-signed`: HTTPS with a certificate for localhost, 127.0.0.1 and ::1 made on first start in "
            "<instance>/tls (clients trust <instance>/tls/ca.pem); empty: TLS_CERT/TLS_KEY, else plain HTTP"),
    Setting("PUBLIC_URL", None, _public_url,
            "absolute base URL used in avatar URLs (else taken from the request)"),
    Setting("WORKERS", min(os.cpu_count() or 1, 4), _int_between(1, 64),
            "worker processes of `python app.py`"),
    Setting("THREADS", 8, _int_between(1, 256), "threads per worker process"),
    Setting("BUSY_TIMEOUT_MS", 5000, _int_between(0, 600000),
            "how long a write waits for SQLite's lock before giving up"),
    Setting("TRUST_PROXY", False, _boolean,
            "honour X-Forwarded-For/-Proto/-Host/-Prefix from one reverse proxy in front"),
    Setting("RATE_LIMIT", "300/minute", _rate_limit,
            "requests per account (per address when anonymous or not verified): `N/second|minute|hour|day` or `off`"),
    Setting("LOGIN_LOCKOUT", "10/15 minutes", _login_limit,
            "failed password logins per username from one address; then 429 for that pair until the window ends"),
    Setting("LOGIN_BRAKE", "100/hour", _login_limit,
            "failed password logins per username from all addresses; then 429 for its password logins (tokens work)"),
    Setting("SEARCH_CPU_MS", 50, _int_between(1, 60000),
            "CPU milliseconds one search (`q`, a flavor's `search`) may spend finding misspellings; then the "
            "answer holds what was found so far and carries `X-Answer-Partial: search`"),
    Setting("CORS_ORIGINS", (), _origins,
            "comma-separated origins allowed by CORS (`*` for any); empty: CORS off"),
    Setting("LOG_FORMAT", "text", _choice("text", "json"), "`text` or `json` (one JSON object a line)"),
    Setting("LOG_LEVEL", "info", _choice("debug", "info", "warning", "error"), "level of wsserver's logs"),
    Setting("ACCESS_LOG", True, _boolean, "one log line per request"),
    Setting("SERVER_TIMING", False, _boolean,
            "every answer reports the CPU time of its request (Server-Timing: cpu;dur=<ms>)"),
    # The web page (README: "Web interface").
    Setting("UI", True, _boolean, "serve the web page at /ui (`/` redirects there); false: 404"),
    Setting("SECRET_KEY", None, _secret_key,
            "key signing the web page's session cookies (32+ characters); empty: <instance>/secret-key, "
            "made on first use with mode 0600 (give every node the same one)", secret=True),
    Setting("SESSION_HOURS", 12, _int_between(1, 24 * 30), "hours a web page sign-in lasts, from signing in"),
    # Test double (README: "Using wsserver as a test double").
    Setting("TEST_MODE", False, _boolean,
            "serve /__admin__/reset and /__admin__/requests; never in production"),
    Setting("SEED_FILE", None, _optional_text,
            "JSON or YAML seed file loaded at start-up (into an empty instance; always in test mode)"),
    Setting("FIXED_TIME", None, _optional_time, "test mode: every createdAt/updatedAt is this ISO 8601 time"),
    Setting("SEED", None, _optional_integer, "test mode: ids and tokens are reproducible from this integer"),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def _apply(values, name, raw, source):
    setting = SETTINGS_BY_NAME[name]
    try:
        values[name] = setting.parse(raw)
    except ValueError as exc:
        shown = (masked(raw) if "://" in str(raw) else "***") if setting.secret else raw
        raise ConfigError(f"{ENV_PREFIX}{name} ({source}): {exc}, got {shown!r}") from None


def load_settings(overrides=None, environ=None):
    """Return {NAME: value} for every setting, and the Flask options found in overrides.

    `overrides` (used by tests and create_app(config=...)) wins over everything;
    its keys that are not settings are passed through untouched.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values = {setting.name: setting.default for setting in SETTINGS}
    passthrough = {key: value for key, value in overrides.items() if key not in SETTINGS_BY_NAME}

    # The instance folder decides where config.py is, so resolve it first.
    instance = overrides.get("INSTANCE_PATH") or environ.get(ENV_PREFIX + "INSTANCE_PATH") or values["INSTANCE_PATH"]
    _apply(values, "INSTANCE_PATH", instance, "instance path")
    config_file = os.path.join(values["INSTANCE_PATH"], "config.py")
    if os.path.isfile(config_file):
        try:
            found = runpy.run_path(config_file)
        except Exception as exc:  # a broken config file must stop start-up in one line
            raise ConfigError(f"{config_file}: cannot be loaded: {type(exc).__name__}: {exc}") from None
        for key, raw in found.items():
            if not key.isupper():
                continue
            name = key[len(ENV_PREFIX):] if key.startswith(ENV_PREFIX) else key
            if name not in SETTINGS_BY_NAME:
                raise ConfigError(f"{config_file}: unknown setting {key}")
            if name != "INSTANCE_PATH":
                _apply(values, name, raw, config_file)

    for name in SETTINGS_BY_NAME:
        if name != "INSTANCE_PATH" and ENV_PREFIX + name in environ:
            _apply(values, name, environ[ENV_PREFIX + name], "environment")
    for name, raw in overrides.items():
        if name in SETTINGS_BY_NAME and name != "INSTANCE_PATH":
            _apply(values, name, raw, "override")

    values["INSTANCE_PATH"] = os.path.abspath(values["INSTANCE_PATH"])
    return values, passthrough


def request_body_limit(avatar_max_bytes):
    """Largest request body: a maximal avatar in base64 plus room for the JSON around it."""
    return (avatar_max_bytes + 2) // 3 * 4 + 64 * 1024
