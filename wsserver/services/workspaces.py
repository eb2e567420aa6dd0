"""Workspaces: look-up with the caller's level, upsert, delete, the caller's list."""
from dataclasses import dataclass

from flask import current_app
from peewee import JOIN, fn

from ..storage import index
from ..storage.db import PreparedSelect, database, lock_names, lock_rows, retrying
from ..errors import Conflict, Invalid, NotFound
from ..fields import DEFAULT_VISIBILITY
from ..ids import new_id, new_secret, new_uuid, now_iso
from ..storage.models import AclEntry, Workspace
from ..permissions import LEVELS, OWNER, Action, Actor, allows, may_change_level, may_remove_entry, require
from ..storage import avatar_files
from . import organizations, quotas, trash


@dataclass
class WorkspaceAccess:
    """A workspace as one caller sees it."""

    workspace: Workspace
    actor: Actor

    @property
    def invite_visible(self):
        return allows(self.actor, Action.SEE_INVITE)

    @property
    def may_update(self):
        return allows(self.actor, Action.UPDATE)

    @property
    def may_upload_avatar(self):
        return allows(self.actor, Action.UPLOAD_AVATAR)

    @property
    def may_delete(self):
        return allows(self.actor, Action.DELETE)

    def levels_settable(self, entry_level):
        """The level names this caller may give a member now at `entry_level` (its own included)."""
        return [name for name, rank in LEVELS.items() if may_change_level(self.actor, entry_level, rank)]

    def may_remove(self, entry):
        return may_remove_entry(self.actor, entry.level, entry.account_id == self.actor.account_id)


def not_found_message(fullname):
    return f"Workspace '{fullname}' not found."


def load(account, fullname, lock=False, in_trash=False):
    """(workspace, actor); (None, None) when no workspace has that name, or when it is in the trash
    (unless `in_trash`: then it is returned too, its deleted_at set).

    With `lock`, inside a transaction: the workspace row stays locked until it
    ends (storage.db.lock_rows), so whatever the caller checks about the
    workspace and its members holds until its writes land (every writer of a
    workspace or its members locks it first).
    """
    if lock:
        # The lock first, on its own: a read committed statement that waited for a lock sees the
        # locked row as it is now but the joined rows as they were, so the level is read after it.
        lock_rows(Workspace.select(Workspace.id).where(Workspace.fullname == fullname))
    row = _WORKSPACE_WITH_LEVEL.first(account.id, fullname)
    if row is None or (row.deleted_at is not None and not in_trash):
        return None, None
    return row, Actor(account.id, row.caller_level, bool(account.admin))


# Run by nearly every request on a workspace: written once (see storage.db.PreparedSelect).
_WORKSPACE_WITH_LEVEL = PreparedSelect(
    Workspace,
    lambda account_id, fullname: (
        Workspace.select(Workspace, AclEntry.level.alias("caller_level"))
        .join(AclEntry, JOIN.LEFT_OUTER, on=((AclEntry.workspace == Workspace.id) & (AclEntry.account == account_id)))
        .where(Workspace.fullname == fullname)
        .limit(1)
    ),
    arity=2,
)


def load_for(account, fullname, action, lock=False, in_trash=False):
    """The workspace if the caller may do `action` on it; NotFound/Forbidden otherwise."""
    workspace, actor = load(account, fullname, lock, in_trash)
    if workspace is None:
        raise NotFound(not_found_message(fullname))
    require(actor, action, not_found_message(fullname))
    return workspace, actor


def get_workspace(account, fullname, action=Action.READ):
    """The workspace as the caller sees it, if they may do `action` (reading, by default)."""
    workspace, actor = load_for(account, fullname, action)
    return WorkspaceAccess(workspace, actor)


def _check_new_name(fullname):
    if fullname.lower() in current_app.config["RESERVED_NAMES"]:
        raise Invalid(f"The name '{fullname}' is reserved.", {"fullname": ["This name is reserved."]})


@retrying
def upsert_workspace(account, fullname, payload):
    """Create (caller becomes owner) or update the workspace named `fullname`.

    `payload` is the validated PUT body. Returns (WorkspaceAccess, created).
    """
    if payload["fullname"] != fullname:
        raise Invalid(
            "The fullname in the body must equal the one in the path.",
            {"fullname": [f"Must equal '{fullname}' (the name in the path)."]},
        )
    stale_file = None
    with database.atomic():
        workspace, actor = load(account, fullname, lock=True, in_trash=True)
        if workspace is not None and workspace.deleted_at is not None:
            if not allows(actor, Action.RESTORE):  # to anyone who may not restore it, it is not there
                raise Conflict(f"The name '{fullname}' is taken.", {"fullname": ["already taken"]})
            raise Conflict(
                f"The name '{fullname}' is taken by a workspace in the trash (an owner may restore it).",
                {"fullname": ["taken by a workspace in the trash"]},
            )
        if workspace is None:
            _check_new_name(fullname)
            workspace = _create(account, fullname, payload)
            actor = Actor(account.id, OWNER, bool(account.admin))
            created = True
        else:
            if not actor.is_member and not actor.instance_admin:
                raise Conflict(f"The name '{fullname}' is taken.", {"fullname": ["already taken"]})
            if payload.get("createOnly"):
                raise Conflict(f"Workspace '{fullname}' already exists (createOnly).", {"fullname": ["already exists"]})
            require(actor, Action.UPDATE, not_found_message(fullname))
            stale_file = _update(account, workspace, payload)
            created = False
    if stale_file:
        avatar_files.discard_files([stale_file])
    return WorkspaceAccess(workspace, actor), created


# Numbers are handed out one at a time: the next is one more than the largest, under this lock.
NUMBER_LOCK = "workspace-number"


def _next_number():
    largest = Workspace.select(fn.MAX(Workspace.number)).scalar()
    return (largest or 0) + 1


def _create(account, fullname, payload):
    now = now_iso()
    meta = payload.get("meta") or {}
    linked = avatar_files.stored_file_of_url(meta.get("avatar"))
    lock_names([NUMBER_LOCK, linked])  # (every creation takes NUMBER_LOCK: the quota's count holds until commit)
    quotas.check_new_workspace(account)
    quotas.check_avatar_bytes(account.id, None, linked)
    workspace = Workspace.create(
        id=new_id(),
        fullname=fullname,
        invite=new_secret(),
        tags=payload.get("tags", []),
        labels=payload.get("labels", {}),
        title=meta.get("title"),
        description=meta.get("description"),
        avatar=meta.get("avatar"),
        avatar_file=linked,
        created_at=now,
        updated_at=now,
        created_by=account.id,
        updated_by=account.id,
        number=_next_number(),
        uuid=new_uuid(),
        organization_id=organizations.default_organization().id,
        visibility=DEFAULT_VISIBILITY,
        views=0,
        attributes={},
    )
    AclEntry.create(
        id=new_id(), workspace=workspace, account=account.id, level=OWNER, created_at=now, workspace_fullname=fullname
    )
    index.write([workspace])
    return workspace


def _update(account, workspace, payload):
    """Apply the PUT merge rules; return an uploaded avatar file no longer referenced."""
    changes = {}
    if "tags" in payload and payload["tags"] != workspace.tags:
        changes["tags"] = payload["tags"]
    if "labels" in payload and payload["labels"] != workspace.labels:
        changes["labels"] = payload["labels"]
    meta = payload.get("meta") or {}
    for field in ("title", "description"):
        if field in meta and meta[field] != getattr(workspace, field):
            changes[field] = meta[field]
    stale_file = None
    if "avatar" in meta and meta["avatar"] != workspace.avatar:
        changes["avatar"] = meta["avatar"]
        linked = avatar_files.stored_file_of_url(meta["avatar"])
        if linked != workspace.avatar_file:
            lock_names([linked])  # no clean-up removes it between the check and the commit
            quotas.check_avatar_bytes(workspace.created_by, workspace.id, linked)
            stale_file, changes["avatar_file"] = workspace.avatar_file, linked
    if payload.get("resetInvite"):
        changes["invite"] = new_secret()
    if not changes:
        return None
    changes.update(updated_at=now_iso(), updated_by=account.id)
    Workspace.update(**changes).where(Workspace.id == workspace.id).execute()
    for field, value in changes.items():
        setattr(workspace, field, value)
    if changes.keys() & index.INDEXED_FIELDS:
        index.write([workspace], changed=changes.keys() & index.INDEXED_FIELDS)
    return stale_file


@retrying
def delete_workspace(account, fullname):
    """Delete a workspace (owners, instance admins): into the trash when WSSERVER_TRASH_DAYS > 0
    (services.trash), else at once with its members, side rows and avatar."""
    days = current_app.config["TRASH_DAYS"]
    with database.atomic():
        workspace, _ = load_for(account, fullname, Action.DELETE, lock=True)
        if days:
            trash.put_in_trash(account, workspace)
            stale_files = []
        else:
            stale_files = trash.remove_for_good([workspace.id])
    avatar_files.discard_files(stale_files)
    if days:
        trash.purge_expired(days)


@retrying
def set_archived(account, fullname, archived):
    """Archive (hidden from lists unless asked for) or unarchive; owners, admins, instance admins.
    Archiving an archived workspace keeps its first archivedAt."""
    with database.atomic():
        workspace, actor = load_for(account, fullname, Action.ARCHIVE, lock=True)
        if (workspace.archived_at is not None) != archived:
            now = now_iso()
            changes = {"archived_at": now if archived else None, "updated_at": now, "updated_by": account.id}
            Workspace.update(**changes).where(Workspace.id == workspace.id).execute()
            for field, value in changes.items():
                setattr(workspace, field, value)
    return WorkspaceAccess(workspace, actor)


@retrying
def restore_workspace(account, fullname):
    """Take a workspace out of the trash (owners, instance admins); one not in the trash is left as it is."""
    with database.atomic():
        workspace, actor = load_for(account, fullname, Action.RESTORE, lock=True, in_trash=True)
        if workspace.deleted_at is not None:
            changes = {"deleted_at": None, "updated_at": now_iso(), "updated_by": account.id}
            Workspace.update(**changes).where(Workspace.id == workspace.id).execute()
            for field, value in changes.items():
                setattr(workspace, field, value)
    return WorkspaceAccess(workspace, actor)
