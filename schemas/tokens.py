"""Personal access tokens: what GET/POST/DELETE /tokens take and answer (services/tokens.py)."""
from marshmallow import Schema, ValidationError, fields, validate

from wsserver.fields import TOKEN_LONGEST_EXPIRY_SECONDS as LONGEST_EXPIRY_SECONDS, TOKEN_NAME_MAX_LENGTH
from wsserver.permissions import FULL_SCOPE, TOKEN_SCOPES

from .common import Text


class WholeSeconds(fields.Integer):
    """A JSON integer (no string, fraction or boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number of seconds.")
        return super()._deserialize(value, attr, data, **kwargs)


def expires_in_field():
    return WholeSeconds(
        validate=validate.Range(min=1, max=LONGEST_EXPIRY_SECONDS),
        metadata={"description": "Seconds the token works for from now. Left out: no expiry, or the longest "
                                 "WSSERVER_TOKEN_MAX_DAYS allows when the server caps tokens' lifetimes "
                                 "(more than the cap: 422)."},
    )


class AccessTokenSchema(Schema):
    """A token as its owner sees it: never its value."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, allow_none=True,
        metadata={"description": "The token's first characters (wss_ and 8 more), to recognise it; null for "
                                 "a token given in a seed file or by WSSERVER_ADMIN_TOKEN."},
    )
    scope = fields.String(required=True, metadata={"enum": sorted(TOKEN_SCOPES)})
    createdAt = fields.String(required=True, attribute="created_at", metadata={"format": "date-time"})
    lastUsedAt = fields.String(
        required=True, allow_none=True, attribute="last_used_at",
        metadata={"format": "date-time", "description": "Recorded at most once a minute."},
    )
    expiresAt = fields.String(required=True, allow_none=True, attribute="expires_at",
                              metadata={"format": "date-time", "description": "null: never."})
    expired = fields.Boolean(required=True)
    current = fields.Boolean(required=True, metadata={"description": "The token this request carries."})


class AccessTokenCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=TOKEN_NAME_MAX_LENGTH))
    expiresIn = expires_in_field()
    scope = Text(
        load_default=FULL_SCOPE, validate=validate.OneOf(sorted(TOKEN_SCOPES)),
        metadata={"description": "all: whatever the account may do; read: GET and HEAD only (else 403)."},
    )


class AccessTokenCreatedSchema(AccessTokenSchema):
    token = fields.String(required=True, metadata={"description": "The token itself: shown once; store it."})


class RevokedSchema(Schema):
    revoked = fields.Integer(required=True, metadata={"description": "How many tokens were revoked."})
