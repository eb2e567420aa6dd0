"""Rate limits with flask-limiter, counted in a small SQLite file shared by all worker processes,
or in Redis (WSSERVER_RATELIMIT_STORAGE=redis://...) shared by every node.

flask-limiter's in-memory storage counts per process, so with several worker
processes a client would get several times its limit. This storage (a `limits`
backend registered as `wsserver-sqlite://PATH`) keeps fixed-window counters in
<instance>/ratelimit.sqlite3, separate from the data so counting never
contends with data writes, with synchronous=OFF because a lost counter after
an OS crash does not matter.

The rules (README, "Rate limits"):

- One budget (RATE_LIMIT) per VERIFIED account: the credentials are checked
  before the limiter counts the request (identify_caller), so a valid token or
  Basic password keys the budget on the account. Missing, wrong or unchecked
  credentials count against the client address, so junk tokens or usernames
  buy no fresh budget. While an address is out of budget its Basic passwords
  are not even hashed.
- Failed password logins (HTTP Basic and POST /token), counted by LoginGuard in
  the same file: LOGIN_LOCKOUT per (username, address) locks that pair only, so
  an attacker cannot lock the owner out from elsewhere; LOGIN_BRAKE per username
  over all addresses is the slower global brake. A locked login answers 429
  before any password hashing.
- Limits fail closed: when the counters cannot be read or written (a full
  disk, a locked or read-only counter file, Redis unreachable), `limits`
  raises its StorageError (every storage is made with wrap_exceptions) and
  errors.py answers 503 with Retry-After: a budgeted request or a password
  login is refused, never let through uncounted. /readyz checks the counters
  (`limits`, by writing a probe counter).
"""
import hashlib
import math
import os
import sqlite3
import time

from flask import current_app, has_request_context, request
from limits import parse as parse_limit
from limits.storage import Storage

from ..errors import CounterStorageError, TooManyRequests
from ..services.health import register_check
from ..storage.side_file import SideFile

RATE_LIMIT_FILE = "ratelimit.sqlite3"
_EXEMPT_PATHS = ("/healthz", "/readyz", "/openapi.json")
# avatar files are public, immutable and cached: a page full of them must not eat a caller's budget
_EXEMPT_PREFIXES = ("/docs", "/avatars/")


_COUNTER_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
    " WITHOUT ROWID",
)


class SQLiteCounterStorage(Storage):
    STORAGE_SCHEME = ["wsserver-sqlite"]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        self.path = uri.split("://", 1)[1]
        self._file = SideFile(self.path, _COUNTER_SCHEMA, timeout=5)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        # OSError: the instance folder cannot be made or reached
        return (sqlite3.Error, OSError)

    def _connection(self):
        return self._file.connection()

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


# The scope of the one application-wide budget (flask-limiter counts it under [key, scope]).
BUDGET_SCOPE = "budget"
LOGIN_GUARD = "wsserver-login-guard"
# Set per request by identify_caller: the account whose credentials were verified, or None.
_CALLER = "wsserver.verified_caller"
# Set when a login was refused: the headers that 429 must carry (see finish_rate_headers).
_REFUSAL = "wsserver.login_refusal"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Window", "Retry-After")


def client_address():
    """The address the request came from (the proxy's X-Forwarded-For with WSSERVER_TRUST_PROXY)."""
    return request.remote_addr or "unknown"


def rate_limit_key():
    """Per verified account, else per client address (credentials that fail count against the address)."""
    account = request.environ.get(_CALLER)
    if account is not None:
        return "account:" + account.id
    return "address:" + client_address()


def _exempt():
    return request.path in _EXEMPT_PATHS or request.path.startswith(_EXEMPT_PREFIXES)


class LoginGuard:
    """Failed password logins, per (username, address) for the lock-out and per username as a brake.

    Counted with a fixed-window strategy of `limits` in the counters' storage (the
    shared SQLite file, so every worker process sees them; the limiter's own when
    a budget is set, so limiter.reset() clears them too). Usernames are counted whether or not such an account
    exists, so a lock-out tells nothing about which usernames are real.
    """

    def __init__(self, strategy, lockout, brake):
        self.strategy = strategy  # a `limits` fixed-window rate limiter over the counters' storage
        self.rules = [
            (parse_limit(rule), scope)
            for rule, scope in ((lockout, "login-failures"), (brake, "login-brake"))
            if rule is not None
        ]

    def _identifiers(self, scope, username, address):
        # a digest: bounded keys, and no usernames in the counter file
        name = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return (scope, name, address) if scope == "login-failures" else (scope, name)

    def refuse_if_locked(self, username, address):
        """Raise TooManyRequests (with Retry-After and X-RateLimit-*) when this login is locked."""
        strategy = self.strategy
        for item, scope in self.rules:
            identifiers = self._identifiers(scope, username, address)
            # counters that cannot be read raise CounterStorageError (503): no login while the lock-out is blind
            if strategy.test(item, *identifiers):
                continue
            reset_at, _ = strategy.get_window_stats(item, *identifiers)
            headers = {
                "Retry-After": str(max(1, math.ceil(reset_at - time.time()))),
                "X-RateLimit-Limit": str(item.amount),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(reset_at + 1)),
                "X-RateLimit-Window": str(item.get_expiry() * 1000),
            }
            if has_request_context():
                request.environ[_REFUSAL] = headers
            where = " from this address" if scope == "login-failures" else ""
            raise TooManyRequests(
                f"Too many failed logins for this username{where} (limit: {item}). "
                "Retry after the time in Retry-After.",
                headers=headers,
            )

    def count_attempt(self, username, address):
        """Count this attempt as a failure before its password is checked (take_back() when it is right).

        Counted first, so counters that cannot be written refuse every attempt (CounterStorageError: 503)
        before any hashing, right or wrong password alike: a guess is never answered while the lock-out
        cannot see it, and no answer tells a right password from a wrong one while counting is broken.
        """
        for item, scope in self.rules:
            self.strategy.hit(item, *self._identifiers(scope, username, address))

    def take_back(self, username, address):
        """The password was right: remove the count of count_attempt (not below zero, should the window
        have ended meanwhile). Counters failing now only leave one failure too many: logged, not raised."""
        try:
            for item, scope in self.rules:
                identifiers = self._identifiers(scope, username, address)
                if self.strategy.storage.get(item.key_for(*identifiers)) > 0:
                    self.strategy.hit(item, *identifiers, cost=-1)
        except CounterStorageError as error:
            current_app.logger.warning("a successful login stays counted as a failure: %s", error.storage_error)

    def reset(self):
        """Forget every count (test mode's reset)."""
        self.strategy.storage.reset()


# Written by /readyz's `limits` check: proof that the counters can be written, not only read.
READINESS_PROBE = "readiness-probe"


def counters_writable(storage):
    """Whether a counter can be written and read back (the `limits` check of /readyz)."""
    try:
        storage.incr(READINESS_PROBE, 60)
        return storage.get(READINESS_PROBE) > 0
    except CounterStorageError as error:
        cause = getattr(error, "storage_error", error)
        current_app.logger.warning("readiness: rate-limit counters unavailable: %s: %s", type(cause).__name__, cause)
        return False


# Seconds a Redis command or connection may take before the counters count as unavailable.
REDIS_TIMEOUT = 2


def _storage_options(app):
    """Options of the counters' storage: errors wrapped (CounterStorageError, answered 503 by errors.py);
    on Redis, wsserver's key prefix and timeouts, so an unreachable Redis refuses within seconds."""
    if not app.config["RATELIMIT_STORAGE"]:
        return {"wrap_exceptions": True}
    return {"wrap_exceptions": True, "key_prefix": "wsserver", "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT}


def _login_guard():
    return current_app.extensions.get(LOGIN_GUARD)


def count_login_attempt(username, address):
    """Before a password is checked: TooManyRequests if this (username, address) or username is locked;
    else the attempt is counted as a failure (CounterStorageError, 503, when it cannot be)."""
    guard = _login_guard()
    if guard is not None and username:
        guard.refuse_if_locked(username, address)
        guard.count_attempt(username, address)


def take_back_login_attempt(username, address):
    """The password was right: the attempt counted by count_login_attempt is not a failure."""
    guard = _login_guard()
    if guard is not None and username:
        guard.take_back(username, address)


def init_rate_limits(app, identify_caller):
    """Install flask-limiter when RATE_LIMIT or a login limit is set; X-RateLimit-* headers on every limited answer.

    `identify_caller(may_check_password)`: the account whose credentials this request verifiably
    carries, or None (http/auth.py); the budget is keyed on it.
    """
    budget = app.config["RATE_LIMIT"]
    lockout, brake = app.config["LOGIN_LOCKOUT"], app.config["LOGIN_BRAKE"]
    if budget is None and lockout is None and brake is None:
        return None
    storage_uri = app.config["RATELIMIT_STORAGE"] or "wsserver-sqlite://" + os.path.join(
        app.config["INSTANCE_PATH"], RATE_LIMIT_FILE
    )
    storage_options = _storage_options(app)
    if budget is None:
        # Only the login limits: their counters, without flask-limiter's hooks on every request.
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        strategy = FixedWindowRateLimiter(storage_from_string(storage_uri, **storage_options))
        app.extensions[LOGIN_GUARD] = LoginGuard(strategy, lockout, brake)
        register_check(app, "limits", lambda: counters_writable(strategy.storage))
        return None
    from flask_limiter import ApplicationLimit, HeaderNames, Limiter

    limiter = Limiter(
        rate_limit_key,
        # one budget per caller across all routes (default_limits would count per route)
        application_limits=[ApplicationLimit(budget, scope=BUDGET_SCOPE)],
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="fixed-window",
        headers_enabled=True,
        header_name_mapping={
            HeaderNames.LIMIT: "X-RateLimit-Limit",
            HeaderNames.REMAINING: "X-RateLimit-Remaining",
            HeaderNames.RESET: "X-RateLimit-Reset",
            HeaderNames.RETRY_AFTER: "Retry-After",
        },
        retry_after="delta-seconds",
        # fail closed: a counter that cannot be read or written refuses the request (CounterStorageError: 503)
        swallow_errors=False,
    )
    limiter.request_filter(_exempt)
    budget_item = parse_limit(budget)

    def address_has_budget():
        return limiter.limiter.test(budget_item, "address:" + client_address(), BUDGET_SCOPE)

    # Registered before the limiter's own hook, so it runs first (before_request runs in order):
    # the key is decided once the credentials are checked.
    @app.before_request
    def key_on_verified_caller():
        # unknown routes (no endpoint) are not limited and never authenticate: check nothing there
        if request.endpoint is None or request.method == "OPTIONS" or _exempt():
            return
        request.environ[_CALLER] = identify_caller(may_check_password=address_has_budget)

    # Registered before the limiter's own hook, so this runs after it (Flask runs them in reverse).
    @app.after_request
    def finish_rate_headers(response):
        current = limiter.current_limit
        refusal = request.environ.get(_REFUSAL)
        if response.status_code == 429 and refusal is not None and not (current is not None and current.breached):
            # a login lock-out, not the budget: its own numbers, over those flask-limiter added for the budget
            for name in RATE_HEADERS:
                response.headers[name] = refusal[name]
        elif current is not None:
            response.headers["X-RateLimit-Window"] = str(current.limit.get_expiry() * 1000)
            if response.status_code != 429:
                response.headers.pop("Retry-After", None)
        return response

    limiter.init_app(app)

    # Registered after the limiter's own hook, so it runs after it: the budget's window is read now,
    # before the route runs, so counters failing after the count refuse the request (503) here rather
    # than fail in the limiter's after_request (its X-RateLimit-* headers reuse what was read).
    @app.before_request
    def read_budget_window():
        current = limiter.current_limit
        if current is not None:
            current.reset_at  # noqa: B018 (reads and keeps the window)

    if lockout is not None or brake is not None:
        app.extensions[LOGIN_GUARD] = LoginGuard(limiter.limiter, lockout, brake)
    register_check(app, "limits", lambda: counters_writable(limiter.limiter.storage))
    return limiter
