"""Batched look-ups for answers that show more than a workspace row: the accounts behind ids and
UUIDs, the caller's level, the owner, the number of members and the caller's last visit, for a whole
page of workspaces in one query each (never one query per row). The flavors (wsserver/flavors) use them."""
from peewee import fn

from ..storage.models import Account, AclEntry, Workspace
from ..permissions import OWNER

_CHUNK = 500  # ids per IN (...), within every engine's limit on bound values


def _chunks(values):
    values = list(dict.fromkeys(value for value in values if value is not None))
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def accounts_by_id(account_ids):
    """{account id: Account} of those that exist."""
    found = {}
    for chunk in _chunks(account_ids):
        found.update((account.id, account) for account in Account.select().where(Account.id.in_(chunk)))
    return found


def account_ids_by_uuid(uuids):
    """{account UUID (lower-case text): account id} of those that exist."""
    found = {}
    for chunk in _chunks(str(value).lower() for value in uuids):
        found.update(Account.select(Account.uuid, Account.id).where(Account.uuid.in_(chunk)).tuples())
    return found


def levels_of(account_id, workspace_ids):
    """{workspace id: the account's level (rank)} where it is a member."""
    found = {}
    for chunk in _chunks(workspace_ids):
        found.update(AclEntry.select(AclEntry.workspace, AclEntry.level)
                     .where((AclEntry.account == account_id) & AclEntry.workspace.in_(chunk)).tuples())
    return found


def last_visits_of(account_id, workspace_ids):
    """{workspace id: when the account last opened it} where it is a member and that is known."""
    found = {}
    for chunk in _chunks(workspace_ids):
        found.update(AclEntry.select(AclEntry.workspace, AclEntry.last_visit_at)
                     .where((AclEntry.account == account_id) & AclEntry.workspace.in_(chunk)
                            & AclEntry.last_visit_at.is_null(False)).tuples())
    return found


def first_owners(workspace_ids):
    """{workspace id: account id of its longest-standing owner}."""
    found = {}
    for chunk in _chunks(workspace_ids):
        rank = fn.ROW_NUMBER().over(partition_by=[AclEntry.workspace], order_by=[AclEntry.created_at, AclEntry.id])
        ranked = (AclEntry.select(AclEntry.workspace, AclEntry.account, rank.alias("position"))
                  .where(AclEntry.workspace.in_(chunk) & (AclEntry.level == OWNER)).alias("ranked"))
        rows = (AclEntry.select(ranked.c.workspace_id, ranked.c.account_id).from_(ranked)
                .where(ranked.c.position == 1).tuples())
        found.update(rows)
    return found


def member_counts(workspace_ids):
    """{workspace id: its number of members}."""
    found = {}
    for chunk in _chunks(workspace_ids):
        found.update(AclEntry.select(AclEntry.workspace, fn.COUNT(AclEntry.id))
                     .where(AclEntry.workspace.in_(chunk)).group_by(AclEntry.workspace).tuples())
    return found


def fullname_by(number=None, uuid=None):
    """The fullname of the workspace with this integer number or UUID (trash left out), or None."""
    column, value = (Workspace.number, number) if number is not None else (Workspace.uuid, str(uuid).lower())
    row = (Workspace.select(Workspace.fullname)
           .where((column == value) & Workspace.deleted_at.is_null()).tuples().first())
    return row[0] if row else None
