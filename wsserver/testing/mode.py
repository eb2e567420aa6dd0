"""Test mode (WSSERVER_TEST_MODE=1): the state to reset to, the shared id sequence, recent requests.

All of it lives in <instance>/test-mode/: `state.sqlite3` (separate from the
data, like the rate-limit counters, with synchronous=OFF because nothing in
it must survive an OS crash) and `avatars/`, hard links to the avatar files
of the baseline. Every worker process reads and writes the same file, so the
request log, the id sequence and the baseline are shared by all of them.

The baseline is the state to reset to: captured at start-up (after
WSSERVER_SEED_FILE is loaded) and after every `flask --app app seed`.
"""
import json
import logging
import os
import shutil
import sqlite3
import threading

from flask import current_app

from .. import ids
from ..http.ratelimit import LOGIN_GUARD
from ..storage.db import database
from ..storage.side_file import SideFile
from ..errors import Conflict, Forbidden
from ..permissions import may_administer_instance
from ..storage.avatar_files import AVATAR_FOLDER, avatar_folder, is_avatar_file_name, remove_quietly

log = logging.getLogger("wsserver")

# testing.state is imported where needed: a normal start-up does not need it.

STATE_FOLDER = "test-mode"
STATE_FILE = "state.sqlite3"
# How many requests GET /__admin__/requests keeps (the oldest go first).
REQUEST_LOG_SIZE = 1000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS request (seq INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL,"
    " path TEXT NOT NULL, query TEXT NOT NULL, status INTEGER NOT NULL, body_size INTEGER NOT NULL, username TEXT)",
    "CREATE TABLE IF NOT EXISTS baseline (id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL,"
    " position INTEGER, avatar_files TEXT NOT NULL)",
)


class StateStore:
    """<instance>/test-mode/state.sqlite3 (a storage.side_file.SideFile)."""

    def __init__(self, instance_path):
        self.folder = os.path.join(instance_path, STATE_FOLDER)
        self.path = os.path.join(self.folder, STATE_FILE)
        self._file = SideFile(self.path, _SCHEMA, timeout=10)

    def connection(self):
        return self._file.connection()

    # --- the position of the deterministic id sequence (ids.configure's counter) ---

    def next(self):
        return self.connection().execute(
            "INSERT INTO counter (name, value) VALUES ('ids', 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value"
        ).fetchone()[0]

    def value(self):
        row = self.connection().execute("SELECT value FROM counter WHERE name = 'ids'").fetchone()
        return row[0] if row else 0

    def set(self, value):
        self.connection().execute(
            "INSERT INTO counter (name, value) VALUES ('ids', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (value,),
        )

    # --- recent requests ---

    def record_request(self, method, path, query, status, body_size, username):
        connection = self.connection()
        seq = connection.execute(
            "INSERT INTO request (method, path, query, status, body_size, username) VALUES (?, ?, ?, ?, ?, ?) "
            "RETURNING seq",
            (method, path, query, status, body_size, username),
        ).fetchone()[0]
        connection.execute("DELETE FROM request WHERE seq <= ?", (seq - REQUEST_LOG_SIZE,))

    def requests(self):
        rows = self.connection().execute(
            "SELECT method, path, query, status, body_size, username FROM request ORDER BY seq"
        ).fetchall()
        return [
            {"method": method, "path": path, "query": query, "status": status, "bodySize": body_size, "username": username}
            for method, path, query, status, body_size, username in rows
        ]

    def clear_requests(self):
        self.connection().execute("DELETE FROM request")

    # --- the baseline ---

    def save_baseline(self, document, position, avatar_files):
        self.connection().execute(
            "INSERT OR REPLACE INTO baseline (id, document, position, avatar_files) VALUES (1, ?, ?, ?)",
            (json.dumps(document, separators=(",", ":")), position, json.dumps(sorted(avatar_files))),
        )

    def baseline(self):
        row = self.connection().execute("SELECT document, position, avatar_files FROM baseline").fetchone()
        if row is None:
            return None
        return json.loads(row[0]), row[1], set(json.loads(row[2]))


_stores = {}
_stores_lock = threading.Lock()


def store_for(instance_path):
    with _stores_lock:
        store = _stores.get(instance_path)
        if store is None:
            store = _stores[instance_path] = StateStore(instance_path)
        return store


def current_store():
    return store_for(current_app.config["INSTANCE_PATH"])


def configure_test_mode(settings):
    """Called by create_app: deterministic ids and time in test mode when asked, else the real ones.

    WSSERVER_SEED and WSSERVER_FIXED_TIME outside test mode are refused:
    predictable tokens must never reach a real instance.
    """
    from ..config import ConfigError

    if not settings["TEST_MODE"]:
        for name in ("SEED", "FIXED_TIME"):
            if settings[name] is not None:
                raise ConfigError(f"WSSERVER_{name} is only allowed in test mode (WSSERVER_TEST_MODE=1)")
        ids.configure()
        return
    log.warning(
        "TEST MODE: /__admin__/reset and /__admin__/requests are served and every request is recorded; "
        "never run a real instance like this"
    )
    counter = store_for(settings["INSTANCE_PATH"]) if settings["SEED"] is not None else None
    ids.configure(seed=settings["SEED"], fixed_time=settings["FIXED_TIME"], counter=counter)
    if settings["SEED"] is not None:
        log.warning("TEST MODE: ids and tokens are predictable (WSSERVER_SEED)")


# --- baseline and reset -----------------------------------------------------------------------------


def _copies_folder(store):
    return os.path.join(store.folder, AVATAR_FOLDER)


def _avatar_files():
    folder = avatar_folder()
    return {name for name in os.listdir(folder) if is_avatar_file_name(name)}


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, target)


def capture_baseline():
    """Remember the current state (rows, id position, avatar files) as the one reset restores."""
    from . import state

    store = current_store()
    with database.atomic():
        document = state.capture_state()
        files = _avatar_files()
        folder, copies = avatar_folder(), _copies_folder(store)
        shutil.rmtree(copies, ignore_errors=True)
        os.makedirs(copies)
        for name in files:
            _link_or_copy(os.path.join(folder, name), os.path.join(copies, name))
    store.save_baseline(document, ids.generator_position(), files)


def reset(actor):
    """Restore the baseline in one transaction; returns what it holds ({accounts, workspaces, memberships})."""
    from . import state

    if not may_administer_instance(actor):
        raise Forbidden("Only instance administrators may reset the instance.")
    store = current_store()
    baseline = store.baseline()
    if baseline is None:
        raise Conflict("No state to reset to was recorded (restart the server in test mode).")
    document, position, files = baseline
    folder = avatar_folder()
    copies = _copies_folder(store)
    # Files are put back or removed under the write lock, so no upload interleaves.
    with database.atomic():
        state.replace_state(document)
        present = _avatar_files()
        for name in sorted(present - files):
            remove_quietly(os.path.join(folder, name))
        for name in sorted(files - present):
            _link_or_copy(os.path.join(copies, name), os.path.join(folder, name))
    ids.rewind_generator(position)
    store.clear_requests()
    for limiter in current_app.extensions.get("limiter", ()):
        limiter.reset()
    login_guard = current_app.extensions.get(LOGIN_GUARD)  # its own counters when no budget is set
    if login_guard is not None:
        login_guard.reset()
    return {
        "accounts": len(document["accounts"]),
        "workspaces": len(document["workspaces"]),
        "memberships": len(document["memberships"]),
    }


# --- the request log ---------------------------------------------------------------------------------


def record_request(method, path, query, status, body_size, username=None):
    """Log one answered request (never a body or a header; the caller's username, not its credentials)."""
    try:
        current_store().record_request(method, path, query, status, body_size, username)
    except sqlite3.Error:  # the log is a testing aid: losing a line must not fail the request
        log.warning("test mode: could not record a request", exc_info=True)


def recent_requests(actor):
    if not may_administer_instance(actor):
        raise Forbidden("Only instance administrators may read the request log.")
    return current_store().requests()
