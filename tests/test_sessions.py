"""Web sessions kept server-side (issue 27, item 3): sign-out ends a copied cookie too, the lifetime counts from
sign-in whatever pages are shown, "sign out everywhere" ends every browser's session on every node, the last
sight is written at most once a minute, and schema version 9's upgrade. Both engines; time is moved with the
fixed time of ids.now_iso."""
import pytest

from conftest import ADMIN_TOKEN, API, T0, TEST_RATE_LIMIT, LiveServer, bearer
from ui_helpers import ADMIN, PASSWORD, csrf_token, notices, post_form, sign_in, stored_workspace
from wsserver import create_app, ids
from wsserver.ids import shifted
from wsserver.storage.db import database
from wsserver.storage.models import SchemaVersion, WebSession

HOUR = 3600
COOKIE = "wsserver_session"


@pytest.fixture
def ada(accounts):
    return accounts.create("ada", password=PASSWORD)


def browser(app):
    """A new browser signed in as ada with her password."""
    client = app.test_client()
    assert sign_in(client, username="ada", password=PASSWORD).status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def sent_to_sign_in(answer):
    return answer.status_code == 302 and answer.headers["Location"].startswith("/ui/sign-in")


def sessions_of(account_id):
    return list(WebSession.select().where(WebSession.account == account_id))


def test_signing_in_stores_a_session_row_with_only_the_hash_of_the_cookies_id(app, ada, clock):
    client = browser(app)
    [row] = sessions_of(ada["id"])
    assert (row.created_at, row.last_seen_at, row.expires_at) == (T0, T0, shifted(T0, 12 * HOUR))
    assert row.user_agent and row.address == "127.0.0.1"
    cookie = client.get_cookie(COOKIE).value
    assert row.id_hash not in cookie and len(row.id_hash) == 64
    assert client.get("/ui/").status_code == 200


def test_a_cookie_copied_before_sign_out_is_refused_after_it_and_writes_nothing(app, ada):
    """The issue's repro: a copy of the cookie taken before sign-out still read pages and created workspaces."""
    client = browser(app)
    thief = copy_of(app, client)
    form_token = csrf_token(thief.get("/ui/new"))  # the copy works while the session lasts
    assert post_form(client, "/ui/sign-out").status_code == 302
    assert sessions_of(ada["id"]) == []
    assert sent_to_sign_in(thief.get("/ui/"))
    created = thief.post("/ui/new", data={"csrf_token": form_token, "fullname": "after-sign-out"})
    assert created.status_code in (302, 400) and "/ui/w/" not in created.headers.get("Location", "")
    assert stored_workspace(app.test_client(), "after-sign-out") is None
    assert sent_to_sign_in(client.get("/ui/"))


def test_a_session_ends_session_hours_after_sign_in_though_pages_with_notices_were_shown(app, client, ada, clock):
    """The issue's repro: every page with a flash message re-signed the cookie, and the session never ended."""
    client.put(f"{API}/workspaces/research", json={"fullname": "research"}, headers=ada["headers"])
    page = browser(app)
    for minutes in range(50, 12 * 60, 50):  # saving something every 50 minutes for almost 12 hours
        clock.set(minutes * 60)
        saved = post_form(page, "/ui/w/research", "/ui/w/research", title=f"at {minutes}")
        assert saved.status_code == 302, minutes
        assert notices(page.get(saved.headers["Location"])) == ["Saved."]
    clock.set(12 * HOUR - 1)
    assert page.get("/ui/").status_code == 200
    clock.set(12 * HOUR)
    assert sent_to_sign_in(page.get("/ui/"))
    assert sent_to_sign_in(page.get("/ui/"))  # the browser was told to forget the cookie
    assert stored_workspace(client, "research")["meta"]["title"] == "at 700"


def test_an_expired_row_is_refused_and_purged_at_the_next_sign_in(app, ada):
    client = browser(app)
    WebSession.update(expires_at=shifted(ids.now_iso(), -1)).execute()
    assert sent_to_sign_in(client.get("/ui/"))
    assert len(sessions_of(ada["id"])) == 1  # no sweep on a page
    browser(app)
    assert [row.expires_at > ids.now_iso() for row in sessions_of(ada["id"])] == [True]


def test_a_session_of_another_account_is_no_session(app, client, accounts, ada):
    """A cookie naming one account and the session of another (a row moved, or a forged pair) is refused."""
    bob = accounts.create("bob", password=PASSWORD)
    page = browser(app)
    WebSession.update(account=bob["id"]).execute()
    assert sent_to_sign_in(page.get("/ui/"))


def test_sign_out_everywhere_ends_every_browsers_session_and_keeps_other_accounts(app, accounts, ada):
    bob = accounts.create("bob", password=PASSWORD)
    laptop, phone = browser(app), browser(app)
    bobs = app.test_client()
    assert sign_in(bobs, username="bob", password=PASSWORD).status_code == 302
    page = phone.get("/ui/")
    assert 'action="/ui/sign-out-everywhere"' in page.get_data(as_text=True)
    forged = phone.post("/ui/sign-out-everywhere")  # no CSRF token: refused, nothing ended
    assert forged.status_code == 400 and len(sessions_of(ada["id"])) == 2
    ended = post_form(phone, "/ui/sign-out-everywhere")
    assert sent_to_sign_in(ended)
    assert sessions_of(ada["id"]) == [] and len(sessions_of(bob["id"])) == 1
    assert sent_to_sign_in(laptop.get("/ui/")) and sent_to_sign_in(phone.get("/ui/"))
    assert bobs.get("/ui/").status_code == 200


def test_delete_sessions_signs_the_caller_out_of_every_browser_and_keeps_its_tokens(app, client, accounts, ada):
    bob = accounts.create("bob", password=PASSWORD)
    laptop, phone = browser(app), browser(app)
    bobs = app.test_client()
    assert sign_in(bobs, username="bob", password=PASSWORD).status_code == 302
    ended = client.delete(f"{API}/sessions", headers=ada["headers"])
    assert (ended.status_code, ended.get_json()) == (200, {"ended": 2})
    assert sent_to_sign_in(laptop.get("/ui/")) and sent_to_sign_in(phone.get("/ui/"))
    assert bobs.get("/ui/").status_code == 200 and len(sessions_of(bob["id"])) == 1
    assert client.get(f"{API}/me", headers=ada["headers"]).status_code == 200
    assert client.delete(f"{API}/sessions").status_code == 401


def test_another_node_sees_a_session_end_at_once(instance_path, app, ada):
    """A second node (`python app.py` on the same database and instance folder) refuses a session the moment
    this one ends it."""
    import requests

    copied, kept = browser(app), browser(app)
    cookies = {client: client.get_cookie(COOKIE).value for client in (copied, kept)}
    server = LiveServer(instance_path)
    try:
        def status(client):
            answer = requests.get(f"{server.url}/ui/", cookies={COOKIE: cookies[client]}, allow_redirects=False,
                                  timeout=10)
            return answer.status_code

        assert (status(copied), status(kept)) == (200, 200)
        assert post_form(copied, "/ui/sign-out").status_code == 302
        assert (status(copied), status(kept)) == (302, 200)
        from wsserver.services import sessions

        with app.app_context():
            assert sessions.end_every_session(ada["id"]) == 1
        assert status(kept) == 302
    finally:
        server.stop()


def test_last_sight_is_written_at_most_once_a_minute(app, ada, clock):
    page = browser(app)

    def seen():
        return sessions_of(ada["id"])[0].last_seen_at

    for seconds in (1, 30, 59):
        clock.set(seconds)
        assert page.get("/ui/").status_code == 200 and seen() == T0
    clock.set(60)
    assert page.get("/ui/").status_code == 200 and seen() == shifted(T0, 60)
    clock.set(119)
    assert page.get("/ui/").status_code == 200 and seen() == shifted(T0, 60)


def test_deleting_an_account_deletes_its_sessions(app, client, ada):
    browser(app)
    assert client.delete(f"{API}/accounts/{ada['id']}", headers=ADMIN).status_code in (200, 204)
    assert WebSession.select().count() == 0


@pytest.mark.fresh_database
def test_a_version_8_database_gets_the_session_table_and_signs_in(instance_path):
    settings = {"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT}
    client = create_app(settings).test_client()
    made = client.post(f"{API}/accounts", json={"username": "ada"}, headers=bearer(ADMIN_TOKEN)).get_json()
    database.drop_tables([WebSession])  # back to version 8: no session table
    SchemaVersion.update(version=8).execute()

    app = create_app(settings)
    assert SchemaVersion.get().version == 9
    assert {"web_session_account_id", "web_session_expires_at"} <= {
        index.name for index in database.get_indexes("web_session")}
    page = app.test_client()
    assert sign_in(page, token=made["token"]).status_code == 302
    assert page.get("/ui/").status_code == 200
    create_app(settings)  # nothing more to upgrade
    assert SchemaVersion.get().version == 9
