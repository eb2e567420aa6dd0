"""The test-double toolkit: seed files, export, test mode (reset, request log), deterministic ids and time."""
import concurrent.futures
import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import sys

import pytest
import requests
import yaml

from engines import separate_database
from conftest import ADMIN_TOKEN, API, ROOT, TEST_RATE_LIMIT, basic, bearer, LiveServer, png_base64
from wsserver import create_app
from wsserver.config import ConfigError
from wsserver.testing import mode as test_mode

FIXED_TIME = "2024-06-01T09:30:00.000Z"

RICH_SEED = {
    "version": 1,
    "accounts": [
        {"username": "admin", "admin": True, "tokens": [ADMIN_TOKEN]},
        {
            "id": "acc-alice", "username": "alice", "nickname": "Alice A.", "password": "correct horse battery",
            "tokens": ["alice-token-1", "alice-token-2"], "createdAt": "2024-01-02T03:04:05+02:00",
        },
        {"username": "bob", "tokenHashes": [hashlib.sha256(b"bob-token").hexdigest()]},
        {"username": "carol", "admin": True, "tokens": ["carol-token"]},
    ],
    "workspaces": [
        {
            "id": "ws-research", "fullname": "research", "invite": "research-invite", "tags": ["ml", "nlp"],
            "labels": {"team": "core", "tier": "gold"}, "meta": {"title": "Research", "avatar": "https://example.com/r.png"},
            "createdAt": "2024-02-01T00:00:00Z", "updatedAt": "2024-03-01T00:00:00Z", "createdBy": "alice",
        },
        {"fullname": "notes", "meta": {"title": "Notes — ünïcode"}},
        # created by an account that was deleted since: only its id remains
        {"fullname": "ops", "createdBy": "0123456789abcdef01234567", "labels": {"env": "prod"}},
    ],
    "memberships": [
        {"id": "m-1", "workspace": "research", "account": "alice", "level": "owner"},
        {"workspace": "research", "account": "bob", "level": "developer"},
        {"workspace": "notes", "account": "bob", "level": "owner"},
        {"workspace": "notes", "account": "carol", "level": "admin"},
        {"workspace": "ops", "account": "carol", "level": "owner"},
        {"workspace": "ops", "account": "alice", "level": "user"},
    ],
}
RICH_COUNTS = {"accounts": 4, "workspaces": 3, "memberships": 6}


# --- helpers ----------------------------------------------------------------------------------------


def make_app(instance, **settings):
    """An app on `instance`; tests here make several independent instances, so each has its own database."""
    return create_app({"INSTANCE_PATH": str(instance), "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       **separate_database(instance), **settings})


def write(path, document, fmt=None):
    fmt = fmt or ("yaml" if str(path).endswith((".yaml", ".yml")) else "json")
    with open(path, "w", encoding="utf-8") as handle:
        if fmt == "yaml":
            yaml.safe_dump(document, handle, sort_keys=False, allow_unicode=True)
        else:
            json.dump(document, handle, ensure_ascii=False)
    return str(path)


def cli(app, *arguments):
    return app.test_cli_runner().invoke(args=list(arguments))


def seed_ok(app, path, *options):
    result = cli(app, "seed", str(path), *options)
    assert result.exit_code == 0, result.output
    return result


def export_text(app, path):
    result = cli(app, "export", str(path))
    assert result.exit_code == 0, result.output
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def avatar_files(app):
    return sorted(os.listdir(os.path.join(app.config["INSTANCE_PATH"], "avatars")))


def assert_envelope(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "details"}
    return body["error"]


@pytest.fixture
def seeded(tmp_path):
    """An app (not in test mode) seeded with RICH_SEED through `flask seed`."""
    app = make_app(tmp_path / "a")
    seed_ok(app, write(tmp_path / "rich.json", RICH_SEED))
    return app


# --- seed -----------------------------------------------------------------------------------------


def test_seeded_accounts_tokens_passwords_and_workspaces_work_through_the_api(seeded):
    client = seeded.test_client()
    me = client.get(f"{API}/me", headers=bearer("alice-token-2")).get_json()
    assert me["id"] == "acc-alice" and me["nickname"] == "Alice A." and me["admin"] is False
    assert [(m["workspace"]["fullname"], m["level"]) for m in me["memberships"]] == [("ops", "user"), ("research", "owner")]
    assert client.get(f"{API}/me", headers=basic("alice", "correct horse battery")).get_json()["username"] == "alice"
    assert client.get(f"{API}/me", headers=bearer("bob-token")).get_json()["username"] == "bob"  # from tokenHashes
    assert client.get(f"{API}/me", headers=bearer("carol-token")).get_json()["admin"] is True
    research = client.get(f"{API}/workspaces/research", headers=bearer("alice-token-1")).get_json()
    assert research == {
        "id": "ws-research", "fullname": "research", "tags": ["ml", "nlp"], "labels": {"team": "core", "tier": "gold"},
        "meta": {"title": "Research", "description": None, "avatar": "https://example.com/r.png"}, "archivedAt": None,
        "createdAt": "2024-02-01T00:00:00.000Z", "updatedAt": "2024-03-01T00:00:00.000Z", "createdBy": "acc-alice",
        "invite": "research-invite",
    }
    notes = client.get(f"{API}/workspaces/notes", headers=bearer("bob-token")).get_json()
    bob_id = client.get(f"{API}/me", headers=bearer("bob-token")).get_json()["id"]
    assert notes["createdBy"] == bob_id  # default: the first owner in the file
    assert notes["invite"].startswith("wss_") and notes["createdAt"] == notes["updatedAt"]
    # the seeded invite lets someone join
    dave = client.post(f"{API}/accounts", json={"username": "dave"}, headers=bearer(ADMIN_TOKEN)).get_json()["token"]
    assert client.post(f"{API}/workspaces/research/acl", json={"invite": "research-invite"}, headers=bearer(dave)).status_code == 204


def test_export_then_seed_an_empty_instance_then_export_gives_the_same_json_file(seeded, tmp_path):
    first = export_text(seeded, tmp_path / "first.json")
    document = json.loads(first)
    assert document["version"] == 3  # version 1 files (as `seeded` is) load and export as version 3
    assert [organization["default"] for organization in document["organizations"]] == [True]
    alice = next(account for account in document["accounts"] if account["username"] == "alice")
    assert alice["createdAt"] == "2024-01-02T01:04:05.000Z"
    assert alice["passwordHash"].count("$") == 2 and "password" not in alice and "tokens" not in alice
    assert alice["tokenHashes"] == sorted(hashlib.sha256(t.encode()).hexdigest() for t in ("alice-token-1", "alice-token-2"))
    ops = next(workspace for workspace in document["workspaces"] if workspace["fullname"] == "ops")
    assert ops["createdBy"] == "0123456789abcdef01234567"
    research = next(workspace for workspace in document["workspaces"] if workspace["fullname"] == "research")
    assert research["createdBy"] == "alice"

    fresh = make_app(tmp_path / "b")
    seed_ok(fresh, tmp_path / "first.json")
    assert export_text(fresh, tmp_path / "second.json") == first
    # the clear tokens of the original file still work: hashes were carried over
    assert fresh.test_client().get(f"{API}/me", headers=bearer("alice-token-1")).status_code == 200


def test_yaml_round_trip_is_exact_and_says_the_same_as_json(seeded, tmp_path):
    as_json = export_text(seeded, tmp_path / "state.json")
    first = export_text(seeded, tmp_path / "first.yaml")
    assert yaml.safe_load(first) == json.loads(as_json)
    fresh = make_app(tmp_path / "b")
    seed_ok(fresh, tmp_path / "first.yaml")
    assert export_text(fresh, tmp_path / "second.yml") == first
    assert export_text(fresh, tmp_path / "again.json") == as_json


def test_a_state_made_through_the_api_round_trips_too(tmp_path):
    app = make_app(tmp_path / "a")
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)

    def account(name, **extra):
        return client.post(f"{API}/accounts", json={"username": name, **extra}, headers=admin).get_json()

    ada, ben = account("ada", password="a-long-password"), account("ben")
    gone = account("gone")
    ada_h, ben_h, gone_h = bearer(ada["token"]), bearer(ben["token"]), bearer(gone["token"])
    client.put(f"{API}/workspaces/alpha", json={"fullname": "alpha", "tags": ["x"], "labels": {"k": "v"}}, headers=ada_h)
    invite = client.put(f"{API}/workspaces/beta", json={"fullname": "beta"}, headers=gone_h).get_json()["invite"]
    assert client.post(f"{API}/workspaces/beta/acl", json={"invite": invite}, headers=ben_h).status_code == 204
    client.delete(f"{API}/accounts/{gone['account']['id']}", headers=admin)  # ben inherits beta
    client.post(f"{API}/token", json={"app": "password", "credentials": {"username": "ada", "password": "a-long-password"}})

    first = export_text(app, tmp_path / "first.yaml")
    beta = next(w for w in yaml.safe_load(first)["workspaces"] if w["fullname"] == "beta")
    assert beta["createdBy"] == gone["account"]["id"]
    fresh = make_app(tmp_path / "b")
    seed_ok(fresh, tmp_path / "first.yaml")
    assert export_text(fresh, tmp_path / "second.yaml") == first


def test_seed_and_export_through_the_flask_command_line(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WSSERVER_")}
    environment.update(WSSERVER_INSTANCE_PATH=str(tmp_path / "instance"), WSSERVER_ADMIN_TOKEN=ADMIN_TOKEN)

    def flask(*arguments):
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *arguments], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=60)

    seeded = flask("seed", write(tmp_path / "rich.yaml", RICH_SEED))
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.strip() == f"Seeded 4 accounts, 3 workspaces and 6 memberships from {tmp_path / 'rich.yaml'}."
    exported = flask("export", "-", "--format", "yaml")
    assert exported.returncode == 0, exported.stderr
    assert [a["username"] for a in yaml.safe_load(exported.stdout)["accounts"]] == ["admin", "alice", "bob", "carol"]


def test_seeding_an_instance_with_data_is_refused_unless_replace(seeded, tmp_path):
    before = export_text(seeded, tmp_path / "before.json")
    other = {"accounts": [{"username": "zed", "tokens": ["zed-token"]}],
             "workspaces": [{"fullname": "zed-space"}],
             "memberships": [{"workspace": "zed-space", "account": "zed", "level": "owner"}]}
    path = write(tmp_path / "other.json", other)
    refused = cli(seeded, "seed", path)
    assert refused.exit_code == 1
    assert "already holds data" in refused.output and "--replace" in refused.output
    assert export_text(seeded, tmp_path / "after.json") == before

    seed_ok(seeded, path, "--replace")
    client = seeded.test_client()
    assert client.get(f"{API}/me", headers=bearer("alice-token-1")).status_code == 401
    assert client.get(f"{API}/workspaces", headers=bearer("zed-token")).get_json()[0]["fullname"] == "zed-space"
    # WSSERVER_ADMIN_TOKEN keeps working: the start-up admin rule ran again
    accounts = client.get(f"{API}/accounts", headers=bearer(ADMIN_TOKEN)).get_json()
    assert sorted(a["username"] for a in accounts) == ["admin", "zed"]


def test_a_fresh_instance_counts_as_empty_and_its_bootstrap_admin_is_replaced(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "a"), "RATE_LIMIT": TEST_RATE_LIMIT})  # no ADMIN_TOKEN
    token_file = tmp_path / "a" / "admin-token"
    assert token_file.exists()  # the first start made `admin` with a fresh token
    seed_ok(app, write(tmp_path / "rich.json", RICH_SEED))
    client = app.test_client()
    assert client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).get_json()["username"] == "admin"
    assert not token_file.exists()  # its token no longer opens anything


def test_seeding_runs_in_one_transaction(seeded, tmp_path, monkeypatch):
    from wsserver.testing import seed as seed_service

    before = export_text(seeded, tmp_path / "before.json")

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(seed_service.account_service, "ensure_bootstrap_admin", fail)
    result = cli(seeded, "seed", write(tmp_path / "other.json", {"accounts": [{"username": "zed"}]}), "--replace")
    assert result.exit_code != 0
    monkeypatch.undo()
    assert export_text(seeded, tmp_path / "after.json") == before


BAD_SEEDS = [
    pytest.param(
        {"workspaces": [{"fullname": "aa"}, {"fullname": "bb"}, {"fullname": "Bad Name"}]},
        "workspaces[2].fullname: Must be kebab-case", id="fullname",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}], "workspaces": [{"fullname": "aa"}],
         "memberships": [{"workspace": "aa", "account": "al", "level": "owner"},
                         {"workspace": "aa", "account": "zed", "level": "user"}]},
        "memberships[1].account: No account named 'zed' in this file.", id="unknown-account",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}], "memberships": [{"workspace": "nope", "account": "al", "level": "owner"}]},
        "memberships[0].workspace: No workspace named 'nope' in this file.", id="unknown-workspace",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}], "workspaces": [{"fullname": "aa"}],
         "memberships": [{"workspace": "aa", "account": "al", "level": "king"}]},
        "memberships[0].level: Must be one of: user, developer, admin, owner.", id="level",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}], "workspaces": [{"fullname": "aa"}],
         "memberships": [{"workspace": "aa", "account": "al", "level": "admin"}]},
        "workspaces[0]: 'aa' has no owner: add a membership with level owner.", id="no-owner",
    ),
    pytest.param(
        {"accounts": [{"username": "al", "tokens": ["same-token"]}, {"username": "bo", "tokens": ["x", "same-token"]}]},
        "accounts[1].tokens[1]: The same token is already given at accounts[0].tokens[0].", id="token-twice",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}, {"username": "al"}]},
        "accounts[1].username: 'al' is already the username of accounts[0].", id="username-twice",
    ),
    pytest.param({"accounts": [{"username": "al", "email": "a@b.c"}]}, "accounts[0].email: Unknown field.", id="unknown-field"),
    pytest.param(
        {"accounts": [{"username": "al", "createdAt": "last tuesday"}]},
        "accounts[0].createdAt: Not an ISO 8601 date and time", id="time",
    ),
    pytest.param(
        {"accounts": [{"username": "al"}], "workspaces": [{"fullname": "admin"}],
         "memberships": [{"workspace": "admin", "account": "al", "level": "owner"}]},
        "workspaces[0].fullname: The name 'admin' is reserved.", id="reserved",
    ),
    pytest.param(
        {"accounts": [{"username": "al", "password": "short"}]},
        "accounts[0].password: Length must be between 8 and 1024.", id="password",
    ),
    pytest.param(
        {"workspaces": [{"fullname": "aa", "tags": ["x", "x"]}]}, "workspaces[0].tags: Tags must be distinct.",
        id="tags",
    ),
    pytest.param(["not", "a", "mapping"], "(file): Expected a mapping with accounts, workspaces and memberships.",
                 id="not-a-mapping"),
    pytest.param({"version": 4}, "version: Must be one of: 1, 2, 3.", id="version"),
]


@pytest.mark.parametrize("document, line", BAD_SEEDS)
def test_seed_validation_errors_name_the_bad_entry(tmp_path, document, line):
    app = make_app(tmp_path / "a")
    for name in ("bad.json", "bad.yaml"):
        result = cli(app, "seed", write(tmp_path / name, document))
        assert result.exit_code == 1
        assert "is not a valid seed file" in result.output
        assert line in result.output, result.output
    # nothing was loaded
    accounts = app.test_client().get(f"{API}/accounts", headers=bearer(ADMIN_TOKEN)).get_json()
    assert [a["username"] for a in accounts] == ["admin"]


def test_malformed_files_say_where(tmp_path):
    app = make_app(tmp_path / "a")
    (tmp_path / "broken.yaml").write_text("accounts:\n  - username: al\n  - [oops\n")
    result = cli(app, "seed", str(tmp_path / "broken.yaml"))
    assert result.exit_code == 1 and "not valid YAML: line 4" in result.output, result.output
    (tmp_path / "broken.json").write_text('{"accounts": [}')
    result = cli(app, "seed", str(tmp_path / "broken.json"))
    assert result.exit_code == 1 and "not valid JSON: line 1 column 15" in result.output, result.output
    result = cli(app, "seed", str(tmp_path / "missing.json"))
    assert result.exit_code == 1 and "cannot be read" in result.output


def test_a_bad_seed_file_at_start_up_stops_it_with_a_message_naming_the_entry(tmp_path):
    path = write(tmp_path / "bad.yaml", BAD_SEEDS[0].values[0])
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path / "a", SEED_FILE=path)
    assert str(caught.value).startswith(f"WSSERVER_SEED_FILE ({path}): workspaces[2].fullname: Must be kebab-case")


def test_seed_file_at_start_up_loads_an_empty_instance_and_leaves_data_alone_outside_test_mode(tmp_path, caplog):
    path = write(tmp_path / "rich.yaml", RICH_SEED)
    app = make_app(tmp_path / "a", SEED_FILE=path)
    client = app.test_client()
    assert client.get(f"{API}/me", headers=bearer("alice-token-1")).status_code == 200
    dave = client.post(f"{API}/accounts", json={"username": "dave"}, headers=bearer(ADMIN_TOKEN)).get_json()["token"]
    with caplog.at_level(logging.INFO, logger="wsserver"):
        again = make_app(tmp_path / "a", SEED_FILE=path)  # a restart
    assert "not loaded: the instance already holds data" in caplog.text
    assert again.test_client().get(f"{API}/me", headers=bearer(dave)).status_code == 200


def test_seed_file_at_start_up_in_test_mode_always_replaces_the_data(tmp_path):
    path = write(tmp_path / "rich.yaml", RICH_SEED)
    app = make_app(tmp_path / "a", SEED_FILE=path, TEST_MODE=True)
    client = app.test_client()
    dave = client.post(f"{API}/accounts", json={"username": "dave"}, headers=bearer(ADMIN_TOKEN)).get_json()["token"]
    again = make_app(tmp_path / "a", SEED_FILE=path, TEST_MODE=True)
    client = again.test_client()
    assert client.get(f"{API}/me", headers=bearer(dave)).status_code == 401
    assert client.get(f"{API}/me", headers=bearer("alice-token-1")).status_code == 200


# --- test mode routes ---------------------------------------------------------------------------------


def test_test_mode_routes_do_not_exist_without_test_mode(client, admin_headers):
    for method, path in (("POST", "/__admin__/reset"), ("GET", "/__admin__/requests")):
        error = assert_envelope(client.open(path, method=method, headers=admin_headers), 404)
        assert error == {"message": "Nothing is here.", "details": {}}
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path.startswith("/__admin__")]


@pytest.fixture
def test_app(tmp_path):
    return make_app(tmp_path / "t", TEST_MODE=True, SEED_FILE=write(tmp_path / "rich.yaml", RICH_SEED))


def test_test_mode_routes_are_for_instance_admins_and_documented(test_app):
    client = test_app.test_client()
    for method, path in (("POST", "/__admin__/reset"), ("GET", "/__admin__/requests")):
        assert_envelope(client.open(path, method=method), 401)
        assert_envelope(client.open(path, method=method, headers=bearer("alice-token-1")), 403)
        assert client.open(path, method=method, headers=bearer("carol-token")).status_code == 200  # another admin
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/__admin__/reset"]) == {"post"} and set(paths["/__admin__/requests"]) == {"get"}
    assert {"200", "401", "403"} <= set(paths["/__admin__/reset"]["post"]["responses"])


def test_test_mode_start_up_logs_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="wsserver"):
        make_app(tmp_path / "t", TEST_MODE=True)
    assert "TEST MODE" in caplog.text and "never run a real instance like this" in caplog.text


def test_reset_restores_exactly_the_seeded_state_after_changes_of_every_kind(test_app, tmp_path):
    client = test_app.test_client()
    admin = bearer(ADMIN_TOKEN)
    baseline = export_text(test_app, tmp_path / "baseline.json")
    alice, carol = bearer("alice-token-1"), bearer("carol-token")

    dave = client.post(f"{API}/accounts", json={"username": "dave"}, headers=admin).get_json()["token"]  # account created
    assert client.put(f"{API}/workspaces/dave-space", json={"fullname": "dave-space"}, headers=bearer(dave)).status_code == 201
    assert client.put(f"{API}/workspaces/research", json={"fullname": "research", "tags": ["changed"], "resetInvite": True,
                                                          "meta": {"title": "Changed"}}, headers=alice).status_code == 200
    assert client.delete(f"{API}/workspaces/ops", headers=carol).status_code == 200
    notes_invite = client.get(f"{API}/workspaces/notes", headers=carol).get_json()["invite"]
    assert client.post(f"{API}/workspaces/notes/acl", json={"invite": notes_invite}, headers=bearer(dave)).status_code == 204
    bob_entry = next(e for e in client.get(f"{API}/workspaces/research/acl", headers=alice).get_json()
                     if e["user"]["username"] == "bob")
    assert client.put(f"{API}/workspaces/research/acl/{bob_entry['id']}", json={"level": "admin"}, headers=alice).status_code == 204
    uploaded = client.post(f"{API}/workspaces/research/avatar",
                           json={"filename": "a.png", "contentType": "image/png", "data": png_base64()}, headers=alice)
    assert uploaded.status_code == 200
    avatar_path = "/avatars/" + uploaded.get_json()["fileName"]
    assert client.get(avatar_path).status_code == 200 and avatar_files(test_app)
    fresh_token = client.post(f"{API}/token", json={"app": "password", "credentials": {
        "username": "alice", "password": "correct horse battery"}}).get_json()["token"]
    carol_id = client.get(f"{API}/me", headers=carol).get_json()["id"]
    assert client.delete(f"{API}/accounts/{carol_id}", headers=admin).status_code == 200
    assert export_text(test_app, tmp_path / "changed.json") != baseline

    response = client.post("/__admin__/reset", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == RICH_COUNTS
    assert export_text(test_app, tmp_path / "after.json") == baseline
    assert avatar_files(test_app) == []
    assert_envelope(client.get(avatar_path), 404)
    for gone in (dave, fresh_token):
        assert_envelope(client.get(f"{API}/me", headers=bearer(gone)), 401)
    assert client.get(f"{API}/me", headers=carol).status_code == 200
    assert client.get(f"{API}/workspaces/research", headers=alice).get_json()["invite"] == "research-invite"
    listed = client.get(f"{API}/workspaces", headers=alice, query_string={"q": "changed"}).get_json()
    assert listed == []  # the search index followed the restored rows
    assert [w["fullname"] for w in client.get(f"{API}/workspaces", headers=alice,
                                              query_string={"tag": "ml"}).get_json()] == ["research"]


def test_reset_puts_back_avatar_files_of_the_baseline(tmp_path):
    instance = tmp_path / "t"
    app = make_app(instance)
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    client.put(f"{API}/workspaces/pics", json={"fullname": "pics"}, headers=admin)
    name = client.post(f"{API}/workspaces/pics/avatar", json={"filename": "a.png", "contentType": "image/png",
                                                             "data": png_base64("blue")}, headers=admin).get_json()["fileName"]
    app = make_app(instance, TEST_MODE=True)  # no seed file: the baseline is the state at start-up
    client = app.test_client()
    assert client.delete(f"{API}/workspaces/pics", headers=admin).status_code == 200
    assert avatar_files(app) == []  # its file went with it
    assert client.post("/__admin__/reset", headers=admin).status_code == 200
    assert avatar_files(app) == [name]
    assert client.get(f"/avatars/{name}").status_code == 200
    assert client.get(f"{API}/workspaces/pics", headers=admin).get_json()["meta"]["avatar"].endswith(name)


def test_requests_log_lists_method_path_query_status_body_size_and_caller(test_app):
    client = test_app.test_client()
    alice = bearer("alice-token-1")
    body = {"fullname": "logged", "meta": {"title": "Logged"}}
    client.put(f"{API}/workspaces/logged", json=body, headers=alice)
    client.get(f"{API}/workspaces", headers=alice, query_string={"q": "log", "access_token": "alice-token-1"})
    client.get(f"{API}/workspaces/nope", headers=alice)
    client.get("/healthz")
    client.get(f"{API}/me", headers=bearer("wrong-token"))
    client.post("/__admin__/reset", headers=bearer("alice-token-1"))  # /__admin__/* is never recorded
    answer = client.get("/__admin__/requests", headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 200
    assert answer.get_json() == [
        {"method": "PUT", "path": f"{API}/workspaces/logged", "query": "", "status": 201,
         "bodySize": len(json.dumps(body).encode()), "username": "alice"},
        {"method": "GET", "path": f"{API}/workspaces", "query": "q=log&access_token=%2A%2A%2A", "status": 422,
         "bodySize": 0, "username": "alice"},
        {"method": "GET", "path": f"{API}/workspaces/nope", "query": "", "status": 404, "bodySize": 0,
         "username": "alice"},
        {"method": "GET", "path": "/healthz", "query": "", "status": 200, "bodySize": 0, "username": None},
        {"method": "GET", "path": f"{API}/me", "query": "", "status": 401, "bodySize": 0, "username": None},
    ]
    # never a token or a body in the file
    with open(os.path.join(test_app.config["INSTANCE_PATH"], "test-mode", "state.sqlite3"), "rb") as handle:
        stored = handle.read()
    for secret in (b"alice-token-1", b"wrong-token", b"Logged"):
        assert secret not in stored
    # a reset empties it
    client.post("/__admin__/reset", headers=bearer(ADMIN_TOKEN))
    assert client.get("/__admin__/requests", headers=bearer(ADMIN_TOKEN)).get_json() == []


def test_requests_log_keeps_only_the_newest(test_app, monkeypatch):
    monkeypatch.setattr(test_mode, "REQUEST_LOG_SIZE", 5)
    client = test_app.test_client()
    for number in range(12):
        client.get(f"{API}/workspaces/w{number}", headers=bearer("alice-token-1"))
    logged = client.get("/__admin__/requests", headers=bearer(ADMIN_TOKEN)).get_json()
    assert [entry["path"] for entry in logged] == [f"{API}/workspaces/w{number}" for number in range(7, 12)]


@pytest.mark.slow
def test_requests_log_and_id_sequence_are_shared_by_all_worker_processes(tmp_path):
    seed_file = write(tmp_path / "rich.yaml", RICH_SEED)
    server = LiveServer(str(tmp_path / "live"), env={
        "WSSERVER_TEST_MODE": "1", "WSSERVER_SEED_FILE": seed_file, "WSSERVER_SEED": "7", "WSSERVER_WORKERS": "3",
    })
    try:
        def create(number):
            response = requests.put(f"{server.url}{API}/workspaces/w{number}", json={"fullname": f"w{number}"},
                                    headers=bearer("alice-token-1"), timeout=10)
            return response.status_code, response.json()["id"]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(create, range(40)))
        assert [status for status, _ in results] == [201] * 40
        assert len({workspace_id for _, workspace_id in results}) == 40  # no two workers drew the same id
        logged = requests.get(f"{server.url}/__admin__/requests", headers=bearer(ADMIN_TOKEN), timeout=10).json()
        assert sorted(entry["path"] for entry in logged if entry["method"] == "PUT") == sorted(
            f"{API}/workspaces/w{number}" for number in range(40))
    finally:
        server.stop()


# --- deterministic mode --------------------------------------------------------------------------------


def scripted_session(app):
    """A fixed sequence of requests; returns every answer a client would see."""
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    answers = []

    def call(method, path, headers, body=None):
        response = client.open(path, method=method, json=body, headers=headers)
        answers.append((response.status_code, response.get_json()))
        return response.get_json()

    made = call("POST", f"{API}/accounts", admin, {"username": "eve", "password": "a-long-password"})
    eve = bearer(made["token"])
    call("PUT", f"{API}/workspaces/eve-space", eve, {"fullname": "eve-space", "tags": ["t"]})
    call("PUT", f"{API}/workspaces/eve-space", eve, {"fullname": "eve-space", "resetInvite": True})
    call("POST", f"{API}/token", {}, {"app": "password", "credentials": {"username": "eve", "password": "a-long-password"}})
    call("GET", f"{API}/workspaces/eve-space/acl", eve)
    call("GET", f"{API}/me", eve)
    call("GET", f"{API}/accounts", admin)
    return answers


def test_two_fresh_instances_with_seed_and_fixed_time_answer_identically(tmp_path):
    settings = {"TEST_MODE": True, "SEED": 42, "FIXED_TIME": "2024-06-01T11:30:00+02:00"}
    first = scripted_session(make_app(tmp_path / "one", **settings))
    second = scripted_session(make_app(tmp_path / "two", **settings))
    assert first == second
    workspace = first[1][1]
    assert workspace["createdAt"] == workspace["updatedAt"] == FIXED_TIME
    assert first[0][1]["token"].startswith("wss_") and len(first[0][1]["token"]) == 47
    other = scripted_session(make_app(tmp_path / "three", **{**settings, "SEED": 43}))
    assert other[1][1]["id"] != workspace["id"]


def test_without_a_seed_ids_differ(tmp_path):
    first = scripted_session(make_app(tmp_path / "one", TEST_MODE=True, FIXED_TIME=FIXED_TIME))
    second = scripted_session(make_app(tmp_path / "two", TEST_MODE=True, FIXED_TIME=FIXED_TIME))
    assert first[1][1]["createdAt"] == second[1][1]["createdAt"] == FIXED_TIME
    assert first[1][1]["id"] != second[1][1]["id"]


def test_reset_rewinds_the_id_sequence_so_a_run_replays_identically(tmp_path):
    app = make_app(tmp_path / "one", TEST_MODE=True, SEED=5, FIXED_TIME=FIXED_TIME,
                   SEED_FILE=write(tmp_path / "rich.yaml", RICH_SEED))
    first = scripted_session(app)
    assert app.test_client().post("/__admin__/reset", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert scripted_session(app) == first
    # and a restart on the same seed file replays it too
    again = make_app(tmp_path / "one", TEST_MODE=True, SEED=5, FIXED_TIME=FIXED_TIME,
                     SEED_FILE=write(tmp_path / "rich.yaml", RICH_SEED))
    assert scripted_session(again) == first


@pytest.mark.parametrize("name, value", [("SEED", "1"), ("FIXED_TIME", FIXED_TIME)])
def test_deterministic_settings_are_refused_outside_test_mode(tmp_path, name, value):
    with pytest.raises(ConfigError, match=f"WSSERVER_{name} is only allowed in test mode"):
        make_app(tmp_path / "a", **{name: value})


def test_a_bad_fixed_time_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="WSSERVER_FIXED_TIME .*ISO 8601"):
        make_app(tmp_path / "a", TEST_MODE=True, FIXED_TIME="noon")


def test_test_mode_state_file_is_plain_sqlite(test_app):
    path = os.path.join(test_app.config["INSTANCE_PATH"], "test-mode", "state.sqlite3")
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"counter", "request", "baseline"} <= tables
