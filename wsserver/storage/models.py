"""Plain Peewee models: storage only, no HTTP and no rules.

Timestamps are ISO 8601 UTC strings of fixed width (see ids.now_iso), so they
sort as text and index well on every engine.
"""
import json

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import database


class JSONTextField(TextField):
    """A JSON document stored as text (portable to every engine)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Account(BaseModel):
    id = CharField(primary_key=True, max_length=32)
    username = CharField(max_length=64, unique=True)
    nickname = CharField(max_length=128)
    password_hash = CharField(null=True)
    admin = BooleanField(default=False)
    created_at = CharField(max_length=32)
    # What other dialects show as the user's id (ids.account_uuid; schema version 6). Null only in the
    # database's own terms, as Workspace.uuid.
    uuid = CharField(max_length=36, null=True, unique=True)


class Token(BaseModel):
    id = CharField(primary_key=True, max_length=32)
    account = ForeignKeyField(Account, on_delete="CASCADE", backref="tokens", index=True)
    # SHA-256 of the token: tokens carry 256 random bits, so a fast hash is enough.
    token_hash = CharField(max_length=64, unique=True)
    name = CharField(max_length=64, default="")
    created_at = CharField(max_length=32)
    # Schema version 8 (services/tokens.py), nullable as other added columns: the first characters of a
    # token the server made (ids.visible_prefix; empty for one given in a seed file or the environment),
    # when it was last used (written at most once a minute), when it stops working (None: never), and
    # what it may do (permissions.TOKEN_SCOPES; None is "all").
    prefix = CharField(max_length=16, null=True)
    last_used_at = CharField(max_length=32, null=True)
    expires_at = CharField(max_length=32, null=True)
    scope = CharField(max_length=16, null=True, default="all")


class WebSession(BaseModel):
    """A web page sign-in (schema version 9, services/sessions.py): the signed cookie carries a random id, the
    row only its SHA-256. Deleted at sign-out; refused (and purged at a later sign-in) once expires_at passed."""

    id_hash = CharField(primary_key=True, max_length=64)
    account = ForeignKeyField(Account, on_delete="CASCADE", backref="web_sessions", index=True)
    created_at = CharField(max_length=32)
    expires_at = CharField(max_length=32, index=True)  # created_at + WSSERVER_SESSION_HOURS, never moved
    last_seen_at = CharField(max_length=32)  # written at most once a minute
    address = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=256, null=True)


class Organization(BaseModel):
    """An organization: every instance has one default (is_default), which new workspaces join."""

    id = CharField(primary_key=True, max_length=36)  # a UUID (ids.new_uuid)
    name = CharField(max_length=128)
    is_default = BooleanField(default=False)
    created_at = CharField(max_length=32)


class Workspace(BaseModel):
    id = CharField(primary_key=True, max_length=32)
    fullname = CharField(max_length=64, unique=True)
    invite = CharField(max_length=64)
    tags = JSONTextField(default=list)
    labels = JSONTextField(default=dict)
    title = CharField(max_length=128, null=True)
    description = TextField(null=True)
    avatar = TextField(null=True)
    # Name of the uploaded file under <instance>/avatars/ that `avatar` points at, if any.
    avatar_file = CharField(max_length=128, null=True, index=True)
    created_at = CharField(max_length=32, index=True)
    updated_at = CharField(max_length=32, index=True)
    # Account ids, kept as text: the workspace outlives the accounts that made and changed it.
    created_by = CharField(max_length=32, index=True)
    updated_by = CharField(max_length=32, null=True, index=True)
    archived_at = CharField(max_length=32, null=True, index=True)  # archived since then (hidden from lists by default)
    deleted_at = CharField(max_length=32, null=True, index=True)  # in the trash since then
    # The same workspace in other dialects' id types (schema version 5): written at creation, never
    # changed. Null only in the database's own terms (an upgraded table cannot add NOT NULL on SQLite).
    number = IntegerField(null=True, unique=True)  # a small integer, 1, 2, 3, ... in creation order
    uuid = CharField(max_length=36, null=True, unique=True)
    organization_id = CharField(max_length=36, null=True, index=True)  # Organization.id, as text
    visibility = CharField(max_length=16, null=True, default="PRIVATE", index=True)  # fields.VISIBILITIES
    views = IntegerField(null=True, default=0)
    # What other services show and the native API has no word for (app, project, bounding_box,
    # ml_enabled, domain_name, ...): one JSON object, kept as given.
    attributes = JSONTextField(null=True, default=dict)


class AclEntry(BaseModel):
    id = CharField(primary_key=True, max_length=32)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="acl", index=False)
    account = ForeignKeyField(Account, on_delete="CASCADE", backref="memberships", index=False)
    # permissions.LEVELS maps names to these ranks: higher is more.
    level = IntegerField()
    created_at = CharField(max_length=32)
    # A copy of the workspace's fullname (which never changes), written with the entry: the
    # caller's workspaces by name are one index range.
    workspace_fullname = CharField(max_length=64, null=True)
    last_visit_at = CharField(max_length=32, null=True)  # when this member last opened the workspace

    class Meta:
        indexes = (
            # one membership per account and workspace; also serves "members of W"
            (("workspace", "account"), True),
            # "workspaces of account A" (GET /workspaces, /me)
            (("account", "workspace"), False),
            # "workspaces of account A by name" (GET /workspaces, default order)
            (("account", "workspace_fullname", "workspace"), False),
        )


class SchemaVersion(BaseModel):
    """One row: the schema version of this database (see migrations.py)."""

    version = IntegerField()


# Side tables of the listing: copies of Workspace.tags and Workspace.labels, one
# row per tag or label, so tag/label filters use an index. storage.index writes
# them whenever a workspace is written.


class WorkspaceTag(BaseModel):
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", index=False)
    tag = CharField(max_length=64)

    class Meta:
        primary_key = CompositeKey("workspace", "tag")
        indexes = ((("tag", "workspace"), False),)


class WorkspaceLabel(BaseModel):
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", index=False)
    key = CharField(max_length=64)
    value = CharField(max_length=256)

    class Meta:
        primary_key = CompositeKey("workspace", "key")
        indexes = ((("key", "value", "workspace"), False),)


class WorkspaceAttribute(BaseModel):
    """(name, value) pairs of Workspace.attributes that filters look up (storage.index.attribute_pairs)."""

    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", index=False)
    name = CharField(max_length=64)
    value = CharField(max_length=256)

    class Meta:
        primary_key = CompositeKey("workspace", "name", "value")
        indexes = ((("name", "value", "workspace"), False),)


MODELS = (
    Account, Token, Organization, Workspace, AclEntry, SchemaVersion, WorkspaceTag, WorkspaceLabel, WorkspaceAttribute,
    WebSession,
)
