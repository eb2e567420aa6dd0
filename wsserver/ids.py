"""Ids, secrets and timestamps: the one place that makes them.

Normally ids and secrets come from the `secrets` module and timestamps from
the clock. In test mode, create_app may call configure() to make them
reproducible (WSSERVER_SEED, WSSERVER_FIXED_TIME): then the n-th value drawn
is SHA-256(seed, n), so the same requests in the same order give the same
ids and tokens, and every timestamp is the fixed time. The position n comes
from a counter that test mode keeps in a small SQLite file, so all worker
processes draw from one sequence and a reset can rewind it.

The configuration is per process (one deterministic app at a time).
"""
import base64
import hashlib
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

TOKEN_PREFIX = "wss_"
# Characters of a new token shown to recognise it (ids.visible_prefix): wss_ and 8 of its 43 random
# characters, 48 of its 256 bits; the 208 others are never shown again.
VISIBLE_CHARACTERS = 8

# None: real randomness (the secrets module); else a _Deterministic.
_generator = None
# None: the clock; else the canonical text every now_iso() returns.
_fixed_time = None


class MemoryCounter:
    """A position counter for one process (used when no shared counter is given)."""

    def __init__(self, start=0):
        self._lock = threading.Lock()
        self._value = start

    def next(self):
        with self._lock:
            self._value += 1
            return self._value

    def value(self):
        return self._value

    def set(self, value):
        with self._lock:
            self._value = value


class _Deterministic:
    def __init__(self, seed, counter):
        self.seed = seed
        self.counter = counter

    def draw(self, size):
        position = self.counter.next()
        return hashlib.sha256(f"wsserver:{self.seed}:{position}".encode()).digest()[:size]


def configure(seed=None, fixed_time=None, counter=None):
    """Reproducible ids and secrets when `seed` is an integer, pinned time when `fixed_time` is given.

    `counter` (next/value/set) holds the position in the sequence; a
    MemoryCounter by default. configure() with no arguments restores real
    randomness and the clock.
    """
    global _generator, _fixed_time
    _generator = None if seed is None else _Deterministic(seed, counter or MemoryCounter())
    _fixed_time = None if fixed_time is None else canonical_time(fixed_time)


def generator_position():
    """Where the deterministic sequence stands (None in random mode)."""
    return None if _generator is None else _generator.counter.value()


def rewind_generator(position):
    """Put the deterministic sequence back at `position` (a no-op in random mode)."""
    if _generator is not None and position is not None:
        _generator.counter.set(position)


def _random_bytes(size):
    return secrets.token_bytes(size) if _generator is None else _generator.draw(size)


def new_id():
    """An opaque 24-hex-character id."""
    return _random_bytes(12).hex()


def new_uuid():
    """A random (version 4) UUID as text: the workspace and organization ids other dialects show."""
    return str(uuid.UUID(bytes=_random_bytes(16), version=4))


# Accounts' UUIDs (what other dialects show as a user id) are derived from their ids: no random draw,
# so the deterministic sequence of test mode is what it was before they existed.
ACCOUNT_UUID_NAMESPACE = uuid.UUID("6c1f6a52-3d0b-4c55-9e0a-7f3b2b8d4e11")


def account_uuid(account_id):
    """The UUID of an account (stored in Account.uuid at creation; a seed file may give another)."""
    return str(uuid.uuid5(ACCOUNT_UUID_NAMESPACE, account_id))


def new_secret():
    """A random token of 256 bits, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(_random_bytes(32)).rstrip(b"=").decode("ascii")


def visible_prefix(secret):
    """What may be shown of a token made by new_secret() to recognise it: `wss_` and its next 8 characters."""
    return secret[:len(TOKEN_PREFIX) + VISIBLE_CHARACTERS]


def hash_secret(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def format_time(moment):
    """A datetime as fixed-width ISO 8601 UTC text with milliseconds and a Z (sorts as text)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_time(text):
    """ISO 8601 text (a time zone or Z; none means UTC) in the stored form; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expected an ISO 8601 date and time, e.g. 2024-05-01T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return format_time(moment)
    except OverflowError:
        raise ValueError("the date is out of range") from None


def shifted(text, seconds):
    """A stored time (now_iso's form) moved by `seconds` (negative: earlier), in the same form; clamped
    to the calendar's ends, so a far-off expiry never overflows."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        return format_time(moment + timedelta(seconds=seconds))
    except OverflowError:
        return format_time(datetime.max.replace(tzinfo=timezone.utc) if seconds > 0
                           else datetime.min.replace(tzinfo=timezone.utc))


def now_iso():
    """Current UTC time (or the fixed time of deterministic mode) as stored text."""
    if _fixed_time is not None:
        return _fixed_time
    return format_time(datetime.now(timezone.utc))


_minute = (None, None)  # (minutes since the epoch, its stored text up to the minute), refreshed as it passes


def current_minute():
    """now_iso() up to the minute ("2024-06-01T09:30"), for comparing stored times without formatting one:
    written once a minute per process (every authenticated request asks)."""
    global _minute
    if _fixed_time is not None:
        return _fixed_time[:16]
    number = int(time.time() // 60)
    if _minute[0] != number:
        _minute = (number, format_time(datetime.fromtimestamp(number * 60, timezone.utc))[:16])
    return _minute[1]

