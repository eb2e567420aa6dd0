"""What the web page's tests share: a browser's view of a page (CSRF token, notices, alerts, field
errors), signing in, sending a form as the page does, and what is stored, read through the API."""
import html
import io
import os
import re

from PIL import Image

from conftest import ADMIN_TOKEN, API, bearer

PASSWORD = "correct horse battery"


def csrf_token(page):
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def field_errors(page):
    return re.findall(r'class="field-error">([^<]+)<', page.get_data(as_text=True))


def sign_in(client, **credentials):
    token = csrf_token(client.get("/ui/sign-in"))
    return client.post("/ui/sign-in", data={"csrf_token": token, **credentials})


ADMIN = bearer(ADMIN_TOKEN)
ALLOWED_TYPES = "Must be one of: image/png, image/jpeg, image/gif, image/webp."


# --- what a browser sees ---------------------------------------------------------------------------

def text(page):
    return html.unescape(page.get_data(as_text=True))


def notices(page):
    return [html.unescape(found) for found in re.findall(r'class="notice">([^<]*)<', page.get_data(as_text=True))]


def alerts(page):
    found = re.findall(r'<p[^>]*role="alert"[^>]*>([^<]*)</p>', page.get_data(as_text=True))
    return [html.unescape(message).strip() for message in found]


def browser(app, account_token):
    """A new browser (its own cookies) signed in with this token."""
    client = app.test_client()
    assert sign_in(client, token=account_token).status_code == 302
    return client


def post_form(client, path, form_page="/ui/", **data):
    """A form sent as the page sends it: with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client.get(form_page)), **data})


# --- what is stored --------------------------------------------------------------------------------

def stored_workspace(client, fullname):
    answer = client.get(f"{API}/workspaces/{fullname}", headers=ADMIN)
    return answer.get_json() if answer.status_code == 200 else None


def stored_levels(client, fullname):
    """{username: level} of the workspace's members, as the API lists them."""
    entries = client.get(f"{API}/workspaces/{fullname}/acl", headers=ADMIN).get_json()
    return {entry["user"]["username"]: entry["level"] for entry in entries}


def entry_of(client, fullname, username):
    entries = client.get(f"{API}/workspaces/{fullname}/acl", headers=ADMIN).get_json()
    return next(entry["id"] for entry in entries if entry["user"]["username"] == username)


def png(side=16, noise=False):
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)) if noise else Image.new(
        "RGB", (side, side), "teal")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def upload(client, data, content_type="image/png", fullname="team", filename="logo.png"):
    form = {"csrf_token": csrf_token(client.get(f"/ui/w/{fullname}"))}
    if data is not None:
        form["avatar"] = (io.BytesIO(data), filename, content_type)
    return client.post(f"/ui/w/{fullname}/avatar", data=form, content_type="multipart/form-data")
