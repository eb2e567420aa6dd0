"""The instance admin's pages of /ui (every workspace, the accounts, health), the lists' label filter
and htmx partial, and the CSRF check of every new form, through Flask's test client: what a browser
gets and what is stored, read back through the API. The helpers: ui_helpers.py."""
import io
import re

import pytest

from conftest import ADMIN_TOKEN, API, bearer
from ui_helpers import (
    ADMIN, PASSWORD, alerts, browser, entry_of, field_errors, notices, png, post_form, stored_levels,
    stored_workspace, text,
)
from wsserver.fields import USERNAME_RULE


@pytest.fixture
def ada(accounts):
    return accounts.create("ada", password=PASSWORD)


@pytest.fixture
def signed_in(app, ada):
    """Ada's browser: no instance administrator."""
    return browser(app, ada["token"])


@pytest.fixture
def admin(app):
    """A browser signed in as the instance administrator `admin`."""
    return browser(app, ADMIN_TOKEN)


def usernames(client):
    return [each["username"] for each in client.get(f"{API}/accounts", headers=ADMIN).get_json()]


def id_of(client, username):
    return next(each["id"] for each in client.get(f"{API}/accounts", headers=ADMIN).get_json()
                if each["username"] == username)


# --- 6. the instance admin's pages -------------------------------------------------------------------

def test_all_workspaces_lists_every_one_also_where_the_admin_is_no_member_and_searches(admin, accounts,
                                                                                        make_workspace):
    bob, carol = accounts.create("bob"), accounts.create("carol")
    make_workspace(bob["headers"], "harbor-lights", meta={"title": "Harbor"})
    make_workspace(carol["headers"], "quiet-forest")
    page = admin.get("/ui/admin/workspaces")
    assert page.status_code == 200 and "All workspaces" in text(page)
    assert "2 workspaces." in text(page)
    assert "/ui/w/harbor-lights" in text(page) and "/ui/w/quiet-forest" in text(page)
    searched = admin.get("/ui/admin/workspaces?q=harbr")  # a misspelling, found as the API finds it
    assert "/ui/w/harbor-lights" in text(searched) and "/ui/w/quiet-forest" not in text(searched)
    assert admin.get("/ui/w/quiet-forest").status_code == 200  # and opens them


def test_the_accounts_page_lists_every_account(admin, accounts):
    accounts.create("bob", nickname="Bobby")
    page = admin.get("/ui/admin/accounts")
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>(yes|no)</td>", text(page))
    assert rows == [("admin", "Administrator", "yes"), ("bob", "Bobby", "no")]


def test_creating_an_account_shows_its_token_once_and_the_token_works(admin, client):
    answer = post_form(admin, "/ui/admin/accounts", "/ui/admin/accounts", username="dora", nickname="Dora",
                       password=PASSWORD)
    assert answer.status_code == 201 and "The account dora is created" in text(answer)
    token = re.search(r'id="new-token" readonly value="([^"]+)"', text(answer)).group(1)
    me = client.get(f"{API}/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["username"] == "dora"
    assert "dora" in usernames(client)
    assert token not in text(admin.get("/ui/admin/accounts"))  # shown once, never again


def test_an_invalid_username_is_refused_with_the_schemas_message_next_to_the_field(admin, client):
    answer = post_form(admin, "/ui/admin/accounts", "/ui/admin/accounts", username="Not Valid!")
    assert answer.status_code == 422
    assert field_errors(answer) == [USERNAME_RULE.replace("'", "&#39;")]
    assert 'aria-describedby="username-error"' in text(answer)
    assert 'value="Not Valid!"' in text(answer)  # what was typed stays
    assert usernames(client) == ["admin"]


def test_a_taken_username_is_refused_with_409(admin, client, accounts):
    accounts.create("bob")
    answer = post_form(admin, "/ui/admin/accounts", "/ui/admin/accounts", username="bob")
    assert answer.status_code == 409
    assert field_errors(answer) == ["already taken"]
    assert usernames(client) == ["admin", "bob"]


def test_deleting_an_account_asks_first_then_deletes_it(admin, client, accounts):
    bob = accounts.create("bob")
    asked = admin.get(f"/ui/admin/accounts/{bob['id']}/delete")
    assert asked.status_code == 200 and "Delete the account bob?" in text(asked)
    assert "bob" in usernames(client)  # asking changed nothing
    answer = post_form(admin, f"/ui/admin/accounts/{bob['id']}/delete", f"/ui/admin/accounts/{bob['id']}/delete")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/admin/accounts"
    assert notices(admin.get("/ui/admin/accounts")) == ["The account bob is deleted."]
    assert usernames(client) == ["admin"]
    assert client.get(f"{API}/me", headers=bob["headers"]).status_code == 401


def test_the_admin_cannot_delete_their_own_account(admin, client, accounts):
    accounts.create("bob")
    own = id_of(client, "admin")
    page = admin.get("/ui/admin/accounts")
    assert f"/ui/admin/accounts/{own}/delete" not in text(page)
    assert f"/ui/admin/accounts/{id_of(client, 'bob')}/delete" in text(page)
    refused = post_form(admin, f"/ui/admin/accounts/{own}/delete", "/ui/admin/accounts")
    assert refused.status_code == 409
    assert alerts(refused) == ["You cannot delete your own account; another instance administrator can."]
    assert usernames(client) == ["admin", "bob"]


def test_health_shows_every_check(admin):
    page = admin.get("/ui/admin/health")
    assert page.status_code == 200 and "Ready: every check passes." in text(page)
    checks = re.findall(r"<tr><td>([^<]+)</td><td>(ok|failing)</td></tr>", text(page))
    assert checks == [("The avatar folder is writable", "ok"), ("The database answers", "ok"),
                      ("The rate-limit and login counters can be written", "ok"), ("The disk has room for writes", "ok")]


@pytest.mark.parametrize("path", ["/ui/admin/workspaces", "/ui/admin/accounts", "/ui/admin/health",
                                  "/ui/admin/accounts/{bob}/delete"])
def test_a_non_admin_gets_403_on_every_admin_page(signed_in, client, accounts, path):
    page = signed_in.get(path.format(bob=accounts.create("bob")["id"]))
    assert page.status_code == 403 and "Not allowed" in text(page) and len(alerts(page)) == 1
    assert 'href="/ui/admin/' not in text(signed_in.get("/ui/"))  # nor links to them


def test_a_non_admins_forged_admin_forms_change_nothing(signed_in, client, accounts):
    bob = accounts.create("bob")
    created = post_form(signed_in, "/ui/admin/accounts", username="mallory", password=PASSWORD)
    assert created.status_code == 403
    assert alerts(created) == ["Only instance administrators may open this page."]
    deleted = post_form(signed_in, f"/ui/admin/accounts/{bob['id']}/delete")
    assert deleted.status_code == 403
    assert usernames(client) == ["ada", "admin", "bob"]


# --- 8. the label filter and the htmx partial --------------------------------------------------------

def test_the_list_filters_by_label_and_answers_htmx_with_the_rows_only(signed_in, ada, make_workspace):
    make_workspace(ada["headers"], "harbor", labels={"team": "core"})
    make_workspace(ada["headers"], "forest", labels={"team": "ops"})
    page = signed_in.get("/ui/?label=team:core")
    assert page.status_code == 200 and "<html" in text(page)
    assert "1 workspace." in text(page) and "/ui/w/harbor" in text(page) and "/ui/w/forest" not in text(page)
    assert 'id="label" name="label" value="team:core"' in text(page)
    partial = signed_in.get("/ui/?label=team:ops", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in text(partial) and "<form" not in text(partial)
    assert "/ui/w/forest" in text(partial) and "/ui/w/harbor" not in text(partial)
    assert "No workspace matches." in text(signed_in.get("/ui/?label=team:nobody", headers={"HX-Request": "true"}))
    bad = signed_in.get("/ui/?label=no-colon")
    assert bad.status_code == 200 and alerts(bad) and alerts(bad)[0].startswith("label:")


# --- 7. no form without its CSRF token ---------------------------------------------------------------

def snapshot(client):
    """Everything a forged form could change."""
    workspace = stored_workspace(client, "team")
    accounts = client.get(f"{API}/accounts", headers=ADMIN).get_json()
    return workspace and (workspace["invite"], workspace["meta"], workspace["archivedAt"],
                          stored_levels(client, "team")), accounts


FORGED = [  # (path, form): each of these would change something with its token
    ("/ui/w/team/avatar", {"avatar": (io.BytesIO(png()), "logo.png", "image/png")}),
    ("/ui/w/team/invite/reset", {}),
    ("/ui/w/team/members/{bob}/level", {"level": "admin"}),
    ("/ui/w/team/members/{bob}/remove", {}),
    ("/ui/w/team/delete", {}),
    ("/ui/w/team/archive", {"archived": "true"}),
    ("/ui/w/team", {"title": "Taken over", "description": "Taken over"}),
    ("/ui/join/team", {"invite": "{invite}"}),
    ("/ui/admin/accounts", {"username": "mallory"}),
    ("/ui/admin/accounts/{bob_account}/delete", {}),
]


@pytest.mark.parametrize("path, form", FORGED, ids=[path for path, _ in FORGED])
def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(admin, client, ada, accounts, make_workspace,
                                                                       join, path, form):
    make_workspace(ada["headers"], "team")
    bob = accounts.create("bob")
    join(ada["headers"], "team", bob)
    # the instance admin, no member of team: with its token, each of these forms would change something
    names = {"bob": entry_of(client, "team", "bob"), "invite": stored_workspace(client, "team")["invite"],
             "bob_account": bob["id"]}
    before = snapshot(client)
    data = {key: value.format(**names) if isinstance(value, str) else value for key, value in form.items()}
    answer = admin.post(path.format(**names), data=data, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "Nothing was changed." in text(answer)
    assert snapshot(client) == before


