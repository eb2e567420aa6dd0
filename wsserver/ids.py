"""Ids, secrets and timestamps: the one place that makes them.

Kept together so a deterministic mode (fixed time, seeded generator) can
replace them in one spot.
"""
import hashlib
import secrets
from datetime import datetime, timezone

TOKEN_PREFIX = "wss_"


def new_id():
    """An opaque 24-hex-character id."""
    return secrets.token_hex(12)


def new_secret():
    """A random token of 256 bits, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def now_iso():
    """Current UTC time as fixed-width ISO 8601 text with milliseconds and a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
