"""GET /workspaces: paging, sorting, filters, fuzzy search, all=true, the Link and X-Total-Count headers."""
import os
import re
import shutil
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from conftest import API, ADMIN_TOKEN, bearer
from wsserver import create_app
from wsserver.storage import index
from wsserver.storage.db import DATABASE_FILE, close_connection, database, is_sqlite, open_database
from wsserver.ids import new_id, new_secret
from wsserver.storage.migrations import CURRENT_VERSION
from wsserver.storage.models import Account, AclEntry, Organization, SchemaVersion, Token, Workspace
from wsserver.permissions import LEVELS

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')
SHORT_FIELDS = {"id", "fullname", "tags", "labels", "meta", "archivedAt"}


# --- helpers ------------------------------------------------------------------------------


def listing(client, headers, prefix=API, **params):
    """GET /workspaces with these query parameters (lists repeat the parameter)."""
    pairs = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return client.get(f"{prefix}/workspaces?{urlencode(pairs)}", headers=headers)


def links(response):
    """{rel: (path, [(name, value), ...])} of the Link header."""
    found = {}
    for url, rel in LINK.findall(response.headers["Link"]):
        parts = urlsplit(url)
        found[rel] = (parts.path, parse_qsl(parts.query, keep_blank_values=True))
    return found


def assert_page(response, names, total):
    """A 200 listing: exactly these fullnames in this order, X-Total-Count, a Link header, short views."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert [item["fullname"] for item in body] == names
    for item in body:
        assert set(item) == SHORT_FIELDS
    assert response.headers["X-Total-Count"] == str(total)
    assert "first" in links(response) and "last" in links(response)
    return body


def assert_error(response, status, details):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]["details"]) == set(details)
    assert "X-Total-Count" not in response.headers and "Link" not in response.headers
    return body["error"]


def stamp(second, millisecond=0):
    return f"2026-03-01T10:00:{second:02d}.{millisecond:03d}Z"


def insert(account_id, fullname, level="owner", title=None, tags=(), labels=None, created=None, updated=None,
           created_by=None):
    """A workspace written through the models (for bulk and exact timestamps); the account joins it."""
    workspace_id = new_id()
    Workspace.insert(
        id=workspace_id, fullname=fullname, invite=new_secret(), tags=list(tags), labels=labels or {},
        title=title, created_at=created or stamp(0), updated_at=updated or created or stamp(0),
        created_by=created_by or account_id,
    ).execute()
    if account_id is not None:
        AclEntry.insert(id=new_id(), workspace=workspace_id, account=account_id, level=LEVELS[level],
                        created_at=stamp(0), workspace_fullname=fullname).execute()
    if database.table_exists("workspace_tag"):  # not in a version 1 database
        index.write([Workspace.get_by_id(workspace_id)])
    return workspace_id


def walk(client, headers, **params):
    """Follow `next` links from the first page; returns (ids in order, totals seen, pages)."""
    response = listing(client, headers, **params)
    ids, totals, pages = [], set(), 0
    while True:
        assert response.status_code == 200
        pages += 1
        ids.extend(item["id"] for item in response.get_json())
        totals.add(response.headers["X-Total-Count"])
        following = links(response).get("next")
        if following is None:
            return ids, totals, pages
        path, query = following
        response = client.get(f"{path}?{urlencode(query)}", headers=headers)


@pytest.fixture
def alice(accounts):
    return accounts.create("alice")


@pytest.fixture
def bob(accounts):
    return accounts.create("bob")


@pytest.fixture
def catalog(alice, make_workspace):
    """Five workspaces of alice, made through the API."""
    make_workspace(alice["headers"], "data-pipeline", tags=["etl", "prod"], labels={"env": "prod", "team": "core"},
                   meta={"title": "Data Pipeline"})
    make_workspace(alice["headers"], "metrics", tags=["prod"], labels={"env": "dev"}, meta={"title": "metrics board"})
    make_workspace(alice["headers"], "pipeline-tools", tags=["etl"], labels={"team": "core"})
    make_workspace(alice["headers"], "website", tags=[], labels={"url": "https://example.org:8080/x"},
                   meta={"title": "Public Website"})
    make_workspace(alice["headers"], "archive", tags=["old"], labels={}, meta={"title": "archive of pipelines"})
    return alice


# --- defaults and headers -------------------------------------------------------------------


def test_no_parameters_lists_own_workspaces_by_fullname_with_total_and_links(client, catalog):
    response = listing(client, catalog["headers"])
    body = assert_page(response, ["archive", "data-pipeline", "metrics", "pipeline-tools", "website"], 5)
    assert body[1] == {
        "id": Workspace.get(Workspace.fullname == "data-pipeline").id, "fullname": "data-pipeline",
        "tags": ["etl", "prod"], "labels": {"env": "prod", "team": "core"},
        "meta": {"title": "Data Pipeline", "description": None, "avatar": None}, "archivedAt": None,
    }
    assert links(response) == {
        "first": (f"{API}/workspaces", [("limit", "100"), ("offset", "0")]),
        "last": (f"{API}/workspaces", [("limit", "100"), ("offset", "0")]),
    }


@pytest.mark.parametrize("prefix", [API, "/api"])
def test_links_point_at_the_prefix_that_was_used(client, catalog, prefix):
    response = listing(client, catalog["headers"], prefix=prefix, limit=2)
    assert_page(response, ["archive", "data-pipeline"], 5)
    assert {rel: path for rel, (path, _) in links(response).items()} == {
        "first": f"{prefix}/workspaces", "next": f"{prefix}/workspaces", "last": f"{prefix}/workspaces"}
    assert response.headers["Link"].startswith("<http://localhost/")


def test_default_page_is_100_of_more(client, alice):
    for number in range(105):
        insert(alice["id"], f"ws-{number:03d}")
    response = listing(client, alice["headers"])
    assert_page(response, [f"ws-{number:03d}" for number in range(100)], 105)
    assert links(response) == {
        "first": (f"{API}/workspaces", [("limit", "100"), ("offset", "0")]),
        "next": (f"{API}/workspaces", [("limit", "100"), ("offset", "100")]),
        "last": (f"{API}/workspaces", [("limit", "100"), ("offset", "100")]),
    }


def test_empty_listing_has_total_zero_and_first_and_last_only(client, bob):
    response = listing(client, bob["headers"])
    assert_page(response, [], 0)
    assert set(links(response)) == {"first", "last"}


# --- paging ---------------------------------------------------------------------------------


def test_limit_offset_middle_page_links_keep_other_parameters(client, catalog):
    response = listing(client, catalog["headers"], tag="etl", sort="-fullname", limit=1, offset=1)
    assert_page(response, ["data-pipeline"], 2)
    assert links(response) == {
        rel: (f"{API}/workspaces", [("tag", "etl"), ("sort", "-fullname"), ("limit", "1"), ("offset", offset)])
        for rel, offset in (("first", "0"), ("prev", "0"), ("last", "1"))
    }


def test_limit_offset_first_page_has_no_prev_and_last_page_has_no_next(client, catalog):
    first = listing(client, catalog["headers"], limit=2)
    assert_page(first, ["archive", "data-pipeline"], 5)
    assert [(rel, dict(query)["offset"]) for rel, (_, query) in links(first).items()] == [
        ("first", "0"), ("next", "2"), ("last", "4")]

    last = listing(client, catalog["headers"], limit=2, offset=4)
    assert_page(last, ["website"], 5)
    assert [(rel, dict(query)["offset"]) for rel, (_, query) in links(last).items()] == [
        ("first", "0"), ("prev", "2"), ("last", "4")]


def test_offset_past_the_end_is_an_empty_page_with_the_total(client, catalog):
    response = listing(client, catalog["headers"], limit=2, offset=10)
    assert_page(response, [], 5)
    assert [(rel, dict(query)["offset"]) for rel, (_, query) in links(response).items()] == [
        ("first", "0"), ("prev", "8"), ("last", "4")]


def test_page_and_page_size_give_page_style_links(client, catalog):
    response = listing(client, catalog["headers"], page=2, page_size=2, q="")
    assert_page(response, ["metrics", "pipeline-tools"], 5)
    assert links(response) == {
        rel: (f"{API}/workspaces", [("q", ""), ("page", page), ("page_size", "2")])
        for rel, page in (("first", "1"), ("prev", "1"), ("next", "3"), ("last", "3"))
    }


def test_page_alone_uses_the_default_page_size(client, catalog):
    response = listing(client, catalog["headers"], page=1)
    assert_page(response, ["archive", "data-pipeline", "metrics", "pipeline-tools", "website"], 5)
    assert links(response)["first"][1] == [("page", "1"), ("page_size", "100")]


def test_page_size_alone_starts_at_page_one(client, catalog):
    response = listing(client, catalog["headers"], page_size=3)
    assert_page(response, ["archive", "data-pipeline", "metrics"], 5)
    assert [(rel, dict(query)["page"]) for rel, (_, query) in links(response).items()] == [
        ("first", "1"), ("next", "2"), ("last", "2")]


@pytest.mark.parametrize("sort", ["title", "-title", "created_at,-updated_at", "updated_at:desc", "-fullname",
                                  None])
@pytest.mark.parametrize("style", ["offset", "page"])
def test_walking_every_page_returns_each_match_once_while_sort_keys_tie(client, alice, sort, style):
    expected = set()
    for number in range(23):
        # three titles (one of them missing) and two timestamps: most sort keys tie
        title = [None, "Same", "same"][number % 3]
        expected.add(insert(alice["id"], f"tie-{number:02d}", title=title, created=stamp(number % 2),
                            updated=stamp(5)))
    params = {"sort": sort} if sort else {}
    params.update({"limit": 4} if style == "offset" else {"page_size": 4})
    ids, totals, pages = walk(client, alice["headers"], **params)
    assert len(ids) == 23 and set(ids) == expected
    assert totals == {"23"}
    assert pages == 6


def test_walking_search_results_returns_each_match_once(client, alice):
    expected = {insert(alice["id"], f"report-{number:02d}", title="report") for number in range(9)}
    expected |= {insert(alice["id"], f"misc-{number}", tags=["reports"]) for number in range(4)}
    expected.add(insert(alice["id"], "reprot-misspelled"))
    insert(alice["id"], "unrelated")
    ids, totals, pages = walk(client, alice["headers"], q="report", limit=3)
    assert len(ids) == 14 and set(ids) == expected
    assert totals == {"14"} and pages == 5


def test_mixing_paging_styles_is_422_naming_the_parameters(client, catalog):
    error = assert_error(listing(client, catalog["headers"], limit=2, page=1), 422, {"limit", "page"})
    assert error["details"]["page"] == ["Use either limit/offset or page/page_size, not both."]
    assert_error(listing(client, catalog["headers"], offset=2, page_size=1), 422, {"offset", "page_size"})


# --- bad values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, name",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**40}, "offset"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"sort": "bogus"}, "sort"),
        ({"sort": ""}, "sort"),
        ({"sort": "title,"}, "sort"),
        ({"sort": "-title:asc"}, "sort"),
        ({"sort": "title:up"}, "sort"),
        ({"sort": " title"}, "sort"),
        ({"sort": "title, fullname"}, "sort"),
        ({"sort": "invite"}, "sort"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00bcd"}, "q"),
        ({"tag": ""}, "tag"),
        ({"tag": "t" * 65}, "tag"),
        ({"tag": [f"t{n}" for n in range(51)]}, "tag"),
        ({"label": "novalue"}, "label"),
        ({"label": ":value"}, "label"),
        ({"label": "k" * 65 + ":v"}, "label"),
        ({"created_by": ""}, "created_by"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-01"}, "created_before"),
        ({"updated_after": "2026-02-30T00:00:00Z"}, "updated_after"),
        ({"updated_before": "12:00"}, "updated_before"),
        ({"level": "boss"}, "level"),
        ({"level": "Owner"}, "level"),
        ({"all": "yes"}, "all"),
        ({"all": "1"}, "all"),
        ({"all": "True"}, "all"),
        ({"per_page": 5}, "per_page"),
        ({"fullname": "x"}, "fullname"),
    ],
)
def test_bad_value_is_422_naming_the_parameter(client, catalog, params, name):
    error = assert_error(listing(client, catalog["headers"], **params), 422, {name})
    assert name in error["message"]


@pytest.mark.parametrize("name", ["limit", "offset", "sort", "q", "all", "level", "created_after"])
def test_single_parameter_given_twice_is_422(client, catalog, name):
    values = {"limit": ["1", "2"], "offset": ["0", "1"], "sort": ["title", "fullname"], "q": ["a", "b"],
              "all": ["false", "false"], "level": ["user", "owner"],
              "created_after": ["2026-01-01", "2026-01-02"]}[name]
    error = assert_error(listing(client, catalog["headers"], **{name: values}), 422, {name})
    assert error["details"][name] == ["Give this parameter once."]


def test_unknown_parameters_are_all_named(client, catalog):
    error = assert_error(listing(client, catalog["headers"], foo=1, bar=2, limit=1), 422, {"foo", "bar"})
    assert error["details"]["foo"] == ["Unknown field."]


def test_listing_needs_credentials(client, catalog):
    response = client.get(f"{API}/workspaces?all=true")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.get_json()["error"]["message"]


# --- sorting --------------------------------------------------------------------------------


@pytest.fixture
def dated(alice):
    """Four workspaces with known titles and times (created, updated)."""
    insert(alice["id"], "delta", title="beta", created=stamp(3), updated=stamp(9))
    insert(alice["id"], "alpha", title="Delta", created=stamp(1), updated=stamp(8))
    insert(alice["id"], "charlie", title=None, created=stamp(4), updated=stamp(6))
    insert(alice["id"], "bravo", title="alpha", created=stamp(2), updated=stamp(7))
    return alice


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("fullname", ["alpha", "bravo", "charlie", "delta"]),
        ("fullname:asc", ["alpha", "bravo", "charlie", "delta"]),
        ("-fullname", ["delta", "charlie", "bravo", "alpha"]),
        ("fullname:desc", ["delta", "charlie", "bravo", "alpha"]),
        # titles: case-insensitive; no title sorts first ascending, last descending
        ("title", ["charlie", "bravo", "delta", "alpha"]),
        ("-title", ["alpha", "delta", "bravo", "charlie"]),
        ("created_at", ["alpha", "bravo", "delta", "charlie"]),
        ("-created_at", ["charlie", "delta", "bravo", "alpha"]),
        ("updated_at:asc", ["charlie", "bravo", "alpha", "delta"]),
        ("updated_at:desc", ["delta", "alpha", "bravo", "charlie"]),
        ("title,-created_at", ["charlie", "bravo", "delta", "alpha"]),
        ("-title,title", ["alpha", "delta", "bravo", "charlie"]),  # a field named again adds nothing
    ],
)
def test_sort_by_each_field_and_direction(client, dated, sort, expected):
    response = listing(client, dated["headers"], sort=sort)
    assert_page(response, expected, 4)
    assert dict(links(response)["first"][1])["sort"] == sort


def test_ties_on_several_keys_go_by_id_in_the_direction_of_the_last_key(client, alice):
    ids = sorted(insert(alice["id"], f"same-{n}", title="Same", created=stamp(1)) for n in range(5))
    by_name = {Workspace.get_by_id(i).fullname: i for i in ids}
    ascending = listing(client, alice["headers"], sort="title,created_at")
    assert [item["id"] for item in assert_page(ascending, sorted(by_name, key=by_name.get), 5)] == ids
    descending = listing(client, alice["headers"], sort="title,-created_at")
    assert [item["id"] for item in assert_page(descending, sorted(by_name, key=by_name.get, reverse=True), 5)] \
        == ids[::-1]


def test_sort_with_q_orders_the_matches_by_the_sort_keys(client, catalog):
    response = listing(client, catalog["headers"], q="pipeline", sort="-fullname")
    assert_page(response, ["pipeline-tools", "data-pipeline", "archive"], 3)


# --- search (q) -----------------------------------------------------------------------------


def test_q_ranks_exact_name_title_prefixes_substrings_then_misspellings(client, alice):
    insert(alice["id"], "zz-notes", labels={"kind": "dataset"})          # in a label value
    insert(alice["id"], "big-data")                                      # in the name
    insert(alice["id"], "reports", title="DATA")                         # exact title
    insert(alice["id"], "data-lake")                                     # name prefix
    insert(alice["id"], "aa-tagged", tags=["metadata"])                  # in a tag
    insert(alice["id"], "warehouse", title="Data warehouse")             # title prefix
    insert(alice["id"], "data")                                          # exact name
    insert(alice["id"], "daata-fan")                                     # one letter off: a misspelling
    insert(alice["id"], "nothing", title="dart board")                   # two letters off: no match
    insert(alice["id"], "keyed", labels={"data": "x"})                   # label keys are not searched
    response = listing(client, alice["headers"], q="Data")
    assert_page(response, ["data", "reports", "data-lake", "warehouse", "big-data", "aa-tagged", "zz-notes",
                           "daata-fan"], 8)


def test_q_finds_a_misspelled_query_and_ranks_closest_first(client, catalog):
    response = listing(client, catalog["headers"], q="pipline")
    # data-pipeline and pipeline-tools are one letter off; "pipelines" (archive's title) two
    assert_page(response, ["data-pipeline", "pipeline-tools", "archive"], 3)


def test_q_finds_a_word_with_two_swapped_letters(client, catalog):
    response = listing(client, catalog["headers"], q="wbesite")
    assert_page(response, ["website"], 1)


def test_q_matches_title_tag_and_label_value_case_insensitively(client, catalog):
    assert_page(listing(client, catalog["headers"], q="BOARD"), ["metrics"], 1)
    assert_page(listing(client, catalog["headers"], q="etl"), ["data-pipeline", "pipeline-tools"], 2)
    assert_page(listing(client, catalog["headers"], q="example.org"), ["website"], 1)
    assert_page(listing(client, catalog["headers"], q="url"), [], 0)  # a label key


def test_q_every_term_must_match(client, catalog):
    assert_page(listing(client, catalog["headers"], q="pipeline core"), ["data-pipeline", "pipeline-tools"], 2)
    assert_page(listing(client, catalog["headers"], q="data pipeline"), ["data-pipeline"], 1)
    assert_page(listing(client, catalog["headers"], q="pipeline nowhere"), [], 0)


def test_q_with_a_short_term_and_a_long_one(client, catalog):
    assert_page(listing(client, catalog["headers"], q="pipeline da"), ["data-pipeline"], 1)


def test_q_of_one_or_two_characters_matches_name_and_title_prefixes(client, catalog):
    assert_page(listing(client, catalog["headers"], q="Me"), ["metrics"], 1)
    assert_page(listing(client, catalog["headers"], q="pu"), ["website"], 1)  # "Public Website"
    assert_page(listing(client, catalog["headers"], q="p"), ["pipeline-tools", "website"], 2)


def test_blank_q_is_no_search(client, catalog):
    response = listing(client, catalog["headers"], q="   ")
    assert_page(response, ["archive", "data-pipeline", "metrics", "pipeline-tools", "website"], 5)


@pytest.mark.parametrize("q", ['"', 'a"b"c', "%", "_", "\\", "*", "NEAR(", "x OR y", "^data", "50%_off", "ünïcode",
                               "data-", "-"])
def test_q_with_special_characters_is_a_plain_search(client, catalog, make_workspace, q):
    make_workspace(catalog["headers"], "sale", meta={"title": 'Big "50%_off" sale ^data'})
    response = listing(client, catalog["headers"], q=q)
    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) == len(response.get_json())


def test_q_special_characters_match_literally(client, catalog, make_workspace):
    make_workspace(catalog["headers"], "sale", meta={"title": 'Big "50%_off" sale'})
    assert_page(listing(client, catalog["headers"], q='"50%_off"'), ["sale"], 1)
    assert_page(listing(client, catalog["headers"], q="0%_"), ["sale"], 1)
    assert_page(listing(client, catalog["headers"], q="0%x"), [], 0)


def test_search_index_follows_updates_of_title_tags_and_labels(client, catalog):
    headers = catalog["headers"]
    assert_page(listing(client, headers, q="renamed"), [], 0)
    response = client.put(f"{API}/workspaces/metrics", headers=headers, json={
        "fullname": "metrics", "meta": {"title": "Renamed Overview"}, "tags": ["fresh-tag"], "labels": {"k": "newvalue"}})
    assert response.status_code == 200
    assert_page(listing(client, headers, q="renamed"), ["metrics"], 1)
    assert_page(listing(client, headers, q="fresh-tag"), ["metrics"], 1)
    assert_page(listing(client, headers, q="newvalue"), ["metrics"], 1)
    assert_page(listing(client, headers, q="metrics board"), [], 0)  # the old title is gone
    assert_page(listing(client, headers, q="dev"), [], 0)            # and the old label value
    assert_page(listing(client, headers, tag="fresh-tag"), ["metrics"], 1)
    assert_page(listing(client, headers, tag="prod"), ["data-pipeline"], 1)
    assert_page(listing(client, headers, label="k:newvalue"), ["metrics"], 1)
    assert_page(listing(client, headers, label="env:dev"), [], 0)

    # clearing the title and emptying tags and labels
    response = client.put(f"{API}/workspaces/metrics", headers=headers,
                          json={"fullname": "metrics", "meta": {"title": None}, "tags": [], "labels": {}})
    assert response.status_code == 200
    for params in ({"q": "renamed"}, {"q": "newvalue"}, {"tag": "fresh-tag"}, {"label": "k:newvalue"}):
        assert_page(listing(client, headers, **params), [], 0)
    assert_page(listing(client, headers, q="metrics"), ["metrics"], 1)


def test_search_index_forgets_deleted_workspaces(client, catalog):
    headers = catalog["headers"]
    assert client.delete(f"{API}/workspaces/data-pipeline", headers=headers).status_code == 200
    assert_page(listing(client, headers, q="pipeline"), ["pipeline-tools", "archive"], 2)
    assert_page(listing(client, headers, q="data"), [], 0)
    assert_page(listing(client, headers, tag="etl"), ["pipeline-tools"], 1)
    assert_page(listing(client, headers, label="env:prod"), [], 0)
    # a new workspace with the same name is indexed afresh
    response = client.put(f"{API}/workspaces/data-pipeline", headers=headers,
                          json={"fullname": "data-pipeline", "tags": ["new"]})
    assert response.status_code == 201
    assert_page(listing(client, headers, q="data"), ["data-pipeline"], 1)
    assert_page(listing(client, headers, tag="new"), ["data-pipeline"], 1)


def test_search_index_forgets_workspaces_deleted_with_their_last_member(client, catalog, admin_headers):
    response = client.delete(f"{API}/accounts/{catalog['id']}", headers=admin_headers)
    assert response.status_code in (200, 204)
    assert_page(listing(client, admin_headers, all="true", q="pipeline"), [], 0)
    assert_page(listing(client, admin_headers, all="true", tag="etl"), [], 0)


# --- filters --------------------------------------------------------------------------------


def test_tag_filter_and_repeated_tags_must_all_match(client, catalog):
    assert_page(listing(client, catalog["headers"], tag="prod"), ["data-pipeline", "metrics"], 2)
    assert_page(listing(client, catalog["headers"], tag=["prod", "etl"]), ["data-pipeline"], 1)
    assert_page(listing(client, catalog["headers"], tag=["prod", "etl", "old"]), [], 0)
    assert_page(listing(client, catalog["headers"], tag="PROD"), [], 0)  # exact


def test_label_filter_and_repeated_labels_must_all_match(client, catalog):
    assert_page(listing(client, catalog["headers"], label="team:core"), ["data-pipeline", "pipeline-tools"], 2)
    assert_page(listing(client, catalog["headers"], label=["team:core", "env:prod"]), ["data-pipeline"], 1)
    assert_page(listing(client, catalog["headers"], label="env:Prod"), [], 0)
    # the first colon splits key and value
    assert_page(listing(client, catalog["headers"], label="url:https://example.org:8080/x"), ["website"], 1)


def test_label_with_empty_value(client, alice):
    insert(alice["id"], "empty-value", labels={"note": ""})
    insert(alice["id"], "some-value", labels={"note": "x"})
    assert_page(listing(client, alice["headers"], label="note:"), ["empty-value"], 1)


def test_created_by_filter(client, catalog, bob, make_workspace, join):
    make_workspace(bob["headers"], "bobs")
    join(bob["headers"], "bobs", catalog)
    assert_page(listing(client, catalog["headers"], created_by=bob["id"]), ["bobs"], 1)
    assert_page(listing(client, catalog["headers"], created_by=catalog["id"], limit=2),
                ["archive", "data-pipeline"], 5)
    assert_page(listing(client, catalog["headers"], created_by="nobody"), [], 0)


@pytest.fixture
def timeline(alice):
    """t0 < t1 < t2 one millisecond apart (created), and updated one minute later."""
    for name, millisecond in (("t0", 0), ("t1", 1), ("t2", 2)):
        insert(alice["id"], name, created=stamp(30, millisecond), updated=f"2026-03-01T10:01:30.00{millisecond}Z")
    return alice


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"created_after": "2026-03-01T10:00:30.001Z"}, ["t1", "t2"]),            # inclusive
        ({"created_before": "2026-03-01T10:00:30.001Z"}, ["t0"]),                 # exclusive
        ({"created_after": "2026-03-01T10:00:30.001Z", "created_before": "2026-03-01T10:00:30.002Z"}, ["t1"]),
        ({"created_after": "2026-03-01T10:00:30.0005Z"}, ["t1", "t2"]),           # finer than stored
        ({"created_before": "2026-03-01T10:00:30.0005Z"}, ["t0"]),
        ({"created_after": "2026-03-01T11:00:30.001+01:00"}, ["t1", "t2"]),       # offsets
        ({"created_before": "2026-03-01T05:00:30.002-05:00"}, ["t0", "t1"]),
        ({"created_after": "2026-03-01T10:00:30.001"}, ["t1", "t2"]),             # naive is UTC
        ({"created_after": "2026-03-01t10:00:30.001z"}, ["t1", "t2"]),            # RFC 3339 lower case
        ({"created_after": "2026-03-01"}, ["t0", "t1", "t2"]),                    # a date is its midnight
        ({"created_after": "0001-01-01T00:00:00+01:00"}, ["t0", "t1", "t2"]),     # before year 1 in UTC
        ({"created_before": "9999-12-31T23:00:00-05:00"}, ["t0", "t1", "t2"]),    # after 9999 in UTC
        ({"created_before": "2026-03-01"}, []),
        ({"created_after": "2026-03-01T10:00:31Z"}, []),
        ({"updated_after": "2026-03-01T10:01:30.002Z"}, ["t2"]),
        ({"updated_before": "2026-03-01T10:01:30.002Z"}, ["t0", "t1"]),
        ({"updated_after": "2026-03-01T10:01:30Z", "updated_before": "2026-03-01T10:01:30.001Z"}, ["t0"]),
    ],
)
def test_time_filters_at_the_boundaries(client, timeline, params, expected):
    assert_page(listing(client, timeline["headers"], **params), expected, len(expected))


def test_time_filter_with_an_unencoded_plus_in_the_offset(client, timeline):
    # "+01:00" sent without percent-encoding arrives as " 01:00"
    response = client.get(f"{API}/workspaces?created_after=2026-03-01T11:00:30.001+01:00", headers=timeline["headers"])
    assert_page(response, ["t1", "t2"], 2)


@pytest.fixture
def levels(accounts, make_workspace, join, bob):
    """bob is owner of o-ws, admin of a-ws, developer of d-ws, user of u-ws; carol owns the three others."""
    carol = accounts.create("carol")
    make_workspace(bob["headers"], "o-ws")
    for level in ("admin", "developer", "user"):
        make_workspace(carol["headers"], f"{level[0]}-ws")
        join(carol["headers"], f"{level[0]}-ws", bob, level=level)
    return bob


@pytest.mark.parametrize(
    "level, expected",
    [
        ("owner", ["o-ws"]),
        ("admin", ["a-ws", "o-ws"]),
        ("developer", ["a-ws", "d-ws", "o-ws"]),
        ("user", ["a-ws", "d-ws", "o-ws", "u-ws"]),
    ],
)
def test_level_filter_means_at_least_that_level(client, levels, level, expected):
    assert_page(listing(client, levels["headers"], level=level), expected, len(expected))


def test_level_with_all_true_is_the_admins_own_level(client, levels, admin_headers, make_workspace):
    make_workspace(admin_headers, "admins-own")
    assert_page(listing(client, admin_headers, all="true", level="owner"), ["admins-own"], 1)
    assert_page(listing(client, admin_headers, all="true", level="user"), ["admins-own"], 1)


def test_filters_combine_with_search_sort_and_paging(client, alice):
    for number in range(7):
        insert(alice["id"], f"combo-{number}", title=f"Combo {number}", tags=["x", "y"] if number % 2 else ["x"],
               labels={"env": "prod" if number < 5 else "dev"}, created=stamp(number), updated=stamp(59 - number))
    insert(alice["id"], "other-x", tags=["x", "y"], labels={"env": "prod"}, created=stamp(3))
    response = listing(client, alice["headers"], q="combo", tag=["x", "y"], label="env:prod",
                       created_after=stamp(1), created_before=stamp(5), created_by=alice["id"], level="owner",
                       sort="updated_at", limit=1, offset=1)
    assert_page(response, ["combo-1"], 2)
    assert links(response)["first"][1] == [
        ("q", "combo"), ("tag", "x"), ("tag", "y"), ("label", "env:prod"), ("created_after", stamp(1)),
        ("created_before", stamp(5)), ("created_by", alice["id"]), ("level", "owner"), ("sort", "updated_at"),
        ("limit", "1"), ("offset", "0")]
    assert "next" not in links(response)


# --- who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "secret"}, {"q": "secrte"}, {"q": "se"}, {"tag": "hidden"}, {"label": "env:hidden"},
     {"level": "user"}, {"sort": "-created_at"}, {"all": "false"}],
)
def test_a_non_members_workspace_never_appears(client, alice, bob, make_workspace, params):
    make_workspace(alice["headers"], "secret-project", tags=["hidden"], labels={"env": "hidden"},
                   meta={"title": "secret"})
    make_workspace(bob["headers"], "bobs-own", tags=["hidden"], labels={"env": "hidden"}, meta={"title": "secret"})
    response = listing(client, bob["headers"], **params)
    assert_page(response, ["bobs-own"], 1)


def test_created_by_does_not_reveal_a_non_members_workspace(client, alice, bob, make_workspace):
    make_workspace(alice["headers"], "alices")
    assert_page(listing(client, bob["headers"], created_by=alice["id"]), [], 0)


def test_all_true_by_a_non_admin_is_403(client, catalog):
    response = listing(client, catalog["headers"], all="true")
    assert_error(response, 403, set())


def test_all_true_by_an_instance_admin_lists_every_workspace(client, catalog, admin_headers, bob, make_workspace):
    make_workspace(bob["headers"], "bobs")
    assert_page(listing(client, admin_headers), [], 0)
    response = listing(client, admin_headers, all="true")
    assert_page(response, ["archive", "bobs", "data-pipeline", "metrics", "pipeline-tools", "website"], 6)
    assert links(response)["first"][1] == [("all", "true"), ("limit", "100"), ("offset", "0")]
    assert_page(listing(client, admin_headers, all="true", q="pipline"), ["data-pipeline", "pipeline-tools", "archive"], 3)
    assert_page(listing(client, admin_headers, all="true", tag="etl", label="team:core", limit=1),
                ["data-pipeline"], 2)


def test_an_admin_account_made_by_the_api_may_list_all(client, accounts, catalog):
    root = accounts.create("root", admin=True)
    assert_page(listing(client, root["headers"], all="true", limit=1), ["archive"], 5)


# --- indexes, schema upgrade, documentation ---------------------------------------------------


LISTING_SHAPES = [
    {}, {"offset": 50}, {"sort": "title"}, {"sort": "-created_at"}, {"sort": "updated_at"}, {"q": "pipeline"},
    {"q": "pipline"}, {"q": "pi"}, {"tag": "etl", "label": "env:prod"}, {"level": "admin"},
    {"created_after": "2026-01-01", "created_by": "x"},
]


def built_queries(params, all_flag):
    """The page and count queries of GET /workspaces with these parameters, as alice or (all) the admin."""
    from schemas.listing import ListQuerySchema
    from wsserver.services.listing import build_queries

    account = Account.get(Account.username == ("admin" if all_flag else "alice"))
    values = {name: [value] if name in ("tag", "label") else str(value) for name, value in params.items()}
    if all_flag:
        values["all"] = "true"
    return build_queries(account, ListQuerySchema().load(values))


@pytest.mark.parametrize("params", LISTING_SHAPES)
@pytest.mark.parametrize("all_flag", [False, True])
@pytest.mark.sqlite_only("reads SQLite's EXPLAIN QUERY PLAN (the PostgreSQL run checks its own plans below)")
def test_queries_never_scan_a_whole_table(client, catalog, admin_headers, params, all_flag):
    page, count = built_queries(params, all_flag)
    for query in (page, count):
        sql, args = query.sql()
        plan = [row[3] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, args)]
        for step in plan:
            # a bare "SCAN table" reads every row; index walks and the FTS MATCH are fine
            assert not re.fullmatch(r"SCAN \w+", step), plan
            if step.startswith("SCAN") and "VIRTUAL TABLE" in step:
                assert ":M" in step, plan  # the search table is only read through MATCH
        if not all_flag and query is count:  # the caller's entries through one of AclEntry's indexes
            assert any(re.match(r"SEARCH \w+ USING (COVERING )?INDEX acl_entry_\w+ \(.*account_id=\?", step)
                       for step in plan), plan


@pytest.mark.parametrize("params", LISTING_SHAPES)
@pytest.mark.parametrize("all_flag", [False, True])
@pytest.mark.postgresql_only
def test_queries_have_an_index_for_every_table_on_postgresql(client, catalog, admin_headers, params, all_flag):
    """With sequential scans priced out (enable_seqscan off), a Seq Scan left in a plan means no index serves it."""
    page, count = built_queries(params, all_flag)
    with database.atomic():
        database.execute_sql("SET LOCAL enable_seqscan = off")
        for query in (page, count):
            sql, args = query.sql()
            plan = "\n".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, args))
            assert "Seq Scan" not in plan, plan


# Schema versions 1 to 3 were SQLite only (PostgreSQL databases start at version 4).
OLD_VERSIONS_ON_SQLITE = pytest.mark.sqlite_only("schema versions 1-3 existed on SQLite only")


@OLD_VERSIONS_ON_SQLITE
def test_a_version_1_database_is_upgraded_and_searchable(tmp_path):
    instance = str(tmp_path / "old-instance")
    v1_models = (Account, Token, Workspace, AclEntry, SchemaVersion)
    open_database(None, instance)
    database.create_tables(v1_models)
    SchemaVersion.create(version=1)
    Account.insert(id="acc1", username="olduser", nickname="Old", admin=False, created_at=stamp(0)).execute()
    insert("acc1", "legacy-pipeline", title="Legacy Pipeline", tags=["etl"], labels={"env": "prod"})
    insert("acc1", "old-metrics", title="Old metrics", tags=["prod"])
    insert("acc1", "old-archive", title=None, tags=[])
    assert not database.table_exists("workspace_search")
    close_connection()

    app = create_app({"INSTANCE_PATH": instance, "ADMIN_TOKEN": ADMIN_TOKEN})
    assert SchemaVersion.get().version == CURRENT_VERSION
    client = app.test_client()
    headers = bearer(ADMIN_TOKEN)
    assert_page(listing(client, headers, all="true"), ["legacy-pipeline", "old-archive", "old-metrics"], 3)
    assert_page(listing(client, headers, all="true", q="pipeline"), ["legacy-pipeline"], 1)
    assert_page(listing(client, headers, all="true", q="metircs"), ["old-metrics"], 1)
    assert_page(listing(client, headers, all="true", tag="prod"), ["old-metrics"], 1)
    assert_page(listing(client, headers, all="true", label="env:prod"), ["legacy-pipeline"], 1)
    assert_page(listing(client, headers, all="true", sort="-title"),
                ["old-metrics", "legacy-pipeline", "old-archive"], 3)
    # and the service keeps it in sync from now on
    response = client.put(f"{API}/workspaces/old-archive", json={"fullname": "old-archive", "meta": {"title": "Renamed"}},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    assert_page(listing(client, headers, all="true", q="renamed"), ["old-archive"], 1)


@OLD_VERSIONS_ON_SQLITE
def test_a_version_2_database_gets_the_member_order_column_filled(tmp_path):
    """Version 3 adds acl_entry.workspace_fullname (the caller's list by name): existing entries are
    filled by the upgrade, new ones by the service, and listings come out the same."""
    instance = str(tmp_path / "v2-instance")
    create_app({"INSTANCE_PATH": instance, "ADMIN_TOKEN": ADMIN_TOKEN})
    account = Account.get(Account.username == "admin")
    for name in ("delta", "alpha", "charlie", "bravo"):
        insert(account.id, name, level="user" if name == "charlie" else "owner")
    # back to the shape of version 2: no column, no index, no trigger
    database.execute_sql("DROP INDEX acl_entry_account_id_workspace_fullname_workspace_id")
    database.execute_sql("ALTER TABLE acl_entry DROP COLUMN workspace_fullname")
    SchemaVersion.update(version=2).execute()
    close_connection()

    app = create_app({"INSTANCE_PATH": instance, "ADMIN_TOKEN": ADMIN_TOKEN})
    assert SchemaVersion.get().version == CURRENT_VERSION
    assert sorted(entry.workspace_fullname for entry in AclEntry.select()) == ["alpha", "bravo", "charlie", "delta"]
    client, headers = app.test_client(), bearer(ADMIN_TOKEN)
    assert client.put(f"{API}/workspaces/alpha-two", json={"fullname": "alpha-two"}, headers=headers).status_code == 201
    assert AclEntry.get(AclEntry.workspace == Workspace.get(Workspace.fullname == "alpha-two").id).workspace_fullname == "alpha-two"
    assert_page(listing(client, headers), ["alpha", "alpha-two", "bravo", "charlie", "delta"], 5)
    assert_page(listing(client, headers, sort="-fullname", limit=2, offset=1), ["charlie", "bravo"], 5)
    assert_page(listing(client, headers, level="owner", sort="fullname:asc"), ["alpha", "alpha-two", "bravo", "delta"], 4)


def test_a_fresh_database_is_at_the_current_version_with_the_search_index(app):
    assert SchemaVersion.get().version == CURRENT_VERSION
    search_tables = ("workspace_search", "workspace_search_doc") if is_sqlite() else ("workspace_search",)
    for table in (*search_tables, "workspace_tag", "workspace_label"):
        assert database.table_exists(table)


VERSION_3_DATABASE = os.path.join(os.path.dirname(__file__), "data", "version-3.sqlite3")


@OLD_VERSIONS_ON_SQLITE
def test_a_version_3_database_loses_its_triggers_and_keeps_listing_the_same(tmp_path):
    """tests/data/version-3.sqlite3 was written through the API of the release before version 4: triggers
    kept its side tables and search index. Version 4 drops them; the services write the index instead."""
    instance = tmp_path / "v3-instance"
    instance.mkdir()
    shutil.copy(VERSION_3_DATABASE, instance / DATABASE_FILE)
    app = create_app({"INSTANCE_PATH": str(instance), "ADMIN_TOKEN": ADMIN_TOKEN})
    assert SchemaVersion.get().version == CURRENT_VERSION
    assert database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
    # version 5: every workspace gets a number in creation order, a UUID, the default organization
    rows = list(Workspace.select().order_by(Workspace.created_at, Workspace.id))
    organization = Organization.get(Organization.is_default == True)  # noqa: E712
    assert [row.number for row in rows] == [1, 2, 3] and len({row.uuid for row in rows}) == 3
    assert all(row.organization_id == organization.id and row.updated_by == row.created_by for row in rows)
    assert all((row.visibility, row.views, row.attributes, row.archived_at) == ("PRIVATE", 0, {}, None) for row in rows)
    client, headers = app.test_client(), bearer(ADMIN_TOKEN)
    everything = ["legacy-pipeline", "old-metrics", "streets"]
    assert_page(listing(client, headers, all="true"), everything, 3)
    assert_page(listing(client, headers, all="true", q="pipeline"), ["legacy-pipeline"], 1)
    assert_page(listing(client, headers, all="true", q="metircs"), ["old-metrics"], 1)
    assert_page(listing(client, headers, all="true", q="STRASSEN"), ["streets"], 1)  # two edits from straßen
    assert_page(listing(client, headers, all="true", q="quartz"), [], 0)
    assert_page(listing(client, headers, all="true", q="ÄRGER straßen"), ["streets"], 1)  # Unicode case folding
    assert_page(listing(client, headers, all="true", tag="prod"), ["old-metrics"], 1)  # tags are exact: not "Prod"
    assert_page(listing(client, headers, all="true", label="env:prod"), ["legacy-pipeline"], 1)
    # from now on the services keep the index: a change, a new workspace and a deletion
    put = client.put(f"{API}/workspaces/streets", json={"fullname": "streets", "tags": ["roads"]}, headers=headers)
    assert put.status_code == 200
    assert_page(listing(client, headers, all="true", tag="roads", q="ärger"), ["streets"], 1)
    assert client.put(f"{API}/workspaces/new-roads", json={"fullname": "new-roads"}, headers=headers).status_code == 201
    assert Workspace.get(Workspace.fullname == "new-roads").number == 4
    assert_page(listing(client, headers, all="true", q="roads"), ["new-roads", "streets"], 2)
    assert client.delete(f"{API}/workspaces/legacy-pipeline", headers=headers).status_code == 200
    assert_page(listing(client, headers, all="true", q="pipeline"), [], 0)
    counts = database.execute_sql(
        "SELECT (SELECT COUNT(*) FROM workspace_search), (SELECT COUNT(*) FROM workspace_search_doc), "
        "(SELECT COUNT(*) FROM workspace)").fetchone()
    assert counts == (3, 3, 3)


def test_every_parameter_is_in_the_openapi_document(client):
    operation = client.get("/openapi.json").get_json()["paths"][f"{API}/workspaces"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {
        "limit", "offset", "page", "page_size", "sort", "q", "tag", "label", "created_by", "created_after",
        "created_before", "updated_after", "updated_before", "level", "all", "include_archived"}
    assert all(parameter["in"] == "query" and parameter["description"] for parameter in parameters.values())
    assert parameters["tag"]["schema"]["type"] == "array"
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert set(operation["responses"]["200"]["headers"]) == {
        "X-Total-Count", "Link", "X-Answer-Partial", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        "X-RateLimit-Window"}
    assert {"401", "403", "422"} <= set(operation["responses"])
