"""Workspaces: GET/PUT/DELETE /workspaces/:fullname and GET /workspaces, under /api/v2 and /api."""
import re
import time

import pytest

from conftest import API, assert_error, bearer
from wsserver.storage.models import AclEntry, Workspace
from wsserver.permissions import LEVELS

PREFIXES = [API, "/api"]
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
VIEW_FIELDS = {"id", "fullname", "tags", "labels", "meta", "archivedAt", "createdAt", "updatedAt", "createdBy"}
SHORT_FIELDS = {"id", "fullname", "tags", "labels", "meta", "archivedAt"}
MEMBER_LEVELS = ["owner", "admin", "developer", "user"]


def tick():
    """Timestamps have millisecond resolution: make the next write land on a later one."""
    time.sleep(0.003)


@pytest.fixture(params=PREFIXES, ids=["v2", "alias"])
def prefix(request):
    return request.param


@pytest.fixture
def team(accounts, make_workspace, join):
    """Workspace `team` with one member per level, plus an outsider; {role: account}."""
    people = {"owner": accounts.create("team-owner")}
    make_workspace(people["owner"]["headers"], "team", tags=["alpha"], labels={"env": "prod"}, meta={"title": "Team"})
    for level in ("admin", "developer", "user"):
        people[level] = accounts.create(f"team-{level}")
        people[level]["entry"] = join(people["owner"]["headers"], "team", people[level], level=level)
    people["outsider"] = accounts.create("outsider")
    return people


def stored(fullname="team"):
    return Workspace.get(Workspace.fullname == fullname)


def view_of(workspace, with_invite):
    view = {
        "id": workspace.id,
        "fullname": workspace.fullname,
        "tags": workspace.tags,
        "labels": workspace.labels,
        "meta": {"title": workspace.title, "description": workspace.description, "avatar": workspace.avatar},
        "createdAt": workspace.created_at,
        "updatedAt": workspace.updated_at,
        "archivedAt": workspace.archived_at,
        "createdBy": workspace.created_by,
    }
    if with_invite:
        view["invite"] = workspace.invite
    return view


def put(client, headers, fullname, prefix=API, **fields):
    return client.put(f"{prefix}/workspaces/{fullname}", json={"fullname": fullname, **fields}, headers=headers)


# --- PUT creates ---------------------------------------------------------------------------


def test_put_of_a_new_name_creates_it_201_and_the_caller_becomes_its_owner(client, accounts, prefix):
    bob = accounts.create("bob")
    response = put(client, bob["headers"], "new-place", prefix, tags=["a", "b"], labels={"k": "v"},
                   meta={"title": "New", "avatar": "https://example.com/a.png"})

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    workspace = stored("new-place")
    assert body == view_of(workspace, with_invite=True)
    assert body["tags"] == ["a", "b"] and body["labels"] == {"k": "v"}
    assert body["meta"] == {"title": "New", "description": None, "avatar": "https://example.com/a.png"}
    assert body["createdBy"] == bob["id"]
    assert ISO_UTC.match(body["createdAt"]) and body["createdAt"] == body["updatedAt"]
    assert body["invite"]
    entries = list(AclEntry.select().where(AclEntry.workspace == workspace.id))
    assert [(e.account_id, e.level) for e in entries] == [(bob["id"], LEVELS["owner"])]


def test_put_with_only_the_fullname_creates_empty_defaults(client, accounts):
    bob = accounts.create("bob")
    body = put(client, bob["headers"], "bare").get_json()
    assert (body["tags"], body["labels"], body["meta"]) == ([], {}, {"title": None, "description": None, "avatar": None})


def test_instance_admin_creating_a_workspace_becomes_its_owner(client, admin_headers, prefix):
    response = put(client, admin_headers, "admins-own", prefix)
    assert response.status_code == 201
    me = client.get(f"{API}/me", headers=admin_headers).get_json()
    assert [(m["workspace"]["fullname"], m["level"]) for m in me["memberships"]] == [("admins-own", "owner")]


def test_each_workspace_gets_its_own_invite_token(client, accounts):
    bob = accounts.create("bob")
    first = put(client, bob["headers"], "one").get_json()["invite"]
    second = put(client, bob["headers"], "two").get_json()["invite"]
    assert first != second and len(first) >= 40


# --- GET /workspaces/:fullname -------------------------------------------------------------


@pytest.mark.parametrize("role, sees_invite", [("owner", True), ("admin", True), ("developer", False), ("user", False)])
def test_get_workspace_as_member_is_200_with_invite_only_for_owner_and_admin(client, team, prefix, role, sees_invite):
    response = client.get(f"{prefix}/workspaces/team", headers=team[role]["headers"])
    assert response.status_code == 200
    assert response.get_json() == view_of(stored(), with_invite=sees_invite)
    assert set(response.get_json()) == VIEW_FIELDS | ({"invite"} if sees_invite else set())


def test_get_workspace_as_instance_admin_who_is_not_a_member_shows_the_invite(client, team, admin_headers, prefix):
    response = client.get(f"{prefix}/workspaces/team", headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json() == view_of(stored(), with_invite=True)


def test_get_workspace_as_non_member_is_404_indistinguishable_from_a_missing_one(
    client, team, admin_headers, prefix
):
    hidden = client.get(f"{prefix}/workspaces/team", headers=team["outsider"]["headers"])
    assert_error(hidden, 404, details={})
    client.delete(f"{API}/workspaces/team", headers=admin_headers)
    missing = client.get(f"{prefix}/workspaces/team", headers=team["outsider"]["headers"])
    assert missing.status_code == 404
    assert hidden.get_json() == missing.get_json()


def test_get_unknown_workspace_is_404(client, admin_headers, prefix):
    assert_error(client.get(f"{prefix}/workspaces/no-such-thing", headers=admin_headers), 404)


def test_workspace_routes_without_credentials_are_401(client, team, prefix):
    for response in (
        client.get(f"{prefix}/workspaces"),
        client.get(f"{prefix}/workspaces/team"),
        client.put(f"{prefix}/workspaces/team", json={"fullname": "team"}),
        client.delete(f"{prefix}/workspaces/team"),
    ):
        assert_error(response, 401)
        assert response.headers.get("WWW-Authenticate")
    assert stored().fullname == "team"


# --- PUT updates: who may ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_put_existing_as_owner_or_admin_updates_200_with_invite(client, team, prefix, role):
    tick()
    response = put(client, team[role]["headers"], "team", prefix, tags=["beta"])
    assert response.status_code == 200
    assert response.get_json() == view_of(stored(), with_invite=True)
    assert stored().tags == ["beta"]


def test_put_existing_as_instance_admin_who_is_not_a_member_updates_200(client, team, admin_headers, prefix):
    response = put(client, admin_headers, "team", prefix, labels={"env": "test"})
    assert response.status_code == 200
    assert response.get_json() == view_of(stored(), with_invite=True)
    assert stored().labels == {"env": "test"}
    # updating does not make the instance admin a member
    assert AclEntry.select().join(Workspace).where(Workspace.fullname == "team").count() == 4


@pytest.mark.parametrize("role", ["developer", "user"])
def test_put_existing_as_developer_or_user_is_403_and_nothing_changes(client, team, prefix, role):
    before = view_of(stored(), with_invite=True)
    response = put(client, team[role]["headers"], "team", prefix, tags=["hijacked"], resetInvite=True)
    assert_error(response, 403)
    assert view_of(stored(), with_invite=True) == before


def test_put_existing_as_non_member_is_409_name_taken_and_nothing_changes(client, team, prefix):
    before = view_of(stored(), with_invite=True)
    response = put(client, team["outsider"]["headers"], "team", prefix, tags=["hijacked"])
    error = assert_error(response, 409, details={"fullname"})
    assert "taken" in error["message"]
    assert "invite" not in str(response.get_json())
    assert view_of(stored(), with_invite=True) == before
    assert AclEntry.select().where(AclEntry.account == team["outsider"]["id"]).count() == 0


def test_put_with_create_only_on_an_existing_workspace_is_409_even_for_its_owner(client, team, prefix):
    before = view_of(stored(), with_invite=True)
    response = put(client, team["owner"]["headers"], "team", prefix, createOnly=True, tags=["changed"])
    assert_error(response, 409, details={"fullname"})
    assert view_of(stored(), with_invite=True) == before


def test_put_with_create_only_on_a_new_name_creates_it(client, accounts):
    bob = accounts.create("bob")
    assert put(client, bob["headers"], "fresh", createOnly=True).status_code == 201


def test_put_with_create_only_false_on_an_existing_workspace_updates(client, team):
    assert put(client, team["owner"]["headers"], "team", createOnly=False, tags=["x"]).status_code == 200


# --- PUT merge rules ------------------------------------------------------------------------


def test_put_keeps_every_field_left_out(client, team):
    before = view_of(stored(), with_invite=True)
    response = put(client, team["owner"]["headers"], "team")
    assert response.status_code == 200
    assert response.get_json() == before


def test_put_replaces_tags_and_labels_wholesale(client, team):
    response = put(client, team["owner"]["headers"], "team", tags=["x", "y"], labels={"tier": "gold"})
    body = response.get_json()
    assert body["tags"] == ["x", "y"] and body["labels"] == {"tier": "gold"}
    assert (stored().tags, stored().labels) == (["x", "y"], {"tier": "gold"})


def test_put_with_empty_tags_and_labels_clears_them(client, team):
    body = put(client, team["owner"]["headers"], "team", tags=[], labels={}).get_json()
    assert (body["tags"], body["labels"]) == ([], {})


def test_put_merges_meta_keys(client, team):
    put(client, team["owner"]["headers"], "team", meta={"avatar": "http://img.example/a.png"})
    body = put(client, team["owner"]["headers"], "team", meta={"title": "Renamed"}).get_json()
    assert body["meta"] == {"title": "Renamed", "description": None, "avatar": "http://img.example/a.png"}


def test_put_with_a_null_meta_value_clears_that_key_only(client, team):
    put(client, team["owner"]["headers"], "team", meta={"avatar": "http://img.example/a.png"})
    body = put(client, team["owner"]["headers"], "team", meta={"title": None}).get_json()
    assert body["meta"] == {"title": None, "description": None, "avatar": "http://img.example/a.png"}
    body = put(client, team["owner"]["headers"], "team", meta={"avatar": None}).get_json()
    assert body["meta"] == {"title": None, "description": None, "avatar": None}
    assert (stored().title, stored().avatar) == (None, None)


def test_put_with_empty_meta_changes_nothing(client, team):
    before = view_of(stored(), with_invite=True)
    assert put(client, team["owner"]["headers"], "team", meta={}).get_json() == before


# --- timestamps -----------------------------------------------------------------------------


def test_updated_at_moves_on_a_real_change_and_created_fields_stay(client, team):
    before = stored()
    tick()
    body = put(client, team["admin"]["headers"], "team", meta={"title": "Other"}).get_json()
    assert ISO_UTC.match(body["updatedAt"])
    assert body["updatedAt"] > before.updated_at
    assert body["createdAt"] == before.created_at
    assert body["createdBy"] == before.created_by == team["owner"]["id"]
    assert stored().updated_at == body["updatedAt"]


def test_updated_at_stays_on_a_put_that_changes_nothing(client, team):
    before = stored()
    tick()
    body = put(client, team["owner"]["headers"], "team", tags=before.tags, labels=before.labels,
               meta={"title": before.title}, createOnly=False, resetInvite=False).get_json()
    assert body["updatedAt"] == before.updated_at
    assert stored().updated_at == before.updated_at


# --- resetInvite ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_reset_invite_replaces_the_invite_and_the_old_one_stops_working(client, team, accounts, role):
    old = stored().invite
    tick()
    response = put(client, team[role]["headers"], "team", resetInvite=True)
    assert response.status_code == 200
    new = response.get_json()["invite"]
    assert new != old and new == stored().invite
    assert response.get_json()["updatedAt"] > stored().created_at

    newcomer = accounts.create("newcomer")
    assert_error(client.post(f"{API}/workspaces/team/acl", json={"invite": old}, headers=newcomer["headers"]), 403)
    assert client.post(f"{API}/workspaces/team/acl", json={"invite": new}, headers=newcomer["headers"]).status_code == 204


def test_reset_invite_by_instance_admin_shows_the_new_invite(client, team, admin_headers):
    old = stored().invite
    body = put(client, admin_headers, "team", resetInvite=True).get_json()
    assert body["invite"] == stored().invite != old


@pytest.mark.parametrize("role", ["developer", "user"])
def test_invite_stays_hidden_from_developer_and_user_after_a_reset(client, team, role):
    put(client, team["owner"]["headers"], "team", resetInvite=True)
    body = client.get(f"{API}/workspaces/team", headers=team[role]["headers"]).get_json()
    assert "invite" not in body
    assert stored().invite not in str(body)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "a" * 65, "Team", "TEAM", "-team", "team-", "te--am", "te_am", "te.am", "tëam", "te am"],
    ids=["length-1", "length-65", "capital", "uppercase", "leading-hyphen", "trailing-hyphen",
         "double-hyphen", "underscore", "dot", "non-ascii", "space"],
)
def test_put_with_a_fullname_breaking_the_pattern_is_422(client, admin_headers, name):
    response = client.put(f"{API}/workspaces/{name}", json={"fullname": name}, headers=admin_headers)
    assert_error(response, 422, details={"fullname"})
    assert Workspace.select().count() == 0


@pytest.mark.parametrize("name", ["team\n", "a-b\n"], ids=["newline", "hyphenated-newline"])
def test_put_with_a_fullname_ending_in_a_newline_is_422(client, admin_headers, name):
    response = client.put(f"{API}/workspaces/{name.replace(chr(10), '%0A')}", json={"fullname": name},
                          headers=admin_headers)
    assert_error(response, 422, details={"fullname"})
    assert Workspace.select().count() == 0


@pytest.mark.parametrize("name", ["ab", "a" * 64, "a1-b2-c3", "0-9"])
def test_put_with_a_fullname_at_the_edges_of_the_pattern_is_accepted(client, admin_headers, name):
    assert put(client, admin_headers, name).status_code == 201


@pytest.mark.parametrize("name", ["admin", "api", "docs", "me", "workspaces"])
def test_put_of_a_reserved_name_is_422(client, admin_headers, name):
    assert_error(put(client, admin_headers, name), 422, details={"fullname"})
    assert Workspace.select().count() == 0


def test_reserved_names_are_configurable(instance_path):
    from wsserver import create_app

    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": "wss_reserved-names-test-token-0123456789",
                      "RESERVED_NAMES": "secret-place", "RATE_LIMIT": "100000/minute"})
    client = app.test_client()
    headers = bearer("wss_reserved-names-test-token-0123456789")
    assert_error(put(client, headers, "secret-place"), 422, details={"fullname"})
    assert put(client, headers, "admin").status_code == 201


def test_put_with_a_body_fullname_other_than_the_path_is_422(client, admin_headers):
    response = client.put(f"{API}/workspaces/one-name", json={"fullname": "other-name"}, headers=admin_headers)
    assert_error(response, 422, details={"fullname"})
    assert Workspace.select().count() == 0


def test_put_without_fullname_in_the_body_is_422(client, admin_headers):
    response = client.put(f"{API}/workspaces/one-name", json={"tags": []}, headers=admin_headers)
    assert_error(response, 422, details={"fullname"})


def test_put_renaming_an_existing_workspace_through_the_body_is_422(client, team):
    response = client.put(f"{API}/workspaces/team", json={"fullname": "team-two"}, headers=team["owner"]["headers"])
    assert_error(response, 422, details={"fullname"})
    assert stored().fullname == "team"


BAD_VALUES = [
    ({"tags": "alpha"}, "tags"),
    ({"tags": {"a": "b"}}, "tags"),
    ({"tags": [1]}, "tags"),
    ({"tags": [None]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["t" * 65]}, "tags"),
    ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"tags": ["same", "same"]}, "tags"),
    ({"tags": None}, "tags"),
    ({"labels": ["k", "v"]}, "labels"),
    ({"labels": "k=v"}, "labels"),
    ({"labels": {"": "v"}}, "labels"),
    ({"labels": {"k" * 65: "v"}}, "labels"),
    ({"labels": {"k": "v" * 257}}, "labels"),
    ({"labels": {"k": 1}}, "labels"),
    ({"labels": {"k": None}}, "labels"),
    ({"labels": {"k": ["v"]}}, "labels"),
    ({"labels": {f"k{i}": "v" for i in range(51)}}, "labels"),
    ({"meta": {"title": "t" * 129}}, "meta"),
    ({"meta": {"title": 5}}, "meta"),
    ({"meta": {"avatar": "ftp://example.com/a.png"}}, "meta"),
    ({"meta": {"avatar": "javascript:alert(1)"}}, "meta"),
    ({"meta": {"avatar": "plain text"}}, "meta"),
    ({"meta": {"avatar": "//example.com/a.png"}}, "meta"),
    ({"meta": {"colour": "red"}}, "meta"),
    ({"meta": "Title"}, "meta"),
    ({"meta": None}, "meta"),
    ({"owner": "me"}, "owner"),
    ({"invite": "wss_mine"}, "invite"),
    ({"createOnly": "yes"}, "createOnly"),
    ({"createOnly": 1}, "createOnly"),
    ({"createOnly": "true"}, "createOnly"),
    ({"resetInvite": "yes"}, "resetInvite"),
    ({"resetInvite": 1}, "resetInvite"),
    ({"resetInvite": None}, "resetInvite"),
]


@pytest.mark.parametrize("fields, field", BAD_VALUES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_VALUES)])
def test_put_with_a_bad_value_is_422_naming_the_field_and_stores_nothing(client, team, fields, field):
    before = view_of(stored(), with_invite=True)
    response = put(client, team["owner"]["headers"], "team", **fields)
    error = assert_error(response, 422, details={field})
    assert field in error["message"]
    assert view_of(stored(), with_invite=True) == before


@pytest.mark.parametrize("fields, field", BAD_VALUES[:8], ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_VALUES[:8])])
def test_put_creating_with_a_bad_value_is_422_and_creates_nothing(client, accounts, fields, field):
    bob = accounts.create("bob")
    assert_error(put(client, bob["headers"], "never-made", **fields), 422, details={field})
    assert Workspace.get_or_none(Workspace.fullname == "never-made") is None


def test_unknown_meta_field_is_named_inside_meta(client, team):
    error = assert_error(put(client, team["owner"]["headers"], "team", meta={"colour": "red"}), 422)
    assert error["details"] == {"meta": {"colour": ["Unknown field."]}}


def test_put_accepts_values_at_their_limits(client, team):
    fields = {
        "tags": [f"{i:02d}" + "t" * 62 for i in range(50)],
        "labels": {f"{i:02d}" + "k" * 62: "v" * 256 for i in range(50)},
        "meta": {"title": "t" * 128, "description": "d\t\n" * 341 + "d", "avatar": "https://example.com/" + "a" * 100 + ".png"},
    }
    response = put(client, team["owner"]["headers"], "team", **fields)
    assert response.status_code == 200
    body = response.get_json()
    assert body["tags"] == fields["tags"] and body["labels"] == fields["labels"] and body["meta"] == fields["meta"]


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_as_owner_is_200_empty_and_removes_the_workspace_and_its_acl(client, team, prefix):
    workspace_id = stored().id
    response = client.delete(f"{prefix}/workspaces/team", headers=team["owner"]["headers"])
    assert response.status_code == 200
    assert response.get_json() == {}
    assert Workspace.get_or_none(Workspace.id == workspace_id) is None
    assert AclEntry.select().where(AclEntry.workspace == workspace_id).count() == 0
    for role in MEMBER_LEVELS:
        assert_error(client.get(f"{API}/workspaces/team", headers=team[role]["headers"]), 404)
        assert client.get(f"{API}/me", headers=team[role]["headers"]).get_json()["memberships"] == []


def test_delete_as_instance_admin_who_is_not_a_member_is_200(client, team, admin_headers, prefix):
    response = client.delete(f"{prefix}/workspaces/team", headers=admin_headers)
    assert response.status_code == 200 and response.get_json() == {}
    assert Workspace.get_or_none(Workspace.fullname == "team") is None


@pytest.mark.parametrize("role", ["admin", "developer", "user"])
def test_delete_as_admin_developer_or_user_is_403_and_nothing_changes(client, team, prefix, role):
    assert_error(client.delete(f"{prefix}/workspaces/team", headers=team[role]["headers"]), 403)
    assert AclEntry.select().where(AclEntry.workspace == stored().id).count() == 4


def test_delete_as_non_member_is_404_and_nothing_changes(client, team, prefix):
    assert_error(client.delete(f"{prefix}/workspaces/team", headers=team["outsider"]["headers"]), 404)
    assert AclEntry.select().where(AclEntry.workspace == stored().id).count() == 4


def test_delete_unknown_workspace_is_404(client, admin_headers, prefix):
    assert_error(client.delete(f"{prefix}/workspaces/no-such-thing", headers=admin_headers), 404)


def test_deleted_name_can_be_created_again_by_someone_else(client, team, accounts):
    client.delete(f"{API}/workspaces/team", headers=team["owner"]["headers"])
    response = put(client, team["outsider"]["headers"], "team")
    assert response.status_code == 201
    assert response.get_json()["createdBy"] == team["outsider"]["id"]


# --- GET /workspaces ------------------------------------------------------------------------


def test_list_shows_the_callers_workspaces_sorted_by_fullname_as_short_views(client, accounts, join, prefix):
    bob = accounts.create("bob")
    carol = accounts.create("carol")
    for name in ("zulu", "alpha", "mike"):
        put(client, bob["headers"], name, tags=[name], labels={"n": name}, meta={"title": name.upper()})
    put(client, carol["headers"], "bravo")
    join(carol["headers"], "bravo", bob, level="developer")

    response = client.get(f"{prefix}/workspaces", headers=bob["headers"])

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert [w["fullname"] for w in body] == ["alpha", "bravo", "mike", "zulu"]
    for item in body:
        workspace = stored(item["fullname"])
        assert item == {"id": workspace.id, "fullname": workspace.fullname, "tags": workspace.tags,
                        "labels": workspace.labels, "meta": {"title": workspace.title, "description": workspace.description, "avatar": workspace.avatar}, "archivedAt": None}
        assert set(item) == SHORT_FIELDS


def test_list_is_empty_for_an_account_without_workspaces(client, team, prefix):
    response = client.get(f"{prefix}/workspaces", headers=team["outsider"]["headers"])
    assert response.status_code == 200 and response.get_json() == []


def test_list_of_an_instance_admin_shows_only_its_own_memberships(client, team, admin_headers):
    assert client.get(f"{API}/workspaces", headers=admin_headers).get_json() == []


def test_two_accounts_cannot_see_each_others_workspaces(client, accounts, prefix):
    bob, carol = accounts.create("bob"), accounts.create("carol")
    put(client, bob["headers"], "bobs")
    put(client, carol["headers"], "carols")

    assert [w["fullname"] for w in client.get(f"{prefix}/workspaces", headers=bob["headers"]).get_json()] == ["bobs"]
    assert [w["fullname"] for w in client.get(f"{prefix}/workspaces", headers=carol["headers"]).get_json()] == ["carols"]
    assert_error(client.get(f"{prefix}/workspaces/carols", headers=bob["headers"]), 404)
    assert_error(client.get(f"{prefix}/workspaces/bobs", headers=carol["headers"]), 404)
    assert_error(client.get(f"{prefix}/workspaces/bobs/acl", headers=carol["headers"]), 404)
