"""The platform flavor (reference 003, a FastAPI service): GET /workspaces as its clients call it, over
one seeded instance per module, checked against the reference's shapes: the plain array of workspaces
(exact keys, order, types), every filter, sort, search, paging, X-API-Version, and FastAPI's errors."""
import uuid

import pytest
from werkzeug.security import generate_password_hash

from conftest import ADMIN_TOKEN, API, SeededModuleApp, basic, bearer
from wsserver import create_app

BASE = "/flavors/platform"
KEYS = ["id", "identifier", "name", "owner_id", "workspace_type", "domain_name", "created_at", "updated_at",
        "created_by", "updated_by"]
USERS = {
    "alice": "98d91cd7-860d-4869-937a-5af32eff2f4a",
    "bob": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "carol": "0b6b7c9e-1f2a-4d3b-9c8d-7e6f5a4b3c2d",
    "root": "5c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
}
NOBODY = "11111111-2222-4333-8444-555555555555"
PASSWORD = "correct horse battery staple"
# (fullname, fields): what the platform shows of each is derived from these by `expected`
WORKSPACES = [
    ("delay", {"meta": {"title": "Delay Technologies", "description": "Latency research"},
               "uuid": "d4add56e-c345-4ac9-b392-7a890a60559a", "attributes": {"domain_name": "d3lay.com"},
               "createdAt": "2023-05-06T00:00:00Z", "updatedAt": "2024-03-01T12:00:00Z",
               "createdBy": "bob", "updatedBy": "alice"}),
    ("ben", {"meta": {"title": "Ben's Coding", "description": "A place for code reviews"},
             "uuid": "e513d2c8-319e-4bc3-898b-3933ab39b452", "attributes": {"domain_name": "benwk.com"},
             "createdAt": "2023-05-07T00:00:00Z", "updatedAt": "2023-05-07T00:00:00Z",
             "createdBy": "alice", "updatedBy": "alice"}),
    ("gamma-lab", {"meta": {"description": "Seismic research notes"},
                   "uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "attributes": {"ml_enabled": True},
                   "createdAt": "2024-01-02T03:04:05.678Z", "updatedAt": "2024-02-01T00:00:00Z",
                   "createdBy": "bob", "updatedBy": "carol"}),
    # never listed for alice: archived, in the trash, not a member
    ("old-archive", {"uuid": "a1a1a1a1-0000-4000-8000-000000000001", "createdAt": "2023-01-01T00:00:00Z",
                     "createdBy": "alice", "archivedAt": "2023-02-01T00:00:00Z"}),
    ("binned", {"uuid": "a1a1a1a1-0000-4000-8000-000000000002", "createdAt": "2023-01-01T00:00:00Z",
                "createdBy": "alice", "deletedAt": "2099-01-01T00:00:00Z"}),
    ("carols-own", {"meta": {"title": "Technologies of Carol"}, "uuid": "a1a1a1a1-0000-4000-8000-000000000003",
                    "createdAt": "2023-05-06T00:00:00Z", "createdBy": "carol"}),
]
# (workspace, account, level, since): delay's longest-standing owner is bob, though alice owns it too
MEMBERSHIPS = [
    ("delay", "bob", "owner", "2023-05-06T00:00:00Z"), ("delay", "alice", "owner", "2023-06-01T00:00:00Z"),
    ("ben", "alice", "owner", "2023-05-07T00:00:00Z"),
    ("gamma-lab", "bob", "owner", "2024-01-02T03:04:05.678Z"), ("gamma-lab", "alice", "developer", "2024-01-03T00:00:00Z"),
    ("gamma-lab", "carol", "user", "2024-01-04T00:00:00Z"),
    ("old-archive", "alice", "owner", "2023-01-01T00:00:00Z"), ("binned", "alice", "owner", "2023-01-01T00:00:00Z"),
    ("carols-own", "carol", "owner", "2023-05-06T00:00:00Z"),
]
PASSWORD_HASH = generate_password_hash(PASSWORD)
SEED = {
    "version": 3,
    "accounts": [{"username": name, "uuid": user, "tokens": [f"{name}-token"], "passwordHash": PASSWORD_HASH,
                  "admin": name == "root"} for name, user in USERS.items()],
    "workspaces": [{"fullname": fullname, **fields} for fullname, fields in WORKSPACES],
    "memberships": [{"workspace": w, "account": a, "level": level, "createdAt": since} for w, a, level, since in MEMBERSHIPS],
}
ALICE = bearer("alice-token")


def expected(fullname):
    """The reference's workspace for a seeded one, derived from the seed."""
    fields = dict(WORKSPACES)[fullname]
    members = [(account, level, since) for w, account, level, since in MEMBERSHIPS if w == fullname]
    first_owner = min((since, account) for account, level, since in members if level == "owner")[1]

    def pydantic_time(text):  # whole seconds: no fraction; else six digits
        whole, dot, fraction = text.rstrip("Z").partition(".")
        return f"{whole}{dot}{fraction.ljust(6, '0') if dot else ''}Z"

    return {
        "id": fields["uuid"],
        "identifier": fullname,
        "name": fields.get("meta", {}).get("title", fullname),
        "owner_id": USERS[first_owner],
        "workspace_type": "single_user" if len(members) == 1 else "multi_user",
        "domain_name": fields.get("attributes", {}).get("domain_name"),
        "created_at": pydantic_time(fields["createdAt"]),
        "updated_at": pydantic_time(fields.get("updatedAt", fields["createdAt"])),
        "created_by": USERS[fields["createdBy"]],
        "updated_by": USERS[fields.get("updatedBy", fields["createdBy"])],
    }


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    """(app, its settings): one app over the seeded instance (conftest.SeededModuleApp)."""
    module_app = SeededModuleApp(request, tmp_path_factory, "platform", SEED)
    return module_app.app, module_app.settings, module_app


@pytest.fixture(autouse=True)
def state(seeded, database_of_this_test):
    """The seeded state for every test (PostgreSQL: the tables were emptied before it)."""
    seeded[2].reseed(database_of_this_test)


@pytest.fixture
def client(seeded):
    return seeded[0].test_client()


def listed(client, headers=ALICE, status=200, **params):
    """GET /workspaces: the answer, checked as the reference's plain array of whole workspaces."""
    answer = client.get(f"{BASE}/workspaces", query_string=params, headers=headers)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    assert answer.headers["X-API-Version"] == "v1"
    body = answer.get_json()
    if status == 200:
        assert isinstance(body, list)
        for item in body:
            assert list(item) == KEYS
        assert int(answer.headers["X-Total-Count"]) >= len(body)
    return answer, body


def identifiers(client, **params):
    answer, body = listed(client, **params)
    return [item["identifier"] for item in body], int(answer.headers["X-Total-Count"])


# --- the answer ---------------------------------------------------------------------------------------


def test_the_list_is_the_reference_array_of_the_callers_workspaces_oldest_first(client):
    answer, body = listed(client)
    assert body == [expected("delay"), expected("ben"), expected("gamma-lab")]
    assert answer.headers["X-Total-Count"] == "3"
    assert answer.get_data(as_text=True).startswith('[{"id":"d4add56e-c345-4ac9-b392-7a890a60559a","identifier":')


def test_each_field_has_the_reference_type_and_format(client):
    _, body = listed(client)
    for item in body:
        for key in ("id", "owner_id", "created_by", "updated_by"):
            assert str(uuid.UUID(item[key])) == item[key]
        assert item["workspace_type"] in ("single_user", "multi_user")
        for key in ("created_at", "updated_at"):
            assert item[key].endswith("Z") and "+" not in item[key]
        assert isinstance(item["identifier"], str) and isinstance(item["name"], str)
        assert item["domain_name"] is None or isinstance(item["domain_name"], str)
    gamma = body[2]
    assert (gamma["name"], gamma["domain_name"], gamma["created_at"]) == (
        "gamma-lab", None, "2024-01-02T03:04:05.678000Z")
    assert body[0]["created_at"] == "2023-05-06T00:00:00Z"


def test_workspace_type_and_owner_follow_the_memberships(client, seeded):
    app, _, _ = seeded
    assert identifiers(client, workspace_type="single_user") == (["ben"], 1)
    assert identifiers(client, workspace_type="multi_user") == (["delay", "gamma-lab"], 2)
    bob = bearer("bob-token")
    # bob leaves delay: alice stays as its only member and owner
    with app.app_context():
        from wsserver.storage.models import AclEntry, Account, Workspace

        delay = Workspace.get(Workspace.fullname == "delay")
        AclEntry.delete().where((AclEntry.workspace == delay.id)
                                & (AclEntry.account == Account.get(Account.username == "bob").id)).execute()
    try:
        _, body = listed(client, id=expected("delay")["id"])
        assert (body[0]["workspace_type"], body[0]["owner_id"]) == ("single_user", USERS["alice"])
        assert listed(client, headers=bob)[1] == [expected("gamma-lab")]
    finally:
        with app.app_context():
            from wsserver.testing.seed import seed_instance, validate_document

            seed_instance(validate_document(SEED), replace=True)


# --- filters --------------------------------------------------------------------------------------------


def test_id_filters_by_the_workspace_uuid_in_any_case(client):
    ben = expected("ben")["id"]
    assert listed(client, id=ben)[1] == [expected("ben")]
    assert listed(client, id=ben.upper())[1] == [expected("ben")]
    assert identifiers(client, id=NOBODY) == ([], 0)
    # a workspace of someone else, by its id: not the caller's, not listed
    assert identifiers(client, id=dict(WORKSPACES)["carols-own"]["uuid"]) == ([], 0)


@pytest.mark.parametrize("parameter, user, names", [
    ("created_by", "bob", ["delay", "gamma-lab"]),
    ("created_by", "alice", ["ben"]),
    ("updated_by", "carol", ["gamma-lab"]),
    ("updated_by", "alice", ["delay", "ben"]),
    ("owner_id", "alice", ["delay", "ben"]),  # any owner, not only the one shown
    ("owner_id", "bob", ["delay", "gamma-lab"]),
    ("owner_id", "carol", []),
])
def test_user_filters_take_user_uuids(client, parameter, user, names):
    assert identifiers(client, **{parameter: USERS[user]}) == (names, len(names))


@pytest.mark.parametrize("parameter", ["created_by", "updated_by", "owner_id"])
def test_a_user_that_does_not_exist_matches_nothing(client, parameter):
    answer, body = listed(client, **{parameter: NOBODY})
    assert body == [] and answer.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("params, names", [
    ({"created_at_from": "2023-05-07T00:00:00Z"}, ["ben", "gamma-lab"]),  # inclusive
    ({"created_at_to": "2023-05-07T00:00:00Z"}, ["delay"]),  # exclusive
    ({"created_at_from": "2023-05-06T00:00:00Z", "created_at_to": "2023-05-06T00:00:00.001Z"}, ["delay"]),
    ({"created_at_from": "2024-01-02T03:04:05.678Z"}, ["gamma-lab"]),
    ({"created_at_from": "2024-01-02T03:04:05.679Z"}, []),
    ({"created_at_from": "2023-05-07"}, ["ben", "gamma-lab"]),  # a date: its midnight UTC
    ({"created_at_from": "2023-05-07T02:00:00+02:00"}, ["ben", "gamma-lab"]),
    ({"updated_at_from": "2024-02-01T00:00:00Z"}, ["delay", "gamma-lab"]),
    ({"updated_at_to": "2024-02-01T00:00:00Z"}, ["ben"]),
    ({"updated_at_from": "2024-01-01T00:00:00Z", "updated_at_to": "2024-03-01T00:00:00Z"}, ["gamma-lab"]),
])
def test_time_ranges_from_inclusive_to_exclusive(client, params, names):
    assert identifiers(client, **params) == (names, len(names))


def test_filters_combine(client):
    assert identifiers(client, created_by=USERS["bob"], workspace_type="multi_user",
                       updated_at_from="2024-02-15T00:00:00Z") == (["delay"], 1)


# --- search ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, names", [
    ({"search": "technologies"}, ["delay"]),  # the name (title); carols-own matches but is not alice's
    ({"search": "SEISMIC"}, ["gamma-lab"]),  # the description
    ({"search": "code reviews"}, ["ben"]),  # every term
    ({"search": "gamma"}, ["gamma-lab"]),  # the identifier
    ({"search": "seismc"}, ["gamma-lab"]),  # a close misspelling
    ({"search": "e513d2c8-319e-4bc3-898b-3933ab39b452"}, ["ben"]),  # a whole id
    ({"q": "latency"}, ["delay"]),  # q: another name
    ({"search": "latency", "q": "seismic"}, ["delay"]),  # search wins
    ({"search": "   "}, ["delay", "ben", "gamma-lab"]),  # blank: no search
    ({"search": "nothing-like-this"}, []),
])
def test_search_is_fuzzy_over_name_description_and_id(client, params, names):
    assert identifiers(client, **params) == (names, len(names))


def test_search_keeps_the_other_filters_and_a_given_sort(client):
    assert identifiers(client, search="research", created_by=USERS["bob"], sort_by="identifier", sort_order="desc") == (
        ["gamma-lab", "delay"], 2)
    assert identifiers(client, search=expected("ben")["id"], id=expected("delay")["id"]) == ([], 0)


# --- sort and paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, names", [
    ({}, ["delay", "ben", "gamma-lab"]),
    ({"sort_order": "desc"}, ["gamma-lab", "ben", "delay"]),
    ({"sort_by": "created_at", "sort_order": "asc"}, ["delay", "ben", "gamma-lab"]),
    ({"sort_by": "identifier"}, ["ben", "delay", "gamma-lab"]),
    ({"sort_by": "identifier", "sort_order": "desc"}, ["gamma-lab", "delay", "ben"]),
    ({"sort_by": "name"}, ["ben", "delay", "gamma-lab"]),  # Ben's Coding, Delay Technologies, gamma-lab
    ({"sort_by": "updated_at"}, ["ben", "gamma-lab", "delay"]),
    ({"sort_by": "updated_at", "sort_order": "desc"}, ["delay", "gamma-lab", "ben"]),
])
def test_sort_by_and_sort_order(client, params, names):
    assert identifiers(client, **params) == (names, 3)


@pytest.mark.parametrize("params, names", [
    ({"page": "1", "page_size": "2"}, ["delay", "ben"]),
    ({"page": "2", "page_size": "2"}, ["gamma-lab"]),
    ({"page": "3", "page_size": "2"}, []),  # past the end: an empty array
    ({"page": "2", "page_size": "1", "sort_by": "identifier"}, ["delay"]),
    ({"page": "2"}, []),  # default page_size 100
    ({"page_size": "1"}, ["delay"]),  # default page 1
    ({"page_size": "1", "page": "9", "foo": "bar"}, []),  # unknown parameters are ignored
    ({"page_size": ["1", "2"]}, ["delay", "ben"]),  # repeated: the last value counts (as FastAPI)
])
def test_page_and_page_size(client, params, names):
    assert identifiers(client, **params) == (names, 3)


# --- X-API-Version and who may list ---------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Version": "v1"}, {"x-api-version": "v1"}])
def test_api_version_v1_or_none_is_served_and_echoed(client, headers):
    answer, body = listed(client, headers={**ALICE, **headers})
    assert answer.headers["X-API-Version"] == "v1" and len(body) == 3 and answer.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize("version", ["v2", "V1", "1", ""])
def test_another_api_version_is_a_422_naming_v1(client, version):
    _, body = listed(client, headers={**ALICE, "X-API-Version": version}, status=422)
    assert body == {"detail": [{"type": "literal_error", "loc": ["header", "x-api-version"],
                                "msg": "Input should be 'v1'", "input": version}]}


def test_basic_credentials_work_too(client):
    _, body = listed(client, headers=basic("alice", PASSWORD))
    assert [item["identifier"] for item in body] == ["delay", "ben", "gamma-lab"]


def test_each_caller_sees_only_their_workspaces_instance_admins_too(client):
    assert [item["identifier"] for item in listed(client, headers=bearer("carol-token"))[1]] == [
        "carols-own", "gamma-lab"]
    assert listed(client, headers=bearer("root-token"))[1] == []
    assert listed(client, headers=bearer(ADMIN_TOKEN))[1] == []


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, bearer("no-such-token"), basic("alice", "wrong password")])
def test_without_valid_credentials_401_as_fastapi(client, headers):
    answer = client.get(f"{BASE}/workspaces", headers=headers)
    assert answer.status_code == 401 and answer.mimetype == "application/json"
    assert answer.get_json() == {"detail": "Not authenticated"}
    assert "Bearer" in answer.headers["WWW-Authenticate"]
    assert answer.headers["X-API-Version"] == "v1"


@pytest.mark.parametrize("parameter, value, kind, message", [
    ("id", "abc", "uuid_parsing",
     "Input should be a valid UUID, invalid length: expected 32 hexadecimal digits, found 3"),
    ("id", "d4add56e-c345-4ac9-b392-7a890a60559s", "uuid_parsing",
     "Input should be a valid UUID, invalid character: found `s`"),
    ("created_by", "d4add56e-c345-4ac9-b392", "uuid_parsing",
     "Input should be a valid UUID, invalid length: expected 32 hexadecimal digits, found 20"),
    ("updated_by", "zz", "uuid_parsing", "Input should be a valid UUID, invalid character: found `z`"),
    ("owner_id", "", "uuid_parsing",
     "Input should be a valid UUID, invalid length: expected 32 hexadecimal digits, found 0"),
    ("page", "0", "greater_than_equal", "Input should be greater than or equal to 1"),
    ("page", "x", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    ("page_size", "101", "less_than_equal", "Input should be less than or equal to 100"),
    ("page_size", "0", "greater_than_equal", "Input should be greater than or equal to 1"),
    ("sort_by", "owner_id", "literal_error", "Input should be 'identifier', 'name', 'created_at' or 'updated_at'"),
    ("sort_order", "up", "enum", "Input should be 'asc' or 'desc'"),
    ("workspace_type", "team", "enum", "Input should be 'single_user' or 'multi_user'"),
    ("created_at_from", "yesterday", "datetime_from_date_parsing", None),
    ("updated_at_to", "2023-13-01", "datetime_from_date_parsing", None),
    ("updated_at_to", "1683417600", "datetime_from_date_parsing", None),  # pydantic's epoch seconds: not served
    ("search", "x" * 201, "string_too_long", "String should have at most 200 characters"),
])
def test_an_invalid_parameter_is_a_fastapi_422(client, parameter, value, kind, message):
    _, body = listed(client, status=422, **{parameter: value})
    assert list(body) == ["detail"] and len(body["detail"]) == 1
    item = body["detail"][0]
    assert list(item) == ["type", "loc", "msg", "input"]
    assert (item["type"], item["loc"], item["input"]) == (kind, ["query", parameter], value)
    if message is not None:
        assert item["msg"] == message
    else:
        assert item["msg"].startswith("Input should be a valid datetime or date, ")


def test_every_invalid_parameter_is_named(client):
    _, body = listed(client, status=422, page="0", id="nope", sort_order="sideways")
    assert sorted(item["loc"][1] for item in body["detail"]) == ["id", "page", "sort_order"]


def test_other_paths_and_methods_answer_as_fastapi(client):
    for method, path, status, detail in (
        ("post", "/workspaces", 405, "Method Not Allowed"),
        ("get", "/workspaces/delay", 404, "Not Found"),
    ):
        answer = getattr(client, method)(f"{BASE}{path}", headers=ALICE)
        assert (answer.status_code, answer.mimetype, answer.get_json()) == (status, "application/json",
                                                                            {"detail": detail})


# --- mounts and the OpenAPI document ------------------------------------------------------------------


def test_mounted_at_the_root_it_answers_at_slash_workspaces(seeded):
    _, settings, _ = seeded
    root = {key: value for key, value in settings.items() if key != "SEED_FILE"}  # the same store
    client = create_app({**root, "FLAVORS": "platform=/"}).test_client()
    answer = client.get("/workspaces", query_string={"sort_by": "identifier"}, headers=ALICE)
    assert answer.status_code == 200 and answer.headers["X-API-Version"] == "v1"
    assert answer.get_json() == [expected("ben"), expected("delay"), expected("gamma-lab")]
    assert client.get("/workspaces", headers={**ALICE, "X-API-Version": "v2"}).get_json()["detail"][0]["loc"] == [
        "header", "x-api-version"]
    assert client.get("/workspaces").get_json() == {"detail": "Not authenticated"}
    assert client.get(f"{BASE}/workspaces", headers=ALICE).status_code == 404
    # the native API stays at /api/v2, and its /api alias stays too: this flavor has no path under /api
    assert client.get(f"{API}/workspaces", headers=ALICE).status_code == 200
    assert client.get("/api/workspaces", headers=ALICE).status_code == 200


def test_the_openapi_document_describes_the_operation(client):
    document = client.get("/openapi.json").get_json()
    operation = document["paths"][f"{BASE}/workspaces"]["get"]
    assert operation["operationId"] == "platformListWorkspaces" and operation["tags"] == ["platform"]
    parameters = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert {("query", name) for name in ("sort_by", "sort_order", "id", "created_by", "updated_by", "workspace_type",
                                         "owner_id", "created_at_from", "created_at_to", "updated_at_from",
                                         "updated_at_to", "search", "page", "page_size")} <= parameters
    assert ("header", "X-API-Version") in parameters
    assert {"200", "401", "422", "default"} <= set(operation["responses"])
    item = document["components"]["schemas"]["PlatformWorkspace"]
    assert list(item["properties"]) == KEYS and set(item["required"]) == set(KEYS)
    assert set(operation["responses"]["200"]["headers"]) >= {"X-Total-Count", "X-API-Version"}
