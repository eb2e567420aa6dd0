"""What a workspace gained for the other dialects (issue 14, schema version 5): a description,
archiving, the integer number and UUID other dialects show, updatedBy, the default organization
(pinned with WSSERVER_DEFAULT_ORG_ID), and the seed format version 2 that carries all of it."""
import json
import uuid

import pytest

from conftest import ADMIN_TOKEN, API, assert_error, bearer
from wsserver import create_app
from wsserver.config import ConfigError
from wsserver.storage.models import Organization, Workspace

PINNED = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.fixture
def team(accounts, make_workspace, join):
    people = {"owner": accounts.create("team-owner")}
    make_workspace(people["owner"]["headers"], "team", meta={"title": "Team"})
    for level in ("admin", "developer", "user"):
        people[level] = accounts.create(f"team-{level}")
        join(people["owner"]["headers"], "team", people[level], level=level)
    people["outsider"] = accounts.create("outsider")
    return people


def put(client, headers, fullname, **fields):
    return client.put(f"{API}/workspaces/{fullname}", json={"fullname": fullname, **fields}, headers=headers)


def names(client, headers, **params):
    answer = client.get(f"{API}/workspaces", query_string=params, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [workspace["fullname"] for workspace in answer.get_json()], int(answer.headers["X-Total-Count"])


# --- description ------------------------------------------------------------------------------------


def test_a_description_is_stored_merged_with_meta_and_cleared_with_null(client, team):
    owner = team["owner"]["headers"]
    text = "Line one\n\tLine two"
    body = put(client, owner, "team", meta={"description": text}).get_json()
    assert body["meta"] == {"title": "Team", "description": text, "avatar": None}
    assert put(client, owner, "team", meta={"title": "Renamed"}).get_json()["meta"]["description"] == text
    assert put(client, owner, "team", meta={"description": None}).get_json()["meta"]["description"] is None
    assert Workspace.get(Workspace.fullname == "team").description is None


@pytest.mark.parametrize("description, field_error", [
    ("d" * 1025, "Longer than maximum length 1024."),
    ("bell \x07", None),
])
def test_a_description_too_long_or_with_control_characters_is_422(client, team, description, field_error):
    answer = put(client, team["owner"]["headers"], "team", meta={"description": description})
    error = assert_error(answer, 422)
    assert list(error["details"]) == ["meta"] and list(error["details"]["meta"]) == ["description"]
    if field_error:
        assert error["details"]["meta"]["description"] == [field_error]
    assert Workspace.get(Workspace.fullname == "team").description is None


# --- archive and unarchive ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["owner", "admin"])
def test_owners_and_admins_archive_and_unarchive(client, team, level):
    headers = team[level]["headers"]
    archived = client.post(f"{API}/workspaces/team/archive", headers=headers)
    assert archived.status_code == 200
    body = archived.get_json()
    assert body["fullname"] == "team" and body["archivedAt"] is not None and "invite" in body
    stored = Workspace.get(Workspace.fullname == "team")
    assert stored.archived_at == body["archivedAt"] and stored.updated_by == team[level]["id"]
    again = client.post(f"{API}/workspaces/team/archive", headers=headers).get_json()
    assert again["archivedAt"] == body["archivedAt"]  # archiving again keeps the first time
    assert client.get(f"{API}/workspaces/team", headers=headers).get_json()["archivedAt"] == body["archivedAt"]
    restored = client.post(f"{API}/workspaces/team/unarchive", headers=headers)
    assert restored.status_code == 200 and restored.get_json()["archivedAt"] is None
    assert Workspace.get(Workspace.fullname == "team").archived_at is None


@pytest.mark.parametrize("level, status", [("developer", 403), ("user", 403), ("outsider", 404)])
@pytest.mark.parametrize("action", ["archive", "unarchive"])
def test_others_may_not_archive_or_unarchive(client, team, level, status, action):
    client.post(f"{API}/workspaces/team/archive", headers=team["owner"]["headers"])
    before = Workspace.get(Workspace.fullname == "team").archived_at
    assert_error(client.post(f"{API}/workspaces/team/{action}", headers=team[level]["headers"]), status)
    assert Workspace.get(Workspace.fullname == "team").archived_at == before


def test_an_instance_admin_archives_any_workspace_and_an_unknown_one_is_404(client, team):
    admin = bearer(ADMIN_TOKEN)
    assert client.post(f"{API}/workspaces/team/archive", headers=admin).status_code == 200
    assert_error(client.post(f"{API}/workspaces/no-such/archive", headers=admin), 404)


def test_lists_leave_archived_workspaces_out_unless_include_archived(client, team, make_workspace):
    owner = team["owner"]["headers"]
    make_workspace(owner, "team-two", meta={"title": "Team two"})
    client.post(f"{API}/workspaces/team/archive", headers=owner)
    assert names(client, owner) == (["team-two"], 1)
    assert names(client, owner, q="team") == (["team-two"], 1)
    assert names(client, owner, sort="-created_at") == (["team-two"], 1)
    assert names(client, owner, include_archived="true") == (["team", "team-two"], 2)
    assert names(client, owner, include_archived="true", q="team")[1] == 2
    listed = client.get(f"{API}/workspaces", query_string={"include_archived": "true"}, headers=owner).get_json()
    assert [workspace["archivedAt"] is not None for workspace in listed] == [True, False]
    admin = bearer(ADMIN_TOKEN)
    assert names(client, admin, all="true") == (["team-two"], 1)
    assert names(client, admin, all="true", include_archived="true") == (["team", "team-two"], 2)
    # a member's list too, and it comes back when unarchived
    assert names(client, team["user"]["headers"]) == ([], 0)
    client.post(f"{API}/workspaces/team/unarchive", headers=owner)
    assert names(client, team["user"]["headers"]) == (["team"], 1)


def test_an_archived_workspace_is_still_changed_and_joined_as_before(client, team, accounts):
    owner = team["owner"]["headers"]
    client.post(f"{API}/workspaces/team/archive", headers=owner)
    assert put(client, owner, "team", tags=["kept"]).status_code == 200
    invite = client.get(f"{API}/workspaces/team", headers=owner).get_json()["invite"]
    newcomer = accounts.create("newcomer")
    assert client.post(f"{API}/workspaces/team/acl", json={"invite": invite}, headers=newcomer["headers"]).status_code == 204


def test_include_archived_must_be_true_or_false(client, team):
    error = assert_error(client.get(f"{API}/workspaces?include_archived=maybe", headers=team["owner"]["headers"]), 422)
    assert list(error["details"]) == ["include_archived"]


# --- ids of other dialects, updatedBy, organizations --------------------------------------------------


def test_workspaces_get_numbers_in_creation_order_and_uuids_that_never_change(client, accounts, make_workspace):
    alice = accounts.create("alice")
    for fullname in ("first", "second", "third"):
        make_workspace(alice["headers"], fullname)
    client.delete(f"{API}/workspaces/second", headers=alice["headers"])
    make_workspace(alice["headers"], "fourth")
    rows = {row.fullname: row for row in Workspace.select()}
    assert {name: row.number for name, row in rows.items()} == {"first": 1, "third": 3, "fourth": 4}
    assert len({row.uuid for row in rows.values()}) == 3
    assert all(uuid.UUID(row.uuid).version == 4 for row in rows.values())
    before = (rows["first"].number, rows["first"].uuid)
    put(client, alice["headers"], "first", tags=["changed"], meta={"title": "Changed"})
    after = Workspace.get(Workspace.fullname == "first")
    assert (after.number, after.uuid) == before


def test_updated_by_names_who_changed_it_last(client, team):
    assert Workspace.get(Workspace.fullname == "team").updated_by == team["owner"]["id"]
    put(client, team["admin"]["headers"], "team", tags=["x"])
    assert Workspace.get(Workspace.fullname == "team").updated_by == team["admin"]["id"]
    put(client, team["owner"]["headers"], "team", tags=["x"])  # nothing changed: nobody updated it
    assert Workspace.get(Workspace.fullname == "team").updated_by == team["admin"]["id"]


def test_every_workspace_joins_the_default_organization_shown_by_me(client, team):
    organization = Organization.get(Organization.is_default == True)  # noqa: E712
    assert uuid.UUID(organization.id).version == 4 and organization.name == "Default"
    assert Workspace.get(Workspace.fullname == "team").organization_id == organization.id
    me = client.get(f"{API}/me", headers=team["user"]["headers"]).get_json()
    assert me["organization"] == {"id": organization.id, "name": "Default"}


def test_the_default_organization_id_can_be_pinned_and_its_workspaces_follow(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN})
    client = app.test_client()
    assert client.put(f"{API}/workspaces/early", json={"fullname": "early"}, headers=bearer(ADMIN_TOKEN)).status_code == 201
    generated = client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).get_json()["organization"]["id"]
    assert generated != PINNED
    pinned = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "DEFAULT_ORG_ID": PINNED.upper()})
    me = pinned.test_client().get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).get_json()
    assert me["organization"]["id"] == PINNED
    assert [organization.id for organization in Organization.select()] == [PINNED]
    assert Workspace.get(Workspace.fullname == "early").organization_id == PINNED


def test_a_default_organization_id_that_is_no_uuid_is_refused_at_start(instance_path):
    with pytest.raises(ConfigError, match="DEFAULT_ORG_ID"):
        create_app({"INSTANCE_PATH": instance_path, "DEFAULT_ORG_ID": "not-a-uuid"})


# --- seed files, version 2 ------------------------------------------------------------------------------


SEED_V2 = {
    "version": 2,
    "organizations": [
        {"id": PINNED, "name": "Acme", "default": True},
        {"id": "9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f", "name": "Labs"},
    ],
    "accounts": [{"username": "alice", "tokens": ["alice-token"]}, {"username": "bob", "tokens": ["bob-token"]}],
    "workspaces": [
        {"fullname": "research", "meta": {"title": "Research", "description": "What we study"},
         "archivedAt": "2024-05-01T00:00:00Z", "updatedBy": "bob", "number": 41,
         "uuid": "d4add56e-c345-4ac9-b392-7a890a60559a", "organization": "9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f",
         "visibility": "PUBLIC", "views": 7, "attributes": {"domain_name": "d3lay.com", "ml_enabled": True}},
        {"fullname": "notes"},
    ],
    "memberships": [
        {"workspace": "research", "account": "alice", "level": "owner", "lastVisitAt": "2024-06-01T00:00:00Z"},
        {"workspace": "notes", "account": "alice", "level": "owner"},
    ],
}


def seeded_app(instance_path, tmp_path, document):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "SEED_FILE": str(path)})


def test_a_version_2_seed_file_sets_every_new_field_and_export_gives_them_back(instance_path, tmp_path):
    app = seeded_app(instance_path, tmp_path, SEED_V2)
    research = Workspace.get(Workspace.fullname == "research")
    assert (research.description, research.archived_at, research.number, research.uuid, research.organization_id,
            research.visibility, research.views, research.attributes) == (
        "What we study", "2024-05-01T00:00:00.000Z", 41, "d4add56e-c345-4ac9-b392-7a890a60559a",
        "9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f", "PUBLIC", 7, {"domain_name": "d3lay.com", "ml_enabled": True})
    notes = Workspace.get(Workspace.fullname == "notes")
    assert notes.number == 42 and notes.organization_id == PINNED and notes.visibility == "PRIVATE"
    assert uuid.UUID(notes.uuid) and notes.archived_at is None
    client = app.test_client()
    assert client.get(f"{API}/me", headers=bearer("alice-token")).get_json()["organization"]["id"] == PINNED
    answer = client.get(f"{API}/workspaces/research", headers=bearer("alice-token")).get_json()
    assert answer["meta"]["description"] == "What we study" and answer["archivedAt"] == "2024-05-01T00:00:00.000Z"
    exported = client.application.test_cli_runner().invoke(args=["export", "-"])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    assert document["version"] == 3  # a version 2 file loads; export writes the latest
    assert [(o["id"], o["name"], o["default"]) for o in document["organizations"]] == [
        (PINNED, "Acme", True), ("9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f", "Labs", False)]
    research = next(w for w in document["workspaces"] if w["fullname"] == "research")
    assert {key: research[key] for key in ("updatedBy", "number", "organization", "visibility", "views")} == {
        "updatedBy": "bob", "number": 41, "organization": "9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f",
        "visibility": "PUBLIC", "views": 7}
    membership = next(m for m in document["memberships"] if m["workspace"] == "research")
    assert membership["lastVisitAt"] == "2024-06-01T00:00:00.000Z"


@pytest.mark.parametrize("change, where", [
    (lambda d: d["organizations"][1].update(default=True), "organizations[1].default"),
    (lambda d: d["workspaces"][1].update(number=41), "workspaces[1].number"),
    (lambda d: d["workspaces"][1].update(organization="11111111-2222-4333-8444-555555555555"), "workspaces[1].organization"),
    (lambda d: d["workspaces"][1].update(visibility="SECRET"), "workspaces[1].visibility"),
], ids=["two-defaults", "same-number", "unknown-organization", "visibility"])
def test_a_bad_version_2_seed_file_names_the_bad_entry(app, tmp_path, change, where):
    document = json.loads(json.dumps(SEED_V2))
    change(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = app.test_cli_runner().invoke(args=["seed", str(path)])
    assert result.exit_code != 0 and where in result.output, result.output
    assert not Workspace.select().exists()
