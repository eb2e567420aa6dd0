"""Per-account quotas (README, "Budgets and quotas"): what one ordinary account may make, whatever its
requests, so that one account cannot fill the disk or make every listing of it heavy.

- workspaces created (WSSERVER_MAX_WORKSPACES_PER_ACCOUNT): the workspaces whose `created_by` is the
  account and that are still stored, archived ones and the trash included (both hold their rows and
  avatar); one more is refused. Counted with one query on the `created_by` index.
- avatar bytes (WSSERVER_MAX_AVATAR_BYTES_PER_ACCOUNT): the sizes of the stored avatar files the
  account's workspaces (the same `created_by`) point at, a file once per workspace that points at
  it (each of them costs its bytes in every answer that carries the image, as the engineering
  flavor's), whoever uploaded or linked it. Known from the same index and one stat per distinct file.
- tokens held (WSSERVER_MAX_TOKENS_PER_ACCOUNT): the account's token rows (index on `account`); its
  expired tokens are removed before the count (services/tokens.issue).

Instance administrators have no quota. A setting of 0 means no limit. Each check runs inside the
write transaction that would add the thing, after the lock that serializes such writes (SQLite's
write lock, taken up front; on PostgreSQL a name lock per account and quota, or the workspace
number's lock), so two concurrent requests of one account cannot both take the last slot. A refusal
is errors.QuotaExceeded (403), naming the setting and its limit.
"""
import os

from flask import current_app
from peewee import fn

from ..errors import QuotaExceeded
from ..storage.avatar_files import avatar_folder, is_avatar_file_name
from ..storage.db import lock_names
from ..storage.models import Account, Token, Workspace


def _limit(setting, account):
    """The limit of `setting` for `account` (an Account, or None for one no longer there), or None
    when there is none (an instance admin, or the setting is 0)."""
    if account is not None and account.admin:
        return None  # (first: the bootstrap admin's token is issued before any app context)
    return current_app.config[setting] or None


def check_new_workspace(account):
    """Before `account` creates a workspace (call after the lock creations take)."""
    limit = _limit("MAX_WORKSPACES_PER_ACCOUNT", account)
    if limit is None:
        return
    created = Workspace.select(fn.COUNT(Workspace.id)).where(Workspace.created_by == account.id).scalar()
    if created >= limit:
        raise QuotaExceeded(
            f"You have created {created} workspaces that are still stored (the trash included); an account may "
            f"have at most {limit}. Delete some (and empty them from the trash) to create more.",
            "MAX_WORKSPACES_PER_ACCOUNT", limit,
        )


def check_new_token(account):
    """Before `account` gets one more token (inside the transaction that issues it)."""
    limit = _limit("MAX_TOKENS_PER_ACCOUNT", account)
    if limit is None:
        return
    lock_names([f"quota-tokens:{account.id}"])
    held = Token.select(fn.COUNT(Token.id)).where(Token.account == account.id).scalar()
    if held >= limit:
        raise QuotaExceeded(
            f"You hold {held} tokens; an account may hold at most {limit}. Revoke those you no longer use: "
            f"GET /api/v2/tokens lists them, DELETE /api/v2/tokens/{{id}} revokes one; an instance administrator "
            f"can also run `flask --app app revoke-tokens`.",
            "MAX_TOKENS_PER_ACCOUNT", limit,
        )


def file_size(name):
    """Bytes of the stored avatar file `name` (0 when there is none)."""
    if not is_avatar_file_name(name):
        return 0
    try:
        return os.stat(os.path.join(avatar_folder(), name)).st_size
    except OSError:
        return 0


def check_avatar_bytes(created_by, workspace_id, new_file, new_size=None):
    """Before the workspace `workspace_id` (None: one being created) of the account `created_by` points at
    the stored avatar file `new_file` (an upload, or a PUT linking a stored file): the avatar bytes of
    that account's workspaces, this one's counted as `new_file`, must stay within its quota.
    `new_size`: the file's size when it is not stored yet (an upload)."""
    if not new_file:
        return
    limit = _limit("MAX_AVATAR_BYTES_PER_ACCOUNT", Account.get_or_none(Account.id == created_by))
    if limit is None:
        return
    # The file's lock before the quota's, as every writer that links a file takes it first (no deadlock
    # between an upload and a PUT linking the same file); a lock this transaction holds is taken again.
    lock_names([new_file])
    lock_names([f"quota-avatar-bytes:{created_by}"])
    others = (Workspace.created_by == created_by) & Workspace.avatar_file.is_null(False)
    if workspace_id is not None:
        others &= Workspace.id != workspace_id
    rows = (Workspace.select(Workspace.avatar_file, fn.COUNT(Workspace.id))
            .where(others).group_by(Workspace.avatar_file).tuples())
    stored = sum(file_size(name) * pointing for name, pointing in rows)  # a file once per workspace
    adding = file_size(new_file) if new_size is None else new_size
    if stored + adding > limit:
        raise QuotaExceeded(
            f"The avatars of the workspaces created by this workspace's creator take {stored} bytes; with this "
            f"one ({adding} bytes) they would pass the {limit} bytes an account may have. Remove avatars or "
            f"delete workspaces to make room.",
            "MAX_AVATAR_BYTES_PER_ACCOUNT", limit,
        )
