"""What every blueprint shares: the JSON parser, the auth decorator, error documentation."""
import json
from http import HTTPStatus

import flask_smorest
from flask import current_app
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.workspaces import FULLNAME_PATTERN

from ..http.auth import login_required
from ..permissions import TOKEN_SCOPES, scope_allows
from ..http.smorest import RATE_LIMITED


def request_body(req):
    """The whole request body, within MAX_CONTENT_LENGTH: 413 beyond it, a streamed body too.

    Werkzeug refuses a Content-Length over the limit up front. A streamed body
    (Transfer-Encoding: chunked, no Content-Length; the WSGI server ends the stream and
    says so with wsgi.input_terminated) it reads up to the limit and then stops without
    looking further, so one over the limit would arrive cut short: `400 not valid JSON`.
    """
    data = req.get_data(cache=True)
    limit = req.max_content_length
    if req.content_length is None and limit is not None and len(data) >= limit and req.input_stream.read(1):
        raise RequestEntityTooLarge()
    return data


class JSONParser(FlaskParser):
    """webargs' parser, reading the body with request_body and the app's strict JSON
    (wsserver.http.json.JSONProvider.loads), with over-deep JSON answered as malformed (400), not a crash."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        try:
            # invalid UTF-8 raises UnicodeDecodeError, which webargs answers with 400 too
            return current_app.json.loads(request_body(req).decode("utf-8"))
        except RecursionError:
            # (a non-empty `doc`: webargs reads an empty one as "no body")
            raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from None


# What any route may answer before it runs (http/hooks.py): a request target or header over the limits.
EVERY_ROUTE_ERRORS = (414, 431)
# The path's fullname, documented with the body's rules (PUT also answers 422 when the two differ).
FULLNAME_IN_PATH = {
    "in": "path",
    "name": "fullname",
    "description": "The workspace's fullname (kebab-case, 2-64 characters).",
    "schema": {"type": "string", "minLength": 2, "maxLength": 64, "pattern": FULLNAME_PATTERN},
}

# Documented with their own response component (the error envelope plus headers).
ERROR_RESPONSES = {429: RATE_LIMITED}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JSONParser()

    def errors(self, *statuses):
        """Document error answers (the envelope) for these statuses."""

        def decorator(func):
            for status in statuses:
                func = self.alt_response(status, response=ERROR_RESPONSES.get(status, HTTPStatus(status).name))(func)
            return func

        return decorator

    def authenticated(self, func):
        """Require credentials, and document the 401, the rate limit's 429 and what any route may answer;
        and a 403 where some token scope refuses the method (`func` is a MethodView's get, post, ...)."""
        refusable = not all(scope_allows(scope, func.__name__.upper()) for scope in TOKEN_SCOPES)
        return self.errors(401, 429, *EVERY_ROUTE_ERRORS, *((403,) if refusable else ()))(login_required(func))

    def public(self, func):
        """No credentials needed (overrides the document's global security); documents what any route may answer."""
        return self.errors(*EVERY_ROUTE_ERRORS)(self.doc(security=[])(func))
