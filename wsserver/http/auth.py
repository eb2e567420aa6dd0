"""Authentication: Bearer personal access tokens or HTTP Basic, through flask-httpauth.

Credentials are checked once per request and the outcome remembered: the rate
limiter checks them first (identify_caller, to key the budget on the verified
account), the route's login_required then reuses the outcome. Passwords go
through password_login, behind the failed-login lock-out (http/ratelimit.py).
A token's scope (permissions.TOKEN_SCOPES) is enforced here, once, for every
route that takes credentials (login_required).
"""
import functools

from flask import request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from ..errors import MESSAGES, Forbidden, TooManyRequests, error_response
from ..permissions import FULL_SCOPE, scope_allows
from . import ratelimit
from ..services import accounts, tokens

# In the WSGI environ, so it lives exactly as long as the request (flask.g can outlive one).
_OUTCOMES = "wsserver.credential_outcomes"


class _SchemeIgnoringCase:
    """Pick the scheme case-insensitively (RFC 9110 section 11.1): `bearer` and `basic` work too.

    flask-httpauth's MultiAuth compares the scheme name case-sensitively.
    """

    def is_compatible_auth(self, headers):
        scheme = headers.get("Authorization", "").split(None, 1)[:1]
        return bool(scheme) and scheme[0].lower() == self.scheme.lower()


class TokenAuth(_SchemeIgnoringCase, HTTPTokenAuth):
    pass


class BasicAuth(_SchemeIgnoringCase, HTTPBasicAuth):
    pass


token_auth = TokenAuth(scheme="Bearer", realm="wsserver")
basic_auth = BasicAuth(realm="wsserver")
auth = MultiAuth(token_auth, basic_auth)


def _remembered(credentials, check):
    """The outcome of check() for these credentials in this request: an account, None, or a lock-out."""
    outcomes = request.environ.setdefault(_OUTCOMES, {})
    if credentials not in outcomes:
        try:
            outcomes[credentials] = check()
        except TooManyRequests as refused:
            outcomes[credentials] = refused
    return outcomes[credentials]


@token_auth.verify_token
def verify_token(token):
    return _remembered(("bearer", token), lambda: tokens.account_for_token(token))


@basic_auth.verify_password
def verify_password(username, password):
    outcome = _remembered(("basic", username, password), lambda: password_login(username, password))
    if isinstance(outcome, TooManyRequests):
        raise outcome
    return outcome


def password_login(username, password):
    """accounts.account_for_password behind the failed-login limits (ratelimit.LoginGuard).

    A locked (username, address) pair or username raises TooManyRequests before
    any password is hashed. The attempt is counted as a failure for both before
    the password is checked, and taken back when it is right: counters that
    cannot be written refuse it (503) whatever the password.
    """
    address = ratelimit.client_address()
    ratelimit.count_login_attempt(username, address)
    account = accounts.account_for_password(username, password)
    if account is not None:
        ratelimit.take_back_login_attempt(username, address)
    return account


def identify_caller(may_check_password=lambda: True):
    """The account this request's credentials verifiably belong to, or None (none, wrong, locked or unchecked).

    Picks the scheme as MultiAuth does. A password is only checked when
    may_check_password() says so (the rate limiter: not while the address is out of budget).
    """
    if token_auth.is_compatible_auth(request.headers):
        token = getattr(token_auth.get_auth(), "token", None)
        return verify_token(token) if token else None
    if basic_auth.is_compatible_auth(request.headers):
        credentials = basic_auth.get_auth()
        if credentials is None or not may_check_password():
            return None
        try:
            return verify_password(credentials.username, credentials.password)
        except TooManyRequests:
            return None  # remembered: the route that needs the credentials answers 429
    return None


@token_auth.error_handler
@basic_auth.error_handler
def authentication_failed(status):
    # error_response adds a WWW-Authenticate header naming both schemes.
    return error_response(status, MESSAGES.get(status))


def current_account():
    return auth.current_user()


def current_token_id():
    """The id of the token this request carries (None: a password)."""
    return getattr(current_account(), "token_id", None)


def login_required(view):
    """auth.login_required, then the token's scope: a request its token's scope does not allow is refused
    (403) before the view runs, whatever the account may do. Passwords have every scope."""

    @functools.wraps(view)
    def within_scope(*args, **kwargs):
        scope = getattr(current_account(), "token_scope", None)
        if not scope_allows(scope, request.method):
            raise Forbidden(f"This token's scope ({scope}) does not allow {request.method} requests; "
                            f"use a token of scope {FULL_SCOPE}.")
        return view(*args, **kwargs)

    return auth.login_required(within_scope)
