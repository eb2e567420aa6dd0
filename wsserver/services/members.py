"""Members: the ACL of a workspace, invites, level changes and the last-owner invariant.

Every write runs in one transaction that first locks the workspace row
(workspaces.load with lock=True: SELECT ... FOR UPDATE on PostgreSQL; on
SQLite the transaction holds the write lock from its start), so the owner
and member counts read inside it cannot change before the write lands, on
any number of processes and nodes. A deadlock is run again (storage.db.retrying).
"""
import hmac

from peewee import Case, fn

from ..storage import index
from ..storage.db import database, lock_rows, retrying
from ..errors import Conflict, Forbidden, NotFound
from ..ids import new_id, now_iso
from ..storage.models import Account, AclEntry, Workspace
from ..permissions import LEVELS, OWNER, USER, Action, may_change_level, may_remove_entry
from ..storage import avatar_files
from .workspaces import WorkspaceAccess, load, load_for, not_found_message

# Both engines allow many more, but keep IN lists short and predictable.
_CHUNK = 500


def list_entries(account, fullname):
    """The workspace's entries with their accounts, owners first, then by join time."""
    workspace, _ = load_for(account, fullname, Action.READ)
    return _entries_of(workspace)


def workspace_with_entries(account, fullname):
    """(WorkspaceAccess, entries): a workspace and its members as the caller sees them, one look-up."""
    workspace, actor = load_for(account, fullname, Action.READ)
    return WorkspaceAccess(workspace, actor), _entries_of(workspace)


def _entries_of(workspace):
    return list(
        AclEntry.select(AclEntry, Account)
        .join(Account)
        .where(AclEntry.workspace == workspace.id)
        .order_by(Case(None, [(AclEntry.level == OWNER, 0)], 1), AclEntry.created_at, AclEntry.id)
    )


def check_invite(account, fullname, invite, lock=False):
    """(workspace, already a member?) if `invite` would let the caller join; NotFound or Forbidden
    as redeeming it would answer. Changes nothing."""
    workspace, actor = load(account, fullname, lock=lock)
    if workspace is None:
        raise NotFound(not_found_message(fullname))
    if actor.is_member:
        return workspace, True
    if not invite or not hmac.compare_digest(invite.encode("utf-8"), workspace.invite.encode("utf-8")):
        raise Forbidden("This invite token is not valid for this workspace.")
    return workspace, False


@retrying
def redeem_invite(account, fullname, invite):
    """Join the workspace with level `user`; a member already in changes nothing."""
    with database.atomic():
        workspace, member = check_invite(account, fullname, invite, lock=True)
        if member:
            return False
        AclEntry.create(
            id=new_id(), workspace=workspace.id, account=account.id, level=USER, created_at=now_iso(),
            workspace_fullname=workspace.fullname,
        )
    return True


def _entry_in(workspace, entry_id):
    entry = AclEntry.get_or_none((AclEntry.id == entry_id) & (AclEntry.workspace == workspace.id))
    if entry is None:
        raise NotFound("No such member entry in this workspace.")
    return entry


def _owner_count(workspace):
    return AclEntry.select().where((AclEntry.workspace == workspace.id) & (AclEntry.level == OWNER)).count()


@retrying
def change_level(account, fullname, entry_id, level_name):
    new_level = LEVELS[level_name]
    with database.atomic():
        workspace, actor = load_for(account, fullname, Action.READ, lock=True)
        entry = _entry_in(workspace, entry_id)
        if not may_change_level(actor, entry.level, new_level):
            raise Forbidden("Your level in this workspace does not allow this level change.")
        if entry.level == new_level:
            return
        if entry.level == OWNER and _owner_count(workspace) == 1:
            raise Conflict(
                "This is the last owner of the workspace: make another member owner first, then change this one.",
                {"level": ["the workspace needs at least one owner"]},
            )
        AclEntry.update(level=new_level).where(AclEntry.id == entry.id).execute()


@retrying
def remove_entry(account, fullname, entry_id):
    """Remove a member; True when it was the caller's own entry (they left). The sole member
    leaving deletes the workspace (and its avatar)."""
    avatar_file = None
    with database.atomic():
        workspace, actor = load_for(account, fullname, Action.READ, lock=True)
        entry = _entry_in(workspace, entry_id)
        if not may_remove_entry(actor, entry.level, entry.account_id == account.id):
            raise Forbidden("Your level in this workspace does not allow you to remove this member.")
        members = AclEntry.select().where(AclEntry.workspace == workspace.id).count()
        if members == 1:
            avatar_file = workspace.avatar_file
            index.forget([workspace.id])
            workspace.delete_instance()
        else:
            if entry.level == OWNER and _owner_count(workspace) == 1:
                raise Conflict(
                    "This is the last owner of the workspace: make another member owner first, then remove this one.",
                    {"entryId": ["the workspace needs at least one owner"]},
                )
            entry.delete_instance()
    avatar_files.discard_files([avatar_file])
    return entry.account_id == account.id


def _chunks(items):
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def lock_workspaces(workspace_ids):
    """Lock these workspace rows until the transaction ends, in id order (no deadlock with another caller)."""
    for chunk in _chunks(sorted(set(workspace_ids))):
        lock_rows(Workspace.select(Workspace.id).where(Workspace.id.in_(chunk)).order_by(Workspace.id))


def settle_after_departure(workspace_ids):
    """After members left these workspaces: delete the empty ones, give the ownerless an owner.

    The new owner is the highest-level remaining member, the longest-standing
    among equals. Runs inside the caller's transaction; returns the avatar
    files of deleted workspaces for removal after the commit.
    """
    orphaned_files = []
    for chunk in _chunks(set(workspace_ids)):
        top_levels = dict(
            AclEntry.select(AclEntry.workspace, fn.MAX(AclEntry.level))
            .where(AclEntry.workspace.in_(chunk))
            .group_by(AclEntry.workspace)
            .tuples()
        )
        empty = [wid for wid in chunk if wid not in top_levels]
        if empty:
            orphaned_files += [
                name for (name,) in Workspace.select(Workspace.avatar_file)
                .where(Workspace.id.in_(empty) & Workspace.avatar_file.is_null(False)).tuples()
            ]
            index.forget(empty)
            Workspace.delete().where(Workspace.id.in_(empty)).execute()
        ownerless = [wid for wid, top in top_levels.items() if top < OWNER]
        if ownerless:
            rank = fn.ROW_NUMBER().over(
                partition_by=[AclEntry.workspace],
                order_by=[AclEntry.level.desc(), AclEntry.created_at, AclEntry.id],
            )
            ranked = (
                AclEntry.select(AclEntry.id, rank.alias("position"))
                .where(AclEntry.workspace.in_(ownerless))
                .alias("ranked")
            )
            heirs = AclEntry.select(ranked.c.id).from_(ranked).where(ranked.c.position == 1)
            AclEntry.update(level=OWNER).where(AclEntry.id.in_(heirs)).execute()
    return orphaned_files
