"""The storage core: choosing the engine, what each engine must give, and the rules that keep them alike.

The rest of the suite runs on both engines (python3 -m pytest --engine=postgresql);
these are the tests about the engines themselves.
"""
import os

import peewee
import pytest
import requests

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, LiveServer, assert_error, bearer
from engines import stored
from wsserver import create_app
from wsserver.config import ConfigError, load_settings
from wsserver.storage import db
from wsserver.storage.migrations import CURRENT_VERSION
from wsserver.storage.models import SchemaVersion


def make_app(instance_path, **settings):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                       **settings})


# --- choosing the engine ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["mysql://app:hunter2@db.internal/ws", "postgresq://app:hunter2@db/ws", "nonsense"])
def test_an_unsupported_database_url_is_one_config_line_without_its_password(instance_path, url):
    with pytest.raises(ConfigError) as raised:
        load_settings({"INSTANCE_PATH": instance_path}, environ={"WSSERVER_DATABASE_URL": url})
    message = str(raised.value)
    assert message.startswith("WSSERVER_DATABASE_URL (environment): unsupported database URL scheme")
    assert "hunter2" not in message and "\n" not in message


def test_starting_with_an_unreachable_postgresql_is_one_line_without_its_password(instance_path):
    from conftest import ROOT
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "WSSERVER_INSTANCE_PATH": instance_path, "WSSERVER_PORT": "0",
             "WSSERVER_DATABASE_URL": "postgresql://app:hunter2@127.0.0.1:1/nothing?connect_timeout=2"},
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.sqlite_only("the default engine is the one with no WSSERVER_DATABASE_URL")
def test_without_a_database_url_the_database_is_the_instance_sqlite_file(instance_path):
    make_app(instance_path)
    assert db.engine().NAME == "sqlite"
    assert os.path.isfile(os.path.join(instance_path, db.DATABASE_FILE))
    assert SchemaVersion.get().version == CURRENT_VERSION


@pytest.mark.sqlite_only("a SQLite URL names another file")
def test_a_sqlite_url_puts_the_database_where_it_says(tmp_path, instance_path):
    elsewhere = tmp_path / "data" / "other.sqlite3"
    elsewhere.parent.mkdir()
    app = make_app(instance_path, DATABASE_URL=f"sqlite:///{elsewhere}")
    assert app.test_client().put(f"{API}/workspaces/there", json={"fullname": "there"},
                                 headers=bearer(ADMIN_TOKEN)).status_code == 201
    assert elsewhere.is_file() and not os.path.exists(os.path.join(instance_path, db.DATABASE_FILE))


@pytest.mark.postgresql_only
def test_an_empty_postgresql_database_gets_the_whole_schema(app):
    assert db.engine().NAME == "postgresql"
    assert SchemaVersion.get().version == CURRENT_VERSION
    assert stored(None, "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'") == [("pg_trgm",)]
    # every text column compares by code point, as on SQLite
    assert stored(None, "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND data_type IN ('character varying', 'text') "
                        "AND coalesce(collation_name, '') <> 'C'") == []
    (definition,) = stored(None, "SELECT indexdef FROM pg_indexes WHERE indexname = 'workspace_title_sort'")[0]
    assert "NULLS FIRST" in definition
    # starting again changes nothing
    make_app(app.config["INSTANCE_PATH"])
    assert SchemaVersion.select().count() == 1


# --- the same answers on both engines -----------------------------------------------------------


TITLES = ["Zebra", "apple", "Äpfel", "éclair", None, "Banana", "apple pie", "ZULU", "über"]


def test_titles_sort_by_code_point_with_ascii_case_folded_on_every_engine(client, admin_headers):
    for number, title in enumerate(TITLES):
        assert client.put(f"{API}/workspaces/t-{number}", json={"fullname": f"t-{number}", "meta": {"title": title}},
                          headers=admin_headers).status_code == 201

    def folded(title):
        return "".join(letter.lower() if letter.isascii() else letter for letter in title)

    expected = [None] + sorted((title for title in TITLES if title is not None), key=folded)
    answer = client.get(f"{API}/workspaces", query_string={"sort": "title"}, headers=admin_headers).get_json()
    assert [workspace["meta"]["title"] for workspace in answer] == expected
    answer = client.get(f"{API}/workspaces", query_string={"sort": "-title"}, headers=admin_headers).get_json()
    assert [workspace["meta"]["title"] for workspace in answer] == expected[::-1]
    # Python's lower-casing for q: capitals of any script find their small letters
    answer = client.get(f"{API}/workspaces", query_string={"q": "ÜBER"}, headers=admin_headers).get_json()
    assert [workspace["meta"]["title"] for workspace in answer] == ["über"]


# --- locks and retries -------------------------------------------------------------------------


def failing(times, make_error, calls):
    """A retrying service function that fails `times` times with make_error(), then returns "done"."""

    @db.retrying
    def run():
        calls.append(1)
        if len(calls) <= times:
            raise make_error()
        return "done"

    return run


@pytest.mark.postgresql_only
def test_a_deadlocked_transaction_is_run_again_and_other_errors_are_not(app):
    import psycopg

    def deadlock():
        return peewee.OperationalError(psycopg.errors.DeadlockDetected("deadlock detected"))

    def unique_race():
        return peewee.IntegrityError(psycopg.errors.UniqueViolation("duplicate key"))

    calls = []
    assert failing(2, deadlock, calls)() == "done" and len(calls) == 3

    calls = []
    with pytest.raises(peewee.OperationalError):
        failing(db.ATTEMPTS + 1, deadlock, calls)()
    assert len(calls) == db.ATTEMPTS

    calls = []
    with pytest.raises(peewee.IntegrityError):
        failing(1, unique_race, calls)()
    assert len(calls) == 1  # a 409, not something to try again

    calls = []
    with db.database.atomic(), pytest.raises(peewee.OperationalError):
        failing(2, deadlock, calls)()  # inside an outer transaction: only the outer one could be run again
    assert len(calls) == 1


@pytest.mark.postgresql_only
def test_losing_every_database_connection_is_503_at_worst_then_the_pool_recovers(app, client, admin_headers):
    import psycopg

    assert client.put(f"{API}/workspaces/steady", json={"fullname": "steady"}, headers=admin_headers).status_code == 201
    url = os.environ["WSSERVER_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:  # what a database restart does to every session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    first = client.get(f"{API}/workspaces/steady", headers=admin_headers)
    if first.status_code != 200:
        assert_error(first, 503)
        assert first.headers["Retry-After"] == "1"
    answers = [client.get(f"{API}/workspaces/steady", headers=admin_headers).status_code for _ in range(3)]
    assert answers == [200, 200, 200]


@pytest.mark.postgresql_only
def test_a_live_server_answers_readyz_with_the_database_on_postgresql(instance_path):
    server = LiveServer(instance_path)
    try:
        ready = requests.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
    finally:
        assert server.stop() == 0
