"""Accounts: creation, password authentication, bootstrap, removal (their tokens: services/tokens.py)."""
import functools
import os

from werkzeug.security import check_password_hash, generate_password_hash

from ..storage.db import database, lock_rows, retrying
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..fields import NICKNAME_LENGTH, PASSWORD_LENGTH, USERNAME_MAX_LENGTH, USERNAME_PATTERN, USERNAME_RULE
from ..ids import account_uuid, hash_secret, new_id, now_iso
from ..storage.models import Account, AclEntry, Token, Workspace
from ..storage import avatar_files
from . import members, tokens
from .tokens import ENVIRONMENT_TOKEN_NAME

BOOTSTRAP_USERNAME = "admin"
ADMIN_TOKEN_FILE = "admin-token"


def _new_account(**columns):
    """A new Account row with a fresh id and the UUID derived from it."""
    account_id = new_id()
    return Account.create(id=account_id, uuid=account_uuid(account_id), **columns)


@functools.cache
def _dummy_password_hash():
    """A hash to check against when the username is unknown, so both paths take as long.
    Made on first use: hashing is slow on purpose and would slow every start-up."""
    return generate_password_hash("wsserver-dummy-password")


def account_for_password(username, password):
    """The account whose username and password match, or None (same cost either way)."""
    if not username or not password or len(username) > USERNAME_MAX_LENGTH or len(password) > PASSWORD_LENGTH[1] or "\x00" in username:
        return None  # (no username holds a NUL: refused at creation)
    account = Account.get_or_none(Account.username == username)
    stored = account.password_hash if account is not None and account.password_hash else None
    if not check_password_hash(stored or _dummy_password_hash(), password) or stored is None:
        return None
    return account


def create_account(actor, username, nickname=None, password=None, admin=False):
    """Instance admins create accounts; returns (account, first token)."""
    if actor is not None and not actor.admin:
        raise Forbidden("Only instance administrators may create accounts.")
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        raise Invalid("Invalid username.", {"username": [USERNAME_RULE]})
    # The same limits as the API's schema, for callers that bypass it (the CLI).
    if password is not None and not PASSWORD_LENGTH[0] <= len(password) <= PASSWORD_LENGTH[1]:
        raise Invalid("Invalid password.", {"password": [f"{PASSWORD_LENGTH[0]}-{PASSWORD_LENGTH[1]} characters."]})
    if nickname is not None and len(nickname) > NICKNAME_LENGTH[1]:
        raise Invalid("Invalid nickname.", {"nickname": [f"At most {NICKNAME_LENGTH[1]} characters."]})
    with database.atomic():
        if Account.select().where(Account.username == username).exists():
            raise Conflict(f"The username '{username}' is taken.", {"username": ["already taken"]})
        account = _new_account(
            username=username,
            nickname=nickname if nickname else username,
            password_hash=generate_password_hash(password) if password else None,
            admin=bool(admin),
            created_at=now_iso(),
        )
        token = tokens.issue(account, "created").secret
    return account, token


def list_accounts(actor):
    if not actor.admin:
        raise Forbidden("Only instance administrators may list accounts.")
    return list(Account.select().order_by(Account.username, Account.id))


def account_by_id(account_id):
    """The account with this id, or None."""
    return Account.get_or_none(Account.id == account_id)


def find_account(username):
    account = Account.get_or_none(Account.username == username)
    if account is None:
        raise NotFound(f"No account named '{username}'.")
    return account


@retrying
@retrying
def delete_account(actor, account_id):
    """Remove an account, its tokens and memberships, keeping every workspace owned.

    Workspaces left without members are deleted, their avatar files removed
    after the commit.
    """
    if not actor.admin:
        raise Forbidden("Only instance administrators may delete accounts.")
    with database.atomic():
        # "An instance admin always remains", under any concurrency: the admins' rows are locked (SQLite:
        # the write lock, taken up front), then the actor must still be one of them. Two admins deleting
        # each other at once: the second finds itself gone and is refused.
        lock_rows(Account.select(Account.id).where(Account.admin == True), keys_too=False)  # noqa: E712
        if not Account.select().where((Account.id == actor.id) & (Account.admin == True)).exists():  # noqa: E712
            raise Forbidden("Only instance administrators may delete accounts.")
        account = Account.get_or_none(Account.id == account_id)
        if account is None:
            raise NotFound("No such account.")
        if account.id == actor.id:
            # so the instance always keeps an administrator who can get in
            raise Conflict("You cannot delete your own account; another instance administrator can.")
        workspace_ids = [
            row.workspace_id for row in AclEntry.select(AclEntry.workspace).where(AclEntry.account == account)
        ]
        members.lock_workspaces(workspace_ids)
        AclEntry.delete().where(AclEntry.account == account).execute()
        orphaned_files = members.settle_after_departure(workspace_ids)
        Token.delete().where(Token.account == account).execute()
        account.delete_instance()
    avatar_files.discard_files(orphaned_files)


def memberships_of(account):
    """The caller's ACL entries with their workspaces, by workspace name (the trash left out)."""
    return list(
        AclEntry.select(AclEntry, Workspace)
        .join(Workspace)
        .where((AclEntry.account == account.id) & Workspace.deleted_at.is_null())
        .order_by(Workspace.fullname, Workspace.id)
    )


def ensure_bootstrap_admin(instance_path, admin_token=None):
    """Make sure an instance admin can get in.

    With WSSERVER_ADMIN_TOKEN: the account `admin` exists, is an instance admin
    and accepts that token (idempotent). Without it and with no instance admin
    at all (a fresh instance, or a seed file that defines none): create `admin`
    with a fresh token, write it to <instance>/admin-token (0600) and return it
    so the caller can print it once. A non-admin account already named `admin`
    is a Conflict: it is never promoted behind anybody's back.
    """
    with database.atomic():
        if admin_token:
            account = Account.get_or_none(Account.username == BOOTSTRAP_USERNAME)
            if account is None:
                account = _new_account(
                    username=BOOTSTRAP_USERNAME, nickname="Administrator",
                    admin=True, created_at=now_iso(),
                )
            elif not account.admin:
                account.admin = True
                account.save()
            digest = hash_secret(admin_token)
            existing = Token.get_or_none(Token.token_hash == digest)
            if existing is None:
                Token.create(
                    id=new_id(), account=account, token_hash=digest, name=ENVIRONMENT_TOKEN_NAME, created_at=now_iso()
                )
            elif existing.account_id != account.id or existing.name != ENVIRONMENT_TOKEN_NAME:
                existing.account = account
                existing.name = ENVIRONMENT_TOKEN_NAME
                existing.save()
            # A changed WSSERVER_ADMIN_TOKEN replaces the previous value: rotating a leaked one must revoke it.
            Token.delete().where(
                (Token.account == account) & (Token.name == ENVIRONMENT_TOKEN_NAME) & (Token.token_hash != digest)
            ).execute()
            return None
        if Account.select().where(Account.admin == True).exists():  # noqa: E712 (SQL, not Python)
            return None
        if Account.select().where(Account.username == BOOTSTRAP_USERNAME).exists():
            raise Conflict(
                f"No instance administrator exists and the account '{BOOTSTRAP_USERNAME}' is not one: "
                f"give some account `admin: true`, or rename '{BOOTSTRAP_USERNAME}' so it can be created.",
                {"accounts": ["no instance administrator"]},
            )
        account = _new_account(
            username=BOOTSTRAP_USERNAME, nickname="Administrator", admin=True, created_at=now_iso()
        )
        secret = tokens.issue(account, "bootstrap").secret
    path = os.path.join(instance_path, ADMIN_TOKEN_FILE)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    return secret
