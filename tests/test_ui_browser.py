"""The web page in a real browser (issue 16): Debian's Chromium driven by Playwright for Python
(`executable_path=/usr/bin/chromium`; Playwright never downloads a browser here) against a live
server (`python app.py` on a loopback port).

- the journey of a team: sign in, create, edit, upload an avatar and see it, copy and reset the
  invite link, a second person joins through it, a level change, the last owner's demotion refused
  on the page, a removal, signing out; every request the pages make goes to this server only;
- a forged form (another page of the same site posting without the CSRF token) is refused;
- a non-member gets the not-found page;
- axe-core (vendored in tests/vendor/) on every page: no serious or critical violation;
- the keyboard alone: sign in, create, edit, join, change a level.

Screenshots of the main pages go to $WSSERVER_SCREENSHOTS when set (`make screenshots` writes
docs/screenshots/, which the README shows), else to the test's temporary folder.

Without Chromium or Playwright the tests are skipped with one line outside CI and fail in CI.
"""
import json
import os
import re
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from conftest import ADMIN_TOKEN, API, LiveServer, bearer, needs

pytestmark = pytest.mark.sqlite_only(
    "the browser sees the same pages on either engine; the services behind them are tested on both"
)

CHROMIUM = "/usr/bin/chromium"
AXE = os.path.join(os.path.dirname(__file__), "vendor", "axe-core-4.14.1", "axe.min.js")
PASSWORD = "correct horse battery"
VIEWPORT = {"width": 1100, "height": 800}


def expect(subject):
    """Playwright's waiting assertions (imported here: without Playwright the tests skip, not fail to load)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(subject)


def require_browser():
    missing = [] if os.access(CHROMIUM, os.X_OK) else [CHROMIUM]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements-dev.txt)")
    needs(missing, f"BROWSER TESTS OF THE WEB PAGE NOT RUN: {', '.join(missing)} missing "
                   f"(apt-get install -y chromium; .ci/run does it)")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # every host name but the loopback address resolves to nothing: the pages work offline
            args=["--no-sandbox", "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(str(tmp_path_factory.mktemp("ui-browser") / "instance"))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: $WSSERVER_SCREENSHOTS (make screenshots), else a temporary folder."""
    folder = os.environ.get("WSSERVER_SCREENSHOTS") or str(tmp_path / "screenshots")
    os.makedirs(folder, exist_ok=True)

    def shoot(page, name):
        path = os.path.join(folder, f"{name}.png")
        page.screenshot(path=path, full_page=True)
        with Image.open(path) as image:  # a real picture of the page
            assert image.format == "PNG" and image.width == VIEWPORT["width"]
        return path

    return shoot


class Api:
    """The server's API, for setting up state and checking what is stored."""

    def __init__(self, server, token=ADMIN_TOKEN):
        self.base, self.headers = server.url + API, bearer(token)

    def __call__(self, method, path, **kwargs):
        return requests.request(method, self.base + path, headers=self.headers, timeout=10, **kwargs)

    def account(self, username, password=PASSWORD):
        answer = self("POST", "/accounts", json={"username": username, "password": password})
        assert answer.status_code in (201, 409), answer.text
        return username

    def workspace(self, fullname):
        return self("GET", f"/workspaces/{fullname}")


def new_page(browser, server, requests_seen=None, **options):
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    if requests_seen is not None:
        page.on("request", lambda request: requests_seen.append(request.url))
    return page


def sign_in(page, username, password=PASSWORD):
    page.goto("/ui/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def png_file(tmp_path, colour="teal", size=64):
    path = tmp_path / f"{colour}.png"
    Image.new("RGB", (size, size), colour).save(path, "PNG")
    return path


def invite_link(page):
    return page.get_by_label(re.compile("^Invite link")).input_value()


def member_row(page, username):
    return page.locator("table.members tbody tr", has_text=f"({username})")


# --- the journey ----------------------------------------------------------------------------------------


def test_a_team_works_through_the_page(browser, server, shots, tmp_path):
    api = Api(server)
    api.account("ada"), api.account("bob")
    seen = []
    ada = new_page(browser, server, seen, permissions=["clipboard-read", "clipboard-write"])

    # sign in, an empty list that says how to start
    ada.goto("/")
    assert ada.url.endswith("/ui/sign-in?next=/ui/?")
    shots(ada, "sign-in")
    sign_in(ada, "ada")
    expect(ada.get_by_role("heading", name="My workspaces")).to_be_visible()
    expect(ada.locator("#results")).to_contain_text("You have no workspace yet")

    # create, with the API's own message for a bad name first
    ada.get_by_role("link", name="New workspace").click()
    ada.get_by_label("Name").fill("Harbor Lights")
    ada.get_by_role("button", name="Create").click()
    expect(ada.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(ada.locator("#fullname-error")).not_to_be_empty()
    shots(ada, "new-workspace-error")
    ada.get_by_label("Name").fill("harbor-lights")
    ada.get_by_label("Title").fill("Harbor lights")
    ada.get_by_label("Tags").fill("boats, night")
    ada.get_by_label("Labels").fill("team=docks")
    ada.get_by_role("button", name="Create").click()
    expect(ada.get_by_role("heading", name="Harbor lights")).to_be_visible()
    stored = api.workspace("harbor-lights").json()
    assert stored["meta"]["title"] == "Harbor lights" and stored["tags"] == ["boats", "night"]
    assert stored["labels"] == {"team": "docks"}

    # edit
    ada.get_by_label("Title").fill("Harbour lights")
    ada.get_by_role("button", name="Save").click()
    expect(ada.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    assert api.workspace("harbor-lights").json()["meta"]["title"] == "Harbour lights"

    # avatar: the picked file is previewed, then stored and shown
    ada.get_by_label("Image file").set_input_files(str(png_file(tmp_path)))
    preview = ada.locator("#avatar-preview")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("src", re.compile("^blob:"))
    ada.get_by_role("button", name="Upload").click()
    avatar = ada.get_by_role("img", name="Avatar of harbor-lights")
    expect(avatar).to_be_visible()
    ada.wait_for_function("document.querySelector('img.avatar').complete")
    assert avatar.evaluate("image => image.naturalWidth") == 64
    assert avatar.get_attribute("src") == api.workspace("harbor-lights").json()["meta"]["avatar"]

    # copy the invite link
    link = invite_link(ada)
    assert link == f"{server.url}/ui/join/harbor-lights?invite={api.workspace('harbor-lights').json()['invite']}"
    ada.get_by_role("button", name="Copy the link").click()
    expect(ada.locator(".copy-status")).to_have_text("Copied.")
    assert ada.evaluate("navigator.clipboard.readText()") == link
    shots(ada, "workspace")

    # reset it, after being asked
    ada.get_by_role("button", name="Reset the link…").click()
    expect(ada.get_by_role("heading", name="Reset the invite link of harbor-lights?")).to_be_visible()
    ada.get_by_role("button", name="Reset the link").click()
    expect(ada.get_by_role("status").filter(has_text="The invite link is new")).to_be_visible()
    new_link = invite_link(ada)
    assert new_link != link and new_link.endswith(api.workspace("harbor-lights").json()["invite"])

    # bob opens the old link: refused; the new one: sign in first, then join
    bob = new_page(browser, server, seen)
    sign_in(bob, "bob")
    assert bob.goto(link).status == 403
    expect(bob.get_by_role("alert")).to_have_text("This invite token is not valid for this workspace.")
    bob.get_by_role("button", name="Sign out bob").click()
    bob.goto(new_link)
    expect(bob).to_have_url(re.compile(r"/ui/sign-in\?next="))
    sign_in_from_here(bob, "bob")
    expect(bob.get_by_role("heading", name="Join harbor-lights?")).to_be_visible()
    shots(bob, "join")
    bob.get_by_role("button", name="Join harbor-lights").click()
    expect(bob.locator("main")).to_contain_text("your level: user")
    expect(bob.get_by_label(re.compile("^Invite link"))).to_have_count(0)  # users do not see the invite

    # ada makes bob an admin
    ada.reload()
    row = member_row(ada, "bob")
    row.get_by_label("Level of bob", exact=True).select_option("admin")
    row.get_by_role("button", name="Change the level of bob").click()
    expect(ada.get_by_role("status").filter(has_text="Level changed.")).to_be_visible()
    expect(member_row(ada, "bob").get_by_label("Level of bob", exact=True)).to_have_value("admin")
    levels = {entry["user"]["username"]: entry["level"] for entry in api("GET", "/workspaces/harbor-lights/acl").json()}
    assert levels == {"ada": "owner", "bob": "admin"}

    # the last owner cannot step down: the API's message on the page, nothing changed
    row = member_row(ada, "ada")
    row.get_by_label("Level of ada", exact=True).select_option("admin")
    row.get_by_role("button", name="Change the level of ada").click()
    expect(ada.get_by_role("alert")).to_have_text(re.compile("^This is the last owner of the workspace"))
    shots(ada, "last-owner-refused")
    levels = {entry["user"]["username"]: entry["level"] for entry in api("GET", "/workspaces/harbor-lights/acl").json()}
    assert levels == {"ada": "owner", "bob": "admin"}

    # remove bob; he no longer finds it
    member_row(ada, "bob").get_by_role("button", name="Remove bob").click()
    expect(ada.get_by_role("status").filter(has_text="Member removed.")).to_be_visible()
    expect(member_row(ada, "bob")).to_have_count(0)
    bob.goto("/ui/w/harbor-lights")
    expect(bob.get_by_role("heading", name="Not found")).to_be_visible()

    # the list, then sign out
    ada.goto("/ui/")
    expect(ada.get_by_role("link", name="harbor-lights")).to_be_visible()
    shots(ada, "workspaces")
    ada.get_by_role("button", name="Sign out ada").click()
    expect(ada.get_by_role("heading", name="Sign in")).to_be_visible()
    ada.goto("/ui/w/harbor-lights")
    expect(ada).to_have_url(re.compile("/ui/sign-in"))

    # every page, script, style and image came from this server
    foreign = [url for url in seen if not url.startswith(server.url + "/") and not url.startswith(("blob:", "data:"))]
    assert seen and not foreign, foreign


def sign_in_from_here(page, username, password=PASSWORD):
    """Sign in on the sign-in page the browser was sent to (keeping its `next`)."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_instance_admin_creates_an_account_and_sees_its_token_once(browser, server, shots):
    page = new_page(browser, server, permissions=["clipboard-read", "clipboard-write"])
    page.goto("/ui/sign-in")
    page.get_by_text("Sign in with a token instead").click()
    page.get_by_label(re.compile("^Personal access token")).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Accounts").click()
    page.get_by_label("Username").fill("carol")
    page.get_by_role("button", name="Create the account").click()
    token = page.get_by_label("Token of carol").input_value()
    page.get_by_role("button", name="Copy the token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert requests.get(server.url + API + "/me", headers=bearer(token), timeout=10).json()["username"] == "carol"
    page.get_by_role("link", name="Back to the accounts").click()
    assert token not in page.content()
    shots(page, "accounts")
    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("status")).to_have_text("Ready: every check passes.")


# --- refusals -------------------------------------------------------------------------------------------


def test_a_forged_form_is_refused_and_changes_nothing(browser, server):
    """Another page of the same site (127.0.0.1 on another port: the session cookie goes along, as
    SameSite=Lax lets it) posts a form to the workspace without the page's CSRF token."""
    api = Api(server)
    api.account("dan")
    dan_token = api("POST", "/token", json={"app": "password", "credentials": {"username": "dan", "password": PASSWORD}}).json()["token"]
    assert Api(server, dan_token)("PUT", "/workspaces/dans-place", json={"fullname": "dans-place", "meta": {"title": "Mine"}}).status_code == 201
    page = new_page(browser, server)
    sign_in(page, "dan")
    other_origin = re.sub(r":(\d+)$", lambda port: f":{int(port.group(1)) + 1}", server.url)
    evil = (f'<form method="post" action="{server.url}/ui/w/dans-place">'
            f'<input name="title" value="Taken over"><button>Win a prize</button></form>')
    page.route(f"{other_origin}/prize", lambda route: route.fulfill(content_type="text/html", body=evil))
    page.goto(f"{other_origin}/prize")
    with page.expect_response(f"{server.url}/ui/w/dans-place") as answer:
        page.get_by_role("button", name="Win a prize").click()
    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text("This form was not sent by this page")
    assert Api(server, dan_token).workspace("dans-place").json()["meta"]["title"] == "Mine"


def test_a_non_member_gets_the_not_found_page(browser, server):
    api = Api(server)
    api.account("erin")
    assert api("PUT", "/workspaces/admins-only", json={"fullname": "admins-only"}).status_code == 201
    page = new_page(browser, server)
    sign_in(page, "erin")
    response = page.goto("/ui/w/admins-only")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Workspace 'admins-only' not found.")


# --- accessibility and the keyboard ---------------------------------------------------------------------


def axe_violations(page):
    """axe-core's violations on the page as loaded ({id, impact, help, nodes})."""
    with open(AXE, encoding="utf-8") as source:
        page.evaluate(source.read())  # DevTools evaluation: the page's CSP does not apply to it
    found = page.evaluate("axe.run(document).then(result => result.violations)")
    return [{"id": item["id"], "impact": item["impact"], "help": item["help"],
             "nodes": [node["target"] for node in item["nodes"]]} for item in found]


def test_every_page_has_no_serious_accessibility_violation(browser, server, tmp_path):
    api = Api(server)
    api.account("fay")
    fay_token = api("POST", "/token", json={"app": "password", "credentials": {"username": "fay", "password": PASSWORD}}).json()["token"]
    fay_api = Api(server, fay_token)
    fay_api("PUT", "/workspaces/fays-garden", json={"fullname": "fays-garden", "tags": ["green"]})
    api("PUT", "/workspaces/closed-room", json={"fullname": "closed-room"})
    invite = api.workspace("closed-room").json()["invite"]
    admin = new_page(browser, server)
    admin.goto("/ui/sign-in")
    admin.get_by_text("Sign in with a token instead").click()
    admin.get_by_label(re.compile("^Personal access token")).fill(ADMIN_TOKEN)
    admin.get_by_role("button", name="Sign in").click()
    fay = new_page(browser, server)
    stranger = new_page(browser, server)
    stranger.goto("/ui/sign-in")
    sign_in(fay, "fay")

    pages = [
        (stranger, "/ui/sign-in"),
        (fay, "/ui/"),
        (fay, "/ui/?q=nothing-like-this"),
        (fay, "/ui/new"),
        (fay, "/ui/w/fays-garden"),
        (fay, "/ui/w/fays-garden/invite/reset"),
        (fay, "/ui/w/fays-garden/delete"),
        (fay, f"/ui/join/closed-room?invite={invite}"),
        (fay, "/ui/w/no-such-place"),
        (admin, "/ui/admin/workspaces"),
        (admin, "/ui/admin/accounts"),
        (admin, "/ui/admin/health"),
        (admin, "/ui/w/closed-room"),
    ]
    report, serious = {}, {}
    for page, path in pages:
        page.goto(path)
        violations = axe_violations(page)
        report[path] = [(item["id"], item["impact"]) for item in violations]
        serious[path] = [item for item in violations if item["impact"] in ("serious", "critical")]
    # a form with errors, too
    fay.goto("/ui/new")
    fay.get_by_label("Name").fill("Not A Name")
    fay.get_by_role("button", name="Create").click()
    violations = axe_violations(fay)
    report["/ui/new (with errors)"] = [(item["id"], item["impact"]) for item in violations]
    serious["/ui/new (with errors)"] = [item for item in violations if item["impact"] in ("serious", "critical")]
    # the check can fail: a field without a label, planted on a page, is found
    stranger.evaluate("document.querySelector('form').append(document.createElement('input'))")
    assert "label" in {item["id"] for item in axe_violations(stranger)}
    print("axe-core 4.14.1 violations per page:", json.dumps(report, indent=1))
    assert not any(serious.values()), json.dumps(serious, indent=1)


def tab_to(page, matches, most=60):
    """Press Tab until the focused element satisfies the JS predicate `matches` (given the element)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(f"(element => {matches})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {matches}")


def at_username(page):
    """The keyboard at the sign-in page's username field: where its autofocus puts it, or (when the
    browser has not applied autofocus, as a page opened in the background may not) by Tab."""
    try:
        expect(page.get_by_label("Username")).to_be_focused(timeout=3000)
    except AssertionError:
        tab_to(page, "element.id === 'username'")


def focused_text(text):
    return f"element && (element.innerText || element.value || '').trim() === {json.dumps(text)}"


def test_the_pages_work_with_the_keyboard_alone(browser, server):
    api = Api(server)
    api.account("gus"), api.account("hal")
    page = new_page(browser, server)
    keys = page.keyboard

    page.goto("/ui/sign-in")
    at_username(page)
    keys.type("gus")
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/ui/")

    tab_to(page, focused_text("New workspace"))
    keys.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/ui/new")
    tab_to(page, "element.id === 'fullname'")
    keys.type("keyboard-club")
    keys.press("Tab")
    keys.type("Keyboard club")
    keys.press("Enter")  # submits the form
    page.wait_for_url(lambda url: urlsplit(url).path == "/ui/w/keyboard-club")
    expect(page.get_by_role("heading", name="Keyboard club")).to_be_visible()

    tab_to(page, "element.id === 'title'")
    keys.press("Control+A")
    keys.type("Keys only")
    tab_to(page, focused_text("Save"))
    keys.press("Enter")
    expect(page.locator(".notice")).to_have_text("Saved.")
    assert api.workspace("keyboard-club").json()["meta"]["title"] == "Keys only"
    link = invite_link(page)

    other = new_page(browser, server)
    other.goto(link)
    at_username(other)
    other.keyboard.type("hal")
    other.keyboard.press("Tab")
    other.keyboard.type(PASSWORD)
    other.keyboard.press("Enter")
    other.wait_for_url(lambda url: urlsplit(url).path == "/ui/join/keyboard-club")
    tab_to(other, focused_text("Join keyboard-club"))
    other.keyboard.press("Enter")
    other.wait_for_url(lambda url: urlsplit(url).path == "/ui/w/keyboard-club")

    page.reload()
    tab_to(page, "element.id && element.id.startsWith('level-') && element.labels[0].innerText === 'Level of hal'")
    keys.press("ArrowUp")  # user -> developer (the options run from owner down to user)
    tab_to(page, focused_text("Change"))
    keys.press("Enter")
    expect(page.locator(".notice")).to_have_text("Level changed.")
    levels = {entry["user"]["username"]: entry["level"] for entry in api("GET", "/workspaces/keyboard-club/acl").json()}
    assert levels == {"gus": "owner", "hal": "developer"}
