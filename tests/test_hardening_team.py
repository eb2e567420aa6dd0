"""Issue 27's small findings, each a repro that failed before its fix: a new token cached by nobody,
the docs page framed by nobody, a control character in the sign-in page's `next` (was a 500 after
the session cookie was set). The trash answer to a non-member is in tests/test_trash.py.
"""
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
