"""The web page at /ui, through Flask's test client: what a browser would get (status, headers,
the page's text) and what is stored. The same rules as the API: its schemas, services and
permission table. (Browser and accessibility tests come with the rest of issue 16.)"""
import os
import re
import stat

import pytest

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT
from ui_helpers import PASSWORD, csrf_token, field_errors, sign_in
from wsserver import create_app
from wsserver.storage.models import Workspace

@pytest.fixture
def ada(accounts):
    return accounts.create("ada", password=PASSWORD)


@pytest.fixture
def signed_in(client, ada):
    answer = sign_in(client, username="ada", password=PASSWORD)
    assert answer.status_code == 302
    return client


def create_through_the_page(client, **fields):
    token = csrf_token(client.get("/ui/new"))
    return client.post("/ui/new", data={"csrf_token": token, **fields})


def test_root_and_pages_send_a_stranger_to_the_sign_in_page(client):
    assert client.get("/").headers["Location"] == "/ui/"
    answer = client.get("/ui/new")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/ui/sign-in?next=/ui/new")
    page = client.get("/ui/sign-in")
    assert page.status_code == 200
    assert 'type="password"' in page.get_data(as_text=True)


def test_every_page_has_a_strict_content_security_policy_and_cannot_be_framed(client):
    page = client.get("/ui/sign-in")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script
    for asset in re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.get_data(as_text=True)):
        assert client.get(asset).status_code == 200, asset  # served by wsserver itself


def test_signing_in_with_a_password_sets_a_signed_http_only_lax_cookie(client, ada):
    answer = sign_in(client, username="ada", password=PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("wsserver_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure (below)
    assert "ada" in client.get("/ui/").get_data(as_text=True)


def test_the_cookie_is_secure_over_https(client, ada):
    token = csrf_token(client.get("/ui/sign-in", base_url="https://localhost"))
    form = {"csrf_token": token, "username": "ada", "password": PASSWORD}
    # over https a form must also come from this site's own page (flask-wtf checks the Referer)
    assert client.post("/ui/sign-in", data=form, base_url="https://localhost").status_code == 400
    answer = client.post("/ui/sign-in", data=form, base_url="https://localhost",
                         headers={"Referer": "https://localhost/ui/sign-in"})
    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"]


def test_signing_in_with_a_token_works_for_accounts_without_a_password(client, accounts):
    bob = accounts.create("bob")
    assert sign_in(client, token=bob["token"]).status_code == 302
    assert "bob" in client.get("/ui/").get_data(as_text=True)


def test_wrong_credentials_are_refused_and_sign_in_nobody(client, ada):
    answer = sign_in(client, username="ada", password="wrong password")
    assert answer.status_code == 401
    assert "Wrong username, password or token." in answer.get_data(as_text=True)
    assert client.get("/ui/").status_code == 302


def test_failed_sign_ins_meet_the_same_lock_out_as_post_token(instance_path, accounts):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "LOGIN_LOCKOUT": "3/minute"})
    client = app.test_client()
    assert client.post(f"{API}/accounts", json={"username": "ada", "password": PASSWORD},
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 201
    statuses = [sign_in(client, username="ada", password="nope").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    locked = sign_in(client, username="ada", password=PASSWORD)  # even the right password now
    assert locked.status_code == 429 and "Too many failed logins" in locked.get_data(as_text=True)
    # the API's POST /token shares the count
    refused = client.post(f"{API}/token", json={"app": "password", "credentials": {"username": "ada", "password": PASSWORD}})
    assert refused.status_code == 429


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(signed_in):
    answer = signed_in.post("/ui/new", data={"fullname": "forged"})
    assert answer.status_code == 400
    assert "Nothing was changed." in answer.get_data(as_text=True)
    forged = signed_in.post("/ui/new", data={"fullname": "forged", "csrf_token": "not-the-token"})
    assert forged.status_code == 400
    assert Workspace.get_or_none(Workspace.fullname == "forged") is None
    assert signed_in.post("/ui/sign-out").status_code == 400  # sign-out too needs the token


def test_the_api_needs_no_csrf_token(client, ada):
    answer = client.put(f"{API}/workspaces/plain", json={"fullname": "plain"}, headers={"Authorization": f"Bearer {ada['token']}"})
    assert answer.status_code == 201


def test_creating_a_workspace_through_the_page_stores_it_with_the_caller_as_owner(signed_in, ada):
    answer = create_through_the_page(signed_in, fullname="team-a", title="Team A", tags="ml, vision",
                                     labels="team=core\nenv=dev")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team-a"
    stored = Workspace.get(Workspace.fullname == "team-a")
    assert (stored.title, stored.tags, stored.labels) == ("Team A", ["ml", "vision"], {"team": "core", "env": "dev"})
    page = signed_in.get("/ui/w/team-a").get_data(as_text=True)
    assert "Team A" in page and "your level: owner" in page and stored.invite in page


def test_the_apis_validation_messages_are_shown_next_to_the_fields(signed_in):
    answer = create_through_the_page(signed_in, fullname="Not Kebab", tags="a, a", labels="no equals sign")
    assert answer.status_code == 422
    assert "labels" in answer.get_data(as_text=True)
    answer = create_through_the_page(signed_in, fullname="Not Kebab", tags="a, a")
    messages = field_errors(answer)
    assert "Must be kebab-case: lowercase letters and digits separated by single hyphens." in messages
    assert "Tags must be distinct." in messages
    assert 'aria-invalid="true"' in answer.get_data(as_text=True)
    assert Workspace.select().count() == 0


def test_a_taken_name_is_refused_with_the_apis_message(signed_in, client, accounts, make_workspace):
    other = accounts.create("other")
    make_workspace(other["headers"], "taken")
    answer = create_through_the_page(signed_in, fullname="taken")
    assert answer.status_code == 422
    assert "already taken" in " ".join(field_errors(answer))


def test_my_workspaces_lists_searches_and_filters_with_the_native_listing(signed_in, ada, make_workspace):
    empty = signed_in.get("/ui/").get_data(as_text=True)
    assert "You have no workspace yet" in empty
    make_workspace(ada["headers"], "harbor-lights", tags=["ml"], meta={"title": "Harbor"})
    make_workspace(ada["headers"], "quiet-forest", tags=["ops"])
    page = signed_in.get("/ui/").get_data(as_text=True)
    assert "2 workspaces." in page and "harbor-lights" in page and "quiet-forest" in page
    searched = signed_in.get("/ui/?q=harbr").get_data(as_text=True)  # a misspelling, as the API finds it
    assert "harbor-lights" in searched and "quiet-forest" not in searched
    tagged = signed_in.get("/ui/?tag=ops").get_data(as_text=True)
    assert "quiet-forest" in tagged and "harbor-lights" not in tagged
    partial = signed_in.get("/ui/?q=forest", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    text = partial.get_data(as_text=True)
    assert "<html" not in text and "quiet-forest" in text  # only the results, for htmx to swap in
    bad = signed_in.get("/ui/?sort=nonsense").get_data(as_text=True)
    assert "sort" in bad and 'class="field-error"' in bad


def test_a_non_member_gets_the_not_found_page(signed_in, accounts, make_workspace):
    other = accounts.create("other")
    make_workspace(other["headers"], "secret-place")
    answer = signed_in.get("/ui/w/secret-place")
    assert answer.status_code == 404
    assert "Workspace &#39;secret-place&#39; not found." in answer.get_data(as_text=True)


def test_members_see_the_workspace_but_only_admins_and_owners_edit_it(signed_in, ada, accounts, make_workspace, join):
    owner = accounts.create("owner")
    make_workspace(owner["headers"], "shared", meta={"title": "Shared"})
    join(owner["headers"], "shared", ada)  # as a user
    page = signed_in.get("/ui/w/shared").get_data(as_text=True)
    assert "your level: user" in page and "Shared" in page
    assert "<h2 id=\"edit-heading\">" not in page and "Invite" not in page
    token = csrf_token(signed_in.get("/ui/w/shared"))
    refused = signed_in.post("/ui/w/shared", data={"csrf_token": token, "title": "Mine now"})
    assert refused.status_code == 403
    assert Workspace.get(Workspace.fullname == "shared").title == "Shared"


def test_an_owner_edits_title_tags_and_labels(signed_in, ada, make_workspace):
    make_workspace(ada["headers"], "team-b", tags=["x"], labels={"a": "1"})
    token = csrf_token(signed_in.get("/ui/w/team-b"))
    answer = signed_in.post("/ui/w/team-b", data={"csrf_token": token, "title": "Team B", "tags": "y, z",
                                                   "labels": "b=2"})
    assert answer.status_code == 302
    stored = Workspace.get(Workspace.fullname == "team-b")
    assert (stored.title, stored.tags, stored.labels) == ("Team B", ["y", "z"], {"b": "2"})


def test_sign_out_ends_the_session(signed_in):
    token = csrf_token(signed_in.get("/ui/"))
    assert signed_in.post("/ui/sign-out", data={"csrf_token": token}).status_code == 302
    assert signed_in.get("/ui/").status_code == 302


def test_a_session_of_a_deleted_account_is_signed_out(signed_in, ada):
    assert signed_in.delete(f"{API}/accounts/{ada['id']}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    assert signed_in.get("/ui/").status_code == 302


def test_sign_in_never_redirects_to_another_host(client, ada):
    token = csrf_token(client.get("/ui/sign-in"))
    for target in ("https://evil.example/", "//evil.example/ui", "/api/v2/me", "/ui\\@evil"):
        answer = client.post(f"/ui/sign-in?next={target}", data={"csrf_token": token, "username": "ada",
                                                                  "password": PASSWORD})
        assert answer.headers["Location"] == "/ui/", target
        token = csrf_token(client.get("/ui/sign-in"))


def test_the_session_secret_is_kept_in_the_instance_with_mode_0600(client, ada, instance_path):
    path = os.path.join(instance_path, "secret-key")
    assert sign_in(client, username="ada", password=PASSWORD).status_code == 302
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(open(path).read().strip()) >= 32
    # the same key after a restart: the session survives it
    again = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN}).test_client()
    again.set_cookie("wsserver_session", client.get_cookie("wsserver_session").value)
    assert again.get("/ui/").status_code == 200


def test_wsserver_secret_key_is_used_instead_and_a_short_one_is_refused(instance_path):
    from wsserver.config import ConfigError

    key = "k" * 40
    app = create_app({"INSTANCE_PATH": instance_path, "SECRET_KEY": key})
    assert app.test_client().get("/ui/sign-in").status_code == 200
    assert app.secret_key == key
    assert not os.path.exists(os.path.join(instance_path, "secret-key"))
    with pytest.raises(ConfigError) as refused:
        create_app({"INSTANCE_PATH": instance_path, "SECRET_KEY": "short-secret"})
    assert "short-secret" not in str(refused.value) and "***" in str(refused.value)


def test_the_web_page_can_be_turned_off(instance_path):
    client = create_app({"INSTANCE_PATH": instance_path, "UI": False}).test_client()
    assert client.get("/ui/").status_code == 404
    assert client.get("/ui/sign-in").status_code == 404
    assert client.get("/").status_code == 404
    assert not os.path.exists(os.path.join(instance_path, "secret-key"))


def test_a_session_ends_after_session_hours(signed_in, monkeypatch):
    import time as real_time

    import itsdangerous.timed

    assert signed_in.get("/ui/").status_code == 200

    class Later:
        @staticmethod
        def time():
            return real_time.time() + 12 * 3600 + 60  # the default WSSERVER_SESSION_HOURS, and a minute

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    answer = signed_in.get("/ui/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/ui/sign-in")
