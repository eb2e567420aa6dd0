"""The trash (issue 14): with WSSERVER_TRASH_DAYS > 0, DELETE hides a workspace everywhere while its
name stays taken, an owner or instance admin restores it, and it is purged after that many days, at
start and after every delete. With the default 0, DELETE removes at once and a start empties the trash."""
import json

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, assert_error, bearer, png_base64
from wsserver import create_app
from wsserver.config import ConfigError
from wsserver.storage.models import AclEntry, Workspace

DAYS = 30
AVATAR = {"filename": "avatar.png", "contentType": "image/png", "data": png_base64()}


def make_app(instance_path, **settings):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       **settings})


@pytest.fixture
def app(instance_path):
    return make_app(instance_path, TRASH_DAYS=DAYS)


@pytest.fixture
def team(accounts, make_workspace, join):
    people = {"owner": accounts.create("team-owner")}
    make_workspace(people["owner"]["headers"], "team", meta={"title": "Team"})
    for level in ("admin", "user"):
        people[level] = accounts.create(f"team-{level}")
        join(people["owner"]["headers"], "team", people[level], level=level)
    people["outsider"] = accounts.create("outsider")
    return people


def listed(client, headers, **params):
    answer = client.get(f"{API}/workspaces", query_string=params, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [workspace["fullname"] for workspace in answer.get_json()]


def test_a_deleted_workspace_is_hidden_everywhere_but_kept(client, team):
    owner, member = team["owner"]["headers"], team["user"]["headers"]
    invite = client.get(f"{API}/workspaces/team", headers=owner).get_json()["invite"]
    answer = client.delete(f"{API}/workspaces/team", headers=owner)
    assert answer.status_code == 200 and answer.get_json() == {}
    for headers in (owner, member, bearer(ADMIN_TOKEN)):
        assert_error(client.get(f"{API}/workspaces/team", headers=headers), 404)
    assert listed(client, owner) == listed(client, member) == listed(client, bearer(ADMIN_TOKEN), all="true") == []
    assert listed(client, owner, q="team") == listed(client, owner, include_archived="true") == []
    assert_error(client.get(f"{API}/workspaces/team/acl", headers=owner), 404)
    assert_error(client.post(f"{API}/workspaces/team/avatar", json=AVATAR, headers=owner), 404)
    assert_error(client.post(f"{API}/workspaces/team/acl", json={"invite": invite},
                             headers=team["outsider"]["headers"]), 404)
    assert_error(client.post(f"{API}/workspaces/team/archive", headers=owner), 404)
    assert_error(client.delete(f"{API}/workspaces/team", headers=owner), 404)
    assert [row.fullname for row in Workspace.select()] == ["team"]
    row = Workspace.get(Workspace.fullname == "team")
    assert row.deleted_at is not None and row.updated_by == team["owner"]["id"]
    assert AclEntry.select().where(AclEntry.workspace == row.id).count() == 3  # members are kept for a restore
    me = client.get(f"{API}/me", headers=member)
    assert me.status_code == 200 and me.get_json()["memberships"] == []


def test_a_name_in_the_trash_stays_taken(client, team, make_workspace):
    assert client.delete(f"{API}/workspaces/team", headers=team["owner"]["headers"]).status_code == 200
    for headers in (team["owner"]["headers"], bearer(ADMIN_TOKEN)):  # those who may restore it are told why
        answer = client.put(f"{API}/workspaces/team", json={"fullname": "team"}, headers=headers)
        error = assert_error(answer, 409, {"fullname": ["taken by a workspace in the trash"]})
        assert "trash" in error["message"]
    # to anyone else, the same answer as for a name taken by a workspace they do not belong to (issue 27):
    # nothing tells them it is in the trash
    make_workspace(team["owner"]["headers"], "elsewhere")
    for person in ("outsider", "admin", "user"):
        for name in ("team", "elsewhere"):
            answer = client.put(f"{API}/workspaces/{name}", json={"fullname": name}, headers=team[person]["headers"])
            error = assert_error(answer, 409, {"fullname": ["already taken"]})
            assert error["message"] == f"The name '{name}' is taken."


@pytest.mark.parametrize("who, status", [("owner", 200), ("admin", 403), ("user", 403), ("outsider", 404)])
def test_owners_restore_and_others_may_not(client, team, who, status):
    assert client.delete(f"{API}/workspaces/team", headers=team["owner"]["headers"]).status_code == 200
    answer = client.post(f"{API}/workspaces/team/restore", headers=team[who]["headers"])
    assert answer.status_code == status, answer.get_json()
    if status == 200:
        body = answer.get_json()
        assert body["fullname"] == "team" and body["meta"]["title"] == "Team" and "invite" in body
        assert listed(client, team["user"]["headers"]) == ["team"]
        assert Workspace.get(Workspace.fullname == "team").deleted_at is None
    else:
        assert_error(answer, status)
        assert Workspace.get(Workspace.fullname == "team").deleted_at is not None


def test_an_instance_admin_restores_and_restoring_what_is_not_in_the_trash_changes_nothing(client, team):
    admin = bearer(ADMIN_TOKEN)
    before = client.get(f"{API}/workspaces/team", headers=admin).get_json()
    answer = client.post(f"{API}/workspaces/team/restore", headers=admin)
    assert answer.status_code == 200 and answer.get_json() == before
    assert client.delete(f"{API}/workspaces/team", headers=team["owner"]["headers"]).status_code == 200
    assert client.post(f"{API}/workspaces/team/restore", headers=admin).status_code == 200
    assert client.get(f"{API}/workspaces/team", headers=team["user"]["headers"]).status_code == 200
    assert_error(client.post(f"{API}/workspaces/nothing-here/restore", headers=admin), 404)


def trash_since(fullname, stamp):
    Workspace.update(deleted_at=stamp).where(Workspace.fullname == fullname).execute()


def test_expired_workspaces_are_purged_after_the_next_delete(client, team, make_workspace):
    owner = team["owner"]["headers"]
    make_workspace(owner, "other")
    make_workspace(owner, "third")
    assert client.delete(f"{API}/workspaces/team", headers=owner).status_code == 200
    trash_since("team", "2000-01-01T00:00:00.000Z")
    assert client.delete(f"{API}/workspaces/other", headers=owner).status_code == 200
    assert sorted(row.fullname for row in Workspace.select()) == ["other", "third"]  # team purged, other kept
    assert not AclEntry.select().join(Workspace, on=(AclEntry.workspace == Workspace.id)).where(
        Workspace.fullname == "team").exists()
    # the name is free again
    assert client.put(f"{API}/workspaces/team", json={"fullname": "team"}, headers=owner).status_code == 201


def test_a_start_purges_what_has_expired_and_with_no_trash_days_everything(instance_path, client, team, make_workspace):
    owner = team["owner"]["headers"]
    make_workspace(owner, "recent")
    for fullname in ("team", "recent"):
        assert client.delete(f"{API}/workspaces/{fullname}", headers=owner).status_code == 200
    trash_since("team", "2000-01-01T00:00:00.000Z")
    make_app(instance_path, TRASH_DAYS=DAYS)
    assert [row.fullname for row in Workspace.select()] == ["recent"]
    make_app(instance_path)  # WSSERVER_TRASH_DAYS=0: nothing is kept in a trash
    assert not Workspace.select().exists()


def test_without_trash_days_delete_removes_at_once_and_restore_finds_nothing(instance_path, accounts, make_workspace):
    app = make_app(instance_path)
    client = app.test_client()
    owner = bearer(client.post(f"{API}/accounts", json={"username": "solo"}, headers=bearer(ADMIN_TOKEN))
                   .get_json()["token"])
    assert client.put(f"{API}/workspaces/solo-space", json={"fullname": "solo-space"}, headers=owner).status_code == 201
    assert client.delete(f"{API}/workspaces/solo-space", headers=owner).status_code == 200
    assert not Workspace.select().exists()
    assert_error(client.post(f"{API}/workspaces/solo-space/restore", headers=owner), 404)


def test_a_trash_of_an_uploaded_avatar_keeps_the_file_until_the_purge(client, team, app):
    owner = team["owner"]["headers"]
    answer = client.post(f"{API}/workspaces/team/avatar", json=AVATAR, headers=owner)
    assert answer.status_code == 200, answer.get_json()
    avatar_url = answer.get_json()["workspace"]["meta"]["avatar"]
    path = avatar_url[avatar_url.index("/avatars/"):]
    assert client.delete(f"{API}/workspaces/team", headers=owner).status_code == 200
    assert client.get(path).status_code == 200  # kept for a restore
    trash_since("team", "2000-01-01T00:00:00.000Z")
    make_app(app.config["INSTANCE_PATH"], TRASH_DAYS=DAYS)
    assert app.test_client().get(path).status_code == 404


def test_seed_files_put_workspaces_in_the_trash_and_export_gives_it_back(instance_path, tmp_path):
    document = {
        "version": 3,
        "accounts": [{"username": "alice", "tokens": ["alice-token-0123456789"]}],
        "workspaces": [{"fullname": "gone", "deletedAt": "2100-01-01T00:00:00Z"}, {"fullname": "here"}],
        "memberships": [{"workspace": "gone", "account": "alice", "level": "owner"},
                        {"workspace": "here", "account": "alice", "level": "owner"}],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    app = make_app(instance_path, TRASH_DAYS=DAYS, SEED_FILE=str(path))
    client = app.test_client()
    alice = bearer("alice-token-0123456789")
    assert listed(client, alice) == ["here"]
    assert client.post(f"{API}/workspaces/gone/restore", headers=alice).status_code == 200
    assert listed(client, alice) == ["gone", "here"]
    assert client.delete(f"{API}/workspaces/here", headers=alice).status_code == 200
    exported = json.loads(app.test_cli_runner().invoke(args=["export", "-"]).output)
    assert {w["fullname"]: w["deletedAt"] is not None for w in exported["workspaces"]} == {"gone": False, "here": True}


@pytest.mark.parametrize("value", ["-1", "36501", "soon"])
def test_a_bad_trash_days_setting_is_refused_at_start(instance_path, monkeypatch, value):
    monkeypatch.setenv("WSSERVER_TRASH_DAYS", value)
    with pytest.raises(ConfigError, match="TRASH_DAYS"):
        make_app(instance_path)

