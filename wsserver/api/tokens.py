"""/tokens: the caller's personal access tokens (list, create, revoke; services/tokens.py)."""
from flask.views import MethodView

from schemas.common import EmptySchema
from schemas.tokens import AccessTokenCreatedSchema, AccessTokenCreateSchema, AccessTokenSchema, RevokedSchema

from ..http.auth import current_account, current_token_id
from ..services import tokens
from .common import Blueprint

blp = Blueprint("tokens", __name__, description="The caller's personal access tokens: list, create, revoke.")
# A secret in the answer: no cache (browser, proxy) may keep it.
NO_STORE = {"Cache-Control": "no-store"}


@blp.route("/tokens")
class TokenList(MethodView):
    @blp.doc(operationId="listTokens")
    @blp.authenticated
    @blp.response(200, AccessTokenSchema(many=True))
    def get(self):
        """The caller's tokens, oldest first (never their values); `current` marks the one this request carries."""
        return tokens.tokens_of(current_account(), current_token_id())

    @blp.doc(
        operationId="createAccessToken",
        responses={201: {"links": {"RevokeToken": {
            "operationId": "revokeToken", "parameters": {"token_id": "$response.body#/id"},
        }}}},
    )
    @blp.authenticated
    @blp.errors(400, 403, 413, 415, 422, 507)
    @blp.arguments(AccessTokenCreateSchema())
    @blp.response(201, AccessTokenCreatedSchema)
    def post(self, payload):
        """A new token for the caller, shown once in `token`. 403 past WSSERVER_MAX_TOKENS_PER_ACCOUNT;
        422 for an `expiresIn` beyond WSSERVER_TOKEN_MAX_DAYS."""
        token = tokens.issue(current_account(), payload["name"], payload.get("expiresIn"), payload["scope"])
        token.token = token.secret
        return token, 201, NO_STORE

    @blp.doc(operationId="revokeOtherTokens")
    @blp.authenticated
    @blp.response(200, RevokedSchema)
    def delete(self):
        """Revoke every token of the caller but the one this request carries (with a password: every one)."""
        return {"revoked": tokens.revoke_all(current_account(), keep_token_id=current_token_id())}


@blp.route("/tokens/<string:token_id>")
class TokenById(MethodView):
    @blp.doc(operationId="revokeToken")
    @blp.authenticated
    @blp.errors(404)
    @blp.response(200, EmptySchema)
    def delete(self, token_id):
        """Revoke a token at once, on every node: one of the caller's own, or any for an instance admin
        (another account's token is 404 to anybody else)."""
        tokens.revoke(current_account(), token_id)
        return {}
