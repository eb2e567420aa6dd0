"""Accounts, /me and tokens."""
from marshmallow import Schema, fields, pre_dump, validate

from wsserver.permissions import LEVEL_NAMES

from .common import ANY_CONTROLS, StrictBoolean, Text, WholeStringRegexp
from .workspaces import WorkspaceViewShortSchema

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
USERNAME_VALIDATOR = WholeStringRegexp(USERNAME_PATTERN, error="1-64 characters of A-Z, a-z, 0-9, '_', '.', '-'.")


class AccountSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    nickname = fields.String(required=True)
    admin = fields.Boolean(required=True)


class MembershipSchema(Schema):
    id = fields.String(required=True, metadata={"description": "ACL entry id."})
    level = fields.String(required=True)
    workspace = fields.Nested(WorkspaceViewShortSchema, required=True)

    @pre_dump
    def from_model(self, entry, **kwargs):
        return {"id": entry.id, "level": LEVEL_NAMES[entry.level], "workspace": entry.workspace}


class MeSchema(AccountSchema):
    memberships = fields.List(fields.Nested(MembershipSchema), required=True)


class AccountCreateSchema(Schema):
    username = Text(required=True, validate=USERNAME_VALIDATOR)
    nickname = Text(validate=validate.Length(min=1, max=128))
    # a password is only ever hashed: any text, tabs and control characters included
    password = Text(controls=ANY_CONTROLS, validate=validate.Length(min=8, max=1024))
    admin = StrictBoolean()


class AccountCreatedSchema(Schema):
    account = fields.Nested(AccountSchema, required=True)
    token = fields.String(required=True, metadata={"description": "Shown once; store it."})


class CredentialsSchema(Schema):
    username = Text(required=True, validate=validate.Length(min=1, max=64))
    password = Text(required=True, controls=ANY_CONTROLS, validate=validate.Length(min=1, max=1024))


class TokenRequestSchema(Schema):
    app = Text(required=True, validate=validate.OneOf(["password"]))
    credentials = fields.Nested(CredentialsSchema, required=True)


class TokenSchema(Schema):
    token = fields.String(required=True)
