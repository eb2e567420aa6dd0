"""The trash (WSSERVER_TRASH_DAYS > 0): a deleted workspace is kept, hidden everywhere, its name still
taken, until an owner or instance admin restores it (services.workspaces.restore_workspace) or it is purged after the configured days.

Hidden everywhere: services.workspaces.load answers (None, None) for it, so every route on it is a 404,
and the listing leaves it out unless `include_deleted`. Purged: at every start (open_instance) and after
every delete; with WSSERVER_TRASH_DAYS=0, a start purges whatever the trash still holds.
"""
from datetime import datetime, timedelta

from peewee import chunked

from ..ids import format_time, now_iso
from ..storage import avatar_files, index
from ..storage.db import database
from ..storage.models import Workspace

_BATCH = 500


def put_in_trash(account, workspace):
    """Mark `workspace` (locked by the caller's transaction) deleted now."""
    now = now_iso()
    Workspace.update(deleted_at=now, updated_by=account.id).where(Workspace.id == workspace.id).execute()
    workspace.deleted_at, workspace.updated_by = now, account.id


def remove_for_good(workspace_ids):
    """Delete these workspaces (members, tags, labels and attributes go by ON DELETE CASCADE) inside the
    caller's transaction; returns their avatar files, to discard once it has committed."""
    files = [name for (name,) in Workspace.select(Workspace.avatar_file)
             .where(Workspace.id.in_(workspace_ids) & Workspace.avatar_file.is_null(False)).tuples()]
    index.forget(workspace_ids)
    Workspace.delete().where(Workspace.id.in_(workspace_ids)).execute()
    return files


def purge_expired(days):
    """Remove for good what has been in the trash `days` days or more (everything in it, for 0); the count."""
    now = datetime.fromisoformat(now_iso().replace("Z", "+00:00"))  # the clock of deleted_at (ids.now_iso)
    cutoff = format_time(now - timedelta(days=days))
    expired = Workspace.select(Workspace.id).where(Workspace.deleted_at.is_null(False))
    if days:
        expired = expired.where(Workspace.deleted_at <= cutoff)
    ids = [row.id for row in expired.order_by(Workspace.id)]
    for batch in chunked(ids, _BATCH):
        with database.atomic():
            files = remove_for_good(batch)
        avatar_files.discard_files(files)
    return len(ids)
