"""Signing in to the web page: the session secret, the signed cookie, who is signed in, CSRF.

The cookie is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when the
request came over https), holding the account id and the id of its session,
which is kept server-side (services/sessions.py): every page checks the row,
so signing out ends the session even for a copy of the cookie, and it lasts
SESSION_HOURS from signing in whatever the cookie's own timestamp says (a flash
message re-signs the cookie; that extends nothing). The signing key is WSSERVER_SECRET_KEY, else
<instance>/secret-key, made on first use with mode 0600. Every form and
every htmx request carries the CSRF token (flask-wtf), checked for every
unsafe method of the web page only: the API authenticates each request with
its own credentials and has no cookie to forge.
"""
import datetime
import os
import secrets

from flask import request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from ..ids import canonical_time
from ..services import sessions

SECRET_KEY_FILE = "secret-key"
SIGNED_IN = "account"
SESSION_ID = "session"
EXPIRES = "expires"  # the row's expiry, so the cookie's own ends with it
_SIGNED_IN_ACCOUNT = "wsserver.ui_account"

csrf = CSRFProtect()


def secret_key(config):
    """WSSERVER_SECRET_KEY, or the instance's own key file (made with mode 0600 when missing)."""
    if config["SECRET_KEY"]:
        return config["SECRET_KEY"]
    os.makedirs(config["INSTANCE_PATH"], exist_ok=True)
    path = os.path.join(config["INSTANCE_PATH"], SECRET_KEY_FILE)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    with open(path) as handle:
        return handle.read().strip()


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure whenever the request came over https, with the key
    read (or made) on first use: creating the app touches nothing in the instance folder."""

    def get_cookie_secure(self, app):
        return request.is_secure

    def open_session(self, app, request):
        # Most requests are the API's, without the cookie: an empty session, without building the
        # signing serializer for nothing (it was a twentieth of a request's time in a profile).
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            _ensure_secret_key(app)  # the page's CSRF tokens are signed with it too
            return self.session_class()
        return super().open_session(app, request)

    def get_expiration_time(self, app, session):
        """The cookie ends with its session (sign-in + SESSION_HOURS), however often it is re-signed."""
        expires = session.get(EXPIRES)
        if session.permanent and isinstance(expires, str):
            try:
                return datetime.datetime.fromisoformat(canonical_time(expires).replace("Z", "+00:00"))
            except ValueError:
                pass
        return super().get_expiration_time(app, session)

    def get_signing_serializer(self, app):
        _ensure_secret_key(app)
        return super().get_signing_serializer(app)


def _ensure_secret_key(app):
    if not app.secret_key:
        app.secret_key = secret_key(app.config)


def configure_sessions(app):
    app.config.update(
        SESSION_COOKIE_NAME="wsserver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=app.config["SESSION_HOURS"]),
        SESSION_REFRESH_EACH_REQUEST=False,  # a sign-in lasts SESSION_HOURS from signing in, not from the last page
        # the API's unsafe methods are not checked: the web page checks its own (ui/__init__.py)
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.session_interface = SessionCookies()
    csrf.init_app(app)


def sign_in(account):
    session.clear()  # a new session (and CSRF token) for every sign-in
    secret, expires_at = sessions.start(account, request.remote_addr, request.headers.get("User-Agent"))
    session.permanent = True
    session.update({SIGNED_IN: account.id, SESSION_ID: secret, EXPIRES: expires_at})


def sign_out():
    """End this browser's session: its row (so every copy of the cookie is refused) and the cookie."""
    sessions.end(session.get(SESSION_ID))
    session.clear()


def sign_out_everywhere(account):
    """End every session of the account, this browser's included."""
    sessions.end_every_session(account.id)
    session.clear()


def signed_in_account():
    """The signed-in account, or None (never signed in, signed out, expired, or the account is gone)."""
    # looked up once per request (the page's guard and its view both ask); kept in the WSGI environ,
    # which lives exactly as long as the request (flask.g can outlive one), as http/auth.py does
    if _SIGNED_IN_ACCOUNT not in request.environ:
        account = None
        if SESSION_ID in session:
            account = sessions.account_for_session(session.get(SESSION_ID), session.get(SIGNED_IN))
            if account is None:
                session.clear()  # an ended session: the browser forgets the cookie
        request.environ[_SIGNED_IN_ACCOUNT] = account
    return request.environ[_SIGNED_IN_ACCOUNT]

