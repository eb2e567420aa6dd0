"""Accounts and authentication: POST /token, GET /me, Bearer and Basic, /accounts, deletion, bootstrap."""
import glob
import hashlib
import os
import stat
import time

import pytest

from conftest import ADMIN_TOKEN, API, assert_error, basic, bearer
from wsserver import create_app
from wsserver.storage.db import database, database_path, is_sqlite
from wsserver.ids import TOKEN_PREFIX
from wsserver.storage.models import Account, AclEntry, Organization, Token, Workspace
from wsserver.permissions import LEVELS

# Harmless when the setting is unknown: extra keys pass through to Flask's config.
QUIET_LIMITS = {"RATE_LIMIT": "100000/minute"}


def assert_unauthorized(response):
    error = assert_error(response, 401)
    assert response.headers.get("WWW-Authenticate")
    return error


def token_request(username, password, app="password"):
    return {"app": app, "credentials": {"username": username, "password": password}}


def pause():
    """Join times have millisecond resolution: keep "longest-standing" unambiguous."""
    time.sleep(0.003)


# --- POST /token -------------------------------------------------------------------------


def test_token_with_right_credentials_returns_a_new_working_token_each_call(client, accounts):
    bob = accounts.create("bob", password="correct horse")

    first = client.post(f"{API}/token", json=token_request("bob", "correct horse"))
    second = client.post(f"{API}/token", json=token_request("bob", "correct horse"))

    assert first.status_code == 200 and second.status_code == 200
    assert first.mimetype == "application/json"
    assert set(first.get_json()) == {"token"} and set(second.get_json()) == {"token"}
    token_one, token_two = first.get_json()["token"], second.get_json()["token"]
    assert token_one != token_two
    assert token_one.startswith(TOKEN_PREFIX)
    for token in (token_one, token_two):
        me = client.get(f"{API}/me", headers=bearer(token))
        assert me.status_code == 200
        assert me.get_json()["id"] == bob["id"]
    # the token made at creation plus the two just issued
    assert Token.select().where(Token.account == bob["id"]).count() == 3


def test_token_route_answers_under_the_api_alias_too(client, accounts):
    accounts.create("bob", password="correct horse")
    response = client.post("/api/token", json=token_request("bob", "correct horse"))
    assert response.status_code == 200
    assert client.get("/api/me", headers=bearer(response.get_json()["token"])).status_code == 200


def test_token_with_wrong_password_is_401_with_www_authenticate_and_envelope(client, accounts):
    accounts.create("bob", password="correct horse")
    before = Token.select().count()

    response = client.post(f"{API}/token", json=token_request("bob", "wrong horse"))

    error = assert_unauthorized(response)
    assert error["details"] == {}
    assert Token.select().count() == before


def test_token_for_unknown_user_gets_the_same_401_as_a_wrong_password(client, accounts):
    accounts.create("bob", password="correct horse")
    wrong_password = client.post(f"{API}/token", json=token_request("bob", "wrong horse"))
    unknown_user = client.post(f"{API}/token", json=token_request("nobody", "wrong horse"))

    assert_unauthorized(unknown_user)
    # nothing tells a guesser whether the username exists
    assert unknown_user.get_json() == wrong_password.get_json()


def test_token_for_account_without_password_is_401(client, accounts):
    accounts.create("tokenonly")
    assert_unauthorized(client.post(f"{API}/token", json=token_request("tokenonly", "anything at all")))


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"app", "credentials"}),
        ({"app": "password"}, {"credentials"}),
        ({"app": "password", "credentials": {"username": "bob"}}, {"credentials"}),
        ({"app": "password", "credentials": "bob:secret"}, {"credentials"}),
        ({"app": "password", "credentials": {"username": "", "password": "x"}}, {"credentials"}),
        ({"app": "password", "credentials": {"username": "bob", "password": 12345678}}, {"credentials"}),
        ({**token_request("bob", "correct horse"), "remember": True}, {"remember"}),
    ],
    ids=["empty", "no-credentials", "no-password", "credentials-not-object", "empty-username",
         "password-not-string", "unknown-field"],
)
def test_token_with_a_bad_body_is_422_naming_the_field(client, accounts, body, fields):
    accounts.create("bob", password="correct horse")
    assert_error(client.post(f"{API}/token", json=body), 422, details=fields)


@pytest.mark.parametrize("app_name", ["github", "Password", "", None])
def test_token_with_an_app_other_than_password_is_422(client, accounts, app_name):
    accounts.create("bob", password="correct horse")
    response = client.post(f"{API}/token", json=token_request("bob", "correct horse", app=app_name))
    assert_error(response, 422, details={"app"})


# --- GET /me and the two credential schemes ---------------------------------------------------


def test_me_shows_the_account_and_its_memberships_with_level_and_short_workspace_view(
    client, accounts, make_workspace, join
):
    bob = accounts.create("bob", nickname="Bob B.")
    carol = accounts.create("carol")
    make_workspace(bob["headers"], "bobs-place", tags=["t"], labels={"k": "v"}, meta={"title": "Bob's"})
    make_workspace(carol["headers"], "carols-place")
    entry_id = join(carol["headers"], "carols-place", bob, level="developer")

    response = client.get(f"{API}/me", headers=bob["headers"])

    assert response.status_code == 200
    body = response.get_json()
    own_entry = AclEntry.get((AclEntry.account == bob["id"]) & (AclEntry.level == LEVELS["owner"]))
    bobs_place = Workspace.get(Workspace.fullname == "bobs-place")
    carols_place = Workspace.get(Workspace.fullname == "carols-place")
    organization = Organization.get(Organization.is_default == True)  # noqa: E712
    assert bobs_place.organization_id == carols_place.organization_id == organization.id
    assert body == {
        "id": bob["id"],
        "username": "bob",
        "nickname": "Bob B.",
        "admin": False,
        "memberships": [
            {
                "id": own_entry.id,
                "level": "owner",
                "workspace": {
                    "id": bobs_place.id,
                    "fullname": "bobs-place",
                    "tags": ["t"],
                    "labels": {"k": "v"},
                    "meta": {"title": "Bob's", "description": None, "avatar": None},
                    "archivedAt": None,
                },
            },
            {
                "id": entry_id,
                "level": "developer",
                "workspace": {
                    "id": carols_place.id,
                    "fullname": "carols-place",
                    "tags": [],
                    "labels": {},
                    "meta": {"title": None, "description": None, "avatar": None},
                    "archivedAt": None,
                },
            },
        ],
        "organization": {"id": organization.id, "name": "Default"},
    }


def test_me_of_the_bootstrap_admin_says_admin(client, admin_headers):
    body = client.get(f"{API}/me", headers=admin_headers).get_json()
    assert body["username"] == "admin" and body["admin"] is True and body["memberships"] == []


def test_me_without_credentials_is_401(client):
    assert_unauthorized(client.get(f"{API}/me"))


def test_basic_auth_with_the_right_password_works(client, accounts):
    bob = accounts.create("bob", password="correct horse")
    response = client.get(f"{API}/me", headers=basic("bob", "correct horse"))
    assert response.status_code == 200
    assert response.get_json()["id"] == bob["id"]


@pytest.mark.parametrize(
    "username, password",
    [("bob", "wrong horse"), ("nobody", "correct horse"), ("tokenonly", ""), ("bob", "")],
    ids=["wrong-password", "unknown-user", "account-without-password", "empty-password"],
)
def test_basic_auth_with_wrong_credentials_is_401(client, accounts, username, password):
    accounts.create("bob", password="correct horse")
    accounts.create("tokenonly")
    assert_unauthorized(client.get(f"{API}/me", headers=basic(username, password)))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wss_not-a-real-token", "Bearer ", "Bearer", "Token " + ADMIN_TOKEN, ADMIN_TOKEN,
     "Bearer " + ADMIN_TOKEN[:-1], "Bearer " + "x" * 5000, "Basic not-base64!"],
    ids=["unknown-token", "empty-token", "no-token", "other-scheme", "no-scheme", "truncated-token",
         "huge-token", "malformed-basic"],
)
def test_wrong_credentials_are_401_with_www_authenticate(client, authorization):
    assert_unauthorized(client.get(f"{API}/me", headers={"Authorization": authorization}))


def test_auth_scheme_names_are_case_insensitive(client, accounts):
    """RFC 9110 section 11.1: the scheme is a case-insensitive token."""
    bob = accounts.create("bob", password="correct horse")
    basic_credentials = basic("bob", "correct horse")["Authorization"].split(" ", 1)[1]
    for authorization in (f"bearer {bob['token']}", f"BEARER {bob['token']}", f"basic {basic_credentials}",
                          f"BASIC {basic_credentials}"):
        response = client.get(f"{API}/me", headers={"Authorization": authorization})
        assert response.status_code == 200, authorization
        assert response.get_json()["id"] == bob["id"]


def everything_stored(instance_path):
    """Every byte the database holds: SQLite's files (main, WAL, shared memory), or on PostgreSQL
    every row of every table as text."""
    if is_sqlite():
        files = glob.glob(database_path(instance_path) + "*")
        assert files
        return b"".join(open(name, "rb").read() for name in files)
    tables = [name for (name,) in database.execute_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()]
    assert "token" in tables
    return "\n".join(
        str(row) for table in tables for row in database.execute_sql(f'SELECT * FROM "{table}"').fetchall()
    ).encode()


def test_tokens_are_stored_only_as_sha256_hashes(client, accounts, instance_path):
    bob = accounts.create("bob", password="correct horse")
    issued = client.post(f"{API}/token", json=token_request("bob", "correct horse")).get_json()["token"]

    stored = {token.token_hash for token in Token.select().where(Token.account == bob["id"])}
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (bob["token"], issued)}
    # no column of any token row holds the clear value
    for row in Token.select().dicts():
        assert bob["token"] not in map(str, row.values()) and issued not in map(str, row.values())
    # nor does anything the database holds (SQLite: the bytes of its files, WAL and shared memory included)
    raw = everything_stored(instance_path)
    # (the hash is there, so these are the right files)
    assert hashlib.sha256(bob["token"].encode()).hexdigest().encode() in raw
    for secret in (bob["token"], issued, ADMIN_TOKEN):
        assert secret.encode() not in raw


def test_passwords_are_stored_only_as_salted_hashes(accounts, instance_path):
    bob = accounts.create("bob", password="correct horse")
    stored = Account.get_by_id(bob["id"]).password_hash
    assert stored and "correct horse" not in stored
    raw = everything_stored(instance_path)
    assert stored.encode() in raw  # the right data
    assert b"correct horse" not in raw


# --- /accounts (instance admins) ---------------------------------------------------------------


def test_admin_creates_an_account_201_with_account_and_a_working_token(client, admin_headers):
    response = client.post(
        f"{API}/accounts",
        json={"username": "dora.k_1-x", "nickname": "Dora", "password": "long enough", "admin": True},
        headers=admin_headers,
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"account", "token"}
    stored = Account.get(Account.username == "dora.k_1-x")
    assert body["account"] == {"id": stored.id, "username": "dora.k_1-x", "nickname": "Dora", "admin": True}
    assert stored.admin is True
    assert client.get(f"{API}/me", headers=bearer(body["token"])).get_json()["id"] == stored.id
    assert client.get(f"{API}/me", headers=basic("dora.k_1-x", "long enough")).status_code == 200


def test_created_account_defaults_to_its_username_as_nickname_and_not_admin(client, admin_headers):
    response = client.post(f"{API}/accounts", json={"username": "eve"}, headers=admin_headers)
    assert response.status_code == 201
    account = response.get_json()["account"]
    assert account["nickname"] == "eve" and account["admin"] is False
    assert Account.get_by_id(account["id"]).password_hash is None


def test_creating_an_account_with_a_taken_username_is_409(client, accounts, admin_headers):
    accounts.create("bob")
    response = client.post(f"{API}/accounts", json={"username": "bob"}, headers=admin_headers)
    assert_error(response, 409, details={"username"})
    assert Account.select().where(Account.username == "bob").count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": ""}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"username": "émile"}, "username"),
        ({"username": "a/b"}, "username"),
        ({"username": "bob\n"}, "username"),
        ({"username": "bob\r\n"}, "username"),
        ({"username": "\nbob"}, "username"),
        ({"username": 12}, "username"),
        ({}, "username"),
        ({"username": "ok", "password": "short"}, "password"),
        ({"username": "ok", "nickname": ""}, "nickname"),
        ({"username": "ok", "admin": "yes"}, "admin"),
        ({"username": "ok", "admin": 1}, "admin"),
        ({"username": "ok", "role": "admin"}, "role"),
    ],
)
def test_creating_an_account_with_a_bad_value_is_422_naming_the_field(client, admin_headers, body, field):
    before = Account.select().count()
    assert_error(client.post(f"{API}/accounts", json=body, headers=admin_headers), 422, details={field})
    assert Account.select().count() == before


def test_username_of_64_characters_is_accepted(client, admin_headers):
    response = client.post(f"{API}/accounts", json={"username": "u" * 64}, headers=admin_headers)
    assert response.status_code == 201


def test_admin_lists_every_account(client, accounts, admin_headers):
    bob = accounts.create("bob", nickname="Bob")
    zed = accounts.create("zed", admin=True)
    response = client.get(f"{API}/accounts", headers=admin_headers)
    assert response.status_code == 200
    admin = Account.get(Account.username == "admin")
    assert response.get_json() == [
        {"id": admin.id, "username": "admin", "nickname": admin.nickname, "admin": True},
        {"id": bob["id"], "username": "bob", "nickname": "Bob", "admin": False},
        {"id": zed["id"], "username": "zed", "nickname": "zed", "admin": True},
    ]


def test_non_admin_gets_403_on_every_accounts_route_and_nothing_changes(client, accounts):
    bob = accounts.create("bob")
    carol = accounts.create("carol")
    before = Account.select().count()

    assert_error(client.get(f"{API}/accounts", headers=bob["headers"]), 403)
    assert_error(client.post(f"{API}/accounts", json={"username": "mallory"}, headers=bob["headers"]), 403)
    assert_error(client.delete(f"{API}/accounts/{carol['id']}", headers=bob["headers"]), 403)

    assert Account.select().count() == before
    assert client.get(f"{API}/me", headers=carol["headers"]).status_code == 200


def test_anonymous_gets_401_on_every_accounts_route(client, accounts):
    bob = accounts.create("bob")
    assert_unauthorized(client.get(f"{API}/accounts"))
    assert_unauthorized(client.post(f"{API}/accounts", json={"username": "mallory"}))
    assert_unauthorized(client.delete(f"{API}/accounts/{bob['id']}"))


def test_deleting_an_unknown_account_is_404(client, admin_headers):
    assert_error(client.delete(f"{API}/accounts/000000000000000000000000", headers=admin_headers), 404)


def test_deleting_an_account_answers_empty_object_and_its_tokens_stop_working(client, accounts, admin_headers):
    bob = accounts.create("bob", password="correct horse")
    response = client.delete(f"{API}/accounts/{bob['id']}", headers=admin_headers)

    assert response.status_code == 200
    assert response.get_json() == {}
    assert_unauthorized(client.get(f"{API}/me", headers=bob["headers"]))
    assert_unauthorized(client.get(f"{API}/me", headers=basic("bob", "correct horse")))
    assert Token.select().where(Token.account == bob["id"]).count() == 0
    assert Account.get_or_none(Account.id == bob["id"]) is None
    assert "bob" not in [a["username"] for a in client.get(f"{API}/accounts", headers=admin_headers).get_json()]
    # the name is free again
    assert client.post(f"{API}/accounts", json={"username": "bob"}, headers=admin_headers).status_code == 201


def level_of(fullname, account):
    entry = (
        AclEntry.select()
        .join(Workspace)
        .where((Workspace.fullname == fullname) & (AclEntry.account == account["id"]))
        .first()
    )
    return None if entry is None else entry.level


def test_deleting_an_account_removes_its_memberships_and_deletes_workspaces_it_was_alone_in(
    client, accounts, admin_headers, make_workspace, join
):
    bob = accounts.create("bob")
    carol = accounts.create("carol")
    make_workspace(bob["headers"], "bob-alone")
    make_workspace(carol["headers"], "shared")
    join(carol["headers"], "shared", bob, level="developer")

    assert client.delete(f"{API}/accounts/{bob['id']}", headers=admin_headers).status_code == 200

    assert AclEntry.select().where(AclEntry.account == bob["id"]).count() == 0
    assert Workspace.get_or_none(Workspace.fullname == "bob-alone") is None
    assert_error(client.get(f"{API}/workspaces/bob-alone", headers=admin_headers), 404)
    entries = client.get(f"{API}/workspaces/shared/acl", headers=carol["headers"]).get_json()
    assert [(e["user"]["username"], e["level"]) for e in entries] == [("carol", "owner")]


def test_deleting_the_only_owner_promotes_the_longest_standing_admin(
    client, accounts, admin_headers, make_workspace, join
):
    owner = accounts.create("owner")
    early_developer = accounts.create("early-dev")
    first_admin = accounts.create("first-admin")
    second_admin = accounts.create("second-admin")
    make_workspace(owner["headers"], "team")
    for member, level in ((early_developer, "developer"), (first_admin, "admin"), (second_admin, "admin")):
        pause()
        join(owner["headers"], "team", member, level=level)

    assert client.delete(f"{API}/accounts/{owner['id']}", headers=admin_headers).status_code == 200

    assert level_of("team", first_admin) == LEVELS["owner"]
    assert level_of("team", second_admin) == LEVELS["admin"]
    assert level_of("team", early_developer) == LEVELS["developer"]
    assert level_of("team", owner) is None


def test_deleting_the_only_owner_without_admins_promotes_the_highest_then_longest_standing_member(
    client, accounts, admin_headers, make_workspace, join
):
    owner = accounts.create("owner")
    early_user = accounts.create("early-user")
    first_developer = accounts.create("first-dev")
    second_developer = accounts.create("second-dev")
    make_workspace(owner["headers"], "team")
    for member, level in ((early_user, "user"), (first_developer, "developer"), (second_developer, "developer")):
        pause()
        join(owner["headers"], "team", member, level=level)

    client.delete(f"{API}/accounts/{owner['id']}", headers=admin_headers)

    assert level_of("team", first_developer) == LEVELS["owner"]
    assert level_of("team", second_developer) == LEVELS["developer"]
    assert level_of("team", early_user) == LEVELS["user"]


def test_deleting_the_only_owner_with_only_users_left_promotes_the_longest_standing_user(
    client, accounts, admin_headers, make_workspace, join
):
    owner = accounts.create("owner")
    first, second = accounts.create("first"), accounts.create("second")
    make_workspace(owner["headers"], "team")
    for member in (first, second):
        pause()
        join(owner["headers"], "team", member)

    client.delete(f"{API}/accounts/{owner['id']}", headers=admin_headers)

    assert (level_of("team", first), level_of("team", second)) == (LEVELS["owner"], LEVELS["user"])
    assert client.get(f"{API}/workspaces/team", headers=first["headers"]).get_json()["invite"]


def test_deleting_an_account_leaves_workspaces_with_another_owner_unchanged(
    client, accounts, admin_headers, make_workspace, join
):
    owner, co_owner, admin, user = (accounts.create(n) for n in ("owner", "co-owner", "admin-1", "user-1"))
    make_workspace(owner["headers"], "team")
    for member, level in ((admin, "admin"), (co_owner, "owner"), (user, "user")):
        pause()
        join(owner["headers"], "team", member, level=level)
    make_workspace(user["headers"], "elsewhere")
    join(user["headers"], "elsewhere", admin, level="admin")
    before = {row.id: row.level for row in AclEntry.select().where(AclEntry.account != owner["id"])}

    client.delete(f"{API}/accounts/{owner['id']}", headers=admin_headers)

    after = {row.id: row.level for row in AclEntry.select()}
    assert after == before


# --- bootstrap -----------------------------------------------------------------------------


def test_admin_token_from_environment_is_idempotent_across_restarts(tmp_path, monkeypatch):
    instance = str(tmp_path / "instance")
    monkeypatch.setenv("WSSERVER_ADMIN_TOKEN", "wss_from-the-environment-0123456789abcdef")
    for _ in range(2):
        app = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS})
        response = app.test_client().get(f"{API}/me", headers=bearer("wss_from-the-environment-0123456789abcdef"))
        assert response.status_code == 200
        assert response.get_json()["username"] == "admin" and response.get_json()["admin"] is True

    admin = Account.get(Account.username == "admin")
    assert Account.select().count() == 1
    assert Token.select().where(Token.account == admin).count() == 1
    assert not os.path.exists(os.path.join(instance, "admin-token"))


def test_changing_the_admin_token_in_the_environment_revokes_the_previous_value(tmp_path, monkeypatch):
    instance = str(tmp_path / "instance")
    old, new = "wss_first-admin-token-0123456789abcdefghij", "wss_second-admin-token-0123456789abcdefghi"
    monkeypatch.setenv("WSSERVER_ADMIN_TOKEN", old)
    first = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS}).test_client()
    assert first.get(f"{API}/me", headers=bearer(old)).status_code == 200
    # a token the admin asked for itself is not the environment's to revoke
    created = first.post(f"{API}/accounts", json={"username": "keeper", "password": "long enough"},
                         headers=bearer(old)).get_json()

    monkeypatch.setenv("WSSERVER_ADMIN_TOKEN", new)
    second = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS}).test_client()

    assert second.get(f"{API}/me", headers=bearer(new)).get_json()["username"] == "admin"
    assert_unauthorized(second.get(f"{API}/me", headers=bearer(old)))
    assert second.get(f"{API}/me", headers=bearer(created["token"])).status_code == 200
    assert Account.select().where(Account.username == "admin").count() == 1


def test_admin_token_from_environment_leaves_the_admin_token_file_alone(tmp_path, monkeypatch):
    instance = str(tmp_path / "instance")
    monkeypatch.delenv("WSSERVER_ADMIN_TOKEN", raising=False)
    create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS}).test_client().get("/healthz")
    from_file = open(os.path.join(instance, "admin-token")).read().strip()

    monkeypatch.setenv("WSSERVER_ADMIN_TOKEN", "wss_from-the-environment-0123456789abcdef")
    client = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS}).test_client()

    for token in (from_file, "wss_from-the-environment-0123456789abcdef"):
        assert client.get(f"{API}/me", headers=bearer(token)).get_json()["username"] == "admin"


def test_first_start_without_admin_token_writes_a_private_admin_token_file_once(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WSSERVER_ADMIN_TOKEN", raising=False)
    instance = str(tmp_path / "instance")
    app = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS})
    app.test_client().get("/healthz")  # whether storage opens eagerly or on first request

    path = os.path.join(instance, "admin-token")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = open(path).read().strip()
    assert token.startswith(TOKEN_PREFIX) and len(token) >= 43
    assert token in capsys.readouterr().out  # shown once on the console
    me = app.test_client().get(f"{API}/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["admin"] is True

    second = create_app({"INSTANCE_PATH": instance, **QUIET_LIMITS})
    second.test_client().get("/healthz")
    assert open(path).read().strip() == token
    assert token not in capsys.readouterr().out
    assert Account.select().count() == 1 and Token.select().count() == 1
    assert second.test_client().get(f"{API}/me", headers=bearer(token)).status_code == 200


def test_an_instance_admin_cannot_delete_their_own_account(client, admin_headers, accounts):
    me = client.get(f"{API}/me", headers=admin_headers).get_json()
    refused = client.delete(f"{API}/accounts/{me['id']}", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"].startswith("You cannot delete your own account")
    assert client.get(f"{API}/me", headers=admin_headers).status_code == 200
    # another instance admin can
    other = accounts.create("second-admin", admin=True)
    assert client.delete(f"{API}/accounts/{me['id']}", headers=other["headers"]).status_code == 200
    assert client.get(f"{API}/me", headers=admin_headers).status_code == 401
