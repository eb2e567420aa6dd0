"""Accounts, /me and tokens."""
from marshmallow import Schema, fields, pre_dump, validate

from wsserver.fields import NICKNAME_LENGTH, PASSWORD_LENGTH, USERNAME_MAX_LENGTH, USERNAME_PATTERN, USERNAME_RULE
from wsserver.permissions import LEVEL_NAMES

from .common import ANY_CONTROLS, StrictBoolean, Text, WholeStringRegexp, level_field
from .tokens import expires_in_field
from .workspaces import WorkspaceViewShortSchema

USERNAME_VALIDATOR = WholeStringRegexp(f"^{USERNAME_PATTERN.pattern}$", error=USERNAME_RULE)
NICKNAME_VALIDATOR = validate.Length(*NICKNAME_LENGTH)
NEW_PASSWORD_VALIDATOR = validate.Length(*PASSWORD_LENGTH)


class AccountSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    nickname = fields.String(required=True)
    admin = fields.Boolean(required=True)


class MembershipSchema(Schema):
    id = fields.String(required=True, metadata={"description": "ACL entry id."})
    level = level_field(required=True)
    workspace = fields.Nested(WorkspaceViewShortSchema, required=True)

    @pre_dump
    def from_model(self, entry, **kwargs):
        return {"id": entry.id, "level": LEVEL_NAMES[entry.level], "workspace": entry.workspace}


class OrganizationSchema(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)


class MeSchema(AccountSchema):
    memberships = fields.List(fields.Nested(MembershipSchema), required=True)
    organization = fields.Nested(
        OrganizationSchema, required=True,
        metadata={"description": "The instance's default organization, which new workspaces join "
                                 "(pinned with WSSERVER_DEFAULT_ORG_ID)."},
    )


class AccountCreateSchema(Schema):
    username = Text(required=True, validate=USERNAME_VALIDATOR)
    nickname = Text(validate=NICKNAME_VALIDATOR)
    # a password is only ever hashed: any text, tabs and control characters included
    password = Text(controls=ANY_CONTROLS, validate=NEW_PASSWORD_VALIDATOR)
    admin = StrictBoolean()


class AccountCreatedSchema(Schema):
    account = fields.Nested(AccountSchema, required=True)
    token = fields.String(required=True, metadata={"description": "Shown once; store it."})


class CredentialsSchema(Schema):
    username = Text(required=True, validate=validate.Length(min=1, max=USERNAME_MAX_LENGTH))
    password = Text(required=True, controls=ANY_CONTROLS, validate=validate.Length(min=1, max=PASSWORD_LENGTH[1]))


class TokenRequestSchema(Schema):
    app = Text(required=True, validate=validate.OneOf(["password"]))
    credentials = fields.Nested(CredentialsSchema, required=True)
    expiresIn = expires_in_field()


class TokenSchema(Schema):
    token = fields.String(required=True)
