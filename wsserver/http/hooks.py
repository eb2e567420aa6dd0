"""Request hooks shared by every route: request ids, the access log, headers, the JSON body rule."""
import logging
import os
import random
import re
import time
from urllib.parse import parse_qsl, urlencode

from flask import current_app, g, request

from .. import budgets
from ..errors import error_response
from ..ops.logs import ACCESS_LOGGER_NAME

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A query parameter whose name looks secret, so its value is masked in logs: a secret word
# that is a whole word of the name (words split at non-letters and at camelCase, any case:
# api_key, apiKey, X-Amz-Signature, session_id), or that ends a run of glued letters
# (accesstoken, JSESSIONID). Harmless names stay readable: sort, q, author, keyword, design.
_SECRET_PARAMETER = re.compile(
    r"""
    (?: ^ | (?<=[^A-Za-z]) | (?<=[a-z])(?=[A-Z]) | (?<=[A-Z])(?=[A-Z][a-z]) )  # a word starts
    (?i: (?: token | password | passwd | pwd | pass | passphrase | secret | invite | invitation
           | key | apikey | auth | authorization | sig | signature | session | sessionid | sessid
           | credential | jwt | otp ) s? )
    (?= [^a-z] | $ )                                                           # and ends
    |
    (?i: (?: token | secret | password | passwd | signature | apikey | sessionid | sessid ) s? )
    (?= [^a-z] | $ )                                                           # ends a glued word
    """,
    re.VERBOSE,
)
BODY_METHODS = ("POST", "PUT", "PATCH")
# The largest request head accepted: what gunicorn, wsserver's earlier server, allowed.
MAX_REQUEST_TARGET = 8190  # bytes of path and query string
MAX_HEADER_BYTES = 8190  # bytes of one header, name and value
MAX_HEADERS = 100

access_log = logging.getLogger(ACCESS_LOGGER_NAME)

# Request ids need to be unique, not secret: a generator seeded from the OS once per
# process (reseeded after a fork) instead of uuid4's system call on every request.
_ids = random.Random()
_ids_pid = None


def new_request_id():
    global _ids_pid
    if _ids_pid != os.getpid():
        _ids.seed(os.urandom(32))
        _ids_pid = os.getpid()
    return f"{_ids.getrandbits(128):032x}"


def start_request():
    budgets.start_request(current_app.config["SERVER_TIMING"])
    g.request_started = time.perf_counter()
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    # accept the client's id only when it is short and plain, so it can't inject into logs
    g.request_id = offered if _REQUEST_ID_PATTERN.match(offered) else new_request_id()


def refuse_oversized_request_head():
    """414 for a path and query longer than MAX_REQUEST_TARGET bytes, 431 for a header longer
    than MAX_HEADER_BYTES or more than MAX_HEADERS of them, in the envelope (the HTTP server
    itself refuses only far larger request heads, at about 400 KiB, and not reliably)."""
    environ = request.environ
    length = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) + 1
    if length > MAX_REQUEST_TARGET:
        return error_response(414, f"The request target is {length} bytes long; at most {MAX_REQUEST_TARGET} are allowed.")
    headers = [(name, value) for name, value in environ.items() if name.startswith("HTTP_")]
    if len(headers) > MAX_HEADERS or any(len(name) + len(value) > MAX_HEADER_BYTES for name, value in headers):
        return error_response(
            431, f"At most {MAX_HEADERS} request headers of at most {MAX_HEADER_BYTES} bytes each are allowed."
        )
    return None


def refuse_nul_in_path():
    """A path holding a NUL character names nothing (no name, id or file has one; PostgreSQL could not
    even compare it): 404, the same on every engine."""
    if "\x00" in request.path:
        return error_response(404, "Nothing is found at a path holding a NUL character.")
    return None


def require_json_body():
    """A request that carries a body must say it is JSON (415 otherwise); the web page's forms
    (blueprint `ui`) post form data and read it with their own rules."""
    if request.method in BODY_METHODS and not request.is_json and request.blueprint != "ui":
        if request.content_length or request.headers.get("Transfer-Encoding") or request.mimetype:
            return error_response(415)
    return None


def _printable(text):
    """Escape control characters so a crafted path cannot forge log lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def masked_query():
    if not request.query_string:
        return ""
    return "?" + _masked(request.query_string.decode("latin-1"))


def _masked(query):
    """The query with the values of secret-looking names masked, also inside a value that is itself
    a path with a query (the sign-in page's `next=/ui/join/<fullname>?invite=…`)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, "***" if _SECRET_PARAMETER.search(name) else _masked_inside(value)) for name, value in pairs])


def _masked_inside(value):
    path, mark, query = value.partition("?")
    return f"{path}?{_masked(query)}" if mark and "=" in query else value


def finish_request(response):
    request_id = g.get("request_id") or new_request_id()
    response.headers[REQUEST_ID_HEADER] = request_id
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    for name, value in budgets.answer_headers().items():
        response.headers[name] = value
    if response.status_code == 204:
        # no content, so no content type (clients would try to parse an empty JSON body)
        response.headers.pop("Content-Type", None)
    if request.authorization is not None and response.mimetype in ("application/json", None):
        response.headers.setdefault("Cache-Control", "no-store")
    if access_log.isEnabledFor(logging.INFO):
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        fields = {
            "method": request.method,
            "path": _printable(request.path + masked_query()),
            "status": response.status_code,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "remote": request.remote_addr,
        }
        access_log.info(
            '%s %s %s %sms id=%s', fields["method"], fields["path"], fields["status"], duration_ms, request_id,
            extra={"fields": fields},
        )
    return response


def install_request_hooks(app):
    app.before_request(start_request)
    app.before_request(refuse_oversized_request_head)
    app.before_request(refuse_nul_in_path)
    app.before_request(require_json_body)
    app.after_request(finish_request)
    if app.config["TRUST_PROXY"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    if app.config["CORS_ORIGINS"]:
        from flask_cors import CORS

        origins = "*" if "*" in app.config["CORS_ORIGINS"] else list(app.config["CORS_ORIGINS"])
        CORS(
            app,
            origins=origins,
            # X-API-Version: the platform flavor's (wsserver/flavors/platform.py)
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER, "X-API-Version"],
            expose_headers=[
                "X-Total-Count", "Link", REQUEST_ID_HEADER, "Retry-After", "X-API-Version",
                "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Window", "X-RateLimit-Reset",
                budgets.TIMING_HEADER, budgets.PARTIAL_HEADER,
            ],
            methods=["GET", "PUT", "POST", "DELETE", "OPTIONS"],
        )
