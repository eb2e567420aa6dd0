"""Backup and restore of an instance folder: one .tar.gz with the database and the avatar files.

The database is copied with SQLite's online backup API, so a backup taken
while the server runs and writes is a consistent snapshot. Avatar files are
content-addressed and never rewritten, so the archive holds exactly the files
the snapshot references; if one disappears while we copy (its workspace
changed avatar meanwhile), the whole snapshot is taken again.
"""
import gzip
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from datetime import datetime, timezone

from ..storage import sqlite
from ..storage.db import DATABASE_FILE, engine_for
from ..storage.disk import make_private_file, missing_folder
from ..storage.avatar_files import AVATAR_FOLDER
from ..testing.mode import STATE_FOLDER as TEST_MODE_FOLDER
from ..ui.session import SECRET_KEY_FILE

MANIFEST = "MANIFEST.json"
FORMAT = "wsserver-backup/1"
ATTEMPTS = 5
# Files of an instance folder that are settings, not data: restore leaves them alone.
# Not the instance's data: settings, counters, test mode's state, the web page's session key (a restore keeps
# the folder's own, so its sessions stay valid).
NOT_DATA = {"config.py", ".gitkeep", "README.md", "ratelimit.sqlite3", "ratelimit.sqlite3-wal", "ratelimit.sqlite3-shm",
            TEST_MODE_FOLDER, SECRET_KEY_FILE}


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why."""


def refuse_other_engines(config, command):
    """These archives hold the instance folder's SQLite file and avatars: on another engine or with the
    avatars elsewhere, say what to use instead (never a wrong archive)."""
    if config["AVATAR_PATH"]:
        raise BackupError(
            f"`{command}` archives the instance folder, but the avatars are in WSSERVER_AVATAR_PATH "
            f"({config['AVATAR_PATH']}): back up that folder and the database with your own tools"
        )
    database_url = config["DATABASE_URL"]
    if database_url and engine_for(database_url) is not sqlite:
        raise BackupError(
            f"`{command}` archives the SQLite database; this instance runs on PostgreSQL: back up with pg_dump "
            f"(restore with pg_restore) plus a copy of the avatar folder, or use `flask export` / `flask seed` "
            f"for a portable seed file (see the README, Running on PostgreSQL)"
        )


def _snapshot(database_path, target_path):
    source = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        files = [row[0] for row in target.execute("SELECT avatar_file FROM workspace WHERE avatar_file IS NOT NULL")]
        version = target.execute("SELECT version FROM schema_version").fetchone()
        counts = {
            table: target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("account", "workspace", "acl_entry")
        }
    finally:
        source.close()
        target.close()
    return sorted(set(files)), (version[0] if version else None), counts


def create_backup(instance_path, archive_path):
    """Write the archive (atomically) and return its manifest."""
    database_path = os.path.join(instance_path, DATABASE_FILE)
    if not os.path.isfile(database_path):
        raise BackupError(f"no database at {database_path}")
    avatar_folder = os.path.join(instance_path, AVATAR_FOLDER)
    shown = archive_path
    problem = missing_folder(archive_path)
    if problem:
        raise BackupError(problem)
    archive_path = os.path.abspath(archive_path)
    with tempfile.TemporaryDirectory(prefix="wsserver-backup-") as work:
        snapshot_path = os.path.join(work, DATABASE_FILE)
        for _ in range(ATTEMPTS):
            if os.path.exists(snapshot_path):
                os.remove(snapshot_path)
            files, version, counts = _snapshot(database_path, snapshot_path)
            copies = os.path.join(work, AVATAR_FOLDER)
            shutil.rmtree(copies, ignore_errors=True)
            os.makedirs(copies)
            try:
                for name in files:
                    shutil.copy2(os.path.join(avatar_folder, name), os.path.join(copies, name))
                break
            except FileNotFoundError:
                continue
        else:
            raise BackupError("avatar files kept changing during the backup; try again")
        manifest = {
            "format": FORMAT,
            "createdAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "schemaVersion": version,
            "counts": dict(counts, avatars=len(files)),
        }
        partial = archive_path + ".partial"
        try:
            make_private_file(partial)  # the archive holds the database: its owner's only, like the database
            with tarfile.open(partial, "w:gz") as archive:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
                archive.add(snapshot_path, DATABASE_FILE)
                for name in files:
                    archive.add(os.path.join(copies, name), f"{AVATAR_FOLDER}/{name}")
            os.replace(partial, archive_path)
        except OSError as exc:  # not writable, disk full, read-only file system: no half-written archive left
            if os.path.lexists(partial):
                os.remove(partial)
            raise BackupError(f"cannot write {shown}: {exc.strerror or exc}") from None
    return manifest


def instance_has_data(instance_path):
    if not os.path.isdir(instance_path):
        return False
    for name in os.listdir(instance_path):
        if name in NOT_DATA:
            continue
        path = os.path.join(instance_path, name)
        if name == AVATAR_FOLDER and os.path.isdir(path) and not os.listdir(path):
            continue
        return True
    return False


def _checked_members(archive):
    """The archive's members, refusing anything but our own flat layout."""
    members = {}
    for member in archive.getmembers():
        name = member.name
        parts = name.split("/")
        valid = (
            member.isfile()
            and not name.startswith("/")
            and ".." not in parts
            and (name in (MANIFEST, DATABASE_FILE) or (len(parts) == 2 and parts[0] == AVATAR_FOLDER and parts[1]))
        )
        if not valid:
            raise BackupError(f"unexpected entry in the archive: {name!r}")
        members[name] = member
    if MANIFEST not in members or DATABASE_FILE not in members:
        raise BackupError("not a wsserver backup (no manifest or database)")
    return members


def restore_backup(archive_path, instance_path, force=False):
    """Unpack the archive into the instance folder; refuses a folder with data unless force."""
    if not os.path.isfile(archive_path):
        raise BackupError(f"no such file: {archive_path}")
    if instance_has_data(instance_path) and not force:
        raise BackupError(f"{instance_path} is not empty; pass --force to replace its data")
    try:
        archive = tarfile.open(archive_path, "r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"cannot read {archive_path}: {exc}") from None
    with archive:
        try:
            members = _checked_members(archive)
            manifest = json.load(archive.extractfile(members[MANIFEST]))
        except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:  # truncated or damaged
            raise BackupError(f"cannot read {archive_path}: damaged archive ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"not a wsserver backup: unknown format in {archive_path}")
        os.makedirs(instance_path, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".restore-", dir=instance_path)
        try:
            for name, member in members.items():
                if name == MANIFEST:
                    continue
                target = os.path.join(staging, *name.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.extractfile(member) as source, open(target, "wb") as handle:
                    try:
                        shutil.copyfileobj(source, handle)
                    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:  # truncated or damaged
                        raise BackupError(f"cannot read {archive_path}: damaged archive ({exc})") from None
            check = sqlite3.connect(os.path.join(staging, DATABASE_FILE))
            try:
                result = check.execute("PRAGMA integrity_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:  # "file is not a database"
                result = str(exc)
            finally:
                check.close()
            if result != "ok":
                raise BackupError(f"the database in the archive is damaged: {result}")
            for suffix in ("", "-wal", "-shm"):
                path = os.path.join(instance_path, DATABASE_FILE + suffix)
                if os.path.exists(path):
                    os.remove(path)
            shutil.rmtree(os.path.join(instance_path, AVATAR_FOLDER), ignore_errors=True)
            os.makedirs(os.path.join(staging, AVATAR_FOLDER), exist_ok=True)
            os.replace(os.path.join(staging, AVATAR_FOLDER), os.path.join(instance_path, AVATAR_FOLDER))
            os.replace(os.path.join(staging, DATABASE_FILE), os.path.join(instance_path, DATABASE_FILE))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return manifest
