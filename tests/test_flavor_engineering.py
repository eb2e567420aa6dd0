"""The engineering flavor (issue 14; reference documents 000 "Get All Workspaces" and 001 "Get
Workspace by Id"): what that service's client sends, and the whole answer it gets back, over a
store set up exactly by a seed file.

One seeded app serves the module (on PostgreSQL in a database of its own, made and dropped here);
the tests that need another configuration (an avatar upload, the mount at `/`, no flavors) make
their own app.
"""
import base64
import io
import json
import os
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import Image

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, basic, bearer, png_base64
from wsserver import create_app
from wsserver.storage.db import database

BASE = "/flavors/engineering"
LIST = f"{BASE}/api/workspaces/"
ADA, BOB, CY = "ada-token-0123456789", "bob-token-0123456789", "cy-token-01234567890"
ADA_PASSWORD = "correct horse battery"
ADA_UUID = "98d91cd7-860d-4869-937a-5af32eff2f4a"
CURRENT_USER = f"{BASE}/api/users/current/"

# Every key of the reference's examples, in their order.
LIST_ITEM_KEYS = [
    "id", "name", "slug", "description", "created_at", "updated_at", "visibility", "app_version", "app", "errors",
    "image", "is_dev", "owner", "is_initialized", "is_archived", "is_active", "labels", "default_group", "nr_views",
]
DETAIL_KEYS = [
    "id", "name", "slug", "description", "created_at", "updated_at", "visibility", "type", "app", "app_builder",
    "app_version", "errors", "image", "is_dev", "owner", "is_initialized", "is_archived", "is_active", "labels",
    "project", "default_group", "user_last_visit", "nr_views", "nr_views_last_30_days", "target_total_users",
    "target_monthly_active_users", "target_daily_active_users_per_month", "start_entity_id",
]

# alpha carries every attribute of 001, as the service would show them
APP = {"id": 7, "name": "viewer", "readable_name": "Seismic Viewer"}
APP_VERSION = {
    "id": 70, "tag": "v1.2.0", "is_conflicted": False, "status": "PUBLISHED", "app_type": "editor",
    "sdk_version": "14.2.0", "oauth2_integrations": "none", "python_version": "3.11", "connector_version": "6.1",
    "created_at": "2024-01-02T08:00:00.000Z", "created_by_type": "CI", "created_by_instance": 4,
    "created_by_context": {"id": 4, "name": "pipeline"}, "progress": [{"name": "PACKING", "status": "FINISHED"}],
}
APP_BUILDER = {
    "id": 3, "conversation_id": 31, "current_preview_code_revision_id": 32, "current_active_code_revision_id": 33,
    "previous_active_code_revision_id": 34, "first_created_code_revision_id": 35,
    "latest_created_code_revision_id": 36, "latest_code_revision_id": 36,
}
ERRORS = [{"code": "E_RUNNER", "context": {"runner": "r-1"}}]
LABELS = [
    {"id": 1, "name": "geo", "description": "Geology", "color": "00ff00", "number_of_apps": 1, "number_of_workspaces": 1},
    {"id": 2, "name": "core", "description": "", "color": "ff0000", "number_of_apps": 2, "number_of_workspaces": 2},
]
PROJECT = {"id": 40, "name": "North Shelf", "description": "Survey programme", "visibility": "INTERNAL"}
ALPHA_ATTRIBUTES = {
    "type": "TEST", "app": APP, "app_builder": APP_BUILDER, "app_version": APP_VERSION, "errors": ERRORS,
    "is_dev": False, "owner": None, "is_initialized": False, "is_active": False, "labels": LABELS, "project": PROJECT,
    "default_group": 9, "nr_views_last_30_days": 2, "target_total_users": 100, "target_monthly_active_users": 50,
    "target_daily_active_users_per_month": 10, "start_entity_id": 12345,
}
ALPHA_VISIT = "2025-11-07T16:05:09.030Z"

SEED = {
    "version": 3,
    "accounts": [
        {"username": "ada", "tokens": [ADA], "password": ADA_PASSWORD, "nickname": "Ada King Lovelace",
         "uuid": ADA_UUID},
        {"username": "bob", "tokens": [BOB]},
        {"username": "cy", "tokens": [CY]},
    ],
    "workspaces": [
        {"fullname": "alpha", "number": 11, "meta": {"title": "Zulu Project",
                                                   "description": "Seismic survey of the north shelf"},
         "visibility": "PUBLIC", "views": 5, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-05T10:30:00Z",
         "attributes": ALPHA_ATTRIBUTES},
        {"fullname": "bravo", "number": 12, "meta": {"title": "alpha team"}, "visibility": "INTERNAL", "views": 50,
         "createdAt": "2024-02-01T00:00:00Z", "attributes": {"app": {"id": 8, "name": "report"}, "labels": [{"id": 2}]}},
        {"fullname": "charlie", "number": 13, "visibility": "DEVELOPMENT", "views": 0, "createdAt": "2024-03-01T00:00:00Z"},
        {"fullname": "delta", "number": 14, "meta": {"title": "Delta"}, "views": 7, "createdAt": "2024-04-01T00:00:00Z",
         "archivedAt": "2024-05-01T00:00:00Z"},
        {"fullname": "echo", "number": 15, "createdAt": "2024-05-01T00:00:00Z", "views": 1},
        {"fullname": "foxtrot", "number": 16, "createdAt": "2024-06-01T00:00:00Z", "deletedAt": "2100-01-01T00:00:00Z"},
    ],
    "memberships": [
        {"workspace": "alpha", "account": "ada", "level": "owner", "lastVisitAt": ALPHA_VISIT},
        {"workspace": "bravo", "account": "bob", "level": "owner"},
        {"workspace": "bravo", "account": "ada", "level": "user"},
        {"workspace": "charlie", "account": "ada", "level": "admin"},
        {"workspace": "charlie", "account": "bob", "level": "owner"},
        {"workspace": "delta", "account": "ada", "level": "owner"},
        {"workspace": "echo", "account": "bob", "level": "owner"},
        {"workspace": "foxtrot", "account": "ada", "level": "owner"},
    ],
}

# The whole 001 answers, written from the seed above and the defaults the README documents.
ALPHA = {
    "id": 11, "name": "Zulu Project", "slug": "alpha", "description": "Seismic survey of the north shelf",
    "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-05T10:30:00.000Z", "visibility": "PUBLIC",
    "type": "TEST", "app": APP, "app_builder": APP_BUILDER, "app_version": APP_VERSION, "errors": ERRORS,
    "image": None, "is_dev": False, "owner": None, "is_initialized": False, "is_archived": False, "is_active": False,
    "labels": LABELS, "project": PROJECT, "default_group": 9, "user_last_visit": ALPHA_VISIT, "nr_views": 5,
    "nr_views_last_30_days": 2, "target_total_users": 100, "target_monthly_active_users": 50,
    "target_daily_active_users_per_month": 10, "start_entity_id": 12345,
}
CHARLIE = {  # no title, no description, no attributes: the documented defaults
    "id": 13, "name": "charlie", "slug": "charlie", "description": "", "created_at": "2024-03-01T00:00:00.000Z",
    "updated_at": "2024-03-01T00:00:00.000Z", "visibility": "DEVELOPMENT", "type": "DEVELOPMENT", "app": None,
    "app_builder": None, "app_version": None, "errors": [], "image": None, "is_dev": True, "owner": None,
    "is_initialized": True, "is_archived": False, "is_active": True, "labels": [], "project": None,
    "default_group": None, "user_last_visit": None, "nr_views": 0, "nr_views_last_30_days": 0,
    "target_total_users": None, "target_monthly_active_users": None, "target_daily_active_users_per_month": None,
    "start_entity_id": None,
}
BRAVO = {**CHARLIE, "id": 12, "name": "alpha team", "slug": "bravo", "created_at": "2024-02-01T00:00:00.000Z",
         "updated_at": "2024-02-01T00:00:00.000Z", "visibility": "INTERNAL", "type": "PROJECT",
         "app": {"id": 8, "name": "report"}, "labels": [{"id": 2}], "is_dev": False, "nr_views": 50}
DELTA = {**CHARLIE, "id": 14, "name": "Delta", "slug": "delta", "created_at": "2024-04-01T00:00:00.000Z",
         "updated_at": "2024-04-01T00:00:00.000Z", "visibility": "PRIVATE", "type": "PROJECT", "is_dev": False,
         "is_archived": True, "nr_views": 7}
ECHO = {**CHARLIE, "id": 15, "name": "echo", "slug": "echo", "created_at": "2024-05-01T00:00:00.000Z",
        "updated_at": "2024-05-01T00:00:00.000Z", "visibility": "PRIVATE", "type": "PROJECT", "is_dev": False,
        "nr_views": 1}
BY_SLUG = {detail["slug"]: detail for detail in (ALPHA, BRAVO, CHARLIE, DELTA, ECHO)}

NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Workspace does not exist."}


def listed(slug):
    """The 000 list item of a workspace: its 001 answer cut to the list's keys."""
    return {key: BY_SLUG[slug][key] for key in LIST_ITEM_KEYS}


# --- the seeded app -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    """(app, its bound database): the seed above, on SQLite or in a PostgreSQL database of this module."""
    folder = tmp_path_factory.mktemp("engineering")
    (folder / "seed.json").write_text(json.dumps(SEED))
    settings = {"INSTANCE_PATH": str(folder / "instance"), "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                "SEED_FILE": str(folder / "seed.json"), "TRASH_DAYS": 30}
    postgres = request.config.wsserver_postgres
    name = None
    if postgres is not None:
        name = f"{postgres.name}_engineering"
        postgres.admin.execute(f'CREATE DATABASE "{name}"')
        settings["DATABASE_URL"] = urlsplit(postgres.url)._replace(path=f"/{name}").geturl()
    app = create_app(settings)
    bound = database.obj
    yield app, bound
    if hasattr(bound, "close_all"):
        bound.close_all()
    bound.close()
    if name:
        postgres.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def client(seeded):
    app, bound = seeded
    database.initialize(bound)  # another test's app may have bound the database since
    return app.test_client()


def get(client, path, token=ADA, **params):
    return client.get(path, query_string=params, headers=bearer(token))


def ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def page(client, token=ADA, **params):
    """The answer of GET /api/workspaces/, its shape checked: DRF's flat `{"count", "next", "previous",
    "results"}` (what the VIKTOR SDK reads), each item with exactly the list's keys in order."""
    body = ok(get(client, LIST, token, **params))
    assert list(body) == ["count", "next", "previous", "results"]
    for item in body["results"]:
        assert list(item) == LIST_ITEM_KEYS
    return body


def slugs(client, token=ADA, **params):
    body = page(client, token, **params)
    return [item["slug"] for item in body["results"]], body["count"]


def assert_error(response, status, body):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json() == body


# --- GET /api/workspaces/ -------------------------------------------------------------------------


def test_the_list_is_the_whole_documented_answer(client):
    assert page(client) == {
        "count": 3, "next": None, "previous": None, "results": [listed("alpha"), listed("bravo"), listed("charlie")],
    }


def test_next_and_previous_are_this_request_with_limit_and_offset_changed(client):
    url = f"http://localhost{LIST}"
    first = page(client, limit=1)
    assert (first["count"], first["next"], first["previous"]) == (3, f"{url}?limit=1&offset=1", None)
    assert first["results"] == [listed("alpha")]
    second = page(client, limit=1, offset=1)
    assert (second["next"], second["previous"]) == (f"{url}?limit=1&offset=2", f"{url}?limit=1")  # offset 0: dropped
    last = page(client, limit=1, offset=2)
    assert (last["next"], last["previous"]) == (None, f"{url}?limit=1&offset=1")
    # other parameters are kept, every parameter sorted by name (DRF's replace_query_param)
    middle = page(client, sort="views:desc", limit=1, offset=1, visibility="INTERNAL", search="alpha")
    assert middle["previous"] == f"{url}?limit=1&search=alpha&sort=views%3Adesc&visibility=INTERNAL"
    beyond = page(client, limit=2, offset=5)
    assert beyond["count"] == 3 and beyond["results"] == []
    assert (beyond["next"], beyond["previous"]) == (None, f"{url}?limit=2&offset=3")


def test_following_next_walks_every_workspace_once(client):
    seen, link = [], f"{LIST}?limit=2&sort=name"
    while link:
        parts = urlsplit(link)
        body = ok(client.get(parts.path, query_string=dict(parse_qsl(parts.query)), headers=bearer(ADA)))
        seen += [item["slug"] for item in body["results"]]
        link = body["next"]
    assert seen == ["bravo", "charlie", "alpha"]


def test_a_limit_past_the_largest_counts_as_the_largest_and_the_default_is_20(client):
    body = page(client, limit=10**6, offset=1)
    assert body["previous"] == f"http://localhost{LIST}?limit=100"
    assert len(page(client, token=ADMIN_TOKEN, all="true", limit=1)["results"]) == 1
    assert page(client, offset=2)["previous"] == f"http://localhost{LIST}?limit=20"


@pytest.mark.parametrize("visibility, expected", [
    ("PUBLIC", ["alpha"]), ("INTERNAL", ["bravo"]), ("DEVELOPMENT", ["charlie"]), ("PRIVATE", []),
])
def test_visibility_filters(client, visibility, expected):
    assert slugs(client, visibility=visibility) == (expected, len(expected))


@pytest.mark.parametrize("params, expected", [
    ({"app": "7"}, ["alpha"]),
    ({"app": "8"}, ["bravo"]),
    ({"app": "9"}, []),
    ({"label": "1"}, ["alpha"]),
    ({"label": "2"}, ["alpha", "bravo"]),
    ({"label": "2", "app": "8"}, ["bravo"]),
    ({"label": "2", "visibility": "PUBLIC"}, ["alpha"]),
])
def test_app_and_label_filter_on_the_ids_of_the_attributes(client, params, expected):
    assert slugs(client, **params) == (expected, len(expected))


@pytest.mark.parametrize("sort, expected", [
    (None, ["alpha", "bravo", "charlie"]),  # by slug
    ("name", ["bravo", "charlie", "alpha"]),  # alpha team < charlie < Zulu Project
    ("name:asc", ["bravo", "charlie", "alpha"]),
    ("name:desc", ["alpha", "charlie", "bravo"]),
    ("created_at", ["alpha", "bravo", "charlie"]),
    ("created_at:asc", ["alpha", "bravo", "charlie"]),
    ("created_at:desc", ["charlie", "bravo", "alpha"]),
    ("views", ["charlie", "alpha", "bravo"]),
    ("views:asc", ["charlie", "alpha", "bravo"]),
    ("views:desc", ["bravo", "alpha", "charlie"]),
])
def test_each_sort(client, sort, expected):
    params = {"sort": sort} if sort else {}
    assert slugs(client, **params) == (expected, 3)


@pytest.mark.parametrize("search, expected", [
    ("north shelf", ["alpha"]),  # the description
    ("SEISMIC", ["alpha"]),
    ("zulu", ["alpha"]),  # the name
    ("charlie", ["charlie"]),  # the slug
    ("team", ["bravo"]),
    ("seismik servey", ["alpha"]),  # fuzzy: close misspellings of the description's words
    ("nothing-like-this", []),
])
def test_search_matches_name_slug_and_description(client, search, expected):
    assert slugs(client, search=search) == (expected, len(expected))


def test_search_with_a_sort_and_paging(client):
    assert slugs(client, search="alpha", sort="views:desc") == (["bravo", "alpha"], 2)
    body = page(client, search="alpha", sort="views:desc", limit=1, offset=1)
    assert [item["slug"] for item in body["results"]] == ["alpha"]


@pytest.mark.parametrize("true", ["true", "True", "1"])
def test_all_lists_every_workspace_for_instance_admins(client, true):
    assert page(client, token=ADMIN_TOKEN, all=true) == {
        "count": 4, "next": None, "previous": None,
        "results": [listed("alpha"), listed("bravo"), listed("charlie"), listed("echo")],
    }
    assert slugs(client, token=ADMIN_TOKEN) == ([], 0)  # without all: the admin's own (none)


@pytest.mark.parametrize("params", [{"all": "true"}, {"include_archived": "True"}, {"all": "1", "include_archived": "1"}])
def test_all_and_include_archived_need_org_admin_permission(client, params):
    assert_error(get(client, LIST, **params), 403, NO_PERMISSION)
    assert_error(get(client, LIST, BOB, **params), 403, NO_PERMISSION)


def test_false_is_allowed_to_everybody(client):
    assert slugs(client, all="false", include_archived="False") == (["alpha", "bravo", "charlie"], 3)
    assert slugs(client, all="0", include_archived="0") == (["alpha", "bravo", "charlie"], 3)


def test_include_archived_shows_archived_workspaces_to_instance_admins(client):
    body = page(client, token=ADMIN_TOKEN, all="true", include_archived="true", sort="created_at")
    assert body["results"] == [listed(slug) for slug in ("alpha", "bravo", "charlie", "delta", "echo")]
    assert [item["is_archived"] for item in body["results"]] == [False, False, False, True, False]


@pytest.mark.parametrize("params, errors", [
    ({"limit": "0"}, {"limit": ["Ensure this value is greater than or equal to 1."]}),
    ({"limit": "ten"}, {"limit": ["A valid integer is required."]}),
    ({"offset": "-1"}, {"offset": ["Ensure this value is greater than or equal to 0."]}),
    ({"offset": str(2**31)}, {"offset": ["Ensure this value is less than or equal to 2147483647."]}),
    ({"visibility": "SECRET"}, {"visibility": ['"SECRET" is not a valid choice.']}),
    ({"visibility": "public"}, {"visibility": ['"public" is not a valid choice.']}),
    ({"app": "seven"}, {"app": ["A valid integer is required."]}),
    ({"label": "1.5"}, {"label": ["A valid integer is required."]}),
    ({"sort": "size"}, {"sort": ['"size" is not a valid choice.']}),
    ({"sort": "-name"}, {"sort": ['"-name" is not a valid choice.']}),
    ({"search": ""}, {"search": ["This field may not be blank."]}),
    ({"search": "s" * 201}, {"search": ["Ensure this field has no more than 200 characters."]}),
    ({"all": "maybe"}, {"all": ["Must be a valid boolean."]}),
    ({"include_archived": "2"}, {"include_archived": ["Must be a valid boolean."]}),
    ({"limit": "x", "sort": "x", "all": "x"}, {"limit": ["A valid integer is required."],
                                               "sort": ['"x" is not a valid choice.'], "all": ["Must be a valid boolean."]}),
])
def test_bad_parameters_are_400_naming_each(client, params, errors):
    assert_error(get(client, LIST, **params), 400, errors)


def test_unknown_parameters_are_ignored_and_a_repeated_one_counts_last(client):
    assert slugs(client, page="3", q="zzz", ordering="-name") == (["alpha", "bravo", "charlie"], 3)
    answer = client.get(f"{LIST}?visibility=PUBLIC&visibility=INTERNAL", headers=bearer(ADA))
    assert [item["slug"] for item in ok(answer)["results"]] == ["bravo"]


# --- GET /api/workspaces/<id>/ ----------------------------------------------------------------


@pytest.mark.parametrize("slug", ["alpha", "bravo", "charlie", "delta"])
def test_one_workspace_is_the_whole_documented_answer(client, slug):
    body = ok(get(client, f"{BASE}/api/workspaces/{BY_SLUG[slug]['id']}/"))
    assert list(body) == DETAIL_KEYS
    assert body == BY_SLUG[slug]


def test_instance_admins_read_any_workspace_and_have_no_last_visit(client):
    assert ok(get(client, f"{BASE}/api/workspaces/15/", ADMIN_TOKEN)) == ECHO
    assert ok(get(client, f"{BASE}/api/workspaces/11/", ADMIN_TOKEN)) == {**ALPHA, "user_last_visit": None}


@pytest.mark.parametrize("path, token", [
    ("15/", ADA),  # exists, ada is no member
    ("11/", CY),
    ("16/", ADA),  # in the trash
    ("99/", ADA),
    ("0/", ADA),
    (f"{2**31}/", ADA),
    (f"{10**30}/", ADA),
    ("alpha/", ADA),  # not an integer: no such workspace either
])
def test_a_workspace_the_caller_cannot_see_does_not_exist(client, path, token):
    assert_error(get(client, f"{BASE}/api/workspaces/{path}", token), 404, NOT_FOUND)


def test_without_the_trailing_slash_the_client_is_redirected(client):
    for path in ("/api/workspaces", "/api/workspaces/11"):
        answer = get(client, f"{BASE}{path}", limit=1)
        assert answer.status_code == 308
        assert answer.headers["Location"] == f"http://localhost{BASE}{path}/?limit=1"


def test_other_paths_under_the_flavor_are_not_found_in_its_shape(client):
    assert_error(get(client, f"{BASE}/api/workspaces/11/members/"), 404, {"detail": "Not found."})


# --- GET /api/users/current/ (the VIKTOR SDK's get_current_user) ----------------------------------


def test_the_current_user_is_the_caller_with_the_fields_the_sdk_reads(client):
    assert ok(get(client, CURRENT_USER)) == {
        "id": ADA_UUID, "username": "ada", "first_name": "Ada", "last_name": "King Lovelace", "email": "",
        "job_title": ""}
    bob = ok(get(client, CURRENT_USER, BOB))  # no nickname in the seed: the username is the nickname
    assert (bob["username"], bob["first_name"], bob["last_name"]) == ("bob", "bob", "")
    assert bob["id"] != ADA_UUID and len(bob["id"]) == 36
    assert ok(client.get(CURRENT_USER, headers=basic("ada", ADA_PASSWORD)))["username"] == "ada"


# --- authentication, methods, the OpenAPI document ------------------------------------------------


@pytest.mark.parametrize("path", [LIST, f"{BASE}/api/workspaces/11/", CURRENT_USER])
def test_authentication(client, path):
    missing = client.get(path)
    assert_error(missing, 401, {"detail": "Authentication credentials were not provided."})
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert_error(client.get(path, headers=bearer("wss_not-a-token")), 401, {"detail": "Invalid token."})
    assert_error(client.get(path, headers=basic("ada", "wrong password")), 401, {"detail": "Invalid username/password."})
    key, value = {LIST: ("count", 3), CURRENT_USER: ("username", "ada")}.get(path, ("slug", "alpha"))
    assert ok(client.get(path, headers=basic("ada", ADA_PASSWORD)))[key] == value


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_not_allowed(client, method):
    for path in (LIST, f"{BASE}/api/workspaces/11/", CURRENT_USER):
        answer = client.open(path, method=method, headers=bearer(ADA))
        assert_error(answer, 405, {"detail": f'Method "{method}" not allowed.'})
        assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_the_openapi_document_describes_both_operations(client):
    spec = ok(client.get("/openapi.json"))
    listing = spec["paths"][LIST]["get"]
    one = spec["paths"][f"{BASE}/api/workspaces/{{id}}/"]["get"]
    assert (listing["operationId"], one["operationId"]) == ("engineeringListWorkspaces", "engineeringGetWorkspace")
    assert listing["tags"] == one["tags"] == ["engineering"]
    assert {parameter["name"] for parameter in listing["parameters"]} == {
        "limit", "offset", "all", "include_archived", "visibility", "app", "label", "sort", "search"}
    assert {"200", "400", "401", "403"} <= set(listing["responses"]) and "422" not in listing["responses"]
    assert {"200", "401", "404"} <= set(one["responses"])
    user = spec["paths"][CURRENT_USER]["get"]
    assert (user["operationId"], user["tags"]) == ("engineeringGetCurrentUser", ["engineering"])
    assert {"200", "401"} <= set(user["responses"])
    shown = spec["components"]["schemas"]
    assert list(shown["EngineeringUser"]["properties"]) == [
        "id", "username", "first_name", "last_name", "email", "job_title"]
    assert list(shown["EngineeringWorkspace"]["properties"]) == DETAIL_KEYS
    assert list(shown["EngineeringWorkspaceShort"]["properties"]) == LIST_ITEM_KEYS


# --- apps of their own ----------------------------------------------------------------------------


def make_app(tmp_path, **settings):
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "ADMIN_TOKEN": ADMIN_TOKEN,
                       "RATE_LIMIT": TEST_RATE_LIMIT, **settings})


def noise_png(side):
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def test_image_is_the_uploaded_avatar_in_base64_under_1_mb(tmp_path):
    app = make_app(tmp_path, AVATAR_MAX_BYTES=4 * 1024 * 1024)
    native = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    for fullname in ("small", "large", "linked"):
        assert native.put(f"{API}/workspaces/{fullname}", json={"fullname": fullname}, headers=admin).status_code == 201
    small = native.post(f"{API}/workspaces/small/avatar", headers=admin,
                        json={"filename": "a.png", "contentType": "image/png", "data": png_base64("blue", 16)})
    assert small.status_code == 200, small.get_json()
    large = native.post(f"{API}/workspaces/large/avatar", headers=admin, json={
        "filename": "b.png", "contentType": "image/png", "data": base64.b64encode(noise_png(700)).decode()})
    assert large.status_code == 200 and large.get_json()["size"] >= 1024 * 1024, large.get_json()
    native.put(f"{API}/workspaces/linked", json={"fullname": "linked", "meta": {"avatar": "https://example.com/a.png"}},
               headers=admin)
    with open(os.path.join(app.config["INSTANCE_PATH"], "avatars", small.get_json()["fileName"]), "rb") as stored:
        expected = base64.b64encode(stored.read()).decode()
    assert Image.open(io.BytesIO(base64.b64decode(expected))).size == (16, 16)
    items = ok(native.get(LIST, headers=admin))["results"]
    assert {item["slug"]: item["image"] for item in items} == {"large": None, "linked": None, "small": expected}
    number = next(item["id"] for item in items if item["slug"] == "small")
    assert ok(native.get(f"{BASE}/api/workspaces/{number}/", headers=admin))["image"] == expected


def test_mounted_at_the_root_the_native_api_alias_is_off(tmp_path):
    app = make_app(tmp_path, FLAVORS="engineering=/")
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    made = client.put(f"{API}/workspaces/research", json={"fullname": "research"}, headers=admin)
    assert made.status_code == 201
    body = ok(client.get("/api/workspaces/", headers=admin))
    assert [(item["slug"], item["id"]) for item in body["results"]] == [("research", 1)]
    assert body["next"] is None
    assert ok(client.get("/api/workspaces/1/", headers=admin))["slug"] == "research"
    assert ok(client.get("/api/users/current/", headers=admin))["username"] == "admin"
    # the alias's routes: the flavor's error shape where it owns the path, else nothing there
    assert_error(client.get("/api/workspaces/research", headers=admin), 404, NOT_FOUND)
    assert client.get("/api/me", headers=admin).status_code == 404
    assert client.get(f"{BASE}/api/workspaces/", headers=admin).status_code == 404
    # the native API stays at /api/v2
    assert [w["fullname"] for w in ok(client.get(f"{API}/workspaces", headers=admin))] == ["research"]
    assert ok(client.get(f"{API}/workspaces/research", headers=admin))["fullname"] == "research"


def test_a_flavor_switched_off_is_not_there(tmp_path):
    client = make_app(tmp_path, FLAVORS="none").test_client()
    admin = bearer(ADMIN_TOKEN)
    for path in (LIST, f"{BASE}/api/workspaces/1/"):
        answer = client.get(path, headers=admin)
        assert answer.status_code == 404 and set(answer.get_json()) == {"error"}  # the native envelope
    assert ok(client.get("/api/workspaces", headers=admin)) == []  # the alias is back
    assert "engineeringListWorkspaces" not in json.dumps(ok(client.get("/openapi.json")))


# --- the engineering flavor's `image` (services.avatars.avatar_base64): base64 under 1 MB -----------


@pytest.mark.parametrize("size, shown", [(749_997, True), (749_998, False)])
def test_an_image_is_carried_only_when_its_base64_stays_under_1_mb(tmp_path, size, shown):
    from wsserver.services.avatars import avatar_base64
    from wsserver.storage.avatar_files import avatar_folder
    from wsserver.storage.models import Workspace

    app = make_app(tmp_path)
    name = "a" * 64 + ".png"
    with app.app_context():
        with open(os.path.join(avatar_folder(), name), "wb") as handle:
            handle.write(b"\x89" * size)
        text = avatar_base64(Workspace(avatar_file=name))
        assert (text is not None) is shown
        if shown:
            assert len(text) == 999_996  # the largest base64 under 1,000,000 characters
