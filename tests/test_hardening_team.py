"""Issue 27's small findings, each a repro that failed before its fix: a new token cached by nobody,
the docs page framed by nobody, a control character in the sign-in page's `next` (was a 500 after
the session cookie was set). The trash answer to a non-member is in tests/test_trash.py.
"""
import os
import sqlite3

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, bearer
from ui_helpers import csrf_token
from wsserver import create_app

PASSWORD = "a long enough password"


@pytest.fixture
def client(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT})
    client = app.test_client()
    answer = client.post(f"{API}/accounts", json={"username": "ada", "password": PASSWORD},
                         headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 201, answer.get_json()
    return client


def test_a_token_from_post_token_is_never_cached(client):
    answer = client.post(f"{API}/token", json={"app": "password", "credentials": {"username": "ada", "password": PASSWORD}})
    assert answer.status_code == 200 and answer.get_json()["token"]
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs/", "/docs/index.html"])
def test_no_other_site_may_frame_the_docs_page(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("target", ["/ui/new\r\nX-Injected: 1", "/ui/\n", "/ui/\tnew", "/ui/new\x00", "/ui/\x7f"])
def test_a_control_character_in_next_sends_to_the_list_not_a_500(client, target):
    token = csrf_token(client.get("/ui/sign-in"))
    answer = client.post("/ui/sign-in", query_string={"next": target},
                         data={"csrf_token": token, "username": "ada", "password": PASSWORD})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/ui/"
    assert "X-Injected" not in answer.headers


def test_an_ordinary_next_is_still_followed(client):
    token = csrf_token(client.get("/ui/sign-in"))
    answer = client.post("/ui/sign-in", query_string={"next": "/ui/new?x=é"},
                         data={"csrf_token": token, "username": "ada", "password": PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/ui/new?x=")


# --- the instance's files: its owner's only -------------------------------------------------------


def _mode(path):
    return os.stat(path).st_mode & 0o777


@pytest.mark.sqlite_only("about the SQLite database file and its archives")
def test_a_new_instance_keeps_its_database_counters_and_secrets_to_its_owner(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT})
    client = app.test_client()
    assert client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert client.get("/ui/sign-in").status_code == 200  # makes the secret key
    assert _mode(instance_path) == 0o700
    for name in ("wsserver.sqlite3", "wsserver.sqlite3-wal", "wsserver.sqlite3-shm", "ratelimit.sqlite3",
                 "secret-key"):
        path = os.path.join(instance_path, name)
        assert os.path.exists(path) and _mode(path) == 0o600, (name, oct(_mode(path)))


@pytest.mark.sqlite_only("about the SQLite database file and its archives")
def test_an_existing_instance_is_tightened_at_start(instance_path):
    os.makedirs(instance_path, exist_ok=True)
    os.chmod(instance_path, 0o755)
    database = os.path.join(instance_path, "wsserver.sqlite3")
    sqlite3.connect(database).close()
    os.chmod(database, 0o644)
    create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN}).test_client().get("/healthz")
    assert _mode(instance_path) == 0o700 and _mode(database) == 0o600


@pytest.mark.sqlite_only("about the SQLite database file and its archives")
def test_backup_archives_are_their_owners_only(instance_path, tmp_path):
    from wsserver.ops.backup import create_backup

    create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN}).test_client().get("/healthz")
    archive = str(tmp_path / "backup.tar.gz")
    create_backup(instance_path, archive)
    assert _mode(archive) == 0o600


# --- an instance admin always remains -------------------------------------------------------------


def _two_admins_only(client):
    """Admins ada-admin and bob-admin, and no other (the bootstrap admin deleted): their headers and ids."""
    made = {}
    for name in ("ada-admin", "bob-admin"):
        answer = client.post(f"{API}/accounts", json={"username": name, "admin": True}, headers=bearer(ADMIN_TOKEN))
        assert answer.status_code == 201, answer.get_json()
        made[name] = (bearer(answer.get_json()["token"]), answer.get_json()["account"]["id"])
    bootstrap = next(a["id"] for a in client.get(f"{API}/accounts", headers=made["ada-admin"][0]).get_json()
                     if a["username"] == "admin")
    assert client.delete(f"{API}/accounts/{bootstrap}", headers=made["ada-admin"][0]).status_code == 200
    return made


def _admins(app):
    from wsserver.storage.models import Account

    with app.app_context():
        return sorted(row.username for row in Account.select().where(Account.admin == True))  # noqa: E712


def test_an_admin_deleted_meanwhile_cannot_delete_the_last_other_admin(client):
    """The interleaving of two admins deleting each other at once: the second request was authenticated
    before the first one's deletion committed (its actor is a stale row)."""
    from wsserver.errors import Forbidden
    from wsserver.services import accounts
    from wsserver.storage.models import Account

    made = _two_admins_only(client)
    app = client.application
    with app.app_context():
        ada = Account.get(Account.id == made["ada-admin"][1])
        bob = Account.get(Account.id == made["bob-admin"][1])  # authenticated: an admin, as it was
        accounts.delete_account(ada, bob.id)
        with pytest.raises(Forbidden):
            accounts.delete_account(bob, ada.id)
    assert _admins(app) == ["ada-admin"]


def test_two_admins_deleting_each_other_at_once_leave_one(client):
    import threading

    made = _two_admins_only(client)
    app = client.application
    barrier = threading.Barrier(2)
    statuses = {}

    def delete(actor, target):
        own = app.test_client()
        barrier.wait()
        statuses[actor] = own.delete(f"{API}/accounts/{made[target][1]}", headers=made[actor][0]).status_code

    threads = [threading.Thread(target=delete, args=pair) for pair in
               (("ada-admin", "bob-admin"), ("bob-admin", "ada-admin"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) in ([200, 401], [200, 403]), statuses
    assert len(_admins(app)) == 1
