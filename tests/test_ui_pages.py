"""The workspace pages of /ui (avatar, invite, joining, members, deletion), through Flask's test
client: what a browser gets (status, Location, the page's notices and alerts) and what is stored,
read back through the API. The instance admin's pages, the lists' label filter and the CSRF check
of every new form: test_ui_admin.py."""
import html
import io
import logging
import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT
from ui_helpers import (
    ADMIN, ALLOWED_TYPES, PASSWORD, alerts, browser, entry_of, notices, png, post_form, stored_levels, stored_workspace, text, upload,
)
from wsserver import create_app

# --- fixtures: `team`, owned by ada (signed in), with members of each level --------------------------

@pytest.fixture
def ada(accounts):
    return accounts.create("ada", password=PASSWORD)


@pytest.fixture
def signed_in(app, ada):
    """Ada's browser."""
    return browser(app, ada["token"])


@pytest.fixture
def team(signed_in, ada, make_workspace):
    return make_workspace(ada["headers"], "team", meta={"title": "Team"})


@pytest.fixture
def member(app, client, accounts, join, team, ada):
    """member(username, level) → a browser signed in as a new member of `team` at that level."""

    def make(username, level="user"):
        account = accounts.create(username)
        join(ada["headers"], "team", account, level)
        return browser(app, account["token"])

    return make


@pytest.fixture
def stranger(app, accounts):
    bob = accounts.create("bob", password=PASSWORD)
    return bob, browser(app, bob["token"])


# --- 1. the avatar, from the file picker -------------------------------------------------------------

def test_an_uploaded_png_becomes_the_avatar_and_is_served(signed_in, client, team):
    answer = upload(signed_in, png())
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team"
    page = signed_in.get("/ui/w/team")
    assert notices(page) == ["The new avatar is stored."]
    avatar = stored_workspace(client, "team")["meta"]["avatar"]
    assert re.fullmatch(r"http://localhost/avatars/[0-9a-f]{64}\.png", avatar)
    assert f'class="avatar" src="{avatar}"' in page.get_data(as_text=True)
    served = client.get(urlsplit(avatar).path)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert Image.open(io.BytesIO(served.data)).size == (16, 16)


def test_a_file_that_is_no_image_is_refused_with_the_services_message_once(signed_in, client, team):
    answer = upload(signed_in, b"this is no image at all")
    assert answer.status_code == 422
    message = "The data is not a valid image/png image."
    assert alerts(answer) == [message]
    assert text(answer).count(message) == 1
    assert 'aria-describedby="avatar-error"' in answer.get_data(as_text=True)
    assert stored_workspace(client, "team")["meta"]["avatar"] is None


def test_uploading_without_a_file_asks_for_one(signed_in, client, team):
    for answer in (upload(signed_in, None), upload(signed_in, png(), filename="")):
        assert answer.status_code == 400
        assert alerts(answer) == ["Choose an image file first."]
    assert stored_workspace(client, "team")["meta"]["avatar"] is None


def test_a_file_of_another_content_type_is_refused_naming_the_allowed_types(signed_in, client, team):
    # the API's rule for a contentType not among the four: 422 (README, "Avatars"), with the same words
    answer = upload(signed_in, png(), content_type="text/plain", filename="logo.txt")
    assert answer.status_code == 422
    assert alerts(answer) == [f"The content type is not an allowed image type. {ALLOWED_TYPES}"]
    assert stored_workspace(client, "team")["meta"]["avatar"] is None


def test_a_file_over_avatar_max_bytes_or_a_body_over_the_limit_is_refused_with_413(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "AVATAR_MAX_BYTES": 500})
    client = app.test_client()
    owner = browser(app, ADMIN_TOKEN)
    client.put(f"{API}/workspaces/team", json={"fullname": "team"}, headers=ADMIN)
    big = png(side=32, noise=True)
    assert len(big) > 500
    answer = upload(owner, big)
    assert answer.status_code == 413
    assert alerts(answer) == [(f"The avatar is {len(big)} bytes; at most 500 bytes are allowed. "
                               "At most 500 bytes once decoded.")]
    huge = upload(owner, b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))  # refused before the form is read
    assert huge.status_code == 413
    assert alerts(huge) == ["The file is larger than this server accepts. Nothing was changed."]
    assert stored_workspace(client, "team")["meta"]["avatar"] is None
    assert os.listdir(os.path.join(instance_path, "avatars")) == []


def test_a_developer_gets_no_upload_form_and_a_forged_upload_is_refused(client, team, member, instance_path):
    developer = member("dev", "developer")
    page = developer.get("/ui/w/team")
    assert "your level: developer" in text(page) and 'name="avatar"' not in text(page)
    answer = upload(developer, png())
    assert answer.status_code == 403
    assert stored_workspace(client, "team")["meta"]["avatar"] is None
    assert not os.listdir(os.path.join(instance_path, "avatars"))


def test_a_refused_upload_says_why(team, member):
    answer = upload(member("dev", "developer"), png())
    assert answer.status_code == 403
    assert alerts(answer) == ["Your level in this workspace does not allow you to upload an avatar."]


# --- 2. the invite link ------------------------------------------------------------------------------

def invite_link(page):
    found = re.search(r'id="invite-link" readonly value="([^"]+)"', page.get_data(as_text=True))
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize("level, sees", [("owner", True), ("admin", True), ("developer", False), ("user", False)])
def test_owners_and_admins_see_the_stored_invite_link_others_do_not(signed_in, client, team, member, level, sees):
    viewer = signed_in if level == "owner" else member("viewer", level)
    page = viewer.get("/ui/w/team")
    assert page.status_code == 200 and f"your level: {level}" in text(page)
    invite = stored_workspace(client, "team")["invite"]
    expected = f"http://localhost/ui/join/team?invite={invite}" if sees else None
    assert invite_link(page) == expected
    assert (invite in text(page)) is sees and ("/invite/reset" in text(page)) is sees


def test_resetting_the_invite_asks_first_then_the_old_link_stops_working(signed_in, client, team, stranger):
    old = stored_workspace(client, "team")["invite"]
    asked = signed_in.get("/ui/w/team/invite/reset")
    assert asked.status_code == 200 and "Reset the invite link of team?" in text(asked)
    assert 'action="/ui/w/team/invite/reset"' in text(asked) and 'name="csrf_token"' in text(asked)
    assert stored_workspace(client, "team")["invite"] == old  # asking changed nothing
    answer = post_form(signed_in, "/ui/w/team/invite/reset", "/ui/w/team/invite/reset")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team#invite-heading"
    new = stored_workspace(client, "team")["invite"]
    assert new != old
    page = signed_in.get("/ui/w/team")
    assert notices(page) == ["The invite link is new: the old one no longer works."]
    assert invite_link(page) == f"http://localhost/ui/join/team?invite={new}"
    _, bobs_browser = stranger
    refused = post_form(bobs_browser, "/ui/join/team", invite=old)
    assert refused.status_code == 403 and alerts(refused) == ["This invite token is not valid for this workspace."]
    assert "bob" not in stored_levels(client, "team")


def test_a_user_level_member_cannot_reset_the_invite(client, team, member):
    user = member("usr", "user")
    invite = stored_workspace(client, "team")["invite"]
    asked = user.get("/ui/w/team/invite/reset")
    assert asked.status_code == 403
    assert alerts(asked) == ["Your level in this workspace does not allow you to change the workspace."]
    refused = post_form(user, "/ui/w/team/invite/reset", "/ui/w/team")
    assert refused.status_code == 403
    assert alerts(refused) == ["Your level in this workspace does not allow you to change the workspace."]
    assert stored_workspace(client, "team")["invite"] == invite


# --- 3. joining by the link --------------------------------------------------------------------------

def test_a_stranger_opening_the_link_signs_in_and_lands_back_on_the_join_page(
        app, client, team, stranger):
    invite = stored_workspace(client, "team")["invite"]
    anonymous = app.test_client()
    sent = anonymous.get(f"/ui/join/team?invite={invite}")
    assert sent.status_code == 302
    location = urlsplit(sent.headers["Location"])
    assert location.path == "/ui/sign-in"
    assert parse_qs(location.query)["next"] == [f"/ui/join/team?invite={invite}"]
    signed = post_form(anonymous, sent.headers["Location"], "/ui/sign-in", username="bob", password=PASSWORD)
    assert signed.status_code == 302 and signed.headers["Location"] == f"/ui/join/team?invite={invite}"
    asked = anonymous.get(signed.headers["Location"])
    assert asked.status_code == 200 and "Join team?" in text(asked)
    assert f'name="invite" value="{invite}"' in text(asked)
    assert "bob" not in stored_levels(client, "team")  # opening the link is never a change


def test_an_invite_in_the_sign_in_pages_next_is_masked_in_the_access_log(app, client, team, stranger, caplog):
    invite = stored_workspace(client, "team")["invite"]
    anonymous = app.test_client()
    with caplog.at_level(logging.INFO, logger="wsserver.access"):
        sent = anonymous.get(f"/ui/join/team?invite={invite}")
        anonymous.get(sent.headers["Location"])
        post_form(anonymous, sent.headers["Location"], "/ui/sign-in", username="bob", password=PASSWORD)
    lines = [record.getMessage() for record in caplog.records if record.name == "wsserver.access"]
    # the masked value, *** percent-encoded inside the percent-encoded `next`
    assert any("/ui/sign-in?next=%2Fui%2Fjoin%2Fteam%3Finvite%3D%252A%252A%252A" in line for line in lines), lines
    assert not [line for line in lines if invite in line]


def test_joining_through_the_page_makes_a_user(client, team, stranger):
    _, bobs_browser = stranger
    invite = stored_workspace(client, "team")["invite"]
    link = f"/ui/join/team?invite={invite}"
    assert bobs_browser.get(link).status_code == 200
    assert "bob" not in stored_levels(client, "team")
    answer = post_form(bobs_browser, "/ui/join/team", link, invite=invite)
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team"
    assert stored_levels(client, "team")["bob"] == "user"
    page = bobs_browser.get("/ui/w/team")
    assert notices(page) == ["Welcome to team."] and "your level: user" in text(page)


def test_a_member_opening_the_link_is_sent_to_the_workspace(signed_in, client, team):
    invite = stored_workspace(client, "team")["invite"]
    answer = signed_in.get(f"/ui/join/team?invite={invite}")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team"


def test_a_wrong_invite_is_refused_with_the_apis_message(client, team, stranger):
    _, bobs_browser = stranger
    answer = post_form(bobs_browser, "/ui/join/team", invite="wss_not-the-invite-of-this-workspace")
    assert answer.status_code == 403 and "Not allowed" in text(answer)
    assert alerts(answer) == ["This invite token is not valid for this workspace."]
    assert "bob" not in stored_levels(client, "team")


def test_joining_an_unknown_workspace_is_the_not_found_page(client, stranger):
    _, bobs_browser = stranger
    answer = post_form(bobs_browser, "/ui/join/nowhere", invite="wss_whatever-invite-0000000000")
    assert answer.status_code == 404 and alerts(answer) == ["Workspace 'nowhere' not found."]


def test_opening_a_link_to_an_unknown_workspace_is_the_not_found_page(stranger):
    _, bobs_browser = stranger
    answer = bobs_browser.get("/ui/join/nowhere?invite=wss_whatever-invite-0000000000")
    assert answer.status_code == 404 and alerts(answer) == ["Workspace 'nowhere' not found."]


# --- 4. members --------------------------------------------------------------------------------------

def level_options(page, entry_id):
    """The levels the page offers for this entry (None when it shows no select)."""
    select = re.search(rf'<select id="level-{entry_id}" name="level">(.*?)</select>', text(page), re.DOTALL)
    return re.findall(r'<option value="([^"]+)"', select.group(1)) if select else None


def test_an_owner_is_offered_every_level_and_changes_a_members_level(signed_in, client, team, member):
    member("bob")
    bob_entry = entry_of(client, "team", "bob")
    assert level_options(signed_in.get("/ui/w/team"), bob_entry) == ["owner", "admin", "developer", "user"]
    answer = post_form(signed_in, f"/ui/w/team/members/{bob_entry}/level", level="developer")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team#members-heading"
    assert notices(signed_in.get("/ui/w/team")) == ["Level changed."]
    assert stored_levels(client, "team") == {"ada": "owner", "bob": "developer"}


def test_an_unknown_level_is_refused_with_400(signed_in, client, team, member):
    member("bob")
    answer = post_form(signed_in, f"/ui/w/team/members/{entry_of(client, 'team', 'bob')}/level", level="boss")
    assert answer.status_code == 400
    assert alerts(answer) == ["Choose a level: user, developer, admin, owner."]
    assert stored_levels(client, "team") == {"ada": "owner", "bob": "user"}


def test_demoting_the_last_owner_is_refused_with_409_and_changes_nothing(signed_in, client, team, member):
    member("bob")
    answer = post_form(signed_in, f"/ui/w/team/members/{entry_of(client, 'team', 'ada')}/level", level="admin")
    assert answer.status_code == 409
    assert alerts(answer) == [("This is the last owner of the workspace: make another member owner first, "
                               "then change this one.")]
    assert stored_levels(client, "team") == {"ada": "owner", "bob": "user"}


def test_an_admin_is_offered_no_owner_level_and_a_forged_one_is_refused(client, team, member):
    carol = member("carol", "admin")
    member("bob")
    bob_entry, ada_entry = entry_of(client, "team", "bob"), entry_of(client, "team", "ada")
    page = carol.get("/ui/w/team")
    assert level_options(page, bob_entry) == ["admin", "developer", "user"]
    assert level_options(page, ada_entry) is None  # an owner's level is not the admin's to change
    forged = post_form(carol, f"/ui/w/team/members/{bob_entry}/level", level="owner")
    assert forged.status_code == 403
    assert alerts(forged) == ["Your level in this workspace does not allow this level change."]
    assert stored_levels(client, "team") == {"ada": "owner", "carol": "admin", "bob": "user"}


def test_an_owner_removes_a_member(signed_in, client, team, member):
    member("bob")
    answer = post_form(signed_in, f"/ui/w/team/members/{entry_of(client, 'team', 'bob')}/remove")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team#members-heading"
    assert notices(signed_in.get("/ui/w/team")) == ["Member removed."]
    assert stored_levels(client, "team") == {"ada": "owner"}


def test_a_member_leaves_through_their_own_entry(client, team, member):
    bob = member("bob")
    answer = post_form(bob, f"/ui/w/team/members/{entry_of(client, 'team', 'bob')}/remove", "/ui/w/team")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/"
    assert notices(bob.get("/ui/")) == ["You left team."]
    assert stored_levels(client, "team") == {"ada": "owner"}
    assert bob.get("/ui/w/team").status_code == 404


def test_a_user_sees_no_level_select_and_no_remove_button_and_cannot_forge_them(client, team, member):
    bob = member("bob")
    member("carol", "developer")
    page = bob.get("/ui/w/team")
    assert "<select" not in text(page).split('id="members-heading"')[1]
    assert "Remove" not in text(page) and text(page).count(">Leave</button>") == 1
    carol_entry = entry_of(client, "team", "carol")
    refused = post_form(bob, f"/ui/w/team/members/{carol_entry}/remove", "/ui/w/team")
    assert refused.status_code == 403
    assert alerts(refused) == ["Your level in this workspace does not allow you to remove this member."]
    assert post_form(bob, f"/ui/w/team/members/{carol_entry}/level", "/ui/w/team", level="user").status_code == 403
    assert stored_levels(client, "team") == {"ada": "owner", "bob": "user", "carol": "developer"}


# --- 5. deleting a workspace -------------------------------------------------------------------------

def test_deleting_a_workspace_asks_first_then_deletes_it(signed_in, client, team, ada):
    asked = signed_in.get("/ui/w/team/delete")
    assert asked.status_code == 200 and "Delete team?" in text(asked)
    assert 'action="/ui/w/team/delete"' in text(asked)
    assert stored_workspace(client, "team") is not None  # asking changed nothing
    answer = post_form(signed_in, "/ui/w/team/delete", "/ui/w/team/delete")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/"
    assert notices(signed_in.get("/ui/")) == ["team is deleted."]
    assert client.get(f"{API}/workspaces/team", headers=ada["headers"]).status_code == 404
    assert stored_workspace(client, "team") is None


def test_a_member_who_may_not_delete_is_not_asked_to(team, member):
    asked = member("bob", "user").get("/ui/w/team/delete")
    assert asked.status_code == 403 and "Delete team?" not in text(asked)


def test_an_admin_who_is_not_an_owner_cannot_delete(client, team, member):
    carol = member("carol", "admin")
    assert "/ui/w/team/delete" not in text(carol.get("/ui/w/team"))
    refused = post_form(carol, "/ui/w/team/delete", "/ui/w/team")
    assert refused.status_code == 403
    assert alerts(refused) == ["Your level in this workspace does not allow you to delete the workspace."]
    assert stored_workspace(client, "team") is not None


# --- 6. description and archiving (issue 14's fields on the page) ------------------------------------

def test_an_owner_writes_a_description_that_is_stored_and_shown_with_its_lines(signed_in, client, team):
    answer = post_form(signed_in, "/ui/w/team", "/ui/w/team", title="Team", description="First line\nSecond line")
    assert answer.status_code == 302
    assert stored_workspace(client, "team")["meta"]["description"] == "First line\nSecond line"
    page = text(signed_in.get("/ui/w/team"))
    assert '<p class="description">First line\nSecond line</p>' in page
    too_long = post_form(signed_in, "/ui/w/team", "/ui/w/team", description="d" * 1025)
    assert too_long.status_code == 422 and "Longer than maximum length 1024." in text(too_long)
    assert 'id="description-error"' in text(too_long)  # next to its field, as the title's below
    long_title = post_form(signed_in, "/ui/w/team", "/ui/w/team", title="t" * 129)
    assert long_title.status_code == 422 and 'id="title-error"' in text(long_title)
    assert "Longer than maximum length 128." in text(long_title)
    assert stored_workspace(client, "team")["meta"] == {
        "title": "Team", "description": "First line\nSecond line", "avatar": None}


def test_archiving_from_the_page_hides_it_from_the_list_until_asked_or_unarchived(signed_in, client, team):
    answer = post_form(signed_in, "/ui/w/team/archive", "/ui/w/team", archived="true")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/w/team"
    assert stored_workspace(client, "team")["archivedAt"] is not None
    page = signed_in.get("/ui/w/team")
    assert notices(page) == ["Archived: lists leave it out unless asked."] and "archived</strong> since" in text(page)
    assert "/ui/w/team" not in text(signed_in.get("/ui/"))
    listed = text(signed_in.get("/ui/?include_archived=true"))
    assert "team</a> (archived)" in listed
    post_form(signed_in, "/ui/w/team/archive", "/ui/w/team", archived="false")
    assert stored_workspace(client, "team")["archivedAt"] is None
    assert "/ui/w/team" in text(signed_in.get("/ui/"))


def test_a_user_cannot_archive_from_the_page(client, team, member):
    user = member("usr", "user")
    assert "Archive" not in text(user.get("/ui/w/team"))
    refused = post_form(user, "/ui/w/team/archive", "/ui/w/team", archived="true")
    assert refused.status_code == 403
    assert alerts(refused) == ["Your level in this workspace does not allow you to archive or unarchive the workspace."]
    assert stored_workspace(client, "team")["archivedAt"] is None
