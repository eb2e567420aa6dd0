"""Authentication: Bearer personal access tokens or HTTP Basic, through flask-httpauth."""
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from .errors import MESSAGES, error_response
from .services import accounts

token_auth = HTTPTokenAuth(scheme="Bearer", realm="wsserver")
basic_auth = HTTPBasicAuth(realm="wsserver")
auth = MultiAuth(token_auth, basic_auth)


@token_auth.verify_token
def verify_token(token):
    return accounts.account_for_token(token)


@basic_auth.verify_password
def verify_password(username, password):
    return accounts.account_for_password(username, password)


@token_auth.error_handler
@basic_auth.error_handler
def authentication_failed(status):
    # flask-httpauth adds the WWW-Authenticate header to this answer.
    return error_response(status, MESSAGES.get(status))


def current_account():
    return auth.current_user()
