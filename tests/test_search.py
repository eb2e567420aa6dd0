"""Search's two ways of finding matches (services/search.py `search`): among the caller's visible
workspaces, their documents read by key (when they are at most WITHIN_LIMIT and the instance is larger
than SMALL_INDEX), or through the engine's trigram index over the whole instance. Both must give the
same rows in the same order: these tests answer many queries both ways (SMALL_INDEX = 0 lets a corpus
of 400 take the first way, WITHIN_LIMIT = 0 forces the second) on a corpus with misspellings, more
than MISSPELLING_CANDIDATES candidates, short terms, LIKE wildcards, archived workspaces, workspaces
in the trash and workspaces of other accounts."""
import random

import pytest

from conftest import ADMIN_TOKEN, TEST_RATE_LIMIT
from wsserver import create_app
from wsserver.ids import new_id, new_secret, new_uuid
from wsserver.permissions import LEVELS
from wsserver.queries import Filters, ListQuery, SortKey
from wsserver.services import listing, search
from wsserver.storage import index
from wsserver.storage.db import database, engine
from wsserver.storage.models import Account, AclEntry, Workspace

NOUNS = ("harbor", "harbour", "arbor", "barber", "river", "rivet", "pipeline", "pipelines", "website", "webs",
         "canyon", "crane", "meadow", "data", "metadata", "lake", "ab", "x")
ADJECTIVES = ("red", "ready", "amber", "bold", "quiet", "rapid", "harsh", "deep")
ODD_TITLES = ('Big "50%_off" sale', "a_b c%d", "back\\slash", "ünïcode Ärger", "100% Harbor", "Harbor",
              "harbor master", "^data NEAR(x OR y)", "-", "pipe_line")
STAMP = "2026-03-01T10:00:00.000Z"

QUERIES = [
    "harbor", "HARBOR", "harbr", "hrabor", "harbor red", "red harbor", "arbor", "barbr", "rivr", "rivet",
    "pipline", "pipelines", "wbesite", "webs", "data", "metadta", "datta lake", "red", "re", "r", "ab", "x",
    "ab harbor", "ha rb", "50%", "%", "_", "%_o", "a_b", "c%d", "\\", "back\\", '"', '"50%_off"', "ünï",
    "ärger", "äger", "-", "harbor-", "-0001", "pipe_line", "pipe_lien", "nothing-like-this", "zzzz",
]
# A few of them asked by each (caller, ListQuery fields): members, trash, archive, filters, sorts,
# paging, all=true; every one by the first three.
SOME_QUERIES = ["harbor", "harbr", "datta lake", "ab harbor", "a_b", "re"]
MODES = [
    ("ada", {}),
    ("bob", {"include_deleted": True}),
    ("admin", {"all": True}),
    ("ada", {"include_archived": True}),
    ("ada", {"include_deleted": True}),
    ("ada", {"include_archived": True, "include_deleted": True}),
    ("ada", {"filters": Filters(level="admin")}),
    ("ada", {"filters": Filters(tags=("blue",))}),
    ("ada", {"filters": Filters(labels=(("env", "prod"),))}),
    ("ada", {"sort": (SortKey("fullname", descending=True),)}),
    ("ada", {"limit": 7, "offset": 3}),
    ("bob", {}),
    ("cy", {}),
    ("admin", {"all": True, "include_archived": True, "include_deleted": True}),  # no `within`: the index
    ("admin", {"all": True, "filters": Filters(tags=("blue",))}),
]


@pytest.fixture(autouse=True)
def instance_counts_as_large(monkeypatch):
    """The corpus is small: searches take the index unless told that 400 workspaces are many."""
    monkeypatch.setattr(search, "SMALL_INDEX", 0)


@pytest.fixture
def corpus(tmp_path):
    """About 400 workspaces: ada belongs to most (at every level), bob to some, others to nobody;
    some archived, some in the trash, some with odd titles; one UUID given."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "ADMIN_TOKEN": ADMIN_TOKEN,
                      "RATE_LIMIT": TEST_RATE_LIMIT})
    with app.app_context():
        accounts = {}
        for username in ("ada", "bob", "cy"):  # cy belongs to none
            accounts[username] = Account.create(id=new_id(), username=username, nickname=username, created_at=STAMP)
        accounts["admin"] = Account.get(Account.username == "admin")
        rng = random.Random(17)
        rows, entries = [], []
        levels = sorted(LEVELS.values())
        for number in range(400):
            adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
            title = ODD_TITLES[number % len(ODD_TITLES)] if number % 7 == 0 else f"{adjective.title()} {noun} {number}"
            row = {
                "id": new_id(), "fullname": f"{adjective}-{noun}-{number:04d}", "invite": new_secret(),
                "tags": rng.sample(["blue", "green", "meta-data", "50%"], rng.randint(0, 2)),
                "labels": {"env": rng.choice(["prod", "dev"]), "team": rng.choice(["harbr", "core", "data_ops"])},
                "title": None if number % 11 == 0 else title,
                "description": "a harbor by the rivr" if number % 13 == 0 else None,
                "created_at": STAMP, "updated_at": STAMP, "created_by": accounts["ada"].id,
                "archived_at": STAMP if number % 17 == 0 else None,
                "deleted_at": STAMP if number % 19 == 0 else None,
                "uuid": new_uuid(),
            }
            rows.append(row)
            for username, member in (("ada", number % 5 != 0), ("bob", number % 3 == 0)):
                if member:
                    entries.append({"id": new_id(), "workspace": row["id"], "account": accounts[username].id,
                                    "level": levels[number % len(levels)], "created_at": STAMP,
                                    "workspace_fullname": row["fullname"]})
        with database.atomic():
            Workspace.insert_many(rows).execute()
            AclEntry.insert_many(entries).execute()
            index.write([Workspace(**row) for row in rows], fresh=True)
        yield accounts, rows


def answer(account, q, **fields):
    rows, total = listing.list_workspaces(account, ListQuery(q=q, **fields))
    return [row.fullname for row in rows], total


def both_ways(monkeypatch, account, q, **fields):
    """(the answer among the visible workspaces, the answer through the index)."""
    among = answer(account, q, **fields)
    with monkeypatch.context() as patch:
        patch.setattr(search, "WITHIN_LIMIT", 0)
        indexed = answer(account, q, **fields)
    return among, indexed


def test_both_ways_give_the_same_rows_in_the_same_order(corpus, monkeypatch):
    accounts, rows = corpus
    some_uuid = next(row["uuid"] for row in rows if row["archived_at"] is None and row["deleted_at"] is None)
    asked = found = 0
    for position, (username, fields) in enumerate(MODES):
        for q in [*QUERIES, some_uuid, some_uuid.upper()] if position < 3 else [*SOME_QUERIES, some_uuid]:
            among, indexed = both_ways(monkeypatch, accounts[username], q, **fields)
            assert among == indexed, (username, fields, q)
            asked, found = asked + 1, found + bool(among[1])
    assert found > asked // 2  # the queries do find things


def test_a_misspelling_with_more_candidates_than_are_looked_at(corpus, monkeypatch):
    """Ties in the number of trigrams held are broken the same way (fullname, then id) on both ways."""
    accounts, rows = corpus
    grams = search.trigrams(["harbr"])
    holding = [row for row in rows if any(gram in index.search_document(
        row["fullname"], row["title"], row["tags"], row["labels"], row["description"]) for gram in grams)]
    assert len(holding) > 2 * search.MISSPELLING_CANDIDATES
    for username, fields in MODES:
        among, indexed = both_ways(monkeypatch, accounts[username], "harbr", **fields)
        assert among == indexed and (among[1] > 0) == (username != "cy"), (username, fields)


def test_a_members_search_reads_their_documents_not_the_index(corpus, monkeypatch):
    """What keeps a member's search from growing with the instance: their documents by key, no trigram
    look-up over every workspace (services/listing.py goes through search.search)."""
    accounts, _ = corpus
    calls = []
    real = engine()
    for name in ("documents_within", "similar_candidates", "ids_containing_all"):
        function = getattr(real, name)
        monkeypatch.setattr(real, name, lambda *args, _name=name, _function=function, **kwargs: (
            calls.append(_name), _function(*args, **kwargs))[1])
    assert answer(accounts["ada"], "harbr")[1] > 0
    assert answer(accounts["ada"], "harbor data")[1] > 0
    assert calls == ["documents_within", "documents_within"]
    calls.clear()
    answer(accounts["admin"], "harbr", all=True, include_archived=True, include_deleted=True)  # every workspace
    assert calls == ["similar_candidates", "ids_containing_all"]
    calls.clear()
    monkeypatch.setattr(search, "WITHIN_LIMIT", 50)  # ada sees more than 50: the index
    answer(accounts["ada"], "harbr")
    assert calls == ["documents_within", "similar_candidates", "ids_containing_all"]
    calls.clear()
    answer(accounts["ada"], "re")  # too short for trigrams: name and title prefixes, no look-up
    assert calls == []
    monkeypatch.setattr(search, "WITHIN_LIMIT", 5_000)
    monkeypatch.setattr(search, "SMALL_INDEX", 400)  # an instance this small: the index, whoever asks
    answer(accounts["ada"], "harbr")
    assert calls == ["similar_candidates", "ids_containing_all"]
    assert engine().index_holds_more_than(database, 399) and not engine().index_holds_more_than(database, 400)


def test_documents_within_answers_up_to_its_limit(corpus):
    accounts, rows = corpus
    visible = (Workspace.select(Workspace.id).join(AclEntry, on=(AclEntry.workspace == Workspace.id))
               .where(AclEntry.account == accounts["bob"].id))
    count = visible.count()
    documents = engine().documents_within(database, visible, count)
    assert sorted(documents) == sorted(
        (row["id"], index.search_document(row["fullname"], row["title"], row["tags"], row["labels"], row["description"]))
        for row in rows if row["id"] in {workspace.id for workspace in visible}
    )
    assert engine().documents_within(database, visible, count - 1) is None
    assert engine().documents_within(database, visible.where(Workspace.id == "none"), 0) == []


def test_an_id_list_is_written_as_peewee_writes_a_list(corpus):
    ids = ["a", "b'c", "d"]
    query = Workspace.select(Workspace.id).where(Workspace.title.is_null() & Workspace.id.in_(search.IdList(ids)))
    expected = Workspace.select(Workspace.id).where(Workspace.title.is_null() & Workspace.id.in_(ids))
    assert query.sql() == expected.sql()
    assert str(query) == str(expected)  # (peewee's debugging text)
    with_literals = [database.get_sql_context(value_literals=True).sql(built).query() for built in (query, expected)]
    assert with_literals[0] == with_literals[1] and "b''c" in with_literals[0][0]  # (peewee's DDL writes values in)
