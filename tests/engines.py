"""The suite on either engine: `pytest` runs it on SQLite, `pytest --engine=postgresql` on PostgreSQL.

On PostgreSQL the run makes one database of its own (WSSERVER_TEST_POSTGRES_URL
names the server, by default postgresql://postgres@127.0.0.1:5432/test), and
every test starts on an empty database: when the schema the previous test left
is exactly the current one (same tables, columns, indexes and version as a
schema made by wsserver at the start of the run), its tables are emptied
(DELETE, ~1 ms); otherwise, and for a test marked `fresh_database`, the
`public` schema is dropped and made again, for the app to create (~300 ms).
The database is dropped at the end; its commits do not wait for the disk
(synchronous_commit off: see _create_database). Each test sees WSSERVER_DATABASE_URL
pointing there, so every app it creates (in-process or a `python app.py`
subprocess) uses it.

Markers: `fresh_database` for a test that needs no schema at all (first start,
init-db); `sqlite_only("why")` for a test about SQLite's own files (skipped in
the PostgreSQL run, saying why), `postgresql_only` for one that needs a shared
database (skipped in the SQLite run). PostgreSQL not reachable: outside CI,
the PostgreSQL run is skipped with one loud line; in CI (CI=true) it fails.
"""
import os
import sys
import uuid

import pytest

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENABLE_HINT = (
    "start PostgreSQL (e.g. pg_ctlcluster <version> main start) or point WSSERVER_TEST_POSTGRES_URL "
    "at one (trust or password in the URL), then run: python3 -m pytest --engine=postgresql"
)


def pytest_addoption(parser):
    parser.addoption(
        "--engine", choices=("sqlite", "postgresql"), default="sqlite",
        help="database engine the suite runs on (postgresql: see WSSERVER_TEST_POSTGRES_URL)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): about SQLite's own files; not run on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only: needs a database shared by processes; PostgreSQL run only")
    config.addinivalue_line("markers", "fresh_database: on PostgreSQL, starts without any schema (not merely empty tables)")
    config.wsserver_postgres = None
    if config.getoption("--engine") == "postgresql":
        config.wsserver_postgres = PostgresForTests.start(os.environ.get("WSSERVER_TEST_POSTGRES_URL", DEFAULT_SERVER_URL))


def pytest_unconfigure(config):
    if getattr(config, "wsserver_postgres", None):
        config.wsserver_postgres.stop()


def pytest_report_header(config):
    postgres = config.wsserver_postgres
    if config.getoption("--engine") == "sqlite":
        return "wsserver engine: sqlite (the PostgreSQL run: python3 -m pytest --engine=postgresql)"
    return f"wsserver engine: postgresql ({postgres.describe() if postgres else 'NOT REACHABLE: skipped'})"


def pytest_collection_modifyitems(config, items):
    engine = config.getoption("--engine")
    if engine == "postgresql" and config.wsserver_postgres is None:
        skip = pytest.mark.skip(reason=f"PostgreSQL not reachable: {ENABLE_HINT}")
        for item in items:
            item.add_marker(skip)
        return
    for item in items:
        if engine == "postgresql":
            marker = item.get_closest_marker("sqlite_only")
            if marker:
                reason = marker.args[0] if marker.args else "about SQLite's own files"
                item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
        elif item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL run only (python3 -m pytest --engine=postgresql)"))


_RUNNING = {"postgres": None}


@pytest.fixture(autouse=True)
def database_of_this_test(request, monkeypatch):
    """On PostgreSQL: an empty schema for this test, named to every app it starts; its URL (else None)."""
    postgres = request.config.wsserver_postgres
    if postgres is None:
        yield None
        return
    postgres.empty(fresh=request.node.get_closest_marker("fresh_database") is not None)
    monkeypatch.setenv("WSSERVER_DATABASE_URL", postgres.url)
    _RUNNING["postgres"] = postgres
    yield postgres.url
    from wsserver.storage.db import close_all_connections

    close_all_connections()
    _RUNNING["postgres"] = None
    postgres.drop_separate()


def separate_database(instance_path):
    """Settings giving the instance at `instance_path` a database of its own, for a test with two
    independent instances: on SQLite nothing (each instance has its file); on PostgreSQL a database
    made for this instance folder (the same one each time it is asked for during the test)."""
    postgres = _RUNNING["postgres"]
    if postgres is None:
        return {}
    return {"DATABASE_URL": postgres.separate(str(instance_path))}


class PostgresForTests:
    """A database of this run on the PostgreSQL server at `server_url`."""

    def __init__(self, server_url, admin, name):
        self.server_url = server_url
        self.admin = admin  # autocommit connection to the server's maintenance database
        self.name = name
        self.url = _with_database(server_url, name)
        self._separate = {}  # instance path -> database name, for this test
        self._current = None  # the current schema, described by _schema_of (made on first use)

    @classmethod
    def start(cls, server_url):
        import psycopg

        try:
            admin = psycopg.connect(server_url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"PostgreSQL at {_masked(server_url)} not reachable ({first_line})"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                raise pytest.UsageError(f"{message}; CI runs the suite on PostgreSQL and needs it.") from None
            sys.stderr.write(f"\n{'!' * 8} SKIPPING THE POSTGRESQL RUN: {message}. To run it: {ENABLE_HINT}\n\n")
            return None
        name = f"wsserver_test_{uuid.uuid4().hex[:12]}"
        _create_database(admin, name)
        return cls(server_url, admin, name)

    def describe(self):
        version = self.admin.execute("SHOW server_version").fetchone()[0]
        return f"server {version} at {_masked(self.server_url)}, database {self.name}"

    def empty(self, fresh=False):
        """End every other session on our database; empty the tables of the current schema, or
        (`fresh`, or any other schema) drop the `public` schema and make it again, with nothing in it."""
        import psycopg

        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )
        with psycopg.connect(self.url, autocommit=True) as own:
            if self._current is None:
                self._current = self._make_current_schema(own)
            if not fresh and _schema_of(own) == self._current:
                # DELETE, not TRUNCATE: on a test's few rows ~1 ms against ~100 ms for TRUNCATE's new files
                # per table; with the foreign-key triggers off for this transaction, in any order
                with own.transaction():
                    own.execute("SET LOCAL session_replication_role = replica")
                    for table, _ in self._current["tables"]:
                        if table != "schema_version":
                            own.execute(f'DELETE FROM "{table}"')
                return
            own.execute("DROP SCHEMA IF EXISTS public CASCADE")
            own.execute("CREATE SCHEMA public")

    def _make_current_schema(self, own):
        """The schema as this wsserver makes it on an empty database, described by _schema_of."""
        import tempfile

        from wsserver import create_app
        from wsserver.storage.db import close_all_connections

        own.execute("DROP SCHEMA IF EXISTS public CASCADE")
        own.execute("CREATE SCHEMA public")
        with tempfile.TemporaryDirectory() as instance_path:
            create_app({"INSTANCE_PATH": instance_path, "DATABASE_URL": self.url, "ADMIN_TOKEN": "wss_" + "x" * 43})
            close_all_connections()
        return _schema_of(own)

    def separate(self, instance_path):
        if instance_path not in self._separate:
            name = f"{self.name}_{len(self._separate) + 1}"
            _create_database(self.admin, name)
            self._separate[instance_path] = name
        return _with_database(self.server_url, self._separate[instance_path])

    def drop_separate(self):
        for name in self._separate.values():
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._separate.clear()

    def stop(self):
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


def _create_database(admin, name):
    """A database of this run. Its commits do not wait for the WAL to reach the disk (synchronous_commit
    off, for this database only): a committed row is visible to every session at once all the same, and
    only a crash of PostgreSQL itself, which no test causes, could lose one. The wait for the disk was
    most of a commit's time (0.8 of 0.9 ms for a one-row INSERT on the CI machine)."""
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _schema_of(connection):
    """The public schema's tables with their columns, its indexes, extensions and stored version."""
    columns = connection.execute(
        "SELECT table_name, column_name, data_type, collation_name, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables = {}
    for table, *column in columns:
        tables.setdefault(table, []).append(tuple(column))
    indexes = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
    ).fetchall()
    extensions = connection.execute("SELECT extname, extversion FROM pg_extension ORDER BY extname").fetchall()
    version = connection.execute("SELECT version FROM schema_version").fetchall() if "schema_version" in tables else None
    return {"tables": sorted((table, tuple(cols)) for table, cols in tables.items()), "indexes": indexes,
            "extensions": extensions, "version": version}


def stored(instance_path, sql, params=()):
    """Rows of a query, read straight from the database the tests' apps and servers use: the
    PostgreSQL database of this test (WSSERVER_DATABASE_URL), else the instance's SQLite file.
    Write SQL that both accept (placeholders: none, or the engine's own)."""
    import sqlite3

    url = os.environ.get("WSSERVER_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as connection:
            return [tuple(row) for row in connection.execute(sql, params).fetchall()]
    connection = sqlite3.connect(os.path.join(instance_path, "wsserver.sqlite3"))
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def on_postgresql():
    return bool(os.environ.get("WSSERVER_DATABASE_URL"))


def _with_database(server_url, name):
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _masked(url):
    from wsserver.config import masked

    return masked(url)
