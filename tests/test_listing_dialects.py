"""What the one listing service gained for the flavors (issue 14), checked at the service, where every
dialect reaches it: filters by visibility, updater, UUID, name, organization, attribute values, another
account's membership and the number of members; sorts by name, views and the caller's level; the
trash left out unless asked for; the description searched. Plus accounts' UUIDs and schema version 6."""
import json
import uuid

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, bearer
from wsserver import create_app
from wsserver.ids import account_uuid
from wsserver.queries import Filters, ListQuery, SortKey
from wsserver.services import listing, lookups
from wsserver.storage.db import database
from wsserver.storage.migrations import CURRENT_VERSION
from wsserver.storage.models import Account, SchemaVersion, Workspace, WorkspaceAttribute

ORG = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
LABS = "9b2f0c1e-7d6a-4c3b-8e5f-0a1b2c3d4e5f"
ADA_UUID = "11111111-2222-4333-8444-555555555555"

SEED = {
    "version": 3,
    "organizations": [{"id": ORG, "name": "Acme", "default": True}, {"id": LABS, "name": "Labs"}],
    "accounts": [
        {"username": "ada", "uuid": ADA_UUID, "tokens": ["ada-token-0123456789"]},
        {"username": "bob", "tokens": ["bob-token-0123456789"]},
        {"username": "cy", "tokens": ["cy-token-01234567890"]},
    ],
    "workspaces": [
        {"fullname": "alpha", "meta": {"title": "Zulu Project", "description": "Seismic survey of the north shelf"},
         "visibility": "PUBLIC", "views": 5, "createdAt": "2024-01-01T00:00:00Z",
         "attributes": {"app": {"id": 7, "name": "viewer"}, "labels": [{"id": 1}, {"id": 2}], "domain_name": "a.io"}},
        {"fullname": "bravo", "meta": {"title": "alpha team"}, "visibility": "INTERNAL", "views": 50,
         "createdAt": "2024-02-01T00:00:00Z", "updatedBy": "bob", "organization": LABS,
         "attributes": {"app": {"id": 8}, "labels": [{"id": 2}], "ml_enabled": True}},
        {"fullname": "charlie", "views": 0, "createdAt": "2024-03-01T00:00:00Z",
         "uuid": "d4add56e-c345-4ac9-b392-7a890a60559a"},
        {"fullname": "delta", "createdAt": "2024-04-01T00:00:00Z", "deletedAt": "2100-01-01T00:00:00Z",
         "meta": {"description": "in the trash"}},
    ],
    "memberships": [
        {"workspace": "alpha", "account": "ada", "level": "owner"},
        {"workspace": "alpha", "account": "bob", "level": "developer"},
        {"workspace": "bravo", "account": "bob", "level": "owner"},
        {"workspace": "bravo", "account": "ada", "level": "user"},
        {"workspace": "bravo", "account": "cy", "level": "admin"},
        {"workspace": "charlie", "account": "ada", "level": "admin"},
        {"workspace": "charlie", "account": "cy", "level": "owner"},
        {"workspace": "delta", "account": "ada", "level": "owner"},
        {"workspace": "delta", "account": "cy", "level": "admin"},
    ],
}


@pytest.fixture
def seeded(tmp_path):
    """A seeded instance per test: on PostgreSQL every test starts on an empty database (tests/engines.py)."""
    folder = tmp_path
    path = folder / "seed.json"
    path.write_text(json.dumps(SEED))
    app = create_app({"INSTANCE_PATH": str(folder / "instance"), "ADMIN_TOKEN": ADMIN_TOKEN,
                      "RATE_LIMIT": TEST_RATE_LIMIT, "SEED_FILE": str(path), "TRASH_DAYS": 30})
    return app


@pytest.fixture
def ada(seeded):
    with seeded.app_context():
        yield Account.get(Account.username == "ada")


def names(account, q=None, sort=(), all=False, include_deleted=False, **filters):
    """The fullnames of one page (both code paths: prepared without q, written anew with it) and the total."""
    query = ListQuery(filters=Filters(**filters), sort=tuple(sort), q=q, all=all, include_deleted=include_deleted)
    rows, total = listing.list_workspaces(account, query)
    return [row.fullname for row in rows], total


def account_id(username):
    return Account.get(Account.username == username).id


@pytest.mark.parametrize("filters, expected", [
    ({"visibility": "PUBLIC"}, ["alpha"]),
    ({"visibility": "PRIVATE"}, ["charlie"]),
    ({"uuid": "d4add56e-c345-4ac9-b392-7a890a60559a"}, ["charlie"]),
    ({"name": "ZULU PROJECT"}, ["alpha"]),  # the title, case-insensitive
    ({"name": "charlie"}, ["charlie"]),  # no title: the fullname
    ({"name": "alpha"}, []),  # alpha's name is its title
    ({"organization": LABS}, ["bravo"]),
    ({"organization": ORG}, ["alpha", "charlie"]),
    ({"attributes": (("app", "7"),)}, ["alpha"]),
    ({"attributes": (("labels", "2"),)}, ["alpha", "bravo"]),
    ({"attributes": (("labels", "2"), ("app", "8"))}, ["bravo"]),
    ({"attributes": (("ml_enabled", "true"),)}, ["bravo"]),
    ({"attributes": (("domain_name", "a.io"),)}, ["alpha"]),
    ({"sole_member": True}, []),
    ({"sole_member": False}, ["alpha", "bravo", "charlie"]),
    ({"level": "admin"}, ["alpha", "charlie"]),
])
def test_each_new_filter_with_and_without_q(ada, filters, expected):
    assert names(ada, **filters) == (expected, len(expected))
    # the same filter inside a search (a name or title starting with "a": alpha, and bravo by its title)
    searched = names(ada, q="a")[0]
    assert searched == ["alpha", "bravo"]
    assert names(ada, q="a", **filters)[0] == [name for name in searched if name in expected]


def test_filters_by_accounts_updater_and_members(ada):
    bob, cy = account_id("bob"), account_id("cy")
    assert names(ada, updated_by=bob) == (["bravo"], 1)
    assert names(ada, members=((cy, None),)) == (["bravo", "charlie"], 2)
    assert names(ada, members=((cy, "owner"),)) == (["charlie"], 1)
    assert names(ada, members=((bob, None), (cy, None))) == (["bravo"], 1)
    # an instance-wide view through another account's memberships
    admin = Account.get(Account.username == "admin")
    assert names(admin, all=True, members=((bob, "owner"),)) == (["bravo"], 1)
    assert names(admin, members=((bob, None),)) == ([], 0)  # not all: the admin's own memberships only


def test_the_trash_is_left_out_unless_asked_for_and_then_shown_to_who_may_restore(ada):
    assert names(ada) == (["alpha", "bravo", "charlie"], 3)
    assert names(ada, include_deleted=True) == (["alpha", "bravo", "charlie", "delta"], 4)
    assert names(ada, q="trash") == ([], 0)
    assert names(ada, q="trash", include_deleted=True) == (["delta"], 1)
    # cy is an admin of delta: below the level that restores it, so it stays hidden from cy
    cy = Account.get(Account.username == "cy")
    assert names(cy, include_deleted=True) == (["bravo", "charlie"], 2)
    assert names(cy, include_deleted=True, q="trash") == ([], 0)
    assert names(cy, include_deleted=True, visibility="PRIVATE") == (["charlie"], 1)  # the general path too
    admin = Account.get(Account.username == "admin")
    assert names(admin, all=True, include_deleted=True)[0] == ["alpha", "bravo", "charlie", "delta"]


def test_the_description_is_searched(ada, seeded):
    assert names(ada, q="seismic shelf") == (["alpha"], 1)
    answer = seeded.test_client().get(f"{API}/workspaces", query_string={"q": "north shelf"},
                                      headers=bearer("ada-token-0123456789"))
    assert [workspace["fullname"] for workspace in answer.get_json()] == ["alpha"]


def test_the_name_filter_folds_ascii_letters_only_on_both_engines(ada, seeded):
    answer = seeded.test_client().put(f"{API}/workspaces/charlie", json={"fullname": "charlie", "meta": {"title": "Études"}},
                                      headers=bearer("cy-token-01234567890"))
    assert answer.status_code == 200, answer.get_json()
    assert names(ada, name="ÉTUDES") == (["charlie"], 1)
    assert names(ada, name="études") == ([], 0)  # É and é are different letters to SQL's lower() on both engines


def test_a_q_that_is_a_workspace_uuid_finds_it(ada):
    assert names(ada, q="D4ADD56E-C345-4AC9-B392-7A890A60559A") == (["charlie"], 1)
    assert names(ada, q="d4add56e-c345-4ac9-b392-7a890a60559a", visibility="PUBLIC") == ([], 0)
    assert names(ada, q=str(uuid.uuid4())) == ([], 0)


@pytest.mark.parametrize("key, expected", [
    (SortKey("name"), ["bravo", "charlie", "alpha"]),  # alpha team < charlie < zulu project
    (SortKey("name", True), ["alpha", "charlie", "bravo"]),
    (SortKey("views"), ["charlie", "alpha", "bravo"]),
    (SortKey("views", True), ["bravo", "alpha", "charlie"]),
    (SortKey("level"), ["bravo", "charlie", "alpha"]),  # user < admin < owner
    (SortKey("level", True), ["alpha", "charlie", "bravo"]),
])
def test_the_new_sorts(ada, key, expected):
    assert names(ada, sort=[key])[0] == expected
    assert names(ada, q="a", sort=[key])[0] == [name for name in expected if name != "charlie"]


def test_a_level_sort_over_the_whole_instance_puts_non_members_lowest(seeded):
    with seeded.app_context():
        cy = Account.get(Account.username == "cy")
        cy.admin = True  # an instance admin who is a member of two of the three
        assert names(cy, all=True, sort=[SortKey("level", True)])[0] == ["charlie", "bravo", "alpha"]


def test_the_native_list_sorts_by_name_views_and_level(seeded):
    client = seeded.test_client()
    for sort, expected in (("name", ["bravo", "charlie", "alpha"]), ("-views", ["bravo", "alpha", "charlie"]),
                           ("level:desc", ["alpha", "charlie", "bravo"])):
        answer = client.get(f"{API}/workspaces", query_string={"sort": sort}, headers=bearer("ada-token-0123456789"))
        assert answer.status_code == 200, answer.get_json()
        assert [workspace["fullname"] for workspace in answer.get_json()] == expected


def test_the_attribute_index_follows_the_workspace(seeded):
    with seeded.app_context():
        alpha = Workspace.get(Workspace.fullname == "alpha")
        pairs = {(row.name, row.value) for row in WorkspaceAttribute.select().where(WorkspaceAttribute.workspace == alpha)}
        assert pairs == {("app", "7"), ("labels", "1"), ("labels", "2"), ("domain_name", "a.io")}


def test_lookups_answer_for_a_whole_page_at_once(seeded):
    with seeded.app_context():
        rows = {row.fullname: row for row in Workspace.select()}
        ids = [row.id for row in rows.values()]
        ada, bob, cy = (account_id(name) for name in ("ada", "bob", "cy"))
        assert lookups.first_owners(ids) == {rows["alpha"].id: ada, rows["bravo"].id: bob, rows["charlie"].id: cy,
                                             rows["delta"].id: ada}
        assert lookups.member_counts(ids) == {rows["alpha"].id: 2, rows["bravo"].id: 3, rows["charlie"].id: 2,
                                              rows["delta"].id: 2}
        assert lookups.levels_of(ada, ids) == {rows["alpha"].id: 4, rows["bravo"].id: 1, rows["charlie"].id: 3,
                                               rows["delta"].id: 4}
        assert lookups.account_ids_by_uuid([ADA_UUID.upper(), str(uuid.uuid4())]) == {ADA_UUID: ada}
        assert set(lookups.accounts_by_id([ada, "nobody"])) == {ada}
        assert lookups.fullname_by(uuid="D4ADD56E-C345-4AC9-B392-7A890A60559A") == "charlie"
        assert lookups.fullname_by(number=rows["bravo"].number) == "bravo"
        assert lookups.fullname_by(number=rows["delta"].number) is None  # in the trash


def test_accounts_get_a_uuid_derived_from_their_id_unless_a_seed_file_gives_one(seeded):
    client = seeded.test_client()
    made = client.post(f"{API}/accounts", json={"username": "newcomer"}, headers=bearer(ADMIN_TOKEN)).get_json()
    with seeded.app_context():
        newcomer = Account.get(Account.username == "newcomer")
        assert newcomer.uuid == account_uuid(made["account"]["id"]) == str(uuid.UUID(newcomer.uuid))
        assert Account.get(Account.username == "ada").uuid == ADA_UUID
        bob = Account.get(Account.username == "bob")
        assert bob.uuid == account_uuid(bob.id)
    exported = json.loads(seeded.test_cli_runner().invoke(args=["export", "-"]).output)
    assert {a["username"]: a["uuid"] for a in exported["accounts"]}["ada"] == ADA_UUID


def test_a_seed_file_with_one_account_uuid_twice_names_the_entry(seeded, tmp_path):
    document = json.loads(json.dumps(SEED))
    document["accounts"][1]["uuid"] = ADA_UUID
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    result = seeded.test_cli_runner().invoke(args=["seed", str(path)])
    assert result.exit_code != 0 and "accounts[1].uuid" in result.output, result.output


@pytest.mark.fresh_database
def test_a_version_5_database_gets_account_uuids_and_the_attribute_index(instance_path):
    """Schema versions 6 and 7 on either engine: account.uuid filled, workspace_attribute made and filled,
    the search index rebuilt with the descriptions, and the workspace_state index made."""
    settings = {"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT}
    client = create_app(settings).test_client()
    admin = bearer(ADMIN_TOKEN)
    body = {"fullname": "old-one", "meta": {"title": "Old", "description": "granite quarry"}}
    assert client.put(f"{API}/workspaces/old-one", json=body, headers=admin).status_code == 201
    # back to version 5: no account uuid, no attribute table, a search index without descriptions
    Workspace.update(attributes={"app": {"id": 3}}).execute()
    database.execute_sql("DROP TABLE workspace_attribute")
    database.execute_sql("DROP INDEX account_uuid")
    database.execute_sql("ALTER TABLE account DROP COLUMN uuid")
    database.execute_sql("DROP INDEX workspace_state")  # version 7's
    SchemaVersion.update(version=5).execute()
    from wsserver.storage import index
    from wsserver.storage.db import engine

    workspace = Workspace.get()
    engine().write_search(database, {workspace.id: index.search_document("old-one", "Old", [], {})})

    client = create_app(settings).test_client()
    assert SchemaVersion.get().version == CURRENT_VERSION
    assert "workspace_state" in {index.name for index in database.get_indexes("workspace")}
    admin_row = Account.get(Account.username == "admin")
    assert admin_row.uuid == account_uuid(admin_row.id)
    assert [(row.name, row.value) for row in WorkspaceAttribute.select()] == [("app", "3")]
    found = client.get(f"{API}/workspaces", query_string={"q": "granite"}, headers=admin).get_json()
    assert [workspace["fullname"] for workspace in found] == ["old-one"]
    create_app(settings)  # a later start has nothing more to upgrade
    assert SchemaVersion.get().version == CURRENT_VERSION
