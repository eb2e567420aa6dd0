"""Every admin command fails with ONE line `Error: …` on stderr and a non-zero exit (issue 12, item 14).

The failure paths an operator meets: a missing or wrong folder, an unwritable
target, a damaged archive, a bad seed file, a damaged database, a full disk, a
bug. Most run as a real `python3 -m flask --app app …` process, like an operator
would; the ones that need a fault injected run in-process through click's runner.
"""
import errno
import io
import json
import os
import tarfile

import peewee
import pytest

from test_cli import flask_command

OUR_COMMANDS = {"init-db", "create-account", "issue-token", "backup", "restore", "seed", "export"}


def assert_one_error_line(stderr):
    """stderr is exactly one line, `Error: …`, and no traceback; returns that line."""
    assert "Traceback" not in stderr, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, repr(stderr)
    assert stderr.startswith("Error: "), repr(stderr)
    return stderr.rstrip("\n")


def assert_fails_in_one_line(result):
    assert result.returncode != 0, (result.stdout, result.stderr)
    return assert_one_error_line(result.stderr)


def make_archive(path, manifest, database):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("MANIFEST.json", manifest), ("wsserver.sqlite3", database)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


GOOD_MANIFEST = json.dumps({"format": "wsserver-backup/1", "createdAt": "2024-01-01T00:00:00+00:00"}).encode()


# Backup archives and a damaged database file are about SQLite's file (on PostgreSQL the backup
# commands refuse: tests/test_operations.py).
SQLITE_FILES = pytest.mark.sqlite_only("backup archives and damaged database files are SQLite's")


@pytest.fixture
def instance(tmp_path):
    return str(tmp_path / "instance")


@pytest.fixture
def a_file(tmp_path):
    """A regular file, to stand where a folder is expected."""
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return str(path)


# --- a real process, like an operator ------------------------------------------------------------------


@SQLITE_FILES
def test_backup_into_a_folder_that_does_not_exist_is_one_error_line_in_a_real_process(tmp_path, instance):
    assert flask_command(instance, "init-db").returncode == 0
    target = tmp_path / "nonexistent" / "x.tar.gz"

    result = flask_command(instance, "backup", str(target))

    line = assert_fails_in_one_line(result)
    assert line == f"Error: cannot write {target}: the folder {target.parent} does not exist"
    assert not target.parent.exists()


@SQLITE_FILES
def test_backup_under_a_regular_file_says_it_is_not_a_folder(instance, a_file):
    assert flask_command(instance, "init-db").returncode == 0
    line = assert_fails_in_one_line(flask_command(instance, "backup", os.path.join(a_file, "x.tar.gz")))
    assert "is not a folder" in line


@SQLITE_FILES
def test_backup_of_a_damaged_database_is_one_error_line(tmp_path, instance):
    os.makedirs(instance)
    with open(os.path.join(instance, "wsserver.sqlite3"), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    line = assert_fails_in_one_line(flask_command(instance, "backup", str(tmp_path / "x.tar.gz")))
    assert "not a database" in line
    assert not (tmp_path / "x.tar.gz").exists() and not (tmp_path / "x.tar.gz.partial").exists()


@pytest.mark.parametrize(
    "manifest, database, expected",
    [
        (b"{not json", b"x", "damaged archive"),
        (b"[1, 2]", b"x", "not a wsserver backup"),
        (GOOD_MANIFEST, b"not sqlite" * 200, "the database in the archive is damaged"),
        (None, None, "cannot read"),
    ],
    ids=["manifest-not-json", "manifest-not-a-mapping", "database-not-sqlite", "not-gzip"],
)
@SQLITE_FILES
def test_restore_of_a_bad_archive_is_one_error_line_and_leaves_nothing(tmp_path, instance, manifest, database,
                                                                      expected):
    archive = tmp_path / "a.tar.gz"
    if manifest is None:
        archive.write_bytes(b"no gzip at all")
    else:
        make_archive(archive, manifest, database)
    archive = str(archive)
    line = assert_fails_in_one_line(flask_command(instance, "restore", archive))
    assert expected in line, line
    assert not os.path.exists(os.path.join(instance, "wsserver.sqlite3"))


@SQLITE_FILES
def test_restore_of_a_truncated_archive_is_one_error_line(tmp_path, instance):
    assert flask_command(instance, "init-db").returncode == 0
    whole = tmp_path / "whole.tar.gz"
    assert flask_command(instance, "backup", str(whole)).returncode == 0
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    line = assert_fails_in_one_line(flask_command(str(tmp_path / "other"), "restore", str(truncated)))
    assert "damaged archive" in line
    assert not (tmp_path / "other" / "wsserver.sqlite3").exists()


@SQLITE_FILES
def test_restore_into_an_instance_with_data_is_one_error_line(tmp_path, instance):
    assert flask_command(instance, "init-db").returncode == 0
    archive = tmp_path / "x.tar.gz"
    assert flask_command(instance, "backup", str(archive)).returncode == 0
    line = assert_fails_in_one_line(flask_command(instance, "restore", str(archive)))
    assert "not empty" in line and "--force" in line


@pytest.mark.parametrize("command", [("init-db",), ("create-account", "bob"), ("export", "-")],
                         ids=["init-db", "create-account", "export"])
def test_an_instance_folder_under_a_regular_file_is_one_error_line(a_file, command):
    line = assert_fails_in_one_line(flask_command(os.path.join(a_file, "instance"), *command))
    assert "Not a directory" in line


@SQLITE_FILES
def test_restore_into_an_instance_folder_under_a_regular_file_is_one_error_line(tmp_path, instance, a_file):
    assert flask_command(instance, "init-db").returncode == 0
    archive = tmp_path / "x.tar.gz"
    assert flask_command(instance, "backup", str(archive)).returncode == 0
    line = assert_fails_in_one_line(flask_command(os.path.join(a_file, "instance"), "restore", str(archive)))
    assert "Not a directory" in line


@SQLITE_FILES
def test_create_account_on_a_damaged_database_is_one_error_line(instance):
    os.makedirs(instance)
    with open(os.path.join(instance, "wsserver.sqlite3"), "wb") as handle:
        handle.write(b"this is not a database" * 100)
    line = assert_fails_in_one_line(flask_command(instance, "create-account", "bob"))
    assert line == "Error: database error: file is not a database"


def test_export_into_a_folder_that_does_not_exist_is_one_error_line(tmp_path, instance):
    target = tmp_path / "nonexistent" / "out.json"
    line = assert_fails_in_one_line(flask_command(instance, "export", str(target)))
    assert line == f"Error: cannot write {target}: the folder {target.parent} does not exist"


def test_a_seed_file_with_several_errors_is_one_line_naming_each(tmp_path, instance):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workspaces": [{"fullname": "Bad Name"}, {"fullname": "x"}]}))
    line = assert_fails_in_one_line(flask_command(instance, "seed", str(path)))
    assert line.startswith(f"Error: {path} is not a valid seed file.")
    assert "workspaces[0].fullname: Must be kebab-case" in line
    assert "workspaces[1].fullname: Length must be between 2 and 64." in line


@pytest.mark.parametrize(
    "content, expected",
    [(None, "No such file or directory"), (b'{"accounts": [}', "not valid JSON"), (b"\xff\xfe", "not UTF-8")],
    ids=["missing", "malformed", "not-utf8"],
)
def test_an_unreadable_seed_file_is_one_error_line(tmp_path, instance, content, expected):
    path = tmp_path / "seed.json"
    if content is not None:
        path.write_bytes(content)
    line = assert_fails_in_one_line(flask_command(instance, "seed", str(path)))
    assert str(path) in line and expected in line, line


# --- faults injected in-process (a full disk, a full database, a bug) ----------------------------------


def invoke(app, *arguments):
    return app.test_cli_runner().invoke(args=list(arguments))


def assert_runner_fails_in_one_line(result):
    assert result.exit_code == 1, (result.output, result.exception)
    return assert_one_error_line(result.stderr)


@pytest.mark.sqlite_only("backup archives hold the SQLite database file")
def test_a_full_disk_during_backup_is_one_error_line_and_leaves_no_partial_archive(app, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tarfile.TarFile, "add", full)
    target = tmp_path / "x.tar.gz"
    line = assert_runner_fails_in_one_line(invoke(app, "backup", str(target)))
    assert line == f"Error: cannot write {target}: No space left on device"
    assert os.listdir(tmp_path) == ["instance"]


def test_a_full_disk_during_export_is_one_error_line(app, tmp_path, monkeypatch):
    from wsserver.testing import seed

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(seed, "write_seed_file", full)
    target = tmp_path / "out.json"
    line = assert_runner_fails_in_one_line(invoke(app, "export", str(target)))
    assert line == f"Error: {target}: No space left on device"


def test_a_full_database_is_one_error_line(app, monkeypatch):
    from wsserver.services import accounts

    def full(*args, **kwargs):
        raise peewee.OperationalError("database or disk is full")

    monkeypatch.setattr(accounts, "create_account", full)
    line = assert_runner_fails_in_one_line(invoke(app, "create-account", "bob"))
    assert line == "Error: database error: database or disk is full"


def test_a_bug_is_one_error_line_too_and_debug_shows_the_traceback(app, monkeypatch):
    from wsserver.services import accounts

    def bug(*args, **kwargs):
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr(accounts, "find_account", bug)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    line = assert_runner_fails_in_one_line(invoke(app, "issue-token", "bob"))
    assert line.startswith("Error: unexpected RuntimeError: something; unforeseen")
    assert "--debug issue-token" in line

    monkeypatch.setenv("FLASK_DEBUG", "1")  # what `flask --debug` sets
    result = invoke(app, "issue-token", "bob")
    assert isinstance(result.exception, RuntimeError)


def test_every_command_of_ours_reports_errors_through_the_one_mapping(app):
    from wsserver.ops.cli import Command

    commands = app.cli.commands
    assert OUR_COMMANDS <= set(commands)
    ours = {name for name, command in commands.items()
            if command.callback is not None and command.callback.__module__.startswith("wsserver")}
    assert OUR_COMMANDS <= ours
    for name in ours:
        assert isinstance(commands[name], Command), name
