"""Authentication: Bearer personal access tokens or HTTP Basic, through flask-httpauth."""
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth

from .errors import MESSAGES, error_response
from .services import accounts


class _SchemeIgnoringCase:
    """Pick the scheme case-insensitively (RFC 9110 section 11.1): `bearer` and `basic` work too.

    flask-httpauth's MultiAuth compares the scheme name case-sensitively.
    """

    def is_compatible_auth(self, headers):
        scheme = headers.get("Authorization", "").split(None, 1)[:1]
        return bool(scheme) and scheme[0].lower() == self.scheme.lower()


class TokenAuth(_SchemeIgnoringCase, HTTPTokenAuth):
    pass


class BasicAuth(_SchemeIgnoringCase, HTTPBasicAuth):
    pass


token_auth = TokenAuth(scheme="Bearer", realm="wsserver")
basic_auth = BasicAuth(realm="wsserver")
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
    # error_response adds a WWW-Authenticate header naming both schemes.
    return error_response(status, MESSAGES.get(status))


def current_account():
    return auth.current_user()
