"""The geoscience flavor (reference 002): GET /workspace/orgs/{org_id}/workspaces as its clients call it
(its generated client sends filter[created_by], filter[user_id], order_by=asc:name, deleted=false ...),
and the workspace each self_link leads to, over one seeded instance per module. Every answer is checked
whole against the reference: keys and their order, types, paging links, Content-Type, and problem
details (application/problem+json) for 401, 403, 404, 405 and 422. Expectations are derived from the seed."""
from datetime import datetime
from urllib.parse import urlencode

import pytest
from werkzeug.security import generate_password_hash

from conftest import API, SeededModuleApp, basic, bearer
from wsserver import create_app

BASE = "/flavors/geoscience"
ORG = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
OTHER_ORG = "6f1c1b7e-2a9d-4c55-9f0e-1d2c3b4a5f60"
LIST = f"{BASE}/workspace/orgs/{ORG}/workspaces"
KEYS = ["bounding_box", "created_at", "created_by", "current_user_role", "default_coordinate_system", "description",
        "id", "labels", "ml_enabled", "name", "self_link", "updated_at", "updated_by"]
LINK_KEYS = ["count", "first", "last", "next", "previous", "total"]
PROBLEM_KEYS = ["detail", "invalid-params", "status", "title", "type"]
# The documented role words of the native levels (README, "Flavors").
ROLE = {"owner": "owner", "admin": "editor", "developer": "viewer", "user": "viewer"}
RANK = {"user": 1, "developer": 2, "admin": 3, "owner": 4}
USERS = {
    "root": ("5c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "Root"),
    "alice": ("98d91cd7-860d-4869-937a-5af32eff2f4a", "Alice"),
    "bob": ("0b6b7c9e-1f2a-4d3b-9c8d-7e6f5a4b3c2d", "Bob"),
    "carol": ("c4a0b1d2-e3f4-4a5b-8c6d-7e8f9a0b1c2d", "Carol"),
}
NOBODY = "11111111-2222-4333-8444-555555555555"
PASSWORD = "correct horse battery staple"
POLYGON = {"type": "Polygon", "coordinates": [[[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]]]}
# (fullname, fields); the geoscience view of each is derived from these by `expected`
WORKSPACES = [
    ("alpha", {"id": "ws-alpha", "uuid": "0a1b2c3d-0000-4000-8000-00000000000a",
               "meta": {"title": "Alpha", "description": "Drill holes of the north pit"}, "tags": ["geo", "ml"],
               "attributes": {"bounding_box": POLYGON, "default_coordinate_system": "EPSG:4326", "ml_enabled": True},
               "createdAt": "2024-01-05T10:00:00Z", "updatedAt": "2024-03-01T00:00:00Z",
               "createdBy": "alice", "updatedBy": "bob"}),
    ("bravo", {"id": "ws-bravo", "uuid": "0a1b2c3d-0000-4000-8000-00000000000b",
               "createdAt": "2024-01-31T23:59:59.999Z", "updatedAt": "2024-02-01T00:00:00Z", "createdBy": "bob"}),
    # malformed attributes are shown as their defaults
    ("charlie", {"id": "ws-charlie", "uuid": "0a1b2c3d-0000-4000-8000-00000000000c", "meta": {"title": "Charlie"},
                 "attributes": {"bounding_box": {"type": "Point", "coordinates": [1, 2]}, "ml_enabled": "yes",
                                "default_coordinate_system": 4326},
                 "createdAt": "2024-02-01T00:00:00Z", "updatedAt": "2024-02-15T12:00:00Z", "createdBy": "alice"}),
    # archived: the service has no archive, so it is listed
    ("delta", {"id": "ws-delta", "uuid": "0a1b2c3d-0000-4000-8000-00000000000d", "meta": {"title": "delta"},
               "createdAt": "2024-02-10T08:30:00Z", "updatedAt": "2024-02-11T08:30:00Z", "createdBy": "bob",
               "archivedAt": "2024-02-12T00:00:00Z"}),
    ("echo", {"id": "ws-echo", "uuid": "0a1b2c3d-0000-4000-8000-00000000000e", "meta": {"title": "Echo"},
              "createdAt": "2024-02-20T00:00:00Z", "updatedAt": "2024-02-21T00:00:00Z", "createdBy": "alice",
              "deletedAt": "2024-02-22T00:00:00Z"}),
    ("foxtrot", {"id": "ws-foxtrot", "uuid": "0a1b2c3d-0000-4000-8000-00000000000f", "organization": OTHER_ORG,
                 "createdAt": "2024-01-10T00:00:00Z", "createdBy": "alice"}),
    ("golf", {"id": "ws-golf", "uuid": "0a1b2c3d-0000-4000-8000-000000000010", "meta": {"title": "Golf"},
              "createdAt": "2024-01-20T00:00:00Z", "createdBy": "carol"}),
] + [  # bob's: more than a default page
    (f"filler-{n:02}", {"id": f"ws-filler-{n:02}", "uuid": f"0a1b2c3d-0000-4000-8000-0000000001{n:02}",
                        "createdAt": f"2023-06-{n:02}T00:00:00Z", "createdBy": "bob"})
    for n in range(1, 23)
]
MEMBERSHIPS = [
    ("alpha", "alice", "owner"), ("alpha", "bob", "admin"),
    ("bravo", "bob", "owner"), ("bravo", "alice", "developer"),
    ("charlie", "alice", "user"), ("charlie", "bob", "owner"),
    ("delta", "bob", "owner"), ("delta", "alice", "owner"),
    ("echo", "alice", "owner"), ("foxtrot", "alice", "owner"), ("golf", "carol", "owner"),
] + [(f"filler-{n:02}", "bob", "owner") for n in range(1, 23)]
MALFORMED = {"charlie"}
SEED = {
    "version": 3,
    "organizations": [{"id": ORG, "name": "Acme", "default": True}, {"id": OTHER_ORG, "name": "Other"}],
    "accounts": [{"username": name, "uuid": user, "nickname": nickname, "tokens": [f"{name}-token"],
                  "passwordHash": generate_password_hash(PASSWORD), "admin": name == "root"}
                 for name, (user, nickname) in USERS.items()],
    "workspaces": [{"fullname": fullname, **fields} for fullname, fields in WORKSPACES],
    "memberships": [{"workspace": w, "account": a, "level": level} for w, a, level in MEMBERSHIPS],
}
ALICE, BOB, CAROL, ROOT = (bearer(f"{name}-token") for name in ("alice", "bob", "carol", "root"))
CALLERS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "root": ROOT}


def stored_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def user(username):
    uuid, nickname = USERS[username]
    return {"email": None, "id": uuid, "name": nickname}


def level_of(fullname, caller):
    return next((level for w, a, level in MEMBERSHIPS if w == fullname and a == caller), None)


def expected(fullname, caller, mount=BASE):
    """The reference's workspace for a seeded one, as `caller` sees it."""
    fields = dict(WORKSPACES)[fullname]
    attributes = {} if fullname in MALFORMED else fields.get("attributes", {})
    level = level_of(fullname, caller)
    return {
        "bounding_box": attributes.get("bounding_box"),
        "created_at": stored_time(fields["createdAt"]),
        "created_by": user(fields["createdBy"]),
        "current_user_role": ROLE[level] if level else None,
        "default_coordinate_system": attributes.get("default_coordinate_system", ""),
        "description": fields.get("meta", {}).get("description", ""),
        "id": fields["uuid"],
        "labels": fields.get("tags", []),
        "ml_enabled": attributes.get("ml_enabled", False),
        "name": fields.get("meta", {}).get("title", fullname),
        "self_link": f"http://localhost{mount}/workspace/orgs/{ORG}/workspaces/{fields['uuid']}",
        "updated_at": stored_time(fields.get("updatedAt", fields["createdAt"])),
        "updated_by": user(fields.get("updatedBy", fields["createdBy"])),
    }


def visible(caller, deleted=False, keep=lambda fullname, fields: True):
    """The caller's workspaces of ORG (those in the trash too with `deleted`) that `keep` keeps."""
    return [fullname for fullname, fields in WORKSPACES
            if level_of(fullname, caller) and fields.get("organization", ORG) == ORG
            and (deleted or "deletedAt" not in fields) and keep(fullname, fields)]


def ordered(fullnames, keys, caller):
    """`fullnames` sorted by keys [(field, descending)], ties by the native id in the last key's direction."""
    fields = dict(WORKSPACES)
    values = {
        "name": lambda w: fields[w].get("meta", {}).get("title", w).lower(),
        "created_at": lambda w: moment(fields[w]["createdAt"]),
        "updated_at": lambda w: moment(fields[w].get("updatedAt", fields[w]["createdAt"])),
        "user_role": lambda w: RANK.get(level_of(w, caller), 0),
    }
    result = sorted(fullnames, key=lambda w: fields[w]["id"], reverse=keys[-1][1])
    for field, descending in reversed(keys):
        result = sorted(result, key=values[field], reverse=descending)
    return result


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    """(app, its settings): one app over the seeded instance (conftest.SeededModuleApp)."""
    module_app = SeededModuleApp(request, tmp_path_factory, "geoscience", SEED, TRASH_DAYS=36500, LOGIN_LOCKOUT="off")
    return module_app.app, module_app.settings, module_app


@pytest.fixture(autouse=True)
def state(seeded, database_of_this_test):
    """The seeded state for every test (PostgreSQL: the tables were emptied before it)."""
    seeded[2].reseed(database_of_this_test)


@pytest.fixture
def client(seeded):
    return seeded[0].test_client()


def listed(client, params=(), headers=ALICE, url=LIST, caller="alice", mount=BASE):
    """A 200 list answer, checked whole: its shape, key order, links' types, every workspace as expected
    for `caller`. Returns (fullnames in order, links)."""
    answer = client.get(url, query_string=list(params.items()) if isinstance(params, dict) else list(params),
                        headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert list(body) == ["links", "results"]
    links = body["links"]
    assert list(links) == LINK_KEYS
    assert links["count"] == len(body["results"])
    assert isinstance(links["total"], int) and links["total"] >= links["count"]
    by_uuid = {fields["uuid"]: fullname for fullname, fields in WORKSPACES}
    names = []
    for item in body["results"]:
        assert list(item) == KEYS
        assert list(item["created_by"]) == ["email", "id", "name"] and list(item["updated_by"]) == ["email", "id", "name"]
        fullname = by_uuid[item["id"]]
        assert item == expected(fullname, caller, mount)
        names.append(fullname)
    return names, links


def all_listed(client, params=(), **kwargs):
    names, links = listed(client, [*dict(params).items(), ("limit", 100)], **kwargs)
    assert links["total"] == len(names)
    return names


def assert_problem(answer, status, invalid=None):
    """Problem details (RFC 9457) with this status; `invalid`: exactly the parameters invalid-params names."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert list(body) == PROBLEM_KEYS
    assert body["status"] == status and body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"] and isinstance(body["detail"], str) and body["detail"]
    if invalid is None:
        assert body["invalid-params"] is None
    else:
        assert all(list(item) == ["name", "reason"] and item["reason"] for item in body["invalid-params"])
        assert {item["name"] for item in body["invalid-params"]} == set(invalid), body
    return body


# --- the answer -------------------------------------------------------------------------------------------


def test_the_list_shows_every_field_of_the_reference_in_its_order(client):
    names, links = listed(client)
    assert names == ordered(visible("alice"), [("name", False)], "alice")
    assert links["count"] == links["total"] == len(visible("alice"))
    assert links["next"] is None and links["previous"] is None
    assert links["first"] == links["last"] == f"http://localhost{LIST}?limit=20&offset=0"


def test_each_role_word_is_the_documented_mapping_of_the_native_level(client):
    shown = {expected(fullname, "alice")["current_user_role"] for fullname in visible("alice")}
    assert shown == {"owner", "viewer"}  # alice: owner, developer, user
    names = all_listed(client, headers=BOB, caller="bob")
    assert "alpha" in names  # bob is an admin there: editor (checked whole by `listed`)
    assert expected("alpha", "bob")["current_user_role"] == "editor"


def test_basic_credentials_work_as_a_bearer_token(client):
    names, _ = listed(client, headers=basic("alice", PASSWORD))
    assert names == ordered(visible("alice"), [("name", False)], "alice")


def test_unknown_parameters_are_ignored_and_kept_in_the_links(client):
    names, links = listed(client, [("foo", "bar"), ("limit", "1")])
    assert names == ordered(visible("alice"), [("name", False)], "alice")[:1]
    assert links["first"] == f"http://localhost{LIST}?foo=bar&limit=1&offset=0"


# --- paging -----------------------------------------------------------------------------------------------


def test_default_page_is_20_and_next_leads_on(client):
    everything = ordered(visible("bob"), [("name", False)], "bob")
    assert len(everything) > 20
    names, links = listed(client, headers=BOB, caller="bob")
    assert names == everything[:20]
    assert links["next"] == f"http://localhost{LIST}?limit=20&offset=20"
    rest, links = listed(client, [("limit", 20), ("offset", 20)], headers=BOB, caller="bob")
    assert rest == everything[20:] and links["next"] is None
    assert links["previous"] == links["first"] == f"http://localhost{LIST}?limit=20&offset=0"


def test_links_at_the_first_a_middle_and_the_last_page(client):
    params = [("order_by", "desc:created_at")]
    everything = ordered(visible("alice"), [("created_at", True)], "alice")
    total = len(everything)
    assert total >= 3

    def url(offset):
        return f"http://localhost{LIST}?{urlencode(params + [('limit', 1), ('offset', offset)])}"

    for offset in range(total):
        names, links = listed(client, params + [("limit", 1), ("offset", offset)])
        assert names == everything[offset:offset + 1]
        assert links == {
            "count": 1, "first": url(0), "last": url(total - 1),
            "next": url(offset + 1) if offset + 1 < total else None,
            "previous": url(offset - 1) if offset else None, "total": total,
        }


def test_a_page_past_the_end_is_empty_and_last_is_the_last_real_page(client):
    total = len(visible("alice"))
    names, links = listed(client, [("limit", 2), ("offset", 50)])
    assert names == [] and links["count"] == 0 and links["total"] == total and links["next"] is None
    assert links["last"] == f"http://localhost{LIST}?limit=2&offset={((total - 1) // 2) * 2}"
    assert links["previous"] == f"http://localhost{LIST}?limit=2&offset=48"


@pytest.mark.parametrize("limit, offset", [("0", None), ("101", None), ("-1", None), ("ten", None), (None, "-1"),
                                           (None, "x")])
def test_limit_1_to_100_and_offset_from_0_else_422(client, limit, offset):
    params = {name: value for name, value in (("limit", limit), ("offset", offset)) if value is not None}
    assert_problem(client.get(LIST, query_string=params, headers=ALICE), 422, invalid=list(params))


def test_limit_100_is_accepted(client):
    names, links = listed(client, {"limit": 100}, headers=BOB, caller="bob")
    assert len(names) == links["total"] == len(visible("bob"))


# --- sorting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at",
                                  "user_role", "-user_role", "user_role,-name", "-user_role,created_at"])
def test_each_sort_form(client, sort):
    keys = [(item.lstrip("-"), item.startswith("-")) for item in sort.split(",")]
    assert all_listed(client, {"sort": sort}) == ordered(visible("alice"), keys, "alice")


@pytest.mark.parametrize("order_by", ["asc:name", "desc:name", "name", "asc:created_at", "desc:created_at",
                                      "updated_at", "desc:updated_at", "asc:user_role", "desc:user_role",
                                      "asc:user_role,desc:name", "desc:user_role,updated_at"])
def test_each_order_by_form(client, order_by):
    keys = [(item.rpartition(":")[2], item.startswith("desc:")) for item in order_by.split(",")]
    assert all_listed(client, {"order_by": order_by}) == ordered(visible("alice"), keys, "alice")


def test_user_role_ties_are_broken_by_the_next_key(client):
    owners = [w for w in visible("alice") if level_of(w, "alice") == "owner"]
    assert len(owners) >= 2  # a real tie
    names = all_listed(client, {"order_by": "desc:user_role,desc:name"})
    assert names[:len(owners)] == sorted(owners, key=lambda w: expected(w, "alice")["name"].lower(), reverse=True)


@pytest.mark.parametrize("params, invalid", [
    ({"sort": "size"}, ["sort"]), ({"sort": "+name"}, ["sort"]), ({"sort": "name:desc"}, ["sort"]),
    ({"order_by": "down:name"}, ["order_by"]), ({"order_by": "-name"}, ["order_by"]),
    ({"sort": "name", "order_by": "asc:name"}, ["sort", "order_by"]),
])
def test_a_bad_sort_or_both_sort_and_order_by_is_422(client, params, invalid):
    assert_problem(client.get(LIST, query_string=params, headers=ALICE), 422, invalid=invalid)


# --- filters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["created_by", "filter[created_by]"])
def test_created_by_under_both_names(client, name):
    for creator in ("alice", "bob"):
        keep = lambda fullname, fields, creator=creator: fields["createdBy"] == creator  # noqa: E731
        names = all_listed(client, {name: USERS[creator][0]})
        assert names == ordered(visible("alice", keep=keep), [("name", False)], "alice") and names


def test_created_by_an_unknown_user_matches_nothing_and_a_bad_one_is_422(client):
    assert all_listed(client, {"filter[created_by]": NOBODY}) == []
    assert_problem(client.get(LIST, query_string={"filter[created_by]": "alice"}, headers=ALICE), 422,
                   invalid=["filter[created_by]"])
    both = {"created_by": USERS["alice"][0], "filter[created_by]": USERS["bob"][0]}
    assert_problem(client.get(LIST, query_string=both, headers=ALICE), 422, invalid=list(both))
    same = {"created_by": USERS["bob"][0], "filter[created_by]": USERS["bob"][0]}
    assert all_listed(client, same) == all_listed(client, {"created_by": USERS["bob"][0]})


def _day(text):
    return moment(text + "T00:00:00Z")


# (parameter value, predicate over the stored moment)
COMPARISONS = [
    ("2024-01-05", lambda t: _day("2024-01-05") <= t < _day("2024-01-06")),
    ("eq:2024-02-01", lambda t: _day("2024-02-01") <= t < _day("2024-02-02")),
    ("eq:2024-01-31T23:59:59.999Z", lambda t: t == moment("2024-01-31T23:59:59.999Z")),
    ("2024-02-01T00:00:00", lambda t: t == _day("2024-02-01")),
    ("gte:2024-02-01", lambda t: t >= _day("2024-02-01")),
    ("gt:2024-01-31", lambda t: t >= _day("2024-02-01")),
    ("lt:2024-02-01", lambda t: t < _day("2024-02-01")),
    ("lte:2024-01-31", lambda t: t < _day("2024-02-01")),
    ("gt:2024-01-31T23:59:59.999Z", lambda t: t > moment("2024-01-31T23:59:59.999Z")),
    ("lte:2024-02-01T00:00:00Z", lambda t: t <= _day("2024-02-01")),
    ("gte:2024-02-01T01:00:00+01:00", lambda t: t >= _day("2024-02-01")),
    ("gte:2024-01-01,lt:2024-02-01", lambda t: _day("2024-01-01") <= t < _day("2024-02-01")),
    ("gt:2024-01-05T10:00:00Z,lte:2024-02-15", lambda t: moment("2024-01-05T10:00:00Z") < t < _day("2024-02-16")),
]


@pytest.mark.parametrize("value, holds", COMPARISONS, ids=[value for value, _ in COMPARISONS])
@pytest.mark.parametrize("parameter, field", [("created_at", "createdAt"), ("updated_at", "updatedAt")])
def test_each_comparison_form(client, parameter, field, value, holds):
    def keep(fullname, fields):
        return holds(moment(fields.get(field, fields["createdAt"])))

    names = all_listed(client, {parameter: value}, headers=BOB, caller="bob")
    assert names == ordered(visible("bob", keep=keep), [("name", False)], "bob")


def test_the_comparisons_pick_what_they_should(client):
    """The predicates above are not vacuous: each date form tells workspaces apart here."""
    assert all_listed(client, {"created_at": "2024-01-05"}) == ["alpha"]
    assert all_listed(client, {"created_at": "gte:2024-01-01,lt:2024-02-01"}) == ["alpha", "bravo"]
    assert all_listed(client, {"updated_at": "gt:2024-02-01"}, headers=BOB, caller="bob") == ["alpha", "charlie", "delta"]
    # a "+" of an offset that the client did not percent-encode arrives as a space: still the offset
    unencoded = client.get(f"{LIST}?created_at=gte:2024-02-01T01:00:00+01:00&limit=100", headers=ALICE)
    assert [item["name"] for item in unencoded.get_json()["results"]] == [
        expected(w, "alice")["name"] for w in all_listed(client, {"created_at": "gte:2024-02-01"})]


@pytest.mark.parametrize("value", ["yesterday", "gte:", "between:2024-01-01", "gte:2024-13-01",
                                   "gte:2024-01-01,lt:2024-02-01,lt:2024-03-01", "2024-01-01,lt:2024-02-01",
                                   "gte:2024-01-01;lt:2024-02-01", "eq:2024-01-01,lt:2024-02-01",
                                   "gte:2024-01-01 ", "2024-02-30", "lt:10:00"])
def test_a_bad_comparison_is_422(client, value):
    assert_problem(client.get(LIST, query_string={"created_at": value}, headers=ALICE), 422, invalid=["created_at"])


@pytest.mark.parametrize("name", ["name", "filter[name]"])
def test_name_matches_the_whole_name_whatever_its_case(client, name):
    assert all_listed(client, {name: "ALPHA"}) == ["alpha"]
    assert all_listed(client, {name: "bravo"}) == ["bravo"]  # no title: the fullname
    assert all_listed(client, {name: "alp"}) == []


def test_deleted_true_includes_the_trash(client):
    with_trash = all_listed(client, {"deleted": "true"})
    assert with_trash == ordered(visible("alice", deleted=True), [("name", False)], "alice")
    assert set(with_trash) - set(all_listed(client, {"deleted": "false"})) == {"echo"}
    assert all_listed(client, {"deleted": "false"}) == all_listed(client)
    assert_problem(client.get(LIST, query_string={"deleted": "maybe"}, headers=ALICE), 422, invalid=["deleted"])


def test_other_organizations_workspaces_are_not_listed(client):
    assert "foxtrot" not in all_listed(client)
    assert level_of("foxtrot", "alice") == "owner"


def test_another_organization_of_the_instance_lists_its_own_workspaces(client):
    url = f"{BASE}/workspace/orgs/{OTHER_ORG}/workspaces"
    answer = client.get(url, headers=ALICE)
    assert answer.status_code == 200
    assert [item["id"] for item in answer.get_json()["results"]] == [dict(WORKSPACES)["foxtrot"]["uuid"]]


@pytest.mark.parametrize("name", ["user_id", "filter[user_id]"])
def test_user_id_lists_that_users_workspaces_for_instance_admins(client, name):
    for username in ("carol", "alice"):
        names = all_listed(client, {name: USERS[username][0]}, headers=ROOT, caller="root")
        assert names == ordered(visible(username), [("name", False)], username) and names
    assert all_listed(client, {name: NOBODY}, headers=ROOT, caller="root") == []


@pytest.mark.parametrize("caller", ["alice", "carol"])
def test_user_id_is_403_for_others_even_their_own(client, caller):
    answer = client.get(LIST, query_string={"filter[user_id]": USERS[caller][0]}, headers=CALLERS[caller])
    assert_problem(answer, 403)


def test_filters_combine(client):
    params = {"filter[created_by]": USERS["bob"][0], "updated_at": "gte:2024-02-01", "order_by": "desc:name"}

    def keep(fullname, fields):
        return fields["createdBy"] == "bob" and moment(fields.get("updatedAt", fields["createdAt"])) >= _day("2024-02-01")

    names = all_listed(client, params)
    assert names == ordered(visible("alice", keep=keep), [("name", True)], "alice") and names


def test_a_repeated_parameter_is_422(client):
    assert_problem(client.get(f"{LIST}?limit=1&limit=2", headers=ALICE), 422, invalid=["limit"])


# --- the organization and errors --------------------------------------------------------------------------


def test_an_unknown_organization_is_404_and_a_malformed_one_422(client):
    assert_problem(client.get(f"{BASE}/workspace/orgs/{NOBODY}/workspaces", headers=ALICE), 404)
    assert_problem(client.get(f"{BASE}/workspace/orgs/acme/workspaces", headers=ALICE), 422, invalid=["org_id"])
    # the same organization in upper case
    names, _ = listed(client, url=f"{BASE}/workspace/orgs/{ORG.upper()}/workspaces")
    assert names == ordered(visible("alice"), [("name", False)], "alice")


@pytest.mark.parametrize("headers", [{}, bearer("wrong-token"), basic("alice", "wrong password")])
def test_without_valid_credentials_401_problem(client, headers):
    answer = client.get(LIST, headers=headers)
    body = assert_problem(answer, 401)
    assert body["title"] == "Unauthorized"
    assert "Bearer" in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("method, url", [("post", LIST), ("delete", LIST), ("put", f"{LIST}/{NOBODY}"),
                                         ("patch", f"{LIST}/{NOBODY}")])
def test_other_methods_are_405_problem(client, method, url):
    answer = getattr(client, method)(url, headers=ALICE)
    assert_problem(answer, 405)
    assert "GET" in answer.headers["Allow"]


def test_unknown_paths_of_the_flavor_are_404_problem(client):
    assert_problem(client.get(f"{BASE}/workspace/orgs", headers=ALICE), 404)
    assert_problem(client.get(f"{BASE}/workspace/orgs/{ORG}/workspaces/{NOBODY}/users", headers=ALICE), 404)


def test_422_names_every_invalid_parameter(client):
    answer = client.get(LIST, query_string={"limit": "0", "sort": "x", "deleted": "x"}, headers=ALICE)
    body = assert_problem(answer, 422, invalid=["limit", "sort", "deleted"])
    assert body["title"] == "Unprocessable Content"


# --- one workspace: where self_link leads -----------------------------------------------------------------


def test_self_link_leads_to_the_workspace(client):
    _, links = listed(client)
    for fullname in visible("alice"):
        answer = client.get(expected(fullname, "alice")["self_link"], headers=ALICE)
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        body = answer.get_json()
        assert list(body) == KEYS and body == expected(fullname, "alice")


def test_one_workspace_404_where_the_caller_has_no_role_or_it_is_elsewhere(client):
    golf, foxtrot = dict(WORKSPACES)["golf"]["uuid"], dict(WORKSPACES)["foxtrot"]["uuid"]
    assert_problem(client.get(f"{LIST}/{golf}", headers=ALICE), 404)
    assert_problem(client.get(f"{LIST}/{NOBODY}", headers=ALICE), 404)
    assert_problem(client.get(f"{LIST}/{foxtrot}", headers=ALICE), 404)  # in another organization
    assert_problem(client.get(f"{LIST}/not-a-uuid", headers=ALICE), 422, invalid=["workspace_id"])
    assert_problem(client.get(f"{BASE}/workspace/orgs/x/workspaces/y", headers=ALICE), 422,
                   invalid=["org_id", "workspace_id"])
    # an instance admin reads any, without a role in it
    answer = client.get(f"{LIST}/{golf}", headers=ROOT)
    assert answer.status_code == 200 and answer.get_json() == expected("golf", "root")


def test_one_workspace_in_the_trash_only_with_deleted_true(client):
    echo = dict(WORKSPACES)["echo"]["uuid"]
    assert_problem(client.get(f"{LIST}/{echo}", query_string={"deleted": "false"}, headers=ALICE), 404)
    answer = client.get(f"{LIST}/{echo}", query_string={"deleted": "true"}, headers=ALICE)
    assert answer.status_code == 200 and answer.get_json() == expected("echo", "alice")
    assert_problem(client.get(f"{LIST}/{echo}", headers=ALICE, query_string={"deleted": "2"}), 422,
                   invalid=["deleted"])


# --- the mount --------------------------------------------------------------------------------------------


def test_mounted_at_the_root(seeded):
    """FLAVORS="geoscience=/": the same store at /workspace/...; the native API stays at /api/v2 and /api
    (this flavor has no path under /api), and the default mount is not served."""
    _, settings, _ = seeded
    root = create_app({**{key: value for key, value in settings.items() if key != "SEED_FILE"},
                       "FLAVORS": "geoscience=/"})
    client = root.test_client()
    names, links = listed(client, url=f"/workspace/orgs/{ORG}/workspaces", mount="")
    assert names == ordered(visible("alice"), [("name", False)], "alice")
    assert links["first"] == f"http://localhost/workspace/orgs/{ORG}/workspaces?limit=20&offset=0"
    assert_problem(client.get(f"/workspace/orgs/{NOBODY}/workspaces", headers=ALICE), 404)
    assert_problem(client.post(f"/workspace/orgs/{ORG}/workspaces", headers=ALICE), 405)
    assert client.get(LIST, headers=ALICE).status_code == 404
    assert client.get(f"{API}/me", headers=ALICE).status_code == 200
    assert client.get("/api/me", headers=ALICE).status_code == 200
    spec = client.get("/openapi.json").get_json()
    assert "/workspace/orgs/{org_id}/workspaces" in spec["paths"]


# --- the OpenAPI document ---------------------------------------------------------------------------------


def test_the_operations_are_documented_under_their_own_tag_with_problem_errors(client):
    spec = client.get("/openapi.json").get_json()
    operations = {path: item["get"] for path, item in spec["paths"].items() if path.startswith(BASE)}
    assert sorted(operation["operationId"] for operation in operations.values()) == [
        "geoscienceGetWorkspace", "geoscienceListWorkspaces"]
    listing = operations[f"{BASE}/workspace/orgs/{{org_id}}/workspaces"]
    assert {parameter["name"] for parameter in listing["parameters"]} == {
        "limit", "offset", "sort", "order_by", "created_by", "filter[created_by]", "created_at", "updated_at",
        "name", "filter[name]", "deleted", "user_id", "filter[user_id]"}
    for operation in operations.values():
        assert operation["tags"] == ["geoscience"]
        for status in ("401", "404", "405", "422"):
            reference = operation["responses"][status]["$ref"].rsplit("/", 1)[1]
            content = spec["components"]["responses"][reference]["content"]
            assert list(content) == ["application/problem+json"]
    assert "403" in listing["responses"]
