"""The web page's blueprint and what every page shares: a signed-in session (except the sign-in
page), a CSRF token on every unsafe request, a strict Content-Security-Policy (scripts and styles
from this server only, no inline script) and X-Frame-Options: DENY."""
from flask import Blueprint, redirect, render_template, request, url_for

from .session import csrf, signed_in_account

blp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Reachable without a session.
PUBLIC_ENDPOINTS = {"ui.sign_in", "ui.static"}


@blp.before_request
def require_a_session_and_a_csrf_token():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint not in PUBLIC_ENDPOINTS and signed_in_account() is None:
        return redirect(url_for("ui.sign_in", next=request.full_path if request.method == "GET" else None))
    return None


@blp.after_request
def page_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def render_page(template, status=200, /, **context):
    """A page with the signed-in account (for the navigation), answered with `status` (positional: the
    error page also takes a `status` to show)."""
    return render_template(template, account=signed_in_account(), **context), status
