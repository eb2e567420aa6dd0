"""Admin commands through `flask --app app ...`, run as a separate process like an operator would."""
import os
import subprocess
import sys

import pytest

from engines import on_postgresql, stored
from conftest import ADMIN_TOKEN, API, ROOT, basic, bearer
from wsserver import create_app
from wsserver.storage.db import database_path
from wsserver.storage.migrations import CURRENT_VERSION
from wsserver.ids import TOKEN_PREFIX
from wsserver.storage.models import Account


def flask_command(instance_path, *arguments, admin_token=ADMIN_TOKEN):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("WSSERVER_") or key == "WSSERVER_DATABASE_URL"}
    environment["WSSERVER_INSTANCE_PATH"] = instance_path
    if admin_token:
        environment["WSSERVER_ADMIN_TOKEN"] = admin_token
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *arguments],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


def client_on(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": "100000/minute"})
    return app.test_client()


def me(instance_path, headers):
    response = client_on(instance_path).get(f"{API}/me", headers=headers)
    return response.status_code, response.get_json()


def assert_one_line_failure(result):
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def instance(tmp_path):
    return str(tmp_path / "instance")


@pytest.mark.fresh_database
def test_init_db_creates_the_database_and_is_idempotent(instance):
    first = flask_command(instance, "init-db")
    assert first.returncode == 0, first.stderr
    assert "schema version" in first.stdout
    if on_postgresql():
        assert stored(instance, "SELECT version FROM schema_version") == [(CURRENT_VERSION,)]
    else:
        assert os.path.isfile(database_path(instance))
    second = flask_command(instance, "init-db")
    assert second.returncode == 0 and "schema version" in second.stdout
    assert client_on(instance).get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).status_code == 200


def test_create_account_prints_a_working_token(instance):
    result = flask_command(instance, "create-account", "bob")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "bob" in lines[0]
    token = lines[-1]
    assert token.startswith(TOKEN_PREFIX)
    status, body = me(instance, bearer(token))
    assert status == 200
    assert (body["username"], body["nickname"], body["admin"]) == ("bob", "bob", False)
    # (me() bound the models to this instance's database)
    assert Account.get(Account.username == "bob").password_hash is None


def test_create_account_with_nickname_password_and_admin_flag(instance):
    result = flask_command(instance, "create-account", "carol", "--nickname", "Carol C.", "--password",
                           "long enough", "--admin")
    assert result.returncode == 0, result.stderr
    status, body = me(instance, basic("carol", "long enough"))
    assert status == 200
    assert (body["nickname"], body["admin"]) == ("Carol C.", True)
    # an instance admin indeed: it may list accounts
    token = result.stdout.strip().splitlines()[-1]
    assert client_on(instance).get(f"{API}/accounts", headers=bearer(token)).status_code == 200


def test_create_account_on_a_fresh_instance_without_admin_token_still_ends_with_the_token(instance):
    result = flask_command(instance, "create-account", "bob", admin_token=None)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    status, body = me(instance, bearer(token))
    assert status == 200 and body["username"] == "bob"


def test_create_account_with_a_taken_name_fails_with_a_one_line_message(instance):
    flask_command(instance, "create-account", "bob")
    line = assert_one_line_failure(flask_command(instance, "create-account", "bob"))
    assert "bob" in line and "taken" in line
    client_on(instance)  # binds the models to this instance's database
    assert Account.select().where(Account.username == "bob").count() == 1


def test_create_account_with_an_invalid_name_fails_with_a_one_line_message(instance):
    line = assert_one_line_failure(flask_command(instance, "create-account", "not valid"))
    assert "username" in line.lower()


def test_issue_token_prints_only_a_new_working_token(instance):
    created = flask_command(instance, "create-account", "bob")
    first_token = created.stdout.strip().splitlines()[-1]

    result = flask_command(instance, "issue-token", "bob")

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert "\n" not in token and token.startswith(TOKEN_PREFIX)
    assert token != first_token
    for each in (token, first_token):
        status, body = me(instance, bearer(each))
        assert status == 200 and body["username"] == "bob"


def test_issue_token_for_an_unknown_name_fails_with_a_one_line_message(instance):
    flask_command(instance, "init-db")
    line = assert_one_line_failure(flask_command(instance, "issue-token", "nobody"))
    assert "nobody" in line


@pytest.mark.parametrize(
    "arguments, field",
    [(("--password", "short"), "password"), (("--nickname", "n" * 129), "nickname")],
    ids=["short-password", "long-nickname"],
)
def test_create_account_applies_the_apis_limits_with_a_one_line_message(instance, arguments, field):
    line = assert_one_line_failure(flask_command(instance, "create-account", "bob", *arguments))
    assert field in line.lower()
    client_on(instance)  # binds the models to this instance's database
    assert Account.get_or_none(Account.username == "bob") is None
