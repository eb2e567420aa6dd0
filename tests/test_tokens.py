"""Personal access tokens with a life cycle (issue 27, item 1): GET/POST/DELETE /tokens, DELETE /tokens/:id,
expiry (and WSSERVER_TOKEN_MAX_DAYS), the read scope, last use at most once a minute, the admin commands,
and schema version 8's upgrade. Both engines; time is moved with the fixed time of ids.now_iso."""
import pytest

from conftest import ADMIN_TOKEN, API, T0, TEST_RATE_LIMIT, LiveServer, assert_error, bearer, free_port  # noqa: F401
from ui_helpers import sign_in
from wsserver import create_app, ids
from wsserver.ids import hash_secret, shifted
from wsserver.storage.db import database
from wsserver.storage.migrations import CURRENT_VERSION
from wsserver.storage.models import SchemaVersion, Token

DAY = 86400


def create(client, headers, status=201, **body):
    response = client.post(f"{API}/tokens", json={"name": "laptop", **body}, headers=headers)
    assert response.status_code == status, response.get_json()
    return response


def stored(token_value):
    return Token.get_or_none(Token.token_hash == hash_secret(token_value))


def me_status(client, token_value):
    return client.get(f"{API}/me", headers=bearer(token_value)).status_code


# --- create, list, revoke -----------------------------------------------------------------------------


def test_a_new_token_is_shown_once_listed_without_its_value_and_stored_as_a_hash(client, accounts, clock):
    ada = accounts.create("ada")
    response = create(client, ada["headers"], name="ci runner", expiresIn=3600)
    assert response.headers["Cache-Control"] == "no-store"
    made = response.get_json()
    value = made["token"]
    assert value.startswith("wss_") and len(value) == 47
    assert made == {"id": made["id"], "name": "ci runner", "prefix": value[:12], "scope": "all", "createdAt": T0,
                    "lastUsedAt": None, "expiresAt": shifted(T0, 3600), "expired": False, "current": False,
                    "token": value}
    assert me_status(client, value) == 200

    listed = client.get(f"{API}/tokens", headers=bearer(value))
    assert listed.status_code == 200
    by_name = {token["name"]: token for token in listed.get_json()}
    assert set(by_name) == {"created", "ci runner"}  # the account's first token, and this one
    assert by_name["ci runner"] == {**{k: v for k, v in made.items() if k != "token"}, "lastUsedAt": T0, "current": True}
    assert by_name["created"]["current"] is False
    assert value not in listed.get_data(as_text=True)
    row = stored(value)
    assert row.prefix == value[:12] and row.token_hash == hash_secret(value) and row.name == "ci runner"
    assert value not in [str(column) for column in Token.select().where(Token.id == made["id"]).tuples().get()]


def test_revoking_own_token_refuses_it_at_once(client, accounts):
    ada = accounts.create("ada")
    made = create(client, ada["headers"]).get_json()
    response = client.delete(f"{API}/tokens/{made['id']}", headers=ada["headers"])
    assert response.status_code == 200 and response.get_json() == {}
    assert me_status(client, made["token"]) == 401
    assert stored(made["token"]) is None
    assert_error(client.delete(f"{API}/tokens/{made['id']}", headers=ada["headers"]), 404)


def test_another_accounts_token_is_404_as_one_that_does_not_exist_and_instance_admins_revoke_any(client, accounts):
    ada, bob = accounts.create("ada"), accounts.create("bob")
    bobs = create(client, bob["headers"]).get_json()
    unknown = assert_error(client.delete(f"{API}/tokens/{'0' * 24}", headers=ada["headers"]), 404)
    others = assert_error(client.delete(f"{API}/tokens/{bobs['id']}", headers=ada["headers"]), 404)
    assert others == unknown  # nothing tells ada that bob's id exists
    assert me_status(client, bobs["token"]) == 200
    assert bobs["id"] not in client.get(f"{API}/tokens", headers=ada["headers"]).get_data(as_text=True)

    assert client.delete(f"{API}/tokens/{bobs['id']}", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert me_status(client, bobs["token"]) == 401
    assert me_status(client, bob["token"]) == 200  # bob's other token is untouched


def test_revoking_all_other_tokens_keeps_the_one_making_the_request(client, accounts):
    ada, bob = accounts.create("ada", password="correct horse"), accounts.create("bob")
    extra = [create(client, ada["headers"], name=f"t{n}").get_json()["token"] for n in range(3)]
    keeper = extra[1]
    response = client.delete(f"{API}/tokens", headers=bearer(keeper))
    assert response.status_code == 200 and response.get_json() == {"revoked": 3}
    assert me_status(client, keeper) == 200
    for value in (ada["token"], extra[0], extra[2]):
        assert me_status(client, value) == 401
    assert [token["current"] for token in client.get(f"{API}/tokens", headers=bearer(keeper)).get_json()] == [True]
    assert me_status(client, bob["token"]) == 200
    # with a password there is no current token: every one goes
    from conftest import basic

    assert client.delete(f"{API}/tokens", headers=basic("ada", "correct horse")).get_json() == {"revoked": 1}
    assert me_status(client, keeper) == 401


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({"name": "x" * 65}, "name"), ({"name": "a\nb"}, "name"), ({}, "name"),
    ({"name": "t", "expiresIn": 0}, "expiresIn"), ({"name": "t", "expiresIn": "60"}, "expiresIn"),
    ({"name": "t", "expiresIn": 1.5}, "expiresIn"), ({"name": "t", "expiresIn": True}, "expiresIn"),
    ({"name": "t", "expiresIn": 10**12}, "expiresIn"), ({"name": "t", "scope": "write"}, "scope"),
    ({"name": "environment"}, "name"),
])
def test_a_bad_token_request_is_422_naming_the_field(client, accounts, body, field):
    ada = accounts.create("ada")
    assert_error(client.post(f"{API}/tokens", json=body, headers=ada["headers"]), 422, details={field})
    assert Token.select().where(Token.account == ada["id"]).count() == 1


# --- expiry and the cap -------------------------------------------------------------------------------


def test_an_expired_token_is_401_and_listed_as_expired_until_a_new_token_removes_it(client, accounts, clock):
    ada = accounts.create("ada")
    short = create(client, ada["headers"], name="short", expiresIn=3600).get_json()
    clock.set(3599)
    assert me_status(client, short["token"]) == 200
    clock.set(3600)
    assert me_status(client, short["token"]) == 401
    listed = {token["name"]: token for token in client.get(f"{API}/tokens", headers=ada["headers"]).get_json()}
    assert listed["short"]["expired"] is True and listed["created"]["expired"] is False
    create(client, ada["headers"], name="next")
    assert stored(short["token"]) is None  # expired rows are removed when the account gets a new token


def test_post_token_takes_expires_in_too(client, accounts, clock):
    accounts.create("ada", password="correct horse")
    login = {"app": "password", "credentials": {"username": "ada", "password": "correct horse"}}
    response = client.post(f"{API}/token", json={**login, "expiresIn": 60})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    value = response.get_json()["token"]
    assert set(response.get_json()) == {"token"}
    row = stored(value)
    assert (row.name, row.expires_at, row.prefix) == ("password", shifted(T0, 60), value[:12])
    clock.set(60)
    assert me_status(client, value) == 401
    assert_error(client.post(f"{API}/token", json={**login, "expiresIn": -5}), 422, details={"expiresIn"})


@pytest.fixture
def capped(instance_path):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       "TOKEN_MAX_DAYS": 30})


def test_token_max_days_refuses_a_longer_expiry_and_gives_its_own_when_none_is_asked(capped, clock):
    from conftest import Accounts

    client = capped.test_client()
    ada = Accounts(client).create("ada", password="correct horse")
    error = assert_error(create(client, ada["headers"], 422, expiresIn=31 * DAY), 422, details={"expiresIn"})
    assert "30 days" in error["message"] and "WSSERVER_TOKEN_MAX_DAYS" in error["message"]
    assert create(client, ada["headers"], expiresIn=30 * DAY).get_json()["expiresAt"] == shifted(T0, 30 * DAY)
    assert create(client, ada["headers"]).get_json()["expiresAt"] == shifted(T0, 30 * DAY)
    login = {"app": "password", "credentials": {"username": "ada", "password": "correct horse"}, "expiresIn": 31 * DAY}
    assert_error(client.post(f"{API}/token", json=login), 422, details={"expiresIn"})


def test_token_max_days_also_ends_tokens_made_before_it_was_set_but_not_the_environments(capped, clock):
    from conftest import Accounts

    client = capped.test_client()
    ada = Accounts(client).create("ada")  # made at T0, no expiry stored: capped by its age
    Token.update(expires_at=None).where(Token.account == ada["id"]).execute()
    clock.set(30 * DAY - 1)
    assert me_status(client, ada["token"]) == 200
    clock.set(30 * DAY)
    assert me_status(client, ada["token"]) == 401
    assert me_status(client, ADMIN_TOKEN) == 200  # WSSERVER_ADMIN_TOKEN's lives as long as the setting names it


# --- the read scope -----------------------------------------------------------------------------------


def test_a_read_token_may_get_and_head_and_nothing_else(client, accounts, make_workspace):
    ada = accounts.create("ada")
    make_workspace(ada["headers"], "research")
    reader = bearer(create(client, ada["headers"], scope="read").get_json()["token"])
    assert client.get(f"{API}/workspaces/research", headers=reader).status_code == 200
    assert client.head(f"{API}/workspaces/research", headers=reader).status_code == 200
    assert client.get(f"{API}/tokens", headers=reader).status_code == 200
    assert client.get("/flavors/platform/workspaces", headers=reader).status_code == 200
    for response in (
        client.put(f"{API}/workspaces/research", json={"fullname": "research", "tags": ["x"]}, headers=reader),
        client.delete(f"{API}/workspaces/research", headers=reader),
        client.post(f"{API}/tokens", json={"name": "escalate"}, headers=reader),
        client.delete(f"{API}/tokens", headers=reader),
    ):
        error = assert_error(response, 403)
        assert "scope (read)" in error["message"]
    assert client.get(f"{API}/workspaces/research", headers=ada["headers"]).get_json()["tags"] == []
    assert Token.select().where(Token.account == ada["id"]).count() == 2


def test_a_read_token_does_not_sign_in_to_the_web_page(client, accounts):
    ada = accounts.create("ada")
    reader = create(client, ada["headers"], scope="read").get_json()["token"]
    page = sign_in(client, token=reader)
    assert page.status_code == 401 and "may only read" in page.get_data(as_text=True)
    assert sign_in(client, token=ada["token"]).status_code == 302


# --- last use -----------------------------------------------------------------------------------------


def test_last_use_is_written_at_most_once_a_minute(client, accounts, clock):
    ada = accounts.create("ada")
    assert stored(ada["token"]).last_used_at is None
    assert me_status(client, ada["token"]) == 200
    assert stored(ada["token"]).last_used_at == T0
    for seconds in (1, 30, 59):  # within the minute (the same clock minute, or not: 12:00:59 -> 12:01:30)
        clock.set(seconds)
        assert me_status(client, ada["token"]) == 200
        assert stored(ada["token"]).last_used_at == T0
    clock.set(60)
    assert me_status(client, ada["token"]) == 200
    assert stored(ada["token"]).last_used_at == shifted(T0, 60)
    clock.set(119)
    assert me_status(client, ada["token"]) == 200
    assert stored(ada["token"]).last_used_at == shifted(T0, 60)


def test_a_failed_last_use_write_costs_the_request_nothing(client, accounts, monkeypatch):
    from peewee import OperationalError

    from wsserver.services import tokens

    ada = accounts.create("ada")

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(tokens.Token, "update", busy)
    assert me_status(client, ada["token"]) == 200


# --- every node ---------------------------------------------------------------------------------------


def test_revoked_and_expired_tokens_are_refused_at_once_by_another_node(instance_path, client, accounts):
    """A second node (`python app.py` on the same database: the same SQLite file, or the test's PostgreSQL
    database) refuses a token the moment this one revokes it, or its expiry passes."""
    ada = accounts.create("ada")
    doomed = create(client, ada["headers"], name="doomed").get_json()
    expiring = create(client, ada["headers"], name="expiring", expiresIn=3600).get_json()
    server = LiveServer(instance_path)
    try:
        import requests

        def status(value):
            return requests.get(f"{server.url}{API}/me", headers=bearer(value), timeout=10).status_code

        assert (status(doomed["token"]), status(expiring["token"])) == (200, 200)
        assert client.delete(f"{API}/tokens/{doomed['id']}", headers=ada["headers"]).status_code == 200
        assert status(doomed["token"]) == 401
        Token.update(expires_at=shifted(ids.now_iso(), -1)).where(Token.id == expiring["id"]).execute()
        assert status(expiring["token"]) == 401
        assert status(ada["token"]) == 200
    finally:
        server.stop()


# --- admin commands -----------------------------------------------------------------------------------


def test_admin_commands_list_and_revoke_an_accounts_tokens(app, client, accounts):
    ada = accounts.create("ada")
    made = create(client, ada["headers"], name="laptop", scope="read").get_json()
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["list-tokens", "ada"])
    assert listed.exit_code == 0, listed.output
    lines = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert lines[0] == ["id", "name", "prefix", "scope", "created", "last used", "expires"]
    assert {(line[0], line[1], line[2], line[3]) for line in lines[1:]} >= {(made["id"], "laptop", made["prefix"], "read")}
    assert made["token"] not in listed.output

    revoked = runner.invoke(args=["revoke-token", made["id"]])
    assert revoked.exit_code == 0 and me_status(client, made["token"]) == 401
    gone = runner.invoke(args=["revoke-token", made["id"]])
    assert gone.exit_code == 1 and "No such token" in gone.output

    issued = runner.invoke(args=["issue-token", "ada", "--name", "cron", "--expires-in-days", "7", "--read-only"])
    value = issued.output.strip()
    row = stored(value)
    assert (row.name, row.scope, row.prefix) == ("cron", "read", value[:12]) and row.expires_at is not None
    everything = runner.invoke(args=["revoke-tokens", "ada"])
    assert everything.exit_code == 0 and "Revoked 2 tokens of 'ada'." in everything.output
    assert me_status(client, ada["token"]) == 401 and me_status(client, value) == 401


# --- seed files and the schema upgrade ----------------------------------------------------------------


def test_a_seeded_token_gets_the_default_name_no_expiry_and_every_scope(instance_path, tmp_path):
    import json

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"version": 3, "accounts": [{"username": "ada", "admin": True,
                                                            "tokens": ["ada-secret-token"]}],
                                "workspaces": [], "memberships": []}))
    app = create_app({"INSTANCE_PATH": instance_path, "SEED_FILE": str(seed), "RATE_LIMIT": TEST_RATE_LIMIT})
    client = app.test_client()
    listed = client.get(f"{API}/tokens", headers=bearer("ada-secret-token")).get_json()
    assert [(t["name"], t["prefix"], t["scope"], t["expiresAt"], t["current"]) for t in listed] == [
        ("seed", None, "all", None, True)]
    made = client.post(f"{API}/tokens", json={"name": "more"}, headers=bearer("ada-secret-token"))
    assert made.status_code == 201


@pytest.mark.fresh_database
def test_a_version_7_database_gets_the_token_columns_and_its_tokens_keep_working(instance_path):
    settings = {"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT}
    client = create_app(settings).test_client()
    made = client.post(f"{API}/accounts", json={"username": "ada"}, headers=bearer(ADMIN_TOKEN)).get_json()
    # back to version 7: no token columns
    for column in ("prefix", "last_used_at", "expires_at", "scope"):
        database.execute_sql(f"ALTER TABLE token DROP COLUMN {column}")
    SchemaVersion.update(version=7).execute()

    client = create_app(settings).test_client()
    assert SchemaVersion.get().version == CURRENT_VERSION
    assert {"prefix", "last_used_at", "expires_at", "scope"} <= {c.name for c in database.get_columns("token")}
    listed = client.get(f"{API}/tokens", headers=bearer(made["token"]))
    assert listed.status_code == 200
    assert [(t["name"], t["prefix"], t["scope"], t["expiresAt"]) for t in listed.get_json()] == [
        ("created", None, "all", None)]
    assert client.put(f"{API}/workspaces/after-upgrade", json={"fullname": "after-upgrade"},
                      headers=bearer(made["token"])).status_code == 201
    create_app(settings)  # nothing more to upgrade
    assert SchemaVersion.get().version == CURRENT_VERSION
