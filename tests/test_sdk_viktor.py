"""The VIKTOR SDK (`viktor` on PyPI, pinned in requirements-dev.txt) drives the engineering flavor,
unchanged (issue 26, items 3 and 4): only its `environment` (host:port) and token are ours.

`viktor.api_v1.API(environment=..., token=...)` always calls `https://{environment}/api/...`, so one
live server for the module serves the engineering flavor at `/` (WSSERVER_FLAVORS=engineering=/)
over HTTPS with a self-signed certificate (WSSERVER_TLS=self-signed); the SDK's own HTTP library (a
copy of requests inside the wheel) trusts it through REQUESTS_CA_BUNDLE. Its tokens come from the
seed file, each starting with `vktr` (the SDK sends no other). On PostgreSQL the server has a
database of its own, made and dropped here, so the per-test emptying leaves the seed alone.

What the SDK does, found by running it (its code ships compiled): `len()` asks `limit=1`; iterating
asks `limit=100` at offset 0, 100, ... up to `count` (it never reads `next`); `w[i]` asks `limit=1`
at offset i (i + count when negative); a 403 on a list is its `PermissionDeniedError`, a 403 or 404
on one workspace its `ResourceNotFoundError`, a 401 its `InternalError`.
"""
import base64
import io
import json
import os
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from conftest import ADMIN_TOKEN, API, LiveServer, bearer, needs

try:
    from viktor.api_v1 import API as ViktorAPI
    from viktor.errors import InternalError, PermissionDeniedError, ResourceNotFoundError
except ImportError:  # skipped outside CI with one line, a failure in CI (needs)
    ViktorAPI = None

ADA, BOB, CY, DEE = (f"vktr-{name}-0123456789abcdefghijklmnopqrstuvwxyz" for name in ("ada", "bob", "cy", "dee"))
ADA_UUID = "7d3f6c1e-2b8a-4c59-9e0d-1a2b3c4d5e6f"
ADA_WORKSPACES = 130  # two of the SDK's pages (it asks for 100 at a time)
BOB_ONLY = 900  # the number of bob's workspace, which ada may not read
CY_WORKSPACES = 8  # each showing one ~747 KB image: a page of them passes the smallest answer budget
SMALLEST_BUDGET = 2 * 1024 * 1024


def _seed():
    workspaces = [{"fullname": f"ada-{number:03d}", "number": number, "meta": {"title": f"Ada {number:03d}"},
                   "createdAt": f"2024-01-01T00:{number // 60:02d}:{number % 60:02d}Z"}
                  for number in range(1, ADA_WORKSPACES + 1)]
    workspaces.append({"fullname": "ada-archived", "number": 200, "archivedAt": "2024-05-01T00:00:00Z"})
    workspaces.append({"fullname": "bob-only", "number": BOB_ONLY, "meta": {"description": "bob's"}})
    memberships = [{"workspace": item["fullname"], "account": "ada", "level": "owner"} for item in workspaces[:-1]]
    memberships.append({"workspace": "bob-only", "account": "bob", "level": "owner"})
    # dee sees ada's workspaces too: a caller of its own, since the SDK keeps answers per token for a while
    memberships += [{"workspace": item["fullname"], "account": "dee", "level": "user"} for item in workspaces[:-2]]
    return {
        "version": 3,
        "accounts": [
            {"username": "ada", "nickname": "Ada Lovelace", "tokens": [ADA], "uuid": ADA_UUID},
            {"username": "bob", "tokens": [BOB]},
            {"username": "cy", "nickname": "Cy", "tokens": [CY]},
            {"username": "dee", "tokens": [DEE]},
        ],
        "workspaces": workspaces,
        "memberships": memberships,
    }


def _noise_png_base64(side=499):
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """The engineering flavor at `/`, HTTPS (self-signed), the seed above; cy's workspaces showing one
    large image each, under the smallest answer budget."""
    folder = tmp_path_factory.mktemp("sdk-viktor")
    (folder / "seed.json").write_text(json.dumps(_seed()))
    env = {"WSSERVER_FLAVORS": "engineering=/", "WSSERVER_TLS": "self-signed", "WSSERVER_WORKERS": "1",
           "WSSERVER_TEST_MODE": "1",  # its request journal shows what the SDK asked
           "WSSERVER_SEED_FILE": str(folder / "seed.json"), "WSSERVER_MAX_ANSWER_BYTES": str(SMALLEST_BUDGET)}
    postgres, database = request.config.wsserver_postgres, None
    if postgres is not None:
        database = f"{postgres.name}_sdk_viktor"
        postgres.admin.execute(f'CREATE DATABASE "{database}"')
        env["WSSERVER_DATABASE_URL"] = urlsplit(postgres.url)._replace(path=f"/{database}").geturl()
    live = LiveServer(str(folder / "instance"), env=env)
    try:
        _images_for_cy(live)
        yield live
    finally:
        live.stop()
        if database:
            postgres.admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _images_for_cy(live):
    """cy's workspaces cy-0 ... cy-7 (numbers 201 ... 208), all showing one uploaded image."""
    # verify= on each call: a session's own `verify` loses to REQUESTS_CA_BUNDLE from the environment
    options = {"headers": bearer(CY), "verify": live.ca_file, "timeout": 60}
    assert requests.put(f"{live.url}{API}/workspaces/cy-0", json={"fullname": "cy-0"}, **options).status_code == 201
    uploaded = requests.post(f"{live.url}{API}/workspaces/cy-0/avatar", **options, json={
        "filename": "a.png", "contentType": "image/png", "data": _noise_png_base64()})
    assert uploaded.status_code == 200, uploaded.text
    for number in range(1, CY_WORKSPACES):
        body = {"fullname": f"cy-{number}", "meta": {"avatar": uploaded.json()["url"]}}
        assert requests.put(f"{live.url}{API}/workspaces/cy-{number}", json=body, **options).status_code == 201


@pytest.fixture
def sdk(server, monkeypatch):
    """Callers of the SDK's public API class: `sdk(token)`. The CA file reaches the SDK's own requests
    through REQUESTS_CA_BUNDLE (the variable requests reads)."""
    needs(ViktorAPI is None, "VIKTOR SDK NOT INSTALLED: the SDK tests did not run "
                             "(python3 -m pip install -r requirements-dev.txt)")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    environment = f"127.0.0.1:{server.port}"
    return lambda token=ADA: ViktorAPI(environment=environment, token=token)


def journal(server):
    """What the server received, oldest first (test mode's request journal): [(username, path, query)]."""
    answer = requests.get(f"{server.url}/__admin__/requests", headers=bearer(ADMIN_TOKEN), verify=server.ca_file,
                          timeout=30)
    assert answer.status_code == 200, answer.text
    return [(entry["username"], entry["path"], entry["query"]) for entry in answer.json()]


# --- get_workspaces: len(), iteration, indexes, paging ---------------------------------------------


def test_get_workspaces_len_iteration_and_negative_indexes(sdk):
    workspaces = sdk().get_workspaces()
    assert len(workspaces) == ADA_WORKSPACES  # the archived one is left out
    names = [workspace.name for workspace in workspaces]  # offsets 0 and 100: two pages of 100
    assert names == [f"Ada {number:03d}" for number in range(1, ADA_WORKSPACES + 1)]  # by slug
    assert (workspaces[0].id, workspaces[-1].id, workspaces[-ADA_WORKSPACES].id) == (1, ADA_WORKSPACES, 1)
    assert workspaces[120].name == "Ada 121"
    first = workspaces[0]
    assert (first.visibility, first.is_archived, first.app, first.app_version, first.labels) == (
        "PRIVATE", False, None, None, [])
    assert first.created_at == "2024-01-01T00:00:01.000Z"


def test_paging_is_limit_and_offset_as_the_sdk_sends_them(sdk, server):
    before = len(journal(server))
    workspaces = sdk(DEE).get_workspaces()
    assert (len(workspaces), sum(1 for _ in workspaces), workspaces[-2].id) == (ADA_WORKSPACES, ADA_WORKSPACES, 129)
    assert journal(server)[before:] == [
        ("dee", "/api/workspaces/", "limit=1&offset=0&include_archived=False"),
        ("dee", "/api/workspaces/", "limit=100&offset=0&include_archived=False"),
        ("dee", "/api/workspaces/", "limit=100&offset=100&include_archived=False"),
        ("dee", "/api/workspaces/", "limit=1&offset=128&include_archived=False"),
    ]


def test_a_page_the_answer_budget_cuts_short_is_walked_whole(sdk):
    """cy's 8 workspaces each carry a ~747 KB image: a page of them passes the 2 MiB budget. The SDK
    asks for 100 at offset 0 and then offset 100, never following `next`."""
    workspaces = sdk(CY).get_workspaces()
    assert len(workspaces) == CY_WORKSPACES
    seen = sorted(workspace.id for workspace in workspaces)
    assert seen == sorted(workspaces[index].id for index in range(CY_WORKSPACES))
    assert len(seen) == len(set(seen)) == CY_WORKSPACES


# --- get_workspace, get_current_user ---------------------------------------------------------------


def test_get_workspace_by_id(sdk):
    workspace = sdk().get_workspace(7)
    assert (workspace.id, workspace.name, workspace.description, workspace.is_archived) == (7, "Ada 007", "", False)
    assert workspace == sdk().get_workspaces()[6]


def test_get_current_user(sdk):
    user = sdk().get_current_user()
    assert (user.id, user.first_name, user.last_name, user.email, user.job_title) == (
        ADA_UUID, "Ada", "Lovelace", "", "")
    assert user.full_name == "Ada Lovelace"
    assert sdk(BOB).get_current_user().first_name == "bob"


# --- errors, as the SDK maps them -------------------------------------------------------------------


def test_a_workspace_the_caller_may_not_read_or_that_does_not_exist_is_resource_not_found(sdk):
    with pytest.raises(ResourceNotFoundError):
        sdk().get_workspace(BOB_ONLY)  # bob's: 404, as for no workspace at all
    with pytest.raises(ResourceNotFoundError):
        sdk().get_workspace(99999)
    assert sdk(BOB).get_workspace(BOB_ONLY).description == "bob's"


def test_archived_workspaces_need_org_admin_permission(sdk):
    with pytest.raises(PermissionDeniedError):
        len(sdk().get_workspaces(include_archived=True))  # 403: instance admins only


def test_a_token_the_server_does_not_know(sdk):
    with pytest.raises(InternalError):  # the SDK has no exception of its own for a 401
        len(sdk("vktr-nobody-0123456789abcdefghijklmnopqrstuv").get_workspaces())
    with pytest.raises(ValueError, match="Could not retrieve current user"):
        sdk("vktr-nobody-0123456789abcdefghijklmnopqrstuv").get_current_user()
