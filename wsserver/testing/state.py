"""The instance's state as a canonical document: read from the database, written back.

A canonical document holds accounts (each with its tokens), workspaces and
memberships with every id, token hash, invite and timestamp explicit and
references as ids (see testing/seed.py, which makes one from a seed file and
turns one into the file format). `capture_state()` reads one from the
database, `replace_state()` makes the database hold exactly one (test mode's
reset does that with the baseline). The field tables below are the one
mapping between a model's columns and its entries' keys, used both ways.
"""
from peewee import chunked

from ..permissions import LEVEL_NAMES, LEVELS
from ..services import accounts as account_service
from ..storage import index
from ..storage.db import database
from ..storage.models import Account, AclEntry, Organization, Token, Workspace

_BATCH = 100

# (document key, column) for each model, in document order. A key "outer.inner" is
# document[outer][inner]: a workspace's title and avatar are its `meta`.
ACCOUNT_FIELDS = (
    ("id", "id"), ("uuid", "uuid"), ("username", "username"), ("nickname", "nickname"), ("admin", "admin"),
    ("passwordHash", "password_hash"), ("createdAt", "created_at"),
)
TOKEN_FIELDS = (
    ("id", "id"), ("hash", "token_hash"), ("name", "name"), ("createdAt", "created_at"), ("prefix", "prefix"),
    ("lastUsedAt", "last_used_at"), ("expiresAt", "expires_at"), ("scope", "scope"),
)
ORGANIZATION_FIELDS = (("id", "id"), ("name", "name"), ("default", "is_default"), ("createdAt", "created_at"))
WORKSPACE_FIELDS = (
    ("id", "id"), ("fullname", "fullname"), ("invite", "invite"), ("tags", "tags"), ("labels", "labels"),
    ("meta.title", "title"), ("meta.description", "description"), ("meta.avatar", "avatar"),
    ("avatarFile", "avatar_file"), ("createdAt", "created_at"), ("updatedAt", "updated_at"),
    ("createdBy", "created_by"), ("updatedBy", "updated_by"), ("archivedAt", "archived_at"),
    ("deletedAt", "deleted_at"), ("number", "number"), ("uuid", "uuid"), ("organizationId", "organization_id"),
    ("visibility", "visibility"), ("views", "views"), ("attributes", "attributes"),
)
# `level` is a rank in the row and a name (permissions.LEVELS) in the document.
MEMBERSHIP_FIELDS = (
    ("id", "id"), ("workspaceId", "workspace"), ("accountId", "account"), ("level", "level"),
    ("createdAt", "created_at"), ("lastVisitAt", "last_visit_at"),
)


def _entry(fields, row):
    """The document entry of a row (a dict of columns)."""
    entry = {}
    for key, column in fields:
        outer, _, inner = key.rpartition(".")
        (entry.setdefault(outer, {}) if outer else entry)[inner] = row[column]
    return entry


def _row(fields, entry, **columns):
    """The row (a dict of columns) of a document entry, plus `columns`."""
    row = {}
    for key, column in fields:
        outer, _, inner = key.rpartition(".")
        row[column] = (entry[outer] if outer else entry)[inner]
    row.update(columns)
    return row


def capture_state():
    """The instance's organizations, accounts, tokens, workspaces and memberships as a canonical document."""
    organizations = [_entry(ORGANIZATION_FIELDS, row) for row in Organization.select().order_by(Organization.id).dicts()]
    tokens = {}
    for row in Token.select().order_by(Token.token_hash).dicts():
        tokens.setdefault(row["account"], []).append(_entry(TOKEN_FIELDS, row))
    accounts = [
        {**_entry(ACCOUNT_FIELDS, row), "tokens": tokens.get(row["id"], [])}
        for row in Account.select().order_by(Account.username).dicts()
    ]
    workspaces = [_entry(WORKSPACE_FIELDS, row) for row in Workspace.select().order_by(Workspace.fullname).dicts()]
    memberships = []
    query = AclEntry.select().join(Workspace).order_by(Workspace.fullname, AclEntry.created_at, AclEntry.id)
    for row in query.dicts():
        entry = _entry(MEMBERSHIP_FIELDS, row)
        entry["level"] = LEVEL_NAMES[entry["level"]]
        memberships.append(entry)
    return {"organizations": organizations, "accounts": accounts, "workspaces": workspaces, "memberships": memberships}


def _insert(model, rows):
    for batch in chunked(rows, _BATCH):
        model.insert_many(batch).execute()


def _wipe():
    index.clear()
    for model in (AclEntry, Token, Workspace, Account, Organization):  # tags and labels go with the workspaces
        model.delete().execute()


def replace_state(state):
    """Make the database hold exactly `state` (a canonical document), in one transaction.

    The listing's side tables and search index are written with the workspaces
    (storage.index).
    """
    with database.atomic():
        _wipe()
        _insert(Organization, [_row(ORGANIZATION_FIELDS, organization) for organization in state["organizations"]])
        _insert(Account, [_row(ACCOUNT_FIELDS, account) for account in state["accounts"]])
        _insert(Token, [
            _row(TOKEN_FIELDS, token, account=account["id"])
            for account in state["accounts"] for token in account["tokens"]
        ])
        workspaces = [_row(WORKSPACE_FIELDS, workspace) for workspace in state["workspaces"]]
        _insert(Workspace, workspaces)
        index.write((Workspace(**row) for row in workspaces), fresh=True)  # after _wipe: nothing to replace
        fullnames = {row["id"]: row["fullname"] for row in workspaces}
        _insert(AclEntry, [
            _row(
                MEMBERSHIP_FIELDS, entry, level=LEVELS[entry["level"]],
                workspace_fullname=fullnames[entry["workspaceId"]],
            )
            for entry in state["memberships"]
        ])


def is_empty():
    """No workspace, and no account but the bootstrap admin: what a fresh instance holds."""
    return not (
        Workspace.select().exists()
        or AclEntry.select().exists()
        or Account.select().where(Account.username != account_service.BOOTSTRAP_USERNAME).exists()
    )
