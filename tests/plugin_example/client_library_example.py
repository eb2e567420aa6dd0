"""An outside project's tests of its client library against wsserver, through the pytest plugin only.

No conftest.py: the fixtures come from the plugin (installed wsserver, or `-p wsserver.testing.plugin`).
tests/test_testing_plugin.py copies this file, workspace_client.py and seed.yaml into an empty
folder and runs it there as `test_client_library.py` with `--wsserver-seed seed.yaml`.
"""
from workspace_client import WorkspaceClient

FIXED_TIME = "2024-06-01T09:30:00.000Z"  # the run passes --wsserver-fixed-time with this value
created_ids = []


def test_alice_sees_the_seeded_workspace(wsserver_url):
    assert WorkspaceClient(wsserver_url, "alice-secret-token").my_workspaces() == ["research"]


def test_create_is_a_put_with_create_only(wsserver_url, wsserver_admin):
    workspace = WorkspaceClient(wsserver_url, "alice-secret-token").create("notes", title="Notes")
    assert workspace["meta"] == {"title": "Notes", "description": None, "avatar": None}
    assert workspace["createdAt"] == FIXED_TIME
    assert wsserver_admin.received() == [
        {"method": "PUT", "path": "/api/v2/workspaces/notes", "query": "", "status": 201,
         "bodySize": len(b'{"fullname": "notes", "createOnly": true, "meta": {"title": "Notes"}}'),
         "username": "alice"},
    ]
    created_ids.append(workspace["id"])


def test_each_test_starts_from_the_seed_and_replays_the_same_ids(wsserver_url, wsserver_admin):
    everything = wsserver_admin.get("/api/v2/workspaces", params={"all": "true"}).json()
    assert [workspace["fullname"] for workspace in everything] == ["research"]  # "notes" is gone
    again = WorkspaceClient(wsserver_url, "alice-secret-token").create("notes")
    assert created_ids and again["id"] == created_ids[0]  # the id sequence was rewound too


def test_bob_joins_with_the_seeded_invite(wsserver_url):
    bob = WorkspaceClient(wsserver_url, "bob-secret-token")
    bob.join("research", "research-invite")
    assert bob.my_workspaces() == ["research"]


def test_the_in_process_app_is_seeded_too(wsserver_app):
    answer = wsserver_app.test_client().get("/api/v2/me", headers={"Authorization": "Bearer alice-secret-token"})
    assert answer.status_code == 200
    assert answer.get_json()["memberships"][0]["workspace"]["id"] == "ws-research"
