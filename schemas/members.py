"""ACL entries (WorkspaceAclEntry), joining by invite and level changes."""
from marshmallow import Schema, fields, pre_dump, validate

from wsserver.permissions import LEVEL_NAMES

from .common import Text, level_field


class AclUserSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    nickname = fields.String(required=True)


class AclRefSchema(Schema):
    type = fields.String(required=True)
    id = fields.String(required=True)


class AclEntrySchema(Schema):
    id = fields.String(required=True)
    level = level_field(required=True)
    user = fields.Nested(AclUserSchema, required=True)
    object = fields.Nested(AclRefSchema, required=True)
    subject = fields.Nested(AclRefSchema, required=True)

    @pre_dump
    def from_model(self, entry, **kwargs):
        account = entry.account
        return {
            "id": entry.id,
            "level": LEVEL_NAMES[entry.level],
            "user": {"id": account.id, "username": account.username, "nickname": account.nickname},
            "object": {"type": "workspace", "id": entry.workspace_id},
            "subject": {"type": "user", "id": account.id},
        }


class JoinSchema(Schema):
    invite = Text(required=True, validate=validate.Length(min=1, max=256))


class LevelSchema(Schema):
    level = level_field(required=True)
