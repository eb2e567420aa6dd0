"""A PUT rewrites only the index rows its changes feed (storage/index.py `write(changed=...)`): whatever
field changes, every filter and the search still find the workspace by all of its current values and by
none of its old ones."""
import pytest

from conftest import API
from wsserver.storage.models import Workspace, WorkspaceAttribute, WorkspaceLabel, WorkspaceTag


def _found(client, headers, **query):
    answer = client.get(f"{API}/workspaces", query_string=query, headers=headers)
    assert answer.status_code == 200
    return [workspace["fullname"] for workspace in answer.get_json()]


START = {"fullname": "quarry", "tags": ["granite", "ops"], "labels": {"env": "prod"},
         "meta": {"title": "Basalt works", "description": "Obsidian shelf"}}


@pytest.mark.parametrize("change, finds, misses", [
    ({"meta": {"title": "Marble hall"}},
     [{"q": "marble"}, {"q": "obsidian"}, {"tag": "granite"}, {"label": "env:prod"}], [{"q": "basalt"}]),
    ({"meta": {"description": "Slate ledge"}},
     [{"q": "slate"}, {"q": "basalt"}, {"tag": "ops"}, {"label": "env:prod"}], [{"q": "obsidian"}]),
    ({"tags": ["limestone"]},
     [{"tag": "limestone"}, {"q": "limestone"}, {"q": "basalt"}, {"label": "env:prod"}], [{"tag": "granite"}, {"q": "granite"}]),
    ({"labels": {"env": "dev"}},
     [{"label": "env:dev"}, {"q": "basalt"}, {"tag": "granite"}], [{"label": "env:prod"}]),
    ({"resetInvite": True},
     [{"q": "basalt"}, {"tag": "granite"}, {"label": "env:prod"}], []),
])
def test_after_a_put_every_filter_and_the_search_see_the_current_values(client, accounts, change, finds, misses):
    alice = accounts.create("alice")["headers"]
    assert client.put(f"{API}/workspaces/quarry", json=START, headers=alice).status_code == 201
    before = {table.__name__: table.select().count() for table in (WorkspaceTag, WorkspaceLabel, WorkspaceAttribute)}
    answer = client.put(f"{API}/workspaces/quarry", json={"fullname": "quarry", **change}, headers=alice)
    assert answer.status_code == 200
    for query in finds:
        assert _found(client, alice, **query) == ["quarry"], query
    for query in misses:
        assert _found(client, alice, **query) == [], query
    after = {table.__name__: table.select().count() for table in (WorkspaceTag, WorkspaceLabel, WorkspaceAttribute)}
    stored = Workspace.get(Workspace.fullname == "quarry")
    assert after == {"WorkspaceTag": len(stored.tags), "WorkspaceLabel": len(stored.labels), "WorkspaceAttribute": 0}
    assert before["WorkspaceAttribute"] == 0
