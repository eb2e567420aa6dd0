"""The error envelope, and the one mapping from errors to HTTP statuses.

Services raise the domain errors below; every non-2xx answer of the app, from
any source, leaves through `error_response` as
{"error": {"message": ..., "details": {...}}}, or, for a request to a flavor
(wsserver/flavors), in that service's error shape: the flavor registers an
error dialect that rewrites the same (status, message, details).
"""
import errno
import logging
import sqlite3

import peewee
from flask import current_app, has_request_context, jsonify, request
from limits.errors import StorageError as CounterStorageError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("wsserver")


class DomainError(Exception):
    """A refusal of the rules: `status`, a message, details by field, and `headers` for the answer."""

    status = 400

    def __init__(self, message, details=None, headers=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = dict(headers or {})


class Invalid(DomainError):
    status = 422


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class QuotaExceeded(Forbidden):
    """403: one more would pass a per-account quota; `details` name its setting and limit."""

    def __init__(self, message, setting, limit):
        super().__init__(message, {"quota": f"WSSERVER_{setting}", "limit": limit})


class InsufficientStorage(DomainError):
    """507: the instance's disk is below its reserve (WSSERVER_DISK_RESERVE_MB); nothing was written."""

    status = 507


class TooManyRequests(DomainError):
    """429 (a login lock-out): `headers` (Retry-After, X-RateLimit-*) go on the answer."""

    status = 429


# Seconds a client is told to wait when the counters of the limits cannot be used.
COUNTERS_RETRY_AFTER = 5


class CountersUnavailable(DomainError):
    """503: the counters of the rate limit and the login lock-out (a side file or Redis) cannot be read
    or written, so a limited request or a password login is refused rather than let through uncounted."""

    status = 503

    def __init__(self):
        super().__init__(
            "The request limits cannot be counted right now, so this request was refused; nothing was changed. "
            "Retry after the time in Retry-After.",
            {"limits": ["The rate-limit and login counters are unavailable."]},
            headers={"Retry-After": str(COUNTERS_RETRY_AFTER)},
        )


# Sentences for statuses raised by Flask/Werkzeug itself.
MESSAGES = {
    400: "The request body is not valid JSON.",
    401: "Authentication required: send a Bearer token or HTTP Basic credentials.",
    403: "You are not allowed to do this.",
    404: "Nothing is here.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    414: "The request target (path and query string) is too long.",
    415: "The request body must be JSON (Content-Type: application/json).",
    431: "The request headers are too large.",
    422: "The request has invalid values.",
    429: "Too many requests.",
    500: "Internal server error.",
    503: "Service unavailable.",
    507: "The server's storage is full; nothing was changed. Try again once space has been freed.",
}


def envelope(message, details=None):
    """The body of every error answer."""
    return {"error": {"message": message, "details": details or {}}}


def register_error_dialect(app, blueprint_name, paths, answer):
    """Errors of requests to this blueprint, or to a path under one of `paths` that matched no route
    (a 404 or 405), are answered by `answer(status, message, details)` -> (status, body, mimetype)."""
    app.extensions.setdefault("wsserver-error-dialects", []).append((blueprint_name, tuple(paths), answer))


def _error_dialect():
    if not has_request_context():
        return None
    for blueprint_name, paths, answer in current_app.extensions.get("wsserver-error-dialects", ()):
        if request.blueprint == blueprint_name:
            return answer
        if request.url_rule is None and any(request.path == path or request.path.startswith(path + "/")
                                            for path in paths):
            return answer
    return None


def error_response(status, message=None, details=None, headers=None):
    message = message or MESSAGES.get(status, "Error.")
    dialect = _error_dialect()
    if dialect is None:
        response = jsonify(envelope(message, details))
    else:
        status, body, mimetype = dialect(status, message, details or {})
        response = current_app.response_class(current_app.json.dumps(body) + "\n", mimetype=mimetype)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401 and "WWW-Authenticate" not in response.headers:
        # both schemes wsserver accepts, as two challenges (RFC 9110 section 11.6.1)
        response.headers["WWW-Authenticate"] = 'Bearer realm="wsserver", Basic realm="wsserver"'
    return response


def _flatten_validation_messages(messages):
    """webargs nests errors by location ({"json": {...}}); clients want the fields."""
    details = {}
    if isinstance(messages, dict):
        for location, errors in messages.items():
            if isinstance(errors, dict):
                details.update(errors)
            else:
                details[location] = errors
    # marshmallow names errors about the whole document "_schema"
    if "_schema" in details:
        details["body"] = details.pop("_schema")
    return details


def messages_in(value):
    """Every message of a validation error's value (a string, a list, or nested by position or key), in
    order: what each flavor's error shape lists per parameter."""
    if isinstance(value, dict):
        return [text for inner in value.values() for text in messages_in(inner)]
    if isinstance(value, (list, tuple)):
        return [text for inner in value for text in messages_in(inner)]
    return [str(value)]


def handle_http_exception(error):
    status = error.code or 500
    headers = {}
    details = None
    message = None
    data = getattr(error, "data", None) or {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 422 and "messages" in data:
        details = _flatten_validation_messages(data["messages"])
        fields = ", ".join(sorted(details)) or "body"
        message = f"Invalid values: {fields}."
    elif status == 400 and "messages" in data:
        message = MESSAGES[400]
    elif status == 429:
        message = f"Too many requests (limit: {error.description}). Retry after the time in Retry-After."
    elif status == 500:
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled exception", exc_info=original)
    elif status not in MESSAGES and error.description:
        message = error.description
    if "message" in data:
        message = data["message"]
    headers.update(data.get("headers") or {})
    return error_response(status, message, details, headers)


def handle_domain_error(error):
    return error_response(error.status, error.message, error.details, error.headers)


def handle_counters_unavailable(error):
    """The limits' counters failed (a full disk or a locked or read-only file under the SQLite side file,
    Redis unreachable): `limits` raises its StorageError (wrap_exceptions), answered 503, never let through."""
    cause = getattr(error, "storage_error", error)
    log.warning("rate-limit counters unavailable: %s: %s", type(cause).__name__, cause)
    return handle_domain_error(CountersUnavailable())


def is_storage_full(error, instance_path=None):
    """The disk (or the database's size limit) is full: SQLite's SQLITE_FULL, ENOSPC/EDQUOT from a
    file write (an avatar), or a database I/O error while the instance's disk has no room left
    (a connection that cannot create its WAL index on a full disk says only "disk I/O error")."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if not isinstance(error, (sqlite3.Error, peewee.DatabaseError)):
        return False
    text = str(error).lower()
    if "disk is full" in text or "no space left" in text:
        return True
    if "disk i/o error" in text and instance_path:
        from .storage.disk import MIN_FREE_BYTES, has_room

        return not has_room(instance_path, MIN_FREE_BYTES)
    return False


def handle_integrity_error(error):
    """A unique key taken by a concurrent writer between the service's check and its insert (any
    engine): the same answer the service gives when it sees the row first."""
    log.info("integrity error answered 409: %s", error)
    return error_response(409, "This conflicts with a change made at the same moment; try again.")


def handle_unexpected(error):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if is_storage_full(error, current_app.config.get("INSTANCE_PATH")):
        log.error("storage full: %s", error)
        return error_response(507)
    if isinstance(error, peewee.DataError):
        # a value the database cannot store or compare (PostgreSQL: a NUL character) that no rule refused
        log.info("data error answered 400: %s", error)
        return error_response(400, "A value in the request cannot be stored or looked up (a NUL character?).")
    if isinstance(error, (peewee.OperationalError, peewee.InterfaceError)):
        # the database is unreachable (a PostgreSQL server down or restarting), or a lock was not had in
        # time (SQLite's busy timeout, PostgreSQL's lock_timeout): nothing was written; the client may retry
        log.error("database unavailable: %s", str(error).strip().splitlines()[0] if str(error).strip() else error)
        return error_response(503, "The database is unavailable or busy; nothing was changed. Try again.",
                              headers={"Retry-After": "1"})
    log.error("unhandled exception", exc_info=error)
    return error_response(500)


def register_error_handlers(app):
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CounterStorageError, handle_counters_unavailable)
    app.register_error_handler(peewee.IntegrityError, handle_integrity_error)
    app.register_error_handler(sqlite3.IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected)
