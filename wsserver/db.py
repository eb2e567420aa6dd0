"""The database: one Peewee proxy, SQLite settings, schema creation and migrations.

Everything SQLite-specific (pragmas, lock mode, the file location) lives here.
Peewee keeps one connection per thread and we never close it per request, so
the pragmas are applied once per connection, not once per request.
"""
import os

from peewee import DatabaseProxy, SqliteDatabase

database = DatabaseProxy()

DATABASE_FILE = "wsserver.sqlite3"


def database_path(instance_path):
    return os.path.join(instance_path, DATABASE_FILE)


def open_database(instance_path, busy_timeout_ms=5000):
    """Bind the proxy to the SQLite file of this instance and return it."""
    os.makedirs(instance_path, exist_ok=True)
    sqlite = SqliteDatabase(
        database_path(instance_path),
        pragmas=(
            ("journal_mode", "wal"),
            ("foreign_keys", 1),
            ("busy_timeout", busy_timeout_ms),
            # WAL + NORMAL: a committed write survives a process crash; only an
            # OS crash or power loss may roll back the last transactions.
            ("synchronous", "normal"),
            ("cache_size", -16000),
            ("temp_store", "memory"),
        ),
        # Write transactions take the write lock up front (BEGIN IMMEDIATE), so
        # two writers queue on busy_timeout instead of failing mid-transaction.
        lock_type="IMMEDIATE",
        # Passed to sqlite3.connect: Python's own busy wait, in seconds.
        timeout=busy_timeout_ms / 1000,
        check_same_thread=False,
    )
    database.initialize(sqlite)
    return sqlite


def close_connection():
    """Close this thread's connection (before fork, at shutdown)."""
    if database.obj is not None and not database.is_closed():
        database.close()


def database_answers():
    """True when a trivial query succeeds (used by /readyz)."""
    try:
        return database.execute_sql("SELECT 1").fetchone() == (1,)
    except Exception:  # any driver error means "not ready", never a 500
        return False
