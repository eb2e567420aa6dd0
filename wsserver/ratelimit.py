"""Rate limits with flask-limiter, counted in a small SQLite file shared by all worker processes.

flask-limiter's in-memory storage counts per process, so with several gunicorn
workers a client would get several times its limit. This storage (a `limits`
backend registered as `wsserver-sqlite://PATH`) keeps fixed-window counters in
<instance>/ratelimit.sqlite3, separate from the data so counting never
contends with data writes, with synchronous=OFF because a lost counter after
an OS crash does not matter.
"""
import hashlib
import os
import sqlite3
import threading
import time

from flask import request
from limits.storage import Storage

RATE_LIMIT_FILE = "ratelimit.sqlite3"
_EXEMPT_PATHS = ("/healthz", "/readyz", "/openapi.json")
# avatar files are public, immutable and cached: a page full of them must not eat a caller's budget
_EXEMPT_PREFIXES = ("/docs", "/avatars/")


class SQLiteCounterStorage(Storage):
    STORAGE_SCHEME = ["wsserver-sqlite"]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        self.path = uri.split("://", 1)[1]
        self._local = threading.local()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _connection(self):
        # One connection per thread and per process (a forked worker opens its own).
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS counter ("
                " key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID"
            )
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def incr(self, key, expiry, amount=1):
        now = time.time()
        row = self._connection().execute(
            "INSERT INTO counter (key, count, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            " count = CASE WHEN expires <= ? THEN excluded.count ELSE count + excluded.count END,"
            " expires = CASE WHEN expires <= ? THEN excluded.expires ELSE expires END "
            "RETURNING count",
            (key, amount, now + expiry, now, now),
        ).fetchone()
        if row[0] == amount and hash(key) % 64 == 0:
            # now and then, when a window starts, drop long-expired counters
            self._connection().execute("DELETE FROM counter WHERE expires < ?", (now - 3600,))
        return row[0]

    def get(self, key):
        row = self._connection().execute(
            "SELECT count FROM counter WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key):
        now = time.time()
        row = self._connection().execute(
            "SELECT expires FROM counter WHERE key = ? AND expires > ?", (key, now)
        ).fetchone()
        return row[0] if row else now

    def check(self):
        return self._connection().execute("SELECT 1").fetchone() == (1,)

    def reset(self):
        return self._connection().execute("DELETE FROM counter").rowcount

    def clear(self, key):
        self._connection().execute("DELETE FROM counter WHERE key = ?", (key,))


def rate_limit_key():
    """Per token (a hash of it, never the token), per Basic username, else per client address."""
    authorization = request.authorization
    if authorization is not None:
        if authorization.type == "bearer" and authorization.token:
            return "token:" + hashlib.sha256(authorization.token.encode()).hexdigest()[:32]
        if authorization.type == "basic" and authorization.username:
            return "user:" + authorization.username
    return "address:" + (request.remote_addr or "unknown")


def _exempt():
    return request.path in _EXEMPT_PATHS or request.path.startswith(_EXEMPT_PREFIXES)


def init_rate_limits(app):
    """Install flask-limiter when RATE_LIMIT is set; X-RateLimit-* headers on every limited answer."""
    limit = app.config["RATE_LIMIT"]
    if limit is None:
        return None
    from flask_limiter import HeaderNames, Limiter

    limiter = Limiter(
        rate_limit_key,
        # one budget per caller across all routes (default_limits would count per route)
        application_limits=[limit],
        storage_uri="wsserver-sqlite://" + os.path.join(app.config["INSTANCE_PATH"], RATE_LIMIT_FILE),
        strategy="fixed-window",
        headers_enabled=True,
        header_name_mapping={
            HeaderNames.LIMIT: "X-RateLimit-Limit",
            HeaderNames.REMAINING: "X-RateLimit-Remaining",
            HeaderNames.RESET: "X-RateLimit-Reset",
            HeaderNames.RETRY_AFTER: "Retry-After",
        },
        retry_after="delta-seconds",
        # a storage failure must not take the API down: count nothing rather than answer 500
        swallow_errors=True,
    )
    limiter.request_filter(_exempt)

    # Registered before the limiter's own hook, so this runs after it (Flask runs them in reverse).
    @app.after_request
    def add_window_header(response):
        current = limiter.current_limit
        if current is not None:
            response.headers["X-RateLimit-Window"] = str(current.limit.get_expiry() * 1000)
            if response.status_code != 429:
                response.headers.pop("Retry-After", None)
        return response

    limiter.init_app(app)
    return limiter
