"""Web page sessions kept server-side (README, "Sessions"): start, check, end one, end every one of an account.

The signed cookie carries a random session id (256 bits, ids.new_secret); the store keeps only its SHA-256,
with the account, when it began, when it ends (WSSERVER_SESSION_HOURS after signing in, never moved: no
page extends it) and when it was last seen (written at most once a minute, never on every request).
Checking a session is one query by primary key; a missing, expired or other-account row is no session.
Every node reads the row on every page, so a session ended here (sign-out, "sign out everywhere", and what
will call end_every_session: a password change, disabling the account) is ended everywhere at once.
Expired rows are removed when somebody signs in, never by a sweep per request.
"""
import hmac
import logging
import re

from flask import current_app
from peewee import DatabaseError

from ..ids import current_minute, hash_secret, new_secret, now_iso, shifted
from ..storage.db import PreparedSelect, database
from ..storage.models import Account, WebSession

log = logging.getLogger(__name__)

# How long a stored last sight stays good enough: within it, a page writes nothing.
LAST_SEEN_PRECISION_SECONDS = 60
SECONDS_PER_HOUR = 3600
ADDRESS_MAX_LENGTH = WebSession.address.max_length
USER_AGENT_MAX_LENGTH = WebSession.user_agent.max_length
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Run on every page: written once (storage.db.PreparedSelect). The session's columns come along as plain
# attributes of the account.
_ACCOUNT_OF_SESSION = PreparedSelect(
    Account,
    lambda digest: Account.select(
        Account, WebSession.id_hash.alias("session_hash"), WebSession.expires_at.alias("session_expires_at"),
        WebSession.last_seen_at.alias("session_last_seen_at"),
    ).join(WebSession).where(WebSession.id_hash == digest).limit(1),
    arity=1,
)


def _lifetime_seconds():
    return current_app.config["SESSION_HOURS"] * SECONDS_PER_HOUR


def _clean(text, length):
    """A request header as stored: printable, at most `length` characters (None when absent)."""
    return _UNPRINTABLE.sub("", text)[:length] or None if text else None


def start(account, address=None, user_agent=None):
    """A new session of `account`: (its secret id, for the cookie only; its expiry). Expired sessions of every
    account are removed in the same transaction."""
    now = now_iso()
    secret = new_secret()
    expires_at = shifted(now, _lifetime_seconds())
    with database.atomic():
        WebSession.delete().where(WebSession.expires_at <= now).execute()
        WebSession.create(
            id_hash=hash_secret(secret), account=account.id, created_at=now, expires_at=expires_at, last_seen_at=now,
            address=_clean(address, ADDRESS_MAX_LENGTH), user_agent=_clean(user_agent, USER_AGENT_MAX_LENGTH),
        )
    return secret, expires_at


def account_for_session(secret, account_id):
    """The account signed in by session `secret`, or None (unknown, ended, expired, or not `account_id`'s).
    Notes the session seen when its last sight is older than LAST_SEEN_PRECISION_SECONDS."""
    if not isinstance(secret, str) or not isinstance(account_id, str) or len(secret) > 256:
        return None
    digest = hash_secret(secret)
    account = _ACCOUNT_OF_SESSION.first(digest)
    if account is None or not hmac.compare_digest(account.session_hash, digest) or account.id != account_id:
        return None
    now = now_iso()
    if account.session_expires_at <= now:
        return None
    last_seen = account.session_last_seen_at
    if last_seen[:16] != current_minute() and last_seen <= shifted(now, -LAST_SEEN_PRECISION_SECONDS):
        _note_sight(digest, now)
    return account


def _note_sight(digest, now):
    """Write the session's last sight, unless another request wrote a recent one meanwhile. A failure (a busy
    or full database) costs the bookkeeping only, never the page."""
    try:
        with database.atomic():
            WebSession.update(last_seen_at=now).where(
                (WebSession.id_hash == digest) & (WebSession.last_seen_at <= shifted(now, -LAST_SEEN_PRECISION_SECONDS))
            ).execute()
    except DatabaseError as error:
        log.warning("could not record a web session's last sight: %s", error)


def end(secret):
    """End one session (signing out); nothing when there is none."""
    if isinstance(secret, str):
        WebSession.delete().where(WebSession.id_hash == hash_secret(secret)).execute()


def end_every_session(account_id):
    """End every web session of an account, on every node at once (sign out everywhere; a password change,
    disabling the account); the count ended."""
    return WebSession.delete().where(WebSession.account == account_id).execute()
