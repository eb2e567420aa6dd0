"""What every blueprint shares: the JSON parser, the auth decorator, error documentation."""
import json
from http import HTTPStatus

import flask_smorest
from webargs.flaskparser import FlaskParser

from ..auth import auth


class JSONParser(FlaskParser):
    """webargs' parser, with over-deep JSON answered as malformed (400), not a crash."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            # (a non-empty `doc`: webargs reads an empty one as "no body")
            raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JSONParser()

    def errors(self, *statuses):
        """Document error answers (the envelope) for these statuses."""

        def decorator(func):
            for status in statuses:
                func = self.alt_response(status, response=HTTPStatus(status).name)(func)
            return func

        return decorator

    def authenticated(self, func):
        """Require credentials, and document the 401."""
        return self.errors(401)(auth.login_required(func))

    def public(self, func):
        """No credentials needed (overrides the document's global security)."""
        return self.doc(security=[])(func)
