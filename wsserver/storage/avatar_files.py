"""The avatar file store, <instance>/avatars/ (or WSSERVER_AVATAR_PATH): its file names, writing a
new file and linking it, removing files nothing refers to, and the start-up sweep.

A file is removed right after the commit that dropped its last reference, in a
transaction holding the file name's lock (storage.db.lock_names; SQLite's write
lock), which every transaction linking that name holds too, so a file a
committed row refers to is never removed, whatever process or node links it. When that fails (the lock not had within the busy timeout, a file
system error) the names go to this process's retry queue and are tried again
in the background until they are gone; at start-up the sweep removes what a
killed process left (remove_unreferenced_files, clean_temporary_files).

New files are written under a temporary name (write_temporary) and given
their content-addressed name inside the write transaction that refers to them
(link, holding the name's lock). The rules of uploading and serving (who may,
which bytes) are services/avatars.py; this module knows files and names only.
"""
import atexit
import hashlib
import logging
import os
import re
import socket
import tempfile
import threading
import time

from flask import current_app

from .db import database, lock_names
from .models import Workspace

log = logging.getLogger("wsserver")

AVATAR_FOLDER = "avatars"

# Uploads are written to a temporary file with this prefix, then renamed into place.
TEMPORARY_PREFIX = ".upload-"
# Seconds after which a temporary file is surely a crash's leftover, not an upload in progress.
TEMPORARY_MAX_AGE = 300

# The only names ever stored and served: a SHA-256 in lowercase hex and one of our extensions.
FILE_NAME_PATTERN = re.compile(r"[0-9a-f]{64}\.(?:png|jpg|gif|webp)")


def avatar_folder_of(config):
    """WSSERVER_AVATAR_PATH, or <instance>/avatars: where uploaded avatars are stored."""
    return config["AVATAR_PATH"] or os.path.join(config["INSTANCE_PATH"], AVATAR_FOLDER)


def avatar_folder():
    return avatar_folder_of(current_app.config)


def is_avatar_file_name(name):
    return isinstance(name, str) and FILE_NAME_PATTERN.fullmatch(name) is not None


def stored_file_of_url(url):
    """The stored file an avatar URL of this server names, if it exists; else None.

    A workspace whose meta.avatar links another workspace's upload then counts as
    using that file, so the file is not removed from under it. Call inside the
    write transaction (discard_files checks references under the same lock).
    """
    if not url or "/avatars/" not in url:
        return None
    name = url.rsplit("/", 1)[-1]
    return name if stored_file_exists(name) else None


def stored_file_exists(name):
    """Whether `name` is a stored avatar's name and that file is in the folder."""
    return is_avatar_file_name(name) and os.path.isfile(os.path.join(avatar_folder(), name))


def write_temporary(content):
    """`content` in a new temporary file of the avatar folder, on disk (fsync); returns its path."""
    descriptor, path = tempfile.mkstemp(prefix=temporary_prefix(), dir=avatar_folder())
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o644)  # readable by a front web server serving /avatars directly
    except BaseException:
        remove_quietly(path)
        raise
    return path


def link(temporary, name):
    """Give a temporary file its stored name, durably. Call inside the write transaction that
    refers to the name: it takes the name's lock, so no clean-up removes the file before the commit."""
    lock_names([name])
    folder = avatar_folder()
    os.replace(temporary, os.path.join(folder, name))
    _sync_folder(folder)


def _sync_folder(folder):
    """Make the rename durable before the database says the file is there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def discard_files(names):
    """Remove avatar files that nothing references any more (call after the commit that dropped them).

    A name still in some workspace's avatar_file is kept: identical uploads of
    two workspaces share one content-addressed file. Tried at once, in the
    caller's thread; when that fails (SQLite's write lock not had within the
    busy timeout, a file system error) the names go to this process's retry
    queue and are tried again in the background, soon and then less often,
    until they are gone. The commit that dropped the reference has happened, so
    this is never an error for the caller, and no unreferenced file outlives
    the process's next successful try (a process killed first leaves it to the
    start-up sweep, remove_unreferenced_files).
    """
    names = {name for name in names if name and not _unsafe_name(name)}
    if not names:
        return
    folder = avatar_folder()
    try:
        _remove_unreferenced(folder, names)
    except Exception as exc:
        log.warning("could not remove avatar files %s yet (%s: %s); retrying in the background",
                    sorted(names), type(exc).__name__, exc)
        _retries.add(current_app._get_current_object(), folder, names)


def _remove_unreferenced(folder, names):
    """Remove those of `names` no workspace refers to; raises when the write lock or a removal fails."""
    # Holding the names' locks, so an upload cannot link one of these files between the check and the removal.
    with database.atomic():
        lock_names(names)
        referenced = {
            name
            for (name,) in Workspace.select(Workspace.avatar_file)
            .where(Workspace.avatar_file.in_(sorted(names)))
            .tuples()
        }
        for name in sorted(names - referenced):
            remove_quietly(os.path.join(folder, name))


class _RetryQueue:
    """Avatar files whose removal failed after its commit, tried again by a background thread.

    One thread per process at most, started when a name comes in and ended when
    the queue is empty; each try is one short write transaction (the same check
    and removal as discard_files), never inside a request. A try that fails
    keeps its names for the next one, after DELAYS (then every DELAYS[-1]
    seconds). At interpreter exit one last try is made. Entries belong to the
    app (and so the database) that queued them: an entry whose app's database
    is no longer the one bound (only in tests, where apps come and go) is dropped.
    """

    DELAYS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = {}  # (app, database, folder) -> set of names
        self._thread = None
        self._pid = None

    def add(self, app, folder, names):
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (a forked worker has no thread of its parent)
                self._pid, self._pending, self._thread = os.getpid(), {}, None
                atexit.register(self.last_try)
            self._pending.setdefault((app, database.obj, folder), set()).update(names)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wsserver-avatar-clean-up", daemon=True)
                self._thread.start()

    def pending(self):
        """The names waiting for a retry in this process (for tests and diagnostics)."""
        with self._lock:
            if self._pid != os.getpid():
                return set()
            return set().union(*self._pending.values())

    def _run(self):
        attempt = 0
        try:
            while True:
                time.sleep(self.DELAYS[min(attempt, len(self.DELAYS) - 1)])
                attempt += 1
                self._try_all(log_failures=attempt in (3, 6) or attempt % 10 == 0)
                with self._lock:
                    if not self._pending:
                        if self._thread is threading.current_thread():
                            self._thread = None
                        return
        finally:
            database.close()  # this thread's connection, if it opened one

    def _try_all(self, log_failures):
        """One try for every queued name; the names that went (or no longer matter) leave the queue."""
        with self._lock:
            work = {key: set(names) for key, names in self._pending.items()}
        for key, names in work.items():
            app, bound, folder = key
            if database.obj is bound:
                try:
                    with app.app_context():
                        _remove_unreferenced(folder, names)
                except Exception as exc:
                    if log_failures:
                        log.warning("still could not remove avatar files %s (%s: %s); retrying",
                                    sorted(names), type(exc).__name__, exc)
                    continue
                log.info("removed unreferenced avatar files %s on a retry", sorted(names))
            # else: that app's database is no longer the one in use, nothing to check against
            with self._lock:
                left = self._pending.get(key, set()) - names
                if left:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)

    def last_try(self):
        """One last try at interpreter exit (workers that exit without atexit hooks leave it to start-up)."""
        if self._pid == os.getpid() and self._pending:
            try:
                self._try_all(log_failures=True)
            except Exception:  # exiting: never raise from here
                pass


_retries = _RetryQueue()


def pending_removals():
    """Avatar file names whose removal is waiting for a retry in this process."""
    return _retries.pending()


def finish_pending_removals():
    """Try the queued removals once, now (for a worker's shutdown hook); True when none is left."""
    if not _retries.pending():
        return True
    _retries.last_try()
    return not _retries.pending()


def _unsafe_name(name):
    return os.sep in name or "/" in name or "\\" in name or "\0" in name or name.startswith(".")


def temporary_prefix():
    """The prefix of this node's temporary files: TEMPORARY_PREFIX and a tag of (host, instance folder).

    One server runs per instance folder (ops/serve.py, lock_instance), so whatever
    carries this node's tag when it starts was left by its own crash.
    """
    node = f"{socket.gethostname()}:{current_app.config['INSTANCE_PATH']}"
    return f"{TEMPORARY_PREFIX}{hashlib.sha256(node.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}-"


def clean_temporary_files(now=None):
    """Remove half-written uploads left by a crash (run at start-up, before serving).

    This node's own, and any other last written over TEMPORARY_MAX_AGE
    seconds ago: with several nodes sharing the folder, a younger one of
    another node may be an upload it is writing right now (each lives for the
    milliseconds of a write and a rename).
    """
    folder = avatar_folder()
    own = temporary_prefix()
    now = time.time() if now is None else now
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX):
            path = os.path.join(folder, name)
            try:
                if name.startswith(own) or now - os.stat(path).st_mtime > TEMPORARY_MAX_AGE:
                    os.remove(path)
            except FileNotFoundError:
                pass


def remove_unreferenced_files():
    """Remove stored avatars no workspace refers to (left by a crash between the file move
    and the commit, or between a commit and the clean-up). Run at start-up."""
    folder = avatar_folder()
    stored = {name for name in os.listdir(folder) if is_avatar_file_name(name)}
    if not stored:
        return
    referenced = {
        name for (name,) in Workspace.select(Workspace.avatar_file).where(Workspace.avatar_file.is_null(False)).tuples()
    }
    # Checked again, name by name, holding each name's lock: another node may be linking one right now.
    _remove_unreferenced(folder, stored - referenced)
