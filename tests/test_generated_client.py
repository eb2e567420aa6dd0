"""A Python client generated from the live `/openapi.json` drives a full scenario (issue 15, item 4).

A real server (conftest's LiveServer) serves its OpenAPI document; `openapi-python-client`,
pinned in requirements-dev.txt, turns it into a package under pytest's tmp_path (never in
the repository, never committed), and must say no warning while doing so. The package is
imported from there and one scenario runs through its functions only, as an outside
client would: accounts, a token, workspaces with tags, labels and meta, every paging
style, sorting, filters and search, an avatar up and down (bytes, not JSON), members,
invites, levels, removal, deletion, and every error read into the generated envelope
model. Each answer is checked against the document too: its status is one the operation
documents, and the parsed model gives back exactly the JSON that came (a field the
server sends but the schema lacks, or one the schema requires but the server leaves out,
shows here).

The one configuration given to the generator is `content_type_overrides`: it reads
`image/*` bodies as bytes only when told to (its documented way), so each image content
type of the document is mapped to `application/octet-stream`.

The generator missing or not at the pinned version: outside CI the tests are skipped with
one line; in CI (CI=true) they fail. The document does not depend on the engine, so the
PostgreSQL run skips them.
"""
import base64
import datetime
import enum
import importlib
import importlib.metadata
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
import time
import typing
import urllib.parse

import pytest
import requests

from conftest import ADMIN_TOKEN, ROOT, LiveServer, png_base64
from test_openapi import OPERATION_IDS

# The flavors' operations (wsserver/flavors), driven at the end of the scenario.
FLAVOR_OPERATION_IDS = ("engineeringListWorkspaces", "engineeringGetWorkspace", "engineeringGetCurrentUser",
                        "geoscienceListWorkspaces", "geoscienceGetWorkspace", "platformListWorkspaces")
EVERY_OPERATION_ID = {*OPERATION_IDS.values(), *FLAVOR_OPERATION_IDS}

pytestmark = pytest.mark.sqlite_only("the OpenAPI document does not depend on the engine: checked in the SQLite run")

GENERATOR = "openapi-python-client"
PACKAGE = "wsserver_generated_client"
LEVELS = {"user", "developer", "admin", "owner"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def pinned_version():
    with open(os.path.join(ROOT, "requirements-dev.txt"), encoding="utf-8") as handle:
        for line in handle:
            name, _, version = line.split("#")[0].strip().partition("==")
            if name.lower() == GENERATOR:
                return version
    return None


def generator_missing():
    """Why the pinned generator cannot run here, or None."""
    wanted = pinned_version()
    if wanted is None:
        return f"GENERATED-CLIENT TEST NOT RUN: {GENERATOR} is not pinned (==version) in requirements-dev.txt"
    try:
        installed = importlib.metadata.version(GENERATOR)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed == wanted:
        return None
    found = f"{installed} is installed" if installed else "it is not installed"
    return (f"GENERATED-CLIENT TEST NOT RUN: {GENERATOR}=={wanted} needed, {found} "
            f"(python3 -m pip install -r requirements-dev.txt)")


IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
MISSING = generator_missing()
if MISSING and not IN_CI:  # one line for the whole module; in CI each test fails instead
    pytest.skip(MISSING, allow_module_level=True)


def snake(operation_id):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


class Generated:
    """The generated package, imported from tmp_path, with what the generator said."""

    def __init__(self, package, output, returncode, document):
        self.package = package
        self.output = output
        self.returncode = returncode
        self.document = document
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.client = importlib.import_module(f"{PACKAGE}.client")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        self.operations = {}  # module name under api/<tag>/ -> [module]
        api = importlib.import_module(f"{PACKAGE}.api")
        for tag in pkgutil.iter_modules(api.__path__, f"{PACKAGE}.api."):
            tag_package = importlib.import_module(tag.name)
            for module in pkgutil.iter_modules(tag_package.__path__, f"{tag.name}."):
                self.operations.setdefault(module.name.rsplit(".", 1)[1], []).append(
                    importlib.import_module(module.name))
        self.documented = {}  # operationId -> the statuses its responses name
        for item in document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    self.documented[operation["operationId"]] = set(operation["responses"])

    def operation(self, operation_id):
        modules = self.operations.get(snake(operation_id), [])
        assert len(modules) == 1, f"{operation_id}: {len(modules)} generated modules"
        return modules[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if MISSING:
        pytest.fail(f"{MISSING}; CI must run it", pytrace=False)
    # with a trash, so restoreWorkspace has something to restore
    live = LiveServer(tmp_path_factory.mktemp("generated-client") / "instance", env={"WSSERVER_TRASH_DAYS": "30"})
    yield live
    live.stop()


@pytest.fixture(scope="module")
def generated(server, tmp_path_factory):
    """Fetch the live document, generate the client under tmp_path, import it."""
    answer = requests.get(server.url + "/openapi.json", timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    document = answer.json()
    work = tmp_path_factory.mktemp("generated-client-code")
    (work / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    images = sorted({content_type for item in document["paths"].values() for operation in item.values()
                     if isinstance(operation, dict)
                     for response in operation.get("responses", {}).values()
                     for content_type in response.get("content", {}) if content_type.startswith("image/")})
    config = {"content_type_overrides": {content_type: "application/octet-stream" for content_type in images}}
    (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
    environment = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
         "--output-path", PACKAGE, "--meta", "none", "--config", "config.json", "--fail-on-warning"],
        check=False, cwd=work, env=environment, capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    assert (work / PACKAGE / "__init__.py").exists(), f"nothing generated (exit {result.returncode}):\n{output}"
    sys.path.insert(0, str(work))
    try:
        yield Generated(importlib.import_module(PACKAGE), output, result.returncode, document)
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_generator_reads_the_live_document_without_a_warning(generated):
    assert generated.returncode == 0, generated.output
    assert not re.search(r"warning|error", generated.output, re.IGNORECASE), generated.output


def test_every_operation_is_one_function_named_by_its_operation_id(generated):
    names = {snake(operation_id) for operation_id in EVERY_OPERATION_ID}
    assert {name: len(modules) for name, modules in generated.operations.items()} == dict.fromkeys(names, 1)
    for operation_id in EVERY_OPERATION_ID:
        assert callable(generated.operation(operation_id).sync_detailed)


def enum_in(hint):
    """The Enum class a type hint such as `SomeEnum | Unset` names (None if none)."""
    candidates = [hint, *typing.get_args(hint)]
    found = [item for item in candidates if isinstance(item, type) and issubclass(item, enum.Enum)]
    return found[0] if found else None


def field_enum(generated, model, field):
    return enum_in(typing.get_type_hints(model, localns=vars(generated.models))[field])


def parameter_enum(function, parameter):
    return enum_in(typing.get_type_hints(function)[parameter])


def test_the_member_level_is_one_enum_wherever_it_appears(generated):
    models = generated.models
    level_enums = sorted(name for name in models.__all__
                         if isinstance(getattr(models, name), type) and issubclass(getattr(models, name), enum.Enum)
                         and {member.value for member in getattr(models, name)} == LEVELS)
    assert len(level_enums) == 1, f"the level is {len(level_enums)} enums: {level_enums}"
    shared = getattr(models, level_enums[0])
    uses = {
        "AclEntry.level": field_enum(generated, models.AclEntry, "level"),
        "Membership.level": field_enum(generated, models.Membership, "level"),
        "Level.level (changeMemberLevel's body)": field_enum(generated, models.Level, "level"),
        "listWorkspaces(level=)": parameter_enum(generated.operation("listWorkspaces").sync_detailed, "level"),
    }
    assert {use: getattr(kind, "__name__", kind) for use, kind in uses.items()} == dict.fromkeys(uses, shared.__name__)


# ----------------------------------------------------------------------------------------------
# The scenario


def is_time(key):
    """A date-time field: the native `createdAt` style, and the flavors' `created_at`, `user_last_visit`."""
    return key.endswith(("At", "_at")) or key == "user_last_visit"


def plain(value):
    """A parsed answer as JSON-like data (models through their to_dict), times as datetimes."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: (datetime.datetime.fromisoformat(item) if is_time(key) and isinstance(item, str)
                      else plain(item)) for key, item in value.items()}
    return value


class Scenario:
    """Calls the generated functions by operation id and checks every answer against the document."""

    def __init__(self, generated):
        self.generated = generated
        self.models = generated.models
        self.called = set()

    def call(self, operation_id, status, *args, **kwargs):
        """`sync_detailed` of the operation; the answer has this status, one the operation documents."""
        response = self.generated.operation(operation_id).sync_detailed(*args, **kwargs)
        self.called.add(operation_id)
        assert response.status_code == status, (operation_id, response.status_code, response.content[:500])
        assert str(status) in self.generated.documented[operation_id], \
            f"{operation_id} answered {status}, which its responses do not document"
        if response.headers.get("Content-Type", "").startswith("application/json"):
            assert plain(response.parsed) == plain(json.loads(response.content)), \
                f"{operation_id}: the generated model does not give back what the server sent"
        return response

    def ok(self, operation_id, status, *args, **kwargs):
        return self.call(operation_id, status, *args, **kwargs).parsed

    def fails(self, operation_id, status, *args, fields=None, **kwargs):
        """An error answer, read into the generated envelope model; returns its ErrorBody."""
        response = self.call(operation_id, status, *args, **kwargs)
        envelope = response.parsed
        assert type(envelope) is self.models.ErrorEnvelope, (operation_id, status, type(envelope))
        assert type(envelope.error) is self.models.ErrorBody
        assert isinstance(envelope.error.message, str) and envelope.error.message
        assert type(envelope.error.details) is self.models.ErrorBodyDetails
        if fields is not None:
            assert set(envelope.error.details.additional_keys) == set(fields), (operation_id, envelope.error)
        if status == 401:
            assert "WWW-Authenticate" in response.headers
        return envelope.error


def fullnames(workspaces):
    return [workspace.fullname for workspace in workspaces]


def link_relations(response):
    """rel -> query parameters of the Link header's targets."""
    relations = {}
    for target, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', response.headers.get("Link", "")):
        relations[rel] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
    return relations


def test_a_full_scenario_through_the_generated_client(server, generated):
    models = generated.models
    Client, AuthenticatedClient = generated.client.Client, generated.client.AuthenticatedClient
    File, UNSET = generated.types.File, generated.types.UNSET
    run = Scenario(generated)
    started = time.monotonic()

    def authenticated(token):
        return AuthenticatedClient(base_url=server.url, token=token, raise_on_unexpected_status=True)

    anonymous = Client(base_url=server.url, raise_on_unexpected_status=True)
    admin = authenticated(ADMIN_TOKEN)
    clients = [anonymous, admin]

    # -- the server is up
    assert run.ok("checkHealth", 200, client=anonymous).status == "ok"
    assert run.ok("checkReadiness", 200, client=anonymous).status == "ok"

    # -- the instance admin creates accounts; a password is traded for a token
    created = run.ok("createAccount", 201, client=admin, body=models.AccountCreate(
        username="ada", nickname="Ada", password="correct horse battery"))
    assert type(created) is models.AccountCreated and created.account.username == "ada"
    assert created.account.admin is False and created.token.startswith("wss_")
    ada_id = created.account.id
    bob_created = run.ok("createAccount", 201, client=admin, body=models.AccountCreate(username="bob"))
    bob_id = bob_created.account.id
    run.fails("createAccount", 409, client=admin, body=models.AccountCreate(username="ada"))
    run.fails("createAccount", 422, client=admin, body=models.AccountCreate(username="no spaces"),
              fields={"username"})
    assert {account.username for account in run.ok("listAccounts", 200, client=admin)} >= {"ada", "bob"}

    credentials = models.Credentials(username="ada", password="correct horse battery")
    token = run.ok("createToken", 200, client=anonymous,
                   body=models.TokenRequest(app=models.TokenRequestApp("password"), credentials=credentials))
    assert type(token) is models.Token and token.token.startswith("wss_") and token.token != created.token
    run.fails("createToken", 401, client=anonymous, body=models.TokenRequest(
        app=models.TokenRequestApp("password"), credentials=models.Credentials(username="ada", password="wrong")))
    ada, bob = authenticated(token.token), authenticated(bob_created.token)
    clients += [ada, bob]
    me = run.ok("getMe", 200, client=ada)
    assert (me.id, me.username, me.nickname, me.memberships) == (ada_id, "ada", "Ada", [])

    # -- 401: no credentials, or a token that is not one
    run.fails("listWorkspaces", 401, client=anonymous)
    run.fails("getMe", 401, client=authenticated("wss_not-a-token"))
    # -- 403: instance-admin things asked by others
    run.fails("createAccount", 403, client=ada, body=models.AccountCreate(username="carol"))
    run.fails("listWorkspaces", 403, client=ada, all_=True)

    # -- tokens with a life cycle: a read-only one made, listed without its value, refused a write, revoked
    reader = run.ok("createAccessToken", 201, client=ada, body=models.AccessTokenCreate(
        name="reader", expires_in=3600, scope=models.AccessTokenCreateScope("read")))
    assert type(reader) is models.AccessTokenCreated and reader.token.startswith(reader.prefix)
    run.fails("createAccessToken", 422, client=ada, body=models.AccessTokenCreate(name="", expires_in=0),
              fields={"name", "expiresIn"})
    reading = authenticated(reader.token)
    clients.append(reading)
    listed = run.ok("listTokens", 200, client=reading)
    assert [(each.name, each.current, each.scope) for each in listed if each.id == reader.id] == [("reader", True, "read")]
    run.fails("createAccessToken", 403, client=reading, body=models.AccessTokenCreate(name="more"))
    run.fails("revokeToken", 404, reader.id, client=bob)  # another account's token: as if it did not exist
    assert type(run.ok("revokeToken", 200, reader.id, client=ada)) is models.Empty
    run.fails("listTokens", 401, client=reading)
    spare = run.ok("createAccessToken", 201, client=ada, body=models.AccessTokenCreate(name="spare"))
    assert run.ok("revokeOtherTokens", 200, client=authenticated(spare.token)).revoked == 2  # ada's first and the traded
    token = spare  # the one ada keeps using
    ada = authenticated(spare.token)
    clients.append(ada)
    # -- sign out everywhere: ada's web page sessions (none here) end; her token keeps working
    assert run.ok("endMySessions", 200, client=ada).ended == 0

    # -- workspaces with tags, labels and meta (PUT creates: 201, then updates: 200)
    specs = [
        ("research", ["ml", "nlp"], {"team": "core", "tier": "gold"}, "Deep research"),
        ("robotics", ["hardware"], {"team": "core"}, "Bots"),
        ("alpha-lab", ["ml"], {"team": "edge"}, "Zoo"),
        ("zeta-notes", [], {}, "Notes"),
    ]
    made = {}
    for fullname, tags, labels, title in specs:
        view = run.ok("upsertWorkspace", 201, fullname, client=ada, body=models.WorkspacePut(
            fullname=fullname, tags=tags, labels=models.WorkspacePutLabels.from_dict(labels),
            meta=models.MetaInput(title=title)))
        assert type(view) is models.WorkspaceView
        assert (view.fullname, view.tags, view.labels.to_dict()) == (fullname, tags, labels)
        assert (view.meta.title, view.meta.avatar) == (title, None)
        assert view.created_by == ada_id and view.invite.startswith("wss_")
        assert isinstance(view.created_at, datetime.datetime) and view.created_at.tzinfo is not None
        made[fullname] = view
        time.sleep(0.005)  # distinct creation times, so created_at orders them
    updated = run.ok("upsertWorkspace", 200, "zeta-notes", client=ada, body=models.WorkspacePut(
        fullname="zeta-notes", tags=["notes"], meta=models.MetaInput(avatar="https://example.org/a.png")))
    assert (updated.tags, updated.labels.to_dict(), updated.meta.title, updated.meta.avatar) == \
        (["notes"], {}, "Notes", "https://example.org/a.png")
    assert updated.updated_at >= made["zeta-notes"].updated_at
    run.ok("upsertWorkspace", 201, "bobs-place", client=bob, body=models.WorkspacePut(fullname="bobs-place"))

    run.fails("upsertWorkspace", 409, "research", client=ada,
              body=models.WorkspacePut(fullname="research", create_only=True))
    run.fails("upsertWorkspace", 409, "robotics", client=bob, body=models.WorkspacePut(fullname="robotics"))
    run.fails("upsertWorkspace", 422, "research", client=ada, body=models.WorkspacePut(fullname="elsewhere"),
              fields={"fullname"})
    run.fails("upsertWorkspace", 422, "research", client=ada,
              body=models.WorkspacePut(fullname="research", tags=["ml", "ml"]), fields={"tags"})

    # -- get
    research = run.ok("getWorkspace", 200, "research", client=ada)
    assert type(research) is models.WorkspaceView
    assert (research.id, research.fullname) == (made["research"].id, "research")
    assert research.invite == made["research"].invite
    assert research.labels["tier"] == "gold"
    run.fails("getWorkspace", 404, "nowhere", client=ada)
    run.fails("getWorkspace", 404, "robotics", client=bob)  # not a member: as if it did not exist

    # -- list: every paging style, sort, filters, search
    list_workspaces = "listWorkspaces"
    by_name = ["alpha-lab", "research", "robotics", "zeta-notes"]
    response = run.call(list_workspaces, 200, client=ada)
    assert all(type(item) is models.WorkspaceViewShort for item in response.parsed)
    assert fullnames(response.parsed) == by_name and response.headers["X-Total-Count"] == "4"

    first = run.call(list_workspaces, 200, client=ada, limit=3, offset=0)
    rest = run.call(list_workspaces, 200, client=ada, limit=3, offset=3)
    assert fullnames(first.parsed) == by_name[:3] and fullnames(rest.parsed) == by_name[3:]
    assert first.headers["X-Total-Count"] == rest.headers["X-Total-Count"] == "4"
    assert set(link_relations(first)) == {"first", "next", "last"}
    assert link_relations(first)["next"]["offset"] == "3" and link_relations(first)["next"]["limit"] == "3"
    assert set(link_relations(rest)) == {"first", "prev", "last"}

    page_one = run.call(list_workspaces, 200, client=ada, page=1, page_size=3)
    page_two = run.call(list_workspaces, 200, client=ada, page=2, page_size=3)
    assert fullnames(page_one.parsed) == by_name[:3] and fullnames(page_two.parsed) == by_name[3:]
    assert link_relations(page_one)["next"]["page"] == "2" and link_relations(page_one)["next"]["page_size"] == "3"
    assert run.ok(list_workspaces, 200, client=ada, page=3, page_size=3) == []
    run.fails(list_workspaces, 422, client=ada, limit=3, page=1, fields={"limit", "page"})  # styles do not mix
    run.fails(list_workspaces, 422, client=ada, limit=0, fields={"limit"})

    assert fullnames(run.ok(list_workspaces, 200, client=ada, sort="-fullname")) == by_name[::-1]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, sort="title")) == \
        ["robotics", "research", "zeta-notes", "alpha-lab"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, sort="created_at:desc")) == \
        ["zeta-notes", "alpha-lab", "robotics", "research"]
    run.fails(list_workspaces, 422, client=ada, sort="size", fields={"sort"})

    assert fullnames(run.ok(list_workspaces, 200, client=ada, tag=["ml"])) == ["alpha-lab", "research"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, tag=["ml", "nlp"])) == ["research"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, label=["team:core"])) == ["research", "robotics"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, label=["team:core", "tier:gold"])) == ["research"]
    cutoff = made["robotics"].created_at
    assert fullnames(run.ok(list_workspaces, 200, client=ada, created_after=cutoff, sort="created_at")) == \
        ["robotics", "alpha-lab", "zeta-notes"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, created_before=cutoff)) == ["research"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, updated_after=updated.updated_at)) == ["zeta-notes"]
    assert fullnames(run.ok(list_workspaces, 200, client=admin, all_=True, created_by=ada_id)) == by_name
    assert fullnames(run.ok(list_workspaces, 200, client=admin, all_=True, created_by=bob_id)) == ["bobs-place"]

    assert fullnames(run.ok(list_workspaces, 200, client=ada, q="reserch"))[:1] == ["research"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, q="bots")) == ["robotics"]
    assert fullnames(run.ok(list_workspaces, 200, client=ada, q="ml core")) == ["research"]

    # -- archive: left out of lists unless include_archived; unarchive brings it back
    archived = run.ok("archiveWorkspace", 200, "zeta-notes", client=ada)
    assert type(archived) is models.WorkspaceView and archived.archived_at.tzinfo is not None  # a datetime
    assert "zeta-notes" not in fullnames(run.ok(list_workspaces, 200, client=ada))
    assert fullnames(run.ok(list_workspaces, 200, client=ada, include_archived=True)) == by_name
    run.fails("archiveWorkspace", 404, "zeta-notes", client=bob)
    assert run.ok("unarchiveWorkspace", 200, "zeta-notes", client=ada).archived_at is None
    assert fullnames(run.ok(list_workspaces, 200, client=ada)) == by_name

    # -- avatar: upload (base64 JSON), download (the image's bytes)
    uploaded = run.ok("uploadAvatar", 200, "research", client=ada, body=models.AvatarUpload(
        filename="logo.png", content_type=models.AvatarUploadContentType("image/png"), data=png_base64("red", 8)))
    assert type(uploaded) is models.AvatarUploadResult
    assert re.fullmatch(r"[0-9a-f]{64}\.png", uploaded.file_name) and uploaded.extension == "png"
    assert uploaded.url == f"{server.url}/avatars/{uploaded.file_name}"
    assert uploaded.workspace.meta.avatar == uploaded.url and uploaded.workspace.fullname == "research"

    download = run.call("getAvatarFile", 200, uploaded.file_name, client=anonymous)
    assert download.headers["Content-Type"] == "image/png"
    assert type(download.parsed) is File
    image_bytes = download.parsed.payload.read()
    assert isinstance(image_bytes, bytes) and image_bytes == download.content
    assert image_bytes.startswith(PNG_SIGNATURE) and len(image_bytes) == uploaded.size
    from PIL import Image

    assert Image.open(io.BytesIO(image_bytes)).size == (8, 8)
    etag = download.headers["ETag"]
    not_modified = run.call("getAvatarFile", 304, uploaded.file_name,
                            client=anonymous.with_headers({"If-None-Match": etag}))
    assert not_modified.content == b""
    partial = run.call("getAvatarFile", 206, uploaded.file_name, client=anonymous.with_headers({"Range": "bytes=0-7"}))
    assert type(partial.parsed) is File and partial.parsed.payload.read() == PNG_SIGNATURE
    assert partial.headers["Content-Range"] == f"bytes 0-7/{uploaded.size}"
    run.fails("getAvatarFile", 416, uploaded.file_name,
              client=anonymous.with_headers({"Range": f"bytes={uploaded.size + 10}-"}))
    run.fails("getAvatarFile", 404, "0" * 64 + ".png", client=anonymous)
    run.fails("uploadAvatar", 422, "research", client=ada, body=models.AvatarUpload(
        filename="logo.png", content_type=models.AvatarUploadContentType("image/png"),
        data=base64.b64encode(b"not an image at all").decode()), fields={"data"})
    run.fails("uploadAvatar", 413, "research", client=ada, body=models.AvatarUpload(
        filename="big.png", content_type=models.AvatarUploadContentType("image/png"),
        data=base64.b64encode(b"\0" * (1024 * 1024 + 1)).decode()), fields={"data"})
    run.fails("uploadAvatar", 404, "robotics", client=bob, body=models.AvatarUpload(
        filename="logo.png", content_type=models.AvatarUploadContentType("image/png"), data=png_base64()))

    # -- members: read, join by invite, level change, removal
    members = run.ok("listMembers", 200, "research", client=ada)
    assert all(type(entry) is models.AclEntry for entry in members)
    assert [(entry.user.username, entry.level.value) for entry in members] == [("ada", "owner")]
    ada_entry = members[0]
    assert (ada_entry.object_.type_, ada_entry.object_.id) == ("workspace", research.id)
    assert (ada_entry.subject.type_, ada_entry.subject.id) == ("user", ada_id)
    run.fails("listMembers", 404, "research", client=bob)

    run.fails("joinWorkspace", 403, "research", client=bob, body=models.Join(invite="wss_not-the-invite"))
    run.fails("joinWorkspace", 422, "research", client=bob, body=models.Join(invite=""), fields={"invite"})
    assert run.ok("joinWorkspace", 204, "research", client=bob, body=models.Join(invite=research.invite)) is None
    members = run.ok("listMembers", 200, "research", client=bob)
    assert [(entry.user.username, entry.level.value) for entry in members] == [("ada", "owner"), ("bob", "user")]
    bob_entry = members[1].id
    again = run.call("joinWorkspace", 204, "research", client=bob, body=models.Join(invite=research.invite))
    assert again.content == b""  # already a member: 204 and nothing changes

    developer = models.Level.from_dict({"level": "developer"})
    assert run.ok("changeMemberLevel", 204, "research", bob_entry, client=ada, body=developer) is None
    members = run.ok("listMembers", 200, "research", client=ada)
    assert [(entry.user.username, entry.level.value) for entry in members] == [("ada", "owner"), ("bob", "developer")]
    run.fails("changeMemberLevel", 409, "research", ada_entry.id, client=ada,
              body=models.Level.from_dict({"level": "admin"}))  # the last owner stays
    run.fails("changeMemberLevel", 403, "research", ada_entry.id, client=bob, body=developer)
    run.fails("changeMemberLevel", 404, "research", "no-such-entry", client=ada, body=developer)
    with pytest.raises((ValueError, KeyError)):  # the enum refuses a level that does not exist
        models.Level.from_dict({"level": "emperor"})

    level_filter = parameter_enum(generated.operation(list_workspaces).sync_detailed, "level")
    assert {member.value for member in level_filter} == LEVELS
    assert fullnames(run.ok(list_workspaces, 200, client=bob, level=level_filter("developer"))) == \
        ["bobs-place", "research"]
    assert fullnames(run.ok(list_workspaces, 200, client=bob, level=level_filter("admin"))) == ["bobs-place"]
    bob_me = run.ok("getMe", 200, client=bob)
    assert {(membership.workspace.fullname, str(membership.level)) for membership in bob_me.memberships} == \
        {("bobs-place", "owner"), ("research", "developer")}
    as_developer = run.ok("getWorkspace", 200, "research", client=bob)
    assert as_developer.invite is UNSET  # only owners and admins see it

    run.fails("uploadAvatar", 403, "research", client=bob, body=models.AvatarUpload(
        filename="logo.png", content_type=models.AvatarUploadContentType("image/png"), data=png_base64("blue")))
    run.fails("deleteWorkspace", 403, "research", client=bob)
    run.fails("removeMember", 409, "research", ada_entry.id, client=ada)  # the last owner, not the only member

    removed = run.ok("removeMember", 200, "research", bob_entry, client=bob)  # bob leaves
    assert type(removed) is models.Empty and removed.to_dict() == {}
    run.fails("getWorkspace", 404, "research", client=bob)
    run.fails("removeMember", 404, "research", bob_entry, client=ada)

    # -- delete (into the trash: WSSERVER_TRASH_DAYS), restore, delete again
    deleted = run.ok("deleteWorkspace", 200, "research", client=ada)
    assert type(deleted) is models.Empty
    run.fails("getWorkspace", 404, "research", client=ada)
    run.fails("restoreWorkspace", 404, "research", client=bob)  # bob left: to him it does not exist
    restored = run.ok("restoreWorkspace", 200, "research", client=ada)
    assert type(restored) is models.WorkspaceView and restored.fullname == "research"
    assert run.ok("getWorkspace", 200, "research", client=ada).fullname == "research"
    assert type(run.ok("deleteWorkspace", 200, "research", client=ada)) is models.Empty
    run.fails("deleteWorkspace", 404, "research", client=ada)
    assert fullnames(run.ok(list_workspaces, 200, client=ada)) == ["alpha-lab", "robotics", "zeta-notes"]

    # -- the flavors: the same workspaces in other services' shapes, through the same generated client
    drive_the_flavors(run, ada, ["alpha-lab", "robotics", "zeta-notes"])

    # -- accounts go too
    run.fails("deleteAccount", 403, bob_id, client=ada)
    assert type(run.ok("deleteAccount", 200, bob_id, client=admin)) is models.Empty
    run.fails("deleteAccount", 404, bob_id, client=admin)
    run.fails("getMe", 401, client=bob)

    for client in clients:
        client.get_httpx_client().close()
    assert run.called == EVERY_OPERATION_ID, "operations the scenario did not drive"
    assert time.monotonic() - started < 30


def drive_the_flavors(run, caller, names):
    """Each flavor's operations, answers read into their generated models (errors into their own)."""
    models = run.models
    engineering = run.ok("engineeringListWorkspaces", 200, client=caller,
                         sort=models.EngineeringListWorkspacesSort("name"))
    assert engineering.count == len(names)
    listed = {item.slug: item for item in engineering.results}
    assert sorted(listed) == names and not engineering.next_
    one = run.ok("engineeringGetWorkspace", 200, listed[names[0]].id, client=caller)
    assert (one.id, one.slug) == (listed[names[0]].id, names[0])
    run.call("engineeringGetWorkspace", 404, 2**31 - 1, client=caller)
    me = run.ok("getMe", 200, client=caller)
    user = run.ok("engineeringGetCurrentUser", 200, client=caller)
    assert (user.username, user.first_name, user.email) == (me.username, me.nickname.partition(" ")[0], "")

    organization = run.ok("getMe", 200, client=caller).organization.id
    geoscience = run.ok("geoscienceListWorkspaces", 200, organization, client=caller, limit=2)
    assert geoscience.links.total == len(names) and geoscience.links.count == 2 and len(geoscience.results) == 2
    first = geoscience.results[0]
    assert str(run.ok("geoscienceGetWorkspace", 200, organization, first.id, client=caller).id) == str(first.id)
    run.call("geoscienceListWorkspaces", 404, "00000000-0000-4000-8000-000000000000", client=caller)

    platform = run.ok("platformListWorkspaces", 200, client=caller,
                      sort_by=models.PlatformListWorkspacesSortBy("identifier"))
    assert [item.identifier for item in platform] == names
    assert {str(item.id) for item in platform} >= {str(first.id)}
