"""Members (ACL) of a workspace: listing, joining by invite, level changes, removals, invariants."""
import threading
import time

import pytest
import requests

from conftest import ADMIN_TOKEN, API, assert_error, assert_no_content, bearer
from wsserver.storage.models import AclEntry, Workspace
from wsserver.permissions import LEVELS

LEVEL_NAMES = ["owner", "admin", "developer", "user"]
ROLES = LEVEL_NAMES + ["outsider", "instance-admin"]


def pause():
    """Join times have millisecond resolution: keep the join order unambiguous."""
    time.sleep(0.003)


def acl_url(fullname="team", entry_id=None):
    return f"{API}/workspaces/{fullname}/acl" + (f"/{entry_id}" if entry_id else "")


def level_in_db(entry_id):
    entry = AclEntry.get_or_none(AclEntry.id == entry_id)
    return None if entry is None else entry.level


def levels_in_db(fullname="team"):
    return {
        entry.account_id: entry.level
        for entry in AclEntry.select().join(Workspace).where(Workspace.fullname == fullname)
    }


@pytest.fixture
def team(accounts, make_workspace, join, admin_headers):
    """Workspace `team`: an actor of every level, a second member of every level (the targets),
    an outsider and the instance admin. {role: account with "entry"}, {level: target account}."""
    actors = {"owner": accounts.create("team-owner", nickname="The Owner")}
    make_workspace(actors["owner"]["headers"], "team")
    actors["owner"]["entry"] = AclEntry.get(AclEntry.account == actors["owner"]["id"]).id
    targets = {}
    for level in LEVEL_NAMES:
        if level != "owner":
            pause()
            actors[level] = accounts.create(f"team-{level}")
            actors[level]["entry"] = join(actors["owner"]["headers"], "team", actors[level], level=level)
    for level in LEVEL_NAMES:
        pause()
        targets[level] = accounts.create(f"target-{level}")
        targets[level]["entry"] = join(actors["owner"]["headers"], "team", targets[level], level=level)
    actors["outsider"] = accounts.create("outsider")
    actors["instance-admin"] = {"headers": admin_headers, "id": None, "entry": None}
    return actors, targets


def entry_view(entry):
    account = entry.account
    return {
        "id": entry.id,
        "level": {rank: name for name, rank in LEVELS.items()}[entry.level],
        "user": {"id": account.id, "username": account.username, "nickname": account.nickname},
        "object": {"type": "workspace", "id": entry.workspace_id},
        "subject": {"type": "user", "id": account.id},
    }


# --- GET /acl -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", LEVEL_NAMES + ["instance-admin"])
def test_list_acl_as_member_or_instance_admin_is_200_with_every_entry(client, team, role):
    actors, _ = team
    response = client.get(acl_url(), headers=actors[role]["headers"])

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert len(body) == 8
    workspace = Workspace.get(Workspace.fullname == "team")
    entries = {entry.id: entry for entry in AclEntry.select().where(AclEntry.workspace == workspace.id)}
    assert sorted(item["id"] for item in body) == sorted(entries)
    for item in body:
        assert item == entry_view(entries[item["id"]])
    owner_item = next(item for item in body if item["id"] == actors["owner"]["entry"])
    assert owner_item["user"] == {"id": actors["owner"]["id"], "username": "team-owner", "nickname": "The Owner"}


def test_list_acl_as_non_member_is_404(client, team):
    actors, _ = team
    assert_error(client.get(acl_url(), headers=actors["outsider"]["headers"]), 404)


def test_list_acl_of_unknown_workspace_is_404(client, admin_headers):
    assert_error(client.get(acl_url("no-such-thing"), headers=admin_headers), 404)


def test_list_acl_under_the_api_alias_matches_v2(client, team):
    actors, _ = team
    v2 = client.get(acl_url(), headers=actors["user"]["headers"])
    alias = client.get("/api/workspaces/team/acl", headers=actors["user"]["headers"])
    assert alias.status_code == 200 and alias.get_json() == v2.get_json()


def test_list_acl_puts_owners_first_then_everyone_by_join_time(client, accounts, make_workspace, join):
    founder = accounts.create("founder")
    make_workspace(founder["headers"], "ordered")
    joined = []
    for name in ("early-user", "developer", "late-admin", "late-owner"):
        pause()
        joined.append(accounts.create(name))
        join(founder["headers"], "ordered", joined[-1])
    early_user, developer, late_admin, late_owner = joined
    # levels changed in an order unrelated to the join order
    for member, level in ((late_owner, "owner"), (late_admin, "admin"), (developer, "developer")):
        entry = AclEntry.get(AclEntry.account == member["id"])
        client.put(acl_url("ordered", entry.id), json={"level": level}, headers=founder["headers"])

    body = client.get(acl_url("ordered"), headers=early_user["headers"]).get_json()

    assert [(item["user"]["username"], item["level"]) for item in body] == [
        ("founder", "owner"),
        ("late-owner", "owner"),
        ("early-user", "user"),
        ("developer", "developer"),
        ("late-admin", "admin"),
    ]


def test_acl_routes_without_credentials_are_401(client, team):
    actors, targets = team
    for response in (
        client.get(acl_url()),
        client.post(acl_url(), json={"invite": "anything"}),
        client.put(acl_url(entry_id=targets["user"]["entry"]), json={"level": "admin"}),
        client.delete(acl_url(entry_id=targets["user"]["entry"])),
    ):
        assert_error(response, 401)
        assert response.headers.get("WWW-Authenticate")
    assert level_in_db(targets["user"]["entry"]) == LEVELS["user"]


# --- POST /acl: joining by invite -------------------------------------------------------------


def invite_of(fullname="team"):
    return Workspace.get(Workspace.fullname == fullname).invite


def test_join_with_the_current_invite_is_204_empty_and_the_caller_becomes_a_user(client, team):
    actors, _ = team
    outsider = actors["outsider"]

    response = client.post(acl_url(), json={"invite": invite_of()}, headers=outsider["headers"])

    assert_no_content(response)
    assert levels_in_db()[outsider["id"]] == LEVELS["user"]
    view = client.get(f"{API}/workspaces/team", headers=outsider["headers"])
    assert view.status_code == 200 and "invite" not in view.get_json()
    mine = [item for item in client.get(acl_url(), headers=outsider["headers"]).get_json()
            if item["user"]["id"] == outsider["id"]]
    assert [item["level"] for item in mine] == ["user"]


def test_join_under_the_api_alias_works_too(client, team):
    actors, _ = team
    response = client.post("/api/workspaces/team/acl", json={"invite": invite_of()}, headers=actors["outsider"]["headers"])
    assert_no_content(response)
    assert actors["outsider"]["id"] in levels_in_db()


@pytest.mark.parametrize("role", LEVEL_NAMES)
def test_join_when_already_a_member_is_204_and_nothing_changes(client, team, role):
    actors, _ = team
    before = {entry.id: (entry.account_id, entry.level, entry.created_at) for entry in AclEntry.select()}

    response = client.post(acl_url(), json={"invite": invite_of()}, headers=actors[role]["headers"])

    assert_no_content(response)
    after = {entry.id: (entry.account_id, entry.level, entry.created_at) for entry in AclEntry.select()}
    assert after == before


def test_instance_admin_joining_by_invite_becomes_a_user(client, team, admin_headers):
    assert_no_content(client.post(acl_url(), json={"invite": invite_of()}, headers=admin_headers))
    me = client.get(f"{API}/me", headers=admin_headers).get_json()
    assert [(m["workspace"]["fullname"], m["level"]) for m in me["memberships"]] == [("team", "user")]


@pytest.mark.parametrize(
    "invite",
    ["wss_wrong", "x", "WSS_", "a" * 256],
    ids=["wrong", "short", "prefix-only", "long"],
)
def test_join_with_a_wrong_invite_is_403_and_nobody_joins(client, team, invite):
    actors, _ = team
    assert_error(client.post(acl_url(), json={"invite": invite}, headers=actors["outsider"]["headers"]), 403)
    assert actors["outsider"]["id"] not in levels_in_db()


def test_join_with_the_invite_of_another_workspace_is_403(client, team, accounts, make_workspace):
    actors, _ = team
    other = make_workspace(actors["owner"]["headers"], "other")
    response = client.post(acl_url(), json={"invite": other["invite"]}, headers=actors["outsider"]["headers"])
    assert_error(response, 403)
    assert actors["outsider"]["id"] not in levels_in_db()


def test_join_with_an_empty_invite_is_422_naming_invite(client, team):
    """An empty string can never be an invite: a validation error, like any malformed value."""
    actors, _ = team
    response = client.post(acl_url(), json={"invite": ""}, headers=actors["outsider"]["headers"])
    assert_error(response, 422, details={"invite"})
    assert actors["outsider"]["id"] not in levels_in_db()


@pytest.mark.parametrize("body", [{}, {"invite": None}, {"invite": 42}, {"invite": "a" * 257}, {"token": "x"}],
                         ids=["missing", "null", "number", "too-long", "unknown-field"])
def test_join_with_a_malformed_body_is_422(client, team, body):
    actors, _ = team
    assert_error(client.post(acl_url(), json=body, headers=actors["outsider"]["headers"]), 422)
    assert actors["outsider"]["id"] not in levels_in_db()


def test_join_with_an_invite_superseded_by_reset_invite_is_403_and_the_new_one_works(client, team):
    actors, _ = team
    old = invite_of()
    reset = client.put(f"{API}/workspaces/team", json={"fullname": "team", "resetInvite": True},
                       headers=actors["owner"]["headers"])
    new = reset.get_json()["invite"]
    assert new != old

    assert_error(client.post(acl_url(), json={"invite": old}, headers=actors["outsider"]["headers"]), 403)
    assert actors["outsider"]["id"] not in levels_in_db()
    assert_no_content(client.post(acl_url(), json={"invite": new}, headers=actors["outsider"]["headers"]))


def test_join_unknown_workspace_is_404(client, team):
    actors, _ = team
    response = client.post(acl_url("no-such-thing"), json={"invite": invite_of()}, headers=actors["outsider"]["headers"])
    assert_error(response, 404)


# --- PUT /acl/:entryId: changing levels ----------------------------------------------------------


def may_change(actor_role, target_level, new_level):
    """The contract's table, written out independently of wsserver.permissions."""
    if actor_role in ("owner", "instance-admin"):
        return True
    if actor_role == "admin":
        return target_level != "owner" and new_level != "owner"
    return False


@pytest.mark.parametrize("new_level", LEVEL_NAMES)
@pytest.mark.parametrize("target_level", LEVEL_NAMES)
@pytest.mark.parametrize("role", ROLES)
def test_change_level_follows_the_permission_table(client, team, role, target_level, new_level):
    actors, targets = team
    entry_id = targets[target_level]["entry"]

    response = client.put(acl_url(entry_id=entry_id), json={"level": new_level}, headers=actors[role]["headers"])

    if role == "outsider":
        assert_error(response, 404)
        assert level_in_db(entry_id) == LEVELS[target_level]
    elif may_change(role, target_level, new_level):
        assert_no_content(response)
        assert level_in_db(entry_id) == LEVELS[new_level]
    else:
        assert_error(response, 403)
        assert level_in_db(entry_id) == LEVELS[target_level]


def test_changed_level_shows_in_the_acl_and_in_me(client, team):
    actors, targets = team
    entry_id = targets["user"]["entry"]
    client.put(acl_url(entry_id=entry_id), json={"level": "admin"}, headers=actors["owner"]["headers"])

    listed = next(item for item in client.get(acl_url(), headers=actors["user"]["headers"]).get_json()
                  if item["id"] == entry_id)
    assert listed["level"] == "admin"
    me = client.get(f"{API}/me", headers=targets["user"]["headers"]).get_json()
    assert [(m["id"], m["level"]) for m in me["memberships"]] == [(entry_id, "admin")]
    # and the promoted member now sees the invite
    assert "invite" in client.get(f"{API}/workspaces/team", headers=targets["user"]["headers"]).get_json()


def test_admin_may_demote_itself_but_not_promote_itself_to_owner(client, team):
    actors, _ = team
    admin = actors["admin"]
    assert_error(client.put(acl_url(entry_id=admin["entry"]), json={"level": "owner"}, headers=admin["headers"]), 403)
    assert level_in_db(admin["entry"]) == LEVELS["admin"]
    assert_no_content(client.put(acl_url(entry_id=admin["entry"]), json={"level": "developer"}, headers=admin["headers"]))
    assert level_in_db(admin["entry"]) == LEVELS["developer"]


@pytest.mark.parametrize("role", ["developer", "user"])
def test_developer_and_user_may_not_change_even_their_own_level(client, team, role):
    actors, _ = team
    me = actors[role]
    for level in LEVEL_NAMES:
        assert_error(client.put(acl_url(entry_id=me["entry"]), json={"level": level}, headers=me["headers"]), 403)
    assert level_in_db(me["entry"]) == LEVELS[role]


def test_owner_may_demote_itself_when_another_owner_remains(client, team):
    actors, targets = team
    owner = actors["owner"]
    assert_no_content(client.put(acl_url(entry_id=owner["entry"]), json={"level": "user"}, headers=owner["headers"]))
    assert level_in_db(owner["entry"]) == LEVELS["user"]
    assert level_in_db(targets["owner"]["entry"]) == LEVELS["owner"]


@pytest.mark.parametrize("level", ["superuser", "Owner", "", None, 4, ["owner"]])
def test_change_level_to_an_invalid_level_is_422_naming_level(client, team, level):
    actors, targets = team
    entry_id = targets["user"]["entry"]
    response = client.put(acl_url(entry_id=entry_id), json={"level": level}, headers=actors["owner"]["headers"])
    assert_error(response, 422, details={"level"})
    assert level_in_db(entry_id) == LEVELS["user"]


def test_change_level_without_a_level_is_422(client, team):
    actors, targets = team
    response = client.put(acl_url(entry_id=targets["user"]["entry"]), json={}, headers=actors["owner"]["headers"])
    assert_error(response, 422, details={"level"})


def test_change_level_of_an_entry_of_another_workspace_is_404(client, team, accounts, make_workspace):
    actors, _ = team
    make_workspace(actors["owner"]["headers"], "other")
    foreign_entry = AclEntry.select().join(Workspace).where(Workspace.fullname == "other").get()
    for headers in (actors["owner"]["headers"], actors["instance-admin"]["headers"]):
        response = client.put(acl_url("team", foreign_entry.id), json={"level": "user"}, headers=headers)
        assert_error(response, 404)
    assert level_in_db(foreign_entry.id) == LEVELS["owner"]


def test_change_level_of_an_unknown_entry_is_404(client, team):
    actors, _ = team
    response = client.put(acl_url(entry_id="000000000000000000000000"), json={"level": "user"},
                          headers=actors["owner"]["headers"])
    assert_error(response, 404)


def test_change_level_in_an_unknown_workspace_is_404(client, team):
    actors, targets = team
    response = client.put(acl_url("no-such-thing", targets["user"]["entry"]), json={"level": "admin"},
                          headers=actors["owner"]["headers"])
    assert_error(response, 404)


def test_change_level_to_the_same_level_is_204_and_changes_nothing(client, team):
    actors, targets = team
    entry_id = targets["developer"]["entry"]
    response = client.put(acl_url(entry_id=entry_id), json={"level": "developer"}, headers=actors["owner"]["headers"])
    assert_no_content(response)
    assert level_in_db(entry_id) == LEVELS["developer"]


# --- DELETE /acl/:entryId: removing members -------------------------------------------------------


def may_remove(actor_role, target_level):
    if actor_role in ("owner", "instance-admin"):
        return True
    if actor_role == "admin":
        return target_level != "owner"
    return False


@pytest.mark.parametrize("target_level", LEVEL_NAMES)
@pytest.mark.parametrize("role", ROLES)
def test_remove_entry_follows_the_permission_table(client, team, role, target_level):
    actors, targets = team
    target = targets[target_level]

    response = client.delete(acl_url(entry_id=target["entry"]), headers=actors[role]["headers"])

    if role == "outsider":
        assert_error(response, 404)
        assert level_in_db(target["entry"]) == LEVELS[target_level]
    elif may_remove(role, target_level):
        assert response.status_code == 200
        assert response.get_json() == {}
        assert level_in_db(target["entry"]) is None
        assert_error(client.get(f"{API}/workspaces/team", headers=target["headers"]), 404)
    else:
        assert_error(response, 403)
        assert level_in_db(target["entry"]) == LEVELS[target_level]


@pytest.mark.parametrize("role", ["admin", "developer", "user"])
def test_member_may_remove_its_own_entry_to_leave(client, team, role):
    actors, _ = team
    me = actors[role]
    response = client.delete(acl_url(entry_id=me["entry"]), headers=me["headers"])
    assert response.status_code == 200 and response.get_json() == {}
    assert level_in_db(me["entry"]) is None
    assert client.get(f"{API}/me", headers=me["headers"]).get_json()["memberships"] == []
    assert_error(client.get(acl_url(), headers=me["headers"]), 404)


def test_owner_may_leave_when_another_owner_remains(client, team):
    actors, targets = team
    owner = actors["owner"]
    response = client.delete(acl_url(entry_id=owner["entry"]), headers=owner["headers"])
    assert response.status_code == 200 and response.get_json() == {}
    assert level_in_db(owner["entry"]) is None
    assert level_in_db(targets["owner"]["entry"]) == LEVELS["owner"]


def test_remove_entry_of_another_workspace_is_404(client, team, make_workspace):
    actors, _ = team
    make_workspace(actors["owner"]["headers"], "other")
    foreign_entry = AclEntry.select().join(Workspace).where(Workspace.fullname == "other").get()
    for headers in (actors["owner"]["headers"], actors["instance-admin"]["headers"]):
        assert_error(client.delete(acl_url("team", foreign_entry.id), headers=headers), 404)
    assert level_in_db(foreign_entry.id) == LEVELS["owner"]
    assert Workspace.get_or_none(Workspace.fullname == "other") is not None


def test_remove_unknown_entry_is_404(client, team):
    actors, _ = team
    assert_error(client.delete(acl_url(entry_id="000000000000000000000000"), headers=actors["owner"]["headers"]), 404)


def test_remove_entry_in_an_unknown_workspace_is_404(client, team):
    actors, targets = team
    assert_error(client.delete(acl_url("no-such-thing", targets["user"]["entry"]), headers=actors["owner"]["headers"]),
                 404)


# --- invariants: a workspace always has an owner ---------------------------------------------


@pytest.fixture
def duo(accounts, make_workspace, join):
    """Workspace `duo`: one owner and one admin."""
    owner, admin = accounts.create("solo-owner"), accounts.create("helper")
    make_workspace(owner["headers"], "duo")
    owner["entry"] = AclEntry.get(AclEntry.account == owner["id"]).id
    admin["entry"] = join(owner["headers"], "duo", admin, level="admin")
    return owner, admin


@pytest.mark.parametrize("level", ["admin", "developer", "user"])
def test_demoting_the_last_owner_is_409_with_a_helpful_message(client, duo, admin_headers, level):
    owner, _ = duo
    for headers in (owner["headers"], admin_headers):
        response = client.put(acl_url("duo", owner["entry"]), json={"level": level}, headers=headers)
        error = assert_error(response, 409)
        assert "last owner" in error["message"] and "owner first" in error["message"]
    assert level_in_db(owner["entry"]) == LEVELS["owner"]


def test_removing_the_last_owner_while_others_remain_is_409_with_a_helpful_message(client, duo, admin_headers):
    owner, _ = duo
    for headers in (owner["headers"], admin_headers):
        error = assert_error(client.delete(acl_url("duo", owner["entry"]), headers=headers), 409)
        assert "last owner" in error["message"] and "owner first" in error["message"]
    assert level_in_db(owner["entry"]) == LEVELS["owner"]


def test_last_owner_may_leave_after_making_another_member_owner(client, duo):
    owner, admin = duo
    assert_no_content(client.put(acl_url("duo", admin["entry"]), json={"level": "owner"}, headers=owner["headers"]))
    response = client.delete(acl_url("duo", owner["entry"]), headers=owner["headers"])
    assert response.status_code == 200 and response.get_json() == {}
    assert levels_in_db("duo") == {admin["id"]: LEVELS["owner"]}


def test_sole_member_removing_its_own_entry_deletes_the_workspace(client, accounts, make_workspace, admin_headers):
    loner = accounts.create("loner")
    created = make_workspace(loner["headers"], "lonely")
    entry = AclEntry.get(AclEntry.account == loner["id"])

    response = client.delete(acl_url("lonely", entry.id), headers=loner["headers"])

    assert response.status_code == 200 and response.get_json() == {}
    assert Workspace.get_or_none(Workspace.id == created["id"]) is None
    assert AclEntry.select().where(AclEntry.workspace == created["id"]).count() == 0
    assert_error(client.get(f"{API}/workspaces/lonely", headers=admin_headers), 404)
    assert client.get(f"{API}/workspaces", headers=loner["headers"]).get_json() == []


def test_instance_admin_removing_the_sole_member_deletes_the_workspace(client, accounts, make_workspace, admin_headers):
    loner = accounts.create("loner")
    created = make_workspace(loner["headers"], "lonely")
    entry = AclEntry.get(AclEntry.account == loner["id"])
    response = client.delete(acl_url("lonely", entry.id), headers=admin_headers)
    assert response.status_code == 200 and response.get_json() == {}
    assert Workspace.get_or_none(Workspace.id == created["id"]) is None


def test_two_owners_demoting_themselves_in_turn_the_second_gets_409(client, duo):
    owner, co_owner = duo
    client.put(acl_url("duo", co_owner["entry"]), json={"level": "owner"}, headers=owner["headers"])

    assert_no_content(client.put(acl_url("duo", owner["entry"]), json={"level": "admin"}, headers=owner["headers"]))
    response = client.put(acl_url("duo", co_owner["entry"]), json={"level": "admin"}, headers=co_owner["headers"])

    assert_error(response, 409)
    assert levels_in_db("duo") == {owner["id"]: LEVELS["admin"], co_owner["id"]: LEVELS["owner"]}


def test_two_owners_demoting_each_other_leave_exactly_one_owner(client, duo):
    """The first demotion wins; the second comes from someone who is no longer an owner."""
    owner, co_owner = duo
    client.put(acl_url("duo", co_owner["entry"]), json={"level": "owner"}, headers=owner["headers"])

    assert_no_content(client.put(acl_url("duo", co_owner["entry"]), json={"level": "admin"}, headers=owner["headers"]))
    response = client.put(acl_url("duo", owner["entry"]), json={"level": "admin"}, headers=co_owner["headers"])

    assert_error(response, 403)
    assert levels_in_db("duo") == {owner["id"]: LEVELS["owner"], co_owner["id"]: LEVELS["admin"]}


def test_two_owners_removing_each_other_leave_exactly_one_owner(client, duo):
    owner, co_owner = duo
    client.put(acl_url("duo", co_owner["entry"]), json={"level": "owner"}, headers=owner["headers"])

    assert client.delete(acl_url("duo", co_owner["entry"]), headers=owner["headers"]).status_code == 200
    # the removed owner is not a member any more: it learns nothing
    assert_error(client.delete(acl_url("duo", owner["entry"]), headers=co_owner["headers"]), 404)
    assert levels_in_db("duo") == {owner["id"]: LEVELS["owner"]}


def test_concurrent_mutual_demotions_of_two_owners_leave_exactly_one_owner(live_server):
    """Two owners demote each other at the same moment on the real server, several times over."""
    url = live_server.url
    admin = bearer(ADMIN_TOKEN)
    people = []
    for name in ("racer-a", "racer-b"):
        created = requests.post(f"{url}{API}/accounts", json={"username": name}, headers=admin, timeout=10).json()
        people.append(bearer(created["token"]))
    requests.put(f"{url}{API}/workspaces/race", json={"fullname": "race"}, headers=people[0], timeout=10)
    invite = requests.get(f"{url}{API}/workspaces/race", headers=people[0], timeout=10).json()["invite"]
    requests.post(f"{url}{API}/workspaces/race/acl", json={"invite": invite}, headers=people[1], timeout=10)
    entries = requests.get(f"{url}{API}/workspaces/race/acl", headers=admin, timeout=10).json()
    entry_of = [entries[0]["id"], entries[1]["id"]]  # owner first: people[0], then people[1]

    for _ in range(5):
        for entry_id in entry_of:
            promote = requests.put(f"{url}{API}/workspaces/race/acl/{entry_id}", json={"level": "owner"},
                                   headers=admin, timeout=10)
            assert promote.status_code == 204
        barrier = threading.Barrier(2)
        statuses = [None, None]

        def demote_the_other(me):
            barrier.wait()
            statuses[me] = requests.put(f"{url}{API}/workspaces/race/acl/{entry_of[1 - me]}",
                                        json={"level": "admin"}, headers=people[me], timeout=10).status_code

        threads = [threading.Thread(target=demote_the_other, args=(me,)) for me in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(statuses) == [204, 403]
        levels = [e["level"] for e in requests.get(f"{url}{API}/workspaces/race/acl", headers=admin, timeout=10).json()]
        assert sorted(levels) == ["admin", "owner"]


# --- what the caller sees elsewhere ---------------------------------------------------------


def test_me_and_workspace_list_reflect_a_join_and_a_removal_at_once(client, team):
    actors, _ = team
    outsider = actors["outsider"]
    assert client.get(f"{API}/workspaces", headers=outsider["headers"]).get_json() == []

    client.post(acl_url(), json={"invite": invite_of()}, headers=outsider["headers"])
    listed = client.get(f"{API}/workspaces", headers=outsider["headers"]).get_json()
    assert [w["fullname"] for w in listed] == ["team"]
    me = client.get(f"{API}/me", headers=outsider["headers"]).get_json()
    entry_id = AclEntry.get(AclEntry.account == outsider["id"]).id
    assert [(m["id"], m["level"], m["workspace"]["fullname"]) for m in me["memberships"]] == [(entry_id, "user", "team")]

    client.delete(acl_url(entry_id=entry_id), headers=actors["admin"]["headers"])
    assert client.get(f"{API}/workspaces", headers=outsider["headers"]).get_json() == []
    assert client.get(f"{API}/me", headers=outsider["headers"]).get_json()["memberships"] == []
    assert_error(client.get(f"{API}/workspaces/team", headers=outsider["headers"]), 404)
