"""Who may do what: the one permission table of CONTRACT.md.

Every service asks this module; nothing else decides a permission. A caller is
described by `Actor` (the account's level in the workspace, or None for a
non-member, and whether the account is an instance admin).
"""
from dataclasses import dataclass
from enum import Enum

from .errors import Forbidden, NotFound

# Level names and their ranks: a higher rank is more.
LEVELS = {"user": 1, "developer": 2, "admin": 3, "owner": 4}
LEVEL_NAMES = {rank: name for name, rank in LEVELS.items()}
OWNER = LEVELS["owner"]
ADMIN = LEVELS["admin"]
USER = LEVELS["user"]


class Action(Enum):
    READ = "read the workspace and its member list"
    SEE_INVITE = "see the invite token"
    UPDATE = "change the workspace"
    ARCHIVE = "archive or unarchive the workspace"
    UPLOAD_AVATAR = "upload an avatar"
    DELETE = "delete the workspace"
    RESTORE = "restore the workspace from the trash"


# Action -> lowest level that may do it (instance admins may do everything).
MINIMUM_LEVEL = {
    Action.READ: LEVELS["user"],
    Action.SEE_INVITE: ADMIN,
    Action.UPDATE: ADMIN,
    Action.ARCHIVE: ADMIN,
    Action.UPLOAD_AVATAR: ADMIN,
    Action.DELETE: OWNER,
    Action.RESTORE: OWNER,
}


@dataclass(frozen=True)
class Actor:
    """The caller as seen from one workspace."""

    account_id: str
    level: int | None  # rank in this workspace, None for a non-member
    instance_admin: bool = False

    @property
    def is_member(self):
        return self.level is not None


def allows(actor, action):
    if actor.instance_admin:
        return True
    return actor.level is not None and actor.level >= MINIMUM_LEVEL[action]


def require(actor, action, not_found_message):
    """Raise NotFound for a non-member (they learn nothing), Forbidden for a member below the bar."""
    if allows(actor, action):
        return
    if not actor.is_member:
        raise NotFound(not_found_message)
    raise Forbidden(f"Your level in this workspace does not allow you to {action.value}.")


def may_change_level(actor, target_level, new_level):
    """Owners: any entry to any level. Admins: entries below owner, to levels below owner."""
    if actor.instance_admin or actor.level == OWNER:
        return True
    if actor.level == ADMIN:
        return target_level < OWNER and new_level < OWNER
    return False


def may_remove_entry(actor, target_level, is_own_entry):
    """Owners: any. Admins: entries below owner. Everybody: their own entry (leaving)."""
    if actor.instance_admin or actor.level == OWNER or is_own_entry:
        return True
    if actor.level == ADMIN:
        return target_level < OWNER
    return False


def may_administer_instance(account):
    """What concerns the whole instance (listing every workspace with all=true, the test-mode
    reset and request log) is for instance admins."""
    return bool(account.admin)


may_list_all = may_administer_instance

# A list that asks for the trash too (include_deleted) shows a trashed workspace to those who may restore it.
SEES_TRASH = MINIMUM_LEVEL[Action.RESTORE]


# What a personal access token may do, by its scope (Token.scope; services/tokens.py). "all": whatever its
# account may; "read": only requests that change nothing (GET, HEAD), anything else 403 whatever the account
# may. Checked once, by the authentication layer (http/auth.py), for every route that takes credentials.
# Another scope is another entry here: its name and the methods it allows (a finer one, say "workspaces:write",
# would map to a predicate of the method and the route's blueprint instead, checked at the same place), then
# its name in schemas/tokens.py's choices.
FULL_SCOPE = "all"
TOKEN_SCOPES = {
    FULL_SCOPE: None,  # no restriction beyond the account's own
    "read": frozenset({"GET", "HEAD"}),
}


def scope_allows(scope, method):
    """May a token of `scope` (None: a password, or a token stored before scopes: everything) make a request
    with this HTTP method?"""
    allowed = TOKEN_SCOPES.get(scope or FULL_SCOPE, frozenset())  # an unknown scope allows nothing
    return allowed is None or method in allowed
