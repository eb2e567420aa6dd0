"""Per-account quotas and the instance's disk reserve (issue 28, README "Budgets and quotas"): each
refused at its limit with a 403/507 naming it, nothing stored changed; instance admins have no quota;
deletes and reads work below the reserve."""
import os
import threading

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, assert_error, bearer, png_base64
from ui_helpers import csrf_token, post_form, text
from wsserver import create_app
from wsserver.storage.disk import MIB, free_bytes
from wsserver.storage.models import Token, Workspace

WORKSPACES = 3
TOKENS = 3
PASSWORD = "correct horse battery"


def make_app(instance_path, **settings):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       "MAX_WORKSPACES_PER_ACCOUNT": WORKSPACES, "MAX_TOKENS_PER_ACCOUNT": TOKENS, **settings})


@pytest.fixture
def app(instance_path):
    return make_app(instance_path)


def create_account(client, username, admin=False):
    answer = client.post(f"{API}/accounts", json={"username": username, "password": PASSWORD, "admin": admin},
                         headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    return {"id": body["account"]["id"], "username": username, "headers": bearer(body["token"]),
            "token": body["token"]}


def put(client, caller, fullname, **fields):
    return client.put(f"{API}/workspaces/{fullname}", json={"fullname": fullname, **fields}, headers=caller["headers"])


def stored_names():
    return sorted(row.fullname for row in Workspace.select(Workspace.fullname))


def assert_quota(answer, setting, limit):
    error = assert_error(answer, 403, {"quota", "limit"})
    assert error["details"] == {"quota": f"WSSERVER_{setting}", "limit": limit}
    assert f"{limit}" in error["message"]
    return error


# --- workspaces created ---------------------------------------------------------------------------


def test_one_workspace_past_the_quota_is_refused_naming_it_and_nothing_is_stored(client):
    ada = create_account(client, "ada")
    for number in range(WORKSPACES):
        assert put(client, ada, f"ada-{number}").status_code == 201
    error = assert_quota(put(client, ada, "ada-extra", tags=["x"]), "MAX_WORKSPACES_PER_ACCOUNT", WORKSPACES)
    assert "Delete some" in error["message"]
    assert stored_names() == ["ada-0", "ada-1", "ada-2"]
    # changing one of them is no creation; another account has its own quota
    assert put(client, ada, "ada-0", tags=["changed"]).status_code == 200
    assert put(client, create_account(client, "bob"), "bob-0").status_code == 201
    # a deleted workspace frees its slot (no trash by default)
    assert client.delete(f"{API}/workspaces/ada-1", headers=ada["headers"]).status_code == 200
    assert put(client, ada, "ada-extra").status_code == 201


def test_the_trash_counts_until_the_workspace_is_gone(instance_path):
    client = make_app(instance_path, TRASH_DAYS=30).test_client()
    ada = create_account(client, "ada")
    for number in range(WORKSPACES):
        assert put(client, ada, f"ada-{number}").status_code == 201
    assert client.delete(f"{API}/workspaces/ada-0", headers=ada["headers"]).status_code == 200
    assert_quota(put(client, ada, "ada-extra"), "MAX_WORKSPACES_PER_ACCOUNT", WORKSPACES)
    assert "ada-extra" not in stored_names()


def test_instance_admins_have_no_workspace_quota(client):
    root = create_account(client, "root", admin=True)
    for number in range(WORKSPACES + 2):
        assert put(client, root, f"root-{number}").status_code == 201
        assert put(client, {"headers": bearer(ADMIN_TOKEN)}, f"admin-{number}").status_code == 201


def test_zero_means_no_workspace_limit(instance_path):
    client = make_app(instance_path, MAX_WORKSPACES_PER_ACCOUNT=0).test_client()
    ada = create_account(client, "ada")
    for number in range(WORKSPACES + 2):
        assert put(client, ada, f"ada-{number}").status_code == 201


def test_concurrent_creates_never_both_take_the_last_slot(app, client):
    ada = create_account(client, "ada")
    for number in range(WORKSPACES - 1):
        assert put(client, ada, f"ada-{number}").status_code == 201
    racers = 6
    start = threading.Barrier(racers)
    statuses = []

    def create(number):
        own = app.test_client()
        start.wait()
        statuses.append(put(own, ada, f"race-{number}").status_code)

    threads = [threading.Thread(target=create, args=(number,)) for number in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [403] * (racers - 1)
    assert Workspace.select().where(Workspace.created_by == ada["id"]).count() == WORKSPACES


def test_the_web_page_shows_the_workspace_quota(app, client):
    ada = create_account(client, "ada")
    for number in range(WORKSPACES):
        assert put(client, ada, f"ada-{number}").status_code == 201
    page_client = app.test_client()
    token = csrf_token(page_client.get("/ui/sign-in"))
    assert page_client.post("/ui/sign-in", data={"csrf_token": token, "token": ada["token"]}).status_code == 302
    page = post_form(page_client, "/ui/new", form_page="/ui/new", fullname="from-the-page")
    assert page.status_code == 403
    assert "an account may have at most 3" in text(page)
    assert "from-the-page" not in stored_names()


# --- tokens held ----------------------------------------------------------------------------------


def token_count(account):
    return Token.select().where(Token.account == account["id"]).count()


def test_a_token_past_the_quota_is_refused_telling_what_to_do(client):
    ada = create_account(client, "ada")  # holds its first token
    login = {"app": "password", "credentials": {"username": "ada", "password": PASSWORD}}
    for _ in range(TOKENS - 1):
        assert client.post(f"{API}/token", json=login).status_code == 200
    error = assert_quota(client.post(f"{API}/token", json=login), "MAX_TOKENS_PER_ACCOUNT", TOKENS)
    assert "GET /api/v2/tokens lists them" in error["message"] and "DELETE /api/v2/tokens/{id}" in error["message"]
    assert token_count(ada) == TOKENS
    assert client.get(f"{API}/me", headers=ada["headers"]).status_code == 200  # the ones held still work
    # and doing what it says frees a place
    held = client.get(f"{API}/tokens", headers=ada["headers"]).get_json()
    assert len(held) == TOKENS
    other = next(token for token in held if not token["current"])
    assert client.delete(f"{API}/tokens/{other['id']}", headers=ada["headers"]).status_code == 200
    assert client.post(f"{API}/token", json=login).status_code == 200


def test_concurrent_logins_never_both_take_the_last_token(app, client):
    ada = create_account(client, "ada")
    login = {"app": "password", "credentials": {"username": "ada", "password": PASSWORD}}
    for _ in range(TOKENS - 2):
        assert client.post(f"{API}/token", json=login).status_code == 200
    racers = 4
    start = threading.Barrier(racers)
    statuses = []

    def log_in():
        own = app.test_client()
        start.wait()
        statuses.append(own.post(f"{API}/token", json=login).status_code)

    threads = [threading.Thread(target=log_in) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [403] * (racers - 1)
    assert token_count(ada) == TOKENS


def test_the_token_command_is_refused_past_the_quota_and_admins_have_none(app, client):
    ada = create_account(client, "ada")
    root = create_account(client, "root", admin=True)
    runner = app.test_cli_runner()
    for _ in range(TOKENS - 1):
        assert runner.invoke(args=["issue-token", "ada"]).exit_code == 0
    refused = runner.invoke(args=["issue-token", "ada"])
    assert refused.exit_code != 0 and "WSSERVER_MAX_TOKENS_PER_ACCOUNT" in refused.output, refused.output
    assert token_count(ada) == TOKENS
    login = {"app": "password", "credentials": {"username": "root", "password": PASSWORD}}
    for _ in range(TOKENS + 1):
        assert client.post(f"{API}/token", json=login).status_code == 200
    assert token_count(root) == TOKENS + 2


# --- avatar bytes ---------------------------------------------------------------------------------


def upload(client, caller, fullname, color):
    return client.post(f"{API}/workspaces/{fullname}/avatar", headers=caller["headers"],
                       json={"filename": "a.png", "contentType": "image/png", "data": png_base64(color, side=64)})


def stored_files(instance_path):
    return sorted(os.listdir(os.path.join(instance_path, "avatars")))


@pytest.fixture
def small_avatar_quota(instance_path):
    """An app whose avatar quota holds one 64-pixel PNG of one colour but not two."""
    probe = make_app(instance_path).test_client()
    ada = create_account(probe, "ada")
    assert put(probe, ada, "probe").status_code == 201
    size = upload(probe, ada, "probe", "navy").get_json()["size"]
    assert probe.delete(f"{API}/workspaces/probe", headers=ada["headers"]).status_code == 200
    client = make_app(instance_path, MAX_AVATAR_BYTES_PER_ACCOUNT=size + size // 2).test_client()
    return client, ada, size + size // 2


def test_avatar_bytes_past_the_quota_are_refused_by_upload_and_by_link(small_avatar_quota, instance_path):
    client, ada, limit = small_avatar_quota
    for fullname in ("one", "two"):
        assert put(client, ada, fullname).status_code == 201
    first = upload(client, ada, "one", "navy")
    assert first.status_code == 200
    files = stored_files(instance_path)
    assert_quota(upload(client, ada, "two", "olive"), "MAX_AVATAR_BYTES_PER_ACCOUNT", limit)
    assert stored_files(instance_path) == files
    # pointing another workspace at the stored file counts it once more
    url = first.get_json()["url"]
    assert_quota(put(client, ada, "two", meta={"avatar": url}), "MAX_AVATAR_BYTES_PER_ACCOUNT", limit)
    assert_quota(put(client, ada, "three", meta={"avatar": url}), "MAX_AVATAR_BYTES_PER_ACCOUNT", limit)
    assert {row.fullname: row.avatar_file for row in Workspace.select()} == {"one": files[0], "two": None}
    # replacing a workspace's own avatar is within the quota; an external URL costs nothing
    assert upload(client, ada, "one", "olive").status_code == 200
    assert put(client, ada, "two", meta={"avatar": "https://example.com/a.png"}).status_code == 200


def test_instance_admins_workspaces_have_no_avatar_quota(small_avatar_quota):
    client, _, _ = small_avatar_quota
    admin = {"headers": bearer(ADMIN_TOKEN)}
    for fullname, color in (("one", "navy"), ("two", "olive"), ("three", "maroon")):
        assert put(client, admin, fullname).status_code == 201
        assert upload(client, admin, fullname, color).status_code == 200


# --- the disk reserve -----------------------------------------------------------------------------


def test_below_the_disk_reserve_writes_answer_507_while_reads_and_deletes_work(app, client, instance_path):
    ada = create_account(client, "ada")
    for fullname in ("kept", "dropped", "dropped-by-page"):
        assert put(client, ada, fullname).status_code == 201
    page_client = app.test_client()
    token = csrf_token(page_client.get("/ui/sign-in"))
    assert page_client.post("/ui/sign-in", data={"csrf_token": token, "token": ada["token"]}).status_code == 302
    above_free = free_bytes(instance_path) // MIB + 1024
    app.config["DISK_RESERVE_MB"] = above_free
    writes = [
        put(client, ada, "new-one"),
        put(client, ada, "kept", tags=["changed"]),
        upload(client, ada, "kept", "navy"),
        client.post(f"{API}/workspaces/kept/archive", headers=ada["headers"]),
        client.post(f"{API}/token", json={"app": "password", "credentials": {"username": "ada", "password": PASSWORD}}),
    ]
    for answer in writes:
        error = assert_error(answer, 507, {"reserve", "limit"})
        assert error["details"] == {"reserve": "WSSERVER_DISK_RESERVE_MB", "limit": above_free}
        assert "reserve" in error["message"]
    page = post_form(page_client, "/ui/new", form_page="/ui/new", fullname="from-the-page")
    assert page.status_code == 507 and "below its reserve" in text(page)
    # the flavors only read: a POST there is still their own 405, not a reserve refusal
    flavor = client.post("/flavors/engineering/api/workspaces/", json={}, headers=ada["headers"])
    assert flavor.status_code == 405 and set(flavor.get_json()) == {"detail"}
    assert client.get(f"{API}/workspaces/kept", headers=ada["headers"]).get_json()["tags"] == []
    assert client.get(f"{API}/workspaces", headers=ada["headers"]).status_code == 200
    ready = client.get("/readyz")
    assert_error(ready, 503, {"storage"})
    assert client.delete(f"{API}/workspaces/dropped", headers=ada["headers"]).status_code == 200
    deleted = post_form(page_client, "/ui/w/dropped-by-page/delete", form_page="/ui/w/dropped-by-page",
                        confirm="dropped-by-page")
    assert deleted.status_code in (302, 303), deleted.get_data(as_text=True)[:300]
    assert stored_names() == ["kept"]
    assert Token.select().where(Token.account == ada["id"]).count() == 1
    app.config["DISK_RESERVE_MB"] = 1
    assert put(client, ada, "new-one").status_code == 201
    assert client.get("/readyz").status_code == 200
