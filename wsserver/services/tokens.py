"""Personal access tokens and their life cycle: issue, check, list, revoke (README, "Accounts and tokens").

Only a token's SHA-256 is stored, with a name, its creation time, an optional expiry, a scope
(permissions.TOKEN_SCOPES), the time it was last used and, for the tokens the server makes, a short
visible prefix to recognise it by (ids.visible_prefix). Checking a token is one indexed query by hash
(account_for_token), which reads the expiry, the scope and the last use in the same row; the last use
is written at most once a minute per token, never on every request. A revoked token's row is deleted:
every node reads the row on every request, so revoked and expired tokens are refused at once everywhere.

WSSERVER_TOKEN_MAX_DAYS (0: none) caps every token's lifetime: a new token's `expiresIn` may not exceed
it (422), one without `expiresIn` gets it, and a token older than the cap, made before it was set,
is refused as expired. The exception is the bootstrap token that WSSERVER_ADMIN_TOKEN names (its name
ENVIRONMENT_TOKEN_NAME is reserved): it lives as long as the setting names it.
"""
import hmac
import logging
import re

from flask import current_app, has_app_context
from peewee import DatabaseError

from ..errors import Invalid, NotFound
from ..fields import TOKEN_LONGEST_EXPIRY_SECONDS as LONGEST_EXPIRY_SECONDS, TOKEN_NAME_MAX_LENGTH
from ..ids import current_minute, hash_secret, new_id, new_secret, now_iso, shifted, visible_prefix
from ..permissions import FULL_SCOPE, TOKEN_SCOPES
from ..storage.db import PreparedSelect, database
from ..storage.models import Account, Token
from . import quotas

log = logging.getLogger(__name__)

# Name of the token that WSSERVER_ADMIN_TOKEN gives `admin` (at most one at a time); nobody else may use it.
ENVIRONMENT_TOKEN_NAME = "environment"
# What a name may not hold (the API's single-line rule, schemas/common.Text, for callers that bypass it: the
# admin commands, which print names one a line).
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# How long a stored last use stays good enough: within it, using the token writes nothing.
LAST_USE_PRECISION_SECONDS = 60
SECONDS_PER_DAY = 86400

# Run on every authenticated request: written once (see storage.db.PreparedSelect). The token's own columns
# come along under names an account has not, as plain attributes of the account.
_ACCOUNT_OF_TOKEN = PreparedSelect(
    Account,
    lambda digest: Account.select(
        Account, Token.token_hash, Token.id.alias("token_id"), Token.name.alias("token_name"),
        Token.created_at.alias("token_created_at"), Token.expires_at.alias("token_expires_at"),
        Token.last_used_at.alias("token_last_used_at"), Token.scope.alias("token_scope"),
    ).join(Token).where(Token.token_hash == digest).limit(1),
    arity=1,
)


def max_lifetime_seconds():
    """WSSERVER_TOKEN_MAX_DAYS in seconds, or None when there is no cap (or no app yet: the bootstrap admin's
    token, made while the instance opens, is then capped by its creation time as any older token)."""
    days = current_app.config["TOKEN_MAX_DAYS"] if has_app_context() else 0
    return days * SECONDS_PER_DAY if days else None


def _expired(expires_at, created_at, name, now, cap):
    if expires_at is not None and expires_at <= now:
        return True
    return cap is not None and name != ENVIRONMENT_TOKEN_NAME and created_at <= shifted(now, -cap)


def account_for_token(secret):
    """The account a bearer token belongs to, or None (unknown, revoked or expired).

    The account carries its token's columns as token_id, token_name, token_scope, token_expires_at,
    token_created_at and token_last_used_at. Marks the token used when its last use is older than
    LAST_USE_PRECISION_SECONDS (one conditional UPDATE; most requests write nothing).
    """
    if not secret or len(secret) > 256:
        return None
    digest = hash_secret(secret)
    account = _ACCOUNT_OF_TOKEN.first(digest)
    if account is None or not hmac.compare_digest(account.token_hash, digest):
        return None
    cap = max_lifetime_seconds()
    now = None  # the time as text, made only when something must be compared with it (most requests: not)
    if account.token_expires_at is not None or cap is not None:
        now = now_iso()
        if _expired(account.token_expires_at, account.token_created_at, account.token_name, now, cap):
            return None
    last_used = account.token_last_used_at
    # used in this minute of the clock: certainly recent enough, decided without making a time
    if last_used is None or last_used[:16] != current_minute():
        now = now or now_iso()
        if last_used is None or last_used <= shifted(now, -LAST_USE_PRECISION_SECONDS):
            _note_use(account.token_id, now)
    return account


def _note_use(token_id, now):
    """Write the token's last use, unless another request (another node) wrote a recent one meanwhile. A
    failure (a busy or full database) costs the bookkeeping only, never the request."""
    recent = shifted(now, -LAST_USE_PRECISION_SECONDS)
    try:
        with database.atomic():
            Token.update(last_used_at=now).where(
                (Token.id == token_id) & (Token.last_used_at.is_null() | (Token.last_used_at <= recent))
            ).execute()
    except DatabaseError as error:
        log.warning("could not record the use of token %s: %s", token_id, error)


def _refused(field, message):
    return Invalid(f"Invalid {field}: {message}", {field: [message]})


def expiry_for(expires_in, now):
    """The expiry of a token made `now` that asks for `expires_in` seconds (None: as long as allowed):
    None for no expiry. Invalid when it asks for more than WSSERVER_TOKEN_MAX_DAYS allows."""
    cap = max_lifetime_seconds()
    if expires_in is None:
        return None if cap is None else shifted(now, cap)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 1 <= expires_in <= LONGEST_EXPIRY_SECONDS:
        raise _refused("expiresIn", f"Must be a whole number of seconds from 1 to {LONGEST_EXPIRY_SECONDS}.")
    if cap is not None and expires_in > cap:
        raise _refused(
            "expiresIn",
            f"At most {cap} seconds ({cap // SECONDS_PER_DAY} days, WSSERVER_TOKEN_MAX_DAYS) on this server; "
            f"leave it out for the longest allowed.",
        )
    return shifted(now, expires_in)


def issue(account, name, expires_in=None, scope=FULL_SCOPE, reserved_name_allowed=False):
    """A new token for `account`: the stored row, with the clear value as `.secret` (shown once, never stored).

    Expired tokens of the account are removed first (they count for nothing); then the quota
    (WSSERVER_MAX_TOKENS_PER_ACCOUNT) is checked, in the same transaction.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= TOKEN_NAME_MAX_LENGTH or _LINE_BREAKING.search(name):
        raise _refused("name", f"1-{TOKEN_NAME_MAX_LENGTH} characters, no control characters.")
    if name == ENVIRONMENT_TOKEN_NAME and not reserved_name_allowed:
        raise _refused("name", f"'{ENVIRONMENT_TOKEN_NAME}' is reserved for the token WSSERVER_ADMIN_TOKEN sets.")
    if scope not in TOKEN_SCOPES:
        raise _refused("scope", f"One of {', '.join(sorted(TOKEN_SCOPES))}.")
    now = now_iso()
    expires_at = expiry_for(expires_in, now)
    secret = new_secret()
    with database.atomic():
        Token.delete().where((Token.account == account.id) & _expired_rows(now)).execute()
        quotas.check_new_token(account)
        token = Token.create(
            id=new_id(), account=account.id, token_hash=hash_secret(secret), name=name, created_at=now,
            prefix=visible_prefix(secret), expires_at=expires_at, scope=scope,
        )
    token.secret = secret
    token.expired, token.current = False, False
    return token


def _expired_rows(now):
    """A condition on Token: the rows refused as expired at `now` (account_for_token's rule, in SQL)."""
    condition = Token.expires_at.is_null(False) & (Token.expires_at <= now)
    cap = max_lifetime_seconds()
    if cap is not None:
        condition |= (Token.name != ENVIRONMENT_TOKEN_NAME) & (Token.created_at <= shifted(now, -cap))
    return condition


def is_expired(token, now=None):
    """Is this Token row refused as expired (now, or at `now`)?"""
    return _expired(token.expires_at, token.created_at, token.name, now or now_iso(), max_lifetime_seconds())


def tokens_of(account, current_token_id=None):
    """The account's tokens, oldest first, each with `expired` and `current` (the one of this request) set."""
    rows = list(Token.select().where(Token.account == account.id).order_by(Token.created_at, Token.id))
    now = now_iso()
    for token in rows:
        token.expired = is_expired(token, now)
        token.current = token.id == current_token_id
    return rows


def revoke(actor, token_id):
    """Revoke (delete) a token: the caller's own, or any for an instance admin (or the operator's admin
    commands: `actor` None). Another account's token is NotFound to anybody else, exactly as a token that
    does not exist."""
    query = Token.delete().where(Token.id == token_id)
    if actor is not None and not actor.admin:
        query = query.where(Token.account == actor.id)
    if not isinstance(token_id, str) or query.execute() == 0:
        raise NotFound("No such token among yours.")


def revoke_all(account, keep_token_id=None):
    """Revoke every token of `account` but `keep_token_id` (the one the request carries, if any); the count."""
    query = Token.delete().where(Token.account == account.id)
    if keep_token_id is not None:
        query = query.where(Token.id != keep_token_id)
    return query.execute()
