"""/token, /me and the instance admin's /accounts."""
from flask.views import MethodView

from schemas.accounts import (
    AccountCreatedSchema,
    AccountCreateSchema,
    AccountSchema,
    MeSchema,
    TokenRequestSchema,
    TokenSchema,
)
from schemas.common import EmptySchema

from ..errors import error_response
from ..http.auth import current_account, password_login
from ..services import accounts, organizations, tokens
from .common import Blueprint

blp = Blueprint("accounts", __name__, description="Accounts, tokens and the caller's own profile.")


@blp.route("/token")
class TokenResource(MethodView):
    @blp.doc(operationId="createToken")
    @blp.public
    @blp.errors(400, 401, 403, 413, 415, 422, 429, 507)
    @blp.arguments(TokenRequestSchema())
    @blp.response(200, TokenSchema)
    def post(self, payload):
        """Exchange a username and password for a fresh personal access token.

        Failed attempts are counted per username and address (see the README's rate limits): too many answer 429.
        An account that holds WSSERVER_MAX_TOKENS_PER_ACCOUNT tokens already is answered 403 naming that quota;
        an `expiresIn` beyond WSSERVER_TOKEN_MAX_DAYS 422. The token is named `password`; GET /tokens shows its
        expiry.
        """
        credentials = payload["credentials"]
        account = password_login(credentials["username"], credentials["password"])
        if account is None:
            return error_response(401, "Wrong username or password.")
        token = tokens.issue(account, "password", payload.get("expiresIn"))
        # a secret in the answer: no cache (browser, proxy) may keep it
        return {"token": token.secret}, 200, {"Cache-Control": "no-store"}


@blp.route("/me")
class Me(MethodView):
    @blp.doc(operationId="getMe")
    @blp.authenticated
    @blp.response(200, MeSchema)
    def get(self):
        """The caller's account and memberships."""
        account = current_account()
        return {
            "id": account.id,
            "username": account.username,
            "nickname": account.nickname,
            "admin": account.admin,
            "memberships": accounts.memberships_of(account),
            "organization": organizations.default_organization(),
        }


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.doc(operationId="listAccounts")
    @blp.authenticated
    @blp.errors(403)
    @blp.response(200, AccountSchema(many=True))
    def get(self):
        """Every account (instance admins only)."""
        return accounts.list_accounts(current_account())

    @blp.doc(
        operationId="createAccount",
        responses={201: {"links": {"DeleteAccount": {
            "operationId": "deleteAccount", "parameters": {"account_id": "$response.body#/account/id"},
        }}}},
    )
    @blp.authenticated
    @blp.errors(400, 403, 409, 413, 415, 507)
    @blp.arguments(AccountCreateSchema())
    @blp.response(201, AccountCreatedSchema)
    def post(self, payload):
        """Create an account (instance admins only); its first token is in the answer."""
        account, token = accounts.create_account(current_account(), **payload)
        return {"account": account, "token": token}


@blp.route("/accounts/<string:account_id>")
class AccountById(MethodView):
    @blp.doc(operationId="deleteAccount")
    @blp.authenticated
    @blp.errors(403, 404, 409)
    @blp.response(200, EmptySchema)
    def delete(self, account_id):
        """Delete an account with its tokens and memberships (instance admins only)."""
        accounts.delete_account(current_account(), account_id)
        return {}
