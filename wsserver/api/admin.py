"""/__admin__/reset and /__admin__/requests: test mode only (registered when WSSERVER_TEST_MODE is on)."""
from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields

from ..http.auth import current_account
from ..http.hooks import masked_query
from ..testing import mode as test_mode
from .common import Blueprint

PREFIX = "/__admin__"

blp = Blueprint(
    "test-mode", __name__, url_prefix=PREFIX,
    description="Test mode only (WSSERVER_TEST_MODE=1): reset the instance, read the requests it received.",
)


class ResetSchema(Schema):
    accounts = fields.Integer(required=True, metadata={"description": "Accounts after the reset."})
    workspaces = fields.Integer(required=True)
    memberships = fields.Integer(required=True)


class RecordedRequestSchema(Schema):
    method = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "Without the query string."})
    query = fields.String(
        required=True, metadata={"description": "The query string, values of secret-looking names masked."}
    )
    status = fields.Integer(required=True)
    bodySize = fields.Integer(required=True, metadata={"description": "Bytes of the request body (Content-Length)."})
    username = fields.String(
        required=True, allow_none=True, metadata={"description": "The authenticated caller, or null."}
    )


@blp.route("/reset")
class Reset(MethodView):
    @blp.doc(operationId="resetInstance")
    @blp.authenticated
    @blp.errors(403, 409)
    @blp.response(200, ResetSchema)
    def post(self):
        """Restore the seeded state (instance admins only): data, avatar files, id sequence, request log, rate limits."""
        return test_mode.reset(current_account())


@blp.route("/requests")
class Requests(MethodView):
    @blp.doc(operationId="listRecordedRequests")
    @blp.authenticated
    @blp.errors(403)
    @blp.response(200, RecordedRequestSchema(many=True))
    def get(self):
        """The last requests received since the last reset, oldest first (instance admins only).

        At most the last 1000; /__admin__/* requests are not recorded, and
        neither are bodies or headers.
        """
        return test_mode.recent_requests(current_account())


def record_request(response):
    if not request.path.startswith(PREFIX + "/"):
        account = current_account()
        test_mode.record_request(
            request.method, request.path, masked_query().lstrip("?"), response.status_code,
            request.content_length or 0, account.username if account is not None else None,
        )
    return response


def record_requests(app):
    app.after_request(record_request)
