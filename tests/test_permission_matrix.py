"""The permission table of CONTRACT.md as one table-driven test: every route x every role.

Roles: owner, admin, developer, user (members at that level), outsider (an
account that is not a member), anonymous (no credentials), instance admin
(not a member). Each case runs on a fresh instance; the expected status is
the contract's, and no answer to an outsider reveals the workspace's members,
tags, labels or title.
"""

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, bearer, png_base64
from wsserver import create_app
from wsserver.storage.models import Account, Organization, Workspace

WS = "matrix-ws"
SECRET_TITLE = "Secret Title Xyzzy"
SECRET_TAG = "secret-tag-plugh"
SECRET_LABEL = "secret-label-value-frotz"
ROLES = ("owner", "admin", "developer", "user", "outsider", "anonymous", "instance_admin")


@pytest.fixture
def app(instance_path):
    """With a trash (WSSERVER_TRASH_DAYS), so restoring is in the table too."""
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       "TRASH_DAYS": 30})


@pytest.fixture
def world(client, accounts, join):
    """A workspace with one member at each level, a `target` member (level user) and an outsider."""
    people = {name: accounts.create(f"m-{name}") for name in ("owner", "admin", "developer", "user", "target", "outsider")}
    created = client.put(
        f"{API}/workspaces/{WS}",
        json={"fullname": WS, "tags": [SECRET_TAG], "labels": {"k": SECRET_LABEL}, "meta": {"title": SECRET_TITLE}},
        headers=people["owner"]["headers"],
    )
    assert created.status_code == 201
    entries = {}
    for level in ("admin", "developer", "user"):
        entries[level] = join(people["owner"]["headers"], WS, people[level], level)
    entries["target"] = join(people["owner"]["headers"], WS, people["target"], "user")
    headers = {name: people[name]["headers"] for name in people}
    headers["anonymous"] = {}
    headers["instance_admin"] = bearer(ADMIN_TOKEN)
    target_token = client.post(f"{API}/tokens", json={"name": "target's"}, headers=people["target"]["headers"])
    assert target_token.status_code == 201
    return {"target_token": target_token.get_json()["id"],
            "people": people, "headers": headers, "entries": entries, "invite": created.get_json()["invite"]}


def _call(client, world, route):
    """Perform `route` (a name) as prepared by `world`; returns a function of the caller's headers."""
    entry = world["entries"]["target"]
    calls = {
        "get_workspace": lambda h: client.get(f"{API}/workspaces/{WS}", headers=h),
        "update_workspace": lambda h: client.put(f"{API}/workspaces/{WS}", json={"fullname": WS, "tags": ["new"]}, headers=h),
        "delete_workspace": lambda h: client.delete(f"{API}/workspaces/{WS}", headers=h),
        "upload_avatar": lambda h: client.post(
            f"{API}/workspaces/{WS}/avatar",
            json={"filename": "a.png", "contentType": "image/png", "data": png_base64("blue", side=4)}, headers=h),
        "list_acl": lambda h: client.get(f"{API}/workspaces/{WS}/acl", headers=h),
        "join_with_invite": lambda h: client.post(f"{API}/workspaces/{WS}/acl", json={"invite": world["invite"]}, headers=h),
        "join_with_wrong_invite": lambda h: client.post(f"{API}/workspaces/{WS}/acl", json={"invite": "wss_wrong"}, headers=h),
        "change_level": lambda h: client.put(f"{API}/workspaces/{WS}/acl/{entry}", json={"level": "developer"}, headers=h),
        "remove_member": lambda h: client.delete(f"{API}/workspaces/{WS}/acl/{entry}", headers=h),
        "promote_to_owner": lambda h: client.put(f"{API}/workspaces/{WS}/acl/{entry}", json={"level": "owner"}, headers=h),
        "change_owner_level": lambda h: client.put(
            f"{API}/workspaces/{WS}/acl/{world['owner_entry']}", json={"level": "user"}, headers=h),
        "remove_owner": lambda h: client.delete(f"{API}/workspaces/{WS}/acl/{world['owner_entry']}", headers=h),
        "archive_workspace": lambda h: client.post(f"{API}/workspaces/{WS}/archive", headers=h),
        "unarchive_workspace": lambda h: client.post(f"{API}/workspaces/{WS}/unarchive", headers=h),
        "restore_workspace": lambda h: client.post(f"{API}/workspaces/{WS}/restore", headers=h),
        # tokens: each caller's own (services/tokens.py)
        "list_tokens": lambda h: client.get(f"{API}/tokens", headers=h),
        "create_token": lambda h: client.post(f"{API}/tokens", json={"name": "matrix"}, headers=h),
        "revoke_other_tokens": lambda h: client.delete(f"{API}/tokens", headers=h),
        # web sessions: each caller's own (services/sessions.py)
        "end_my_sessions": lambda h: client.delete(f"{API}/sessions", headers=h),
        "revoke_target_token": lambda h: client.delete(f"{API}/tokens/{world['target_token']}", headers=h),
    }
    workspace = Workspace.get(Workspace.fullname == WS)
    organization = Organization.get(Organization.id == workspace.organization_id).id
    owner_uuid = Account.get(Account.id == world["people"]["owner"]["id"]).uuid
    calls.update({
        # the flavors (wsserver/flavors): the same rules, reached through each service's routes
        "engineering_get": lambda h: client.get(f"{ENGINEERING}/api/workspaces/{workspace.number}/", headers=h),
        "engineering_list_all": lambda h: client.get(f"{ENGINEERING}/api/workspaces/?all=true", headers=h),
        "engineering_current_user": lambda h: client.get(f"{ENGINEERING}/api/users/current/", headers=h),
        "engineering_list_archived": lambda h: client.get(
            f"{ENGINEERING}/api/workspaces/?include_archived=true", headers=h),
        "geoscience_get": lambda h: client.get(
            f"{GEOSCIENCE}/workspace/orgs/{organization}/workspaces/{workspace.uuid}", headers=h),
        "geoscience_list_by_user": lambda h: client.get(
            f"{GEOSCIENCE}/workspace/orgs/{organization}/workspaces?user_id={owner_uuid}", headers=h),
        "platform_list": lambda h: client.get(f"{PLATFORM}/workspaces", headers=h),
        "geoscience_get_deleted": lambda h: client.get(
            f"{GEOSCIENCE}/workspace/orgs/{organization}/workspaces/{workspace.uuid}?deleted=true", headers=h),
    })
    if route in ("restore_workspace", "geoscience_get_deleted"):  # from the trash, where the owner put it
        assert client.delete(f"{API}/workspaces/{WS}", headers=world["headers"]["owner"]).status_code == 200
    return calls[route]


# route -> expected status for (owner, admin, developer, user, outsider, anonymous, instance_admin)
MATRIX = {
    "get_workspace":          (200, 200, 200, 200, 404, 401, 200),
    "update_workspace":       (200, 200, 403, 403, 409, 401, 200),
    "delete_workspace":       (200, 403, 403, 403, 404, 401, 200),
    "upload_avatar":          (200, 200, 403, 403, 404, 401, 200),
    "list_acl":               (200, 200, 200, 200, 404, 401, 200),
    # members joining again change nothing (204); an outsider or instance admin joins as user
    "join_with_invite":       (204, 204, 204, 204, 204, 401, 204),
    "join_with_wrong_invite": (204, 204, 204, 204, 403, 401, 403),
    "change_level":           (204, 204, 403, 403, 404, 401, 204),
    "remove_member":          (200, 200, 403, 403, 404, 401, 200),
    # admins may not raise anyone to owner, nor touch an owner's entry
    "promote_to_owner":       (204, 403, 403, 403, 404, 401, 204),
    # the owner changing their own entry: they are the last owner, so 409 even for them
    "change_owner_level":     (409, 403, 403, 403, 404, 401, 409),
    "remove_owner":           (409, 403, 403, 403, 404, 401, 409),
    "archive_workspace":      (200, 200, 403, 403, 404, 401, 200),
    "unarchive_workspace":    (200, 200, 403, 403, 404, 401, 200),
    "restore_workspace":      (200, 403, 403, 403, 404, 401, 200),
    "list_tokens":            (200, 200, 200, 200, 200, 401, 200),
    "create_token":           (201, 201, 201, 201, 201, 401, 201),
    "revoke_other_tokens":    (200, 200, 200, 200, 200, 401, 200),
    "end_my_sessions":        (200, 200, 200, 200, 200, 401, 200),
    # another account's token: 404 as if it did not exist (nobody learns its id is one); instance admins revoke any
    "revoke_target_token":    (404, 404, 404, 404, 404, 401, 200),
    "engineering_get":        (200, 200, 200, 200, 404, 401, 200),
    # every workspace, or archived ones too: instance admins only (permissions.may_list_all)
    "engineering_list_all":   (403, 403, 403, 403, 403, 401, 200),
    "engineering_list_archived": (403, 403, 403, 403, 403, 401, 200),
    # the caller's own account: anybody with credentials
    "engineering_current_user": (200, 200, 200, 200, 200, 401, 200),
    "geoscience_get":         (200, 200, 200, 200, 404, 401, 200),
    # another user's workspaces: instance admins only
    "geoscience_list_by_user": (403, 403, 403, 403, 403, 401, 200),
    "platform_list":          (200, 200, 200, 200, 200, 401, 200),
    # in the trash: seen by those who may restore it (permissions.SEES_TRASH), hidden from the rest
    "geoscience_get_deleted": (200, 404, 404, 404, 404, 401, 200),
}
ENGINEERING, GEOSCIENCE, PLATFORM = "/flavors/engineering", "/flavors/geoscience", "/flavors/platform"
# The keys of an error body: the native envelope, or the flavor's own shape.
ERROR_KEYS = {
    "engineering": {"detail"},
    "geoscience": {"type", "title", "status", "detail", "invalid-params"},
    "platform": {"detail"},
}

CASES = [(route, role, statuses[index]) for route, statuses in MATRIX.items() for index, role in enumerate(ROLES)]


def _owner_entry(client, world):
    entries = client.get(f"{API}/workspaces/{WS}/acl", headers=world["headers"]["owner"]).get_json()
    return next(e["id"] for e in entries if e["level"] == "owner")


@pytest.mark.parametrize("route, role, expected", CASES, ids=[f"{r}-{role}" for r, role, _ in CASES])
def test_permission_matrix(client, world, route, role, expected):
    world["owner_entry"] = _owner_entry(client, world)
    response = _call(client, world, route)(world["headers"][role])
    assert response.status_code == expected, response.get_json()
    if expected >= 400:
        body = response.get_json(force=True)
        flavor = route.partition("_")[0]
        if flavor in ERROR_KEYS:
            assert set(body) == ERROR_KEYS[flavor], body
        else:
            assert set(body) == {"error"} and set(body["error"]) == {"message", "details"}
    if expected == 204:
        assert response.data == b""
    if role in ("outsider", "anonymous") and expected != 204:
        text = response.get_data(as_text=True)
        for secret in (SECRET_TITLE, SECRET_TAG, SECRET_LABEL, "m-target", "m-developer", world["invite"]):
            assert secret not in text, (route, secret)


@pytest.mark.parametrize("role, sees_invite", [
    ("owner", True), ("admin", True), ("developer", False), ("user", False), ("instance_admin", True),
])
def test_invite_is_shown_only_to_owners_admins_and_instance_admins(client, world, role, sees_invite):
    view = client.get(f"{API}/workspaces/{WS}", headers=world["headers"][role]).get_json()
    assert ("invite" in view) is sees_invite
    if sees_invite:
        assert view["invite"] == world["invite"]
    updated = client.put(f"{API}/workspaces/{WS}", json={"fullname": WS}, headers=world["headers"][role])
    if updated.status_code == 200:
        assert ("invite" in updated.get_json()) is sees_invite


def test_outsider_listing_never_shows_the_workspace(client, world):
    for role in ("outsider", "instance_admin"):
        listed = client.get(f"{API}/workspaces", headers=world["headers"][role])
        assert listed.status_code == 200
        assert WS not in listed.get_data(as_text=True)
    me = client.get(f"{API}/me", headers=world["headers"]["outsider"]).get_json()
    assert me["memberships"] == []
