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


class InstanceDatabase(SqliteDatabase):
    """The instance's SQLite database."""

    def rollback(self):
        # SQLite ends a transaction by itself on some failures (SQLITE_FULL when the disk is full,
        # some I/O errors): then there is nothing to roll back, and ROLLBACK's own error
        # ("cannot rollback - no transaction is active") would hide the real one.
        if not self.is_closed() and not self.connection().in_transaction:
            return
        super().rollback()


def open_database(instance_path, busy_timeout_ms=5000):
    """Bind the proxy to the SQLite file of this instance and return it."""
    os.makedirs(instance_path, exist_ok=True)
    sqlite = InstanceDatabase(
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
            # reads through the OS page cache, shared by every connection and worker,
            # instead of a private copy per connection (list at 100,000: 5.6-6.7 -> 3.8 ms CPU a request)
            ("mmap_size", 256 * 1024 * 1024),
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


class Slot(str):
    """A stand-in for a value in a query compiled once by CompiledSelect (see there)."""

    __slots__ = ()


class CompiledSelect:
    """A SELECT written with Peewee once, then kept as SQL text and run with new values.

    For the small queries of every request (the token look-up, loading a
    workspace with the caller's level, a page of the list), Peewee spends
    several times longer writing the SQL than SQLite spends running it.
    `build(*slots)` returns the query, with a `Slot` in place of each value that
    changes per call (a slot may appear several times, or not at all);
    `first(*values)` / `all(*values)` run it with those values and return model
    instances (other selected columns, from joined tables or aliases, become
    plain attributes); `scalar(*values)` returns the first column of the first row.
    """

    def __init__(self, model, build, arity=1):
        self.model = model
        self.build = build
        self.arity = arity
        self._compiled = None  # (sql, [index into values, or ("constant", value)])
        self._columns = None  # per result column: the model's Field, or the attribute name of an extra

    def _compile(self):
        slots = [Slot(f"\x00wsserver-slot-{n}\x00") for n in range(self.arity)]
        sql, params = self.build(*slots).sql()
        positions = [slots.index(value) if value in slots else ("constant", value) for value in params]
        for slot in positions:
            # Text that is not a slot would be a value made from an input, frozen into the
            # compiled query for every later call: a bug in `build`, so refuse it loudly.
            if not isinstance(slot, int) and not isinstance(slot[1], (int, float, type(None))):
                raise ValueError(f"a parameter of the compiled query is not a Slot: {slot[1]!r}")
        return sql, positions

    def _execute(self, values):
        if len(values) != self.arity:
            raise TypeError(f"expected {self.arity} values, got {len(values)}")
        if self._compiled is None:
            self._compiled = self._compile()
        sql, positions = self._compiled
        params = [values[slot] if isinstance(slot, int) else slot[1] for slot in positions]
        return database.execute_sql(sql, params)

    def _instance(self, cursor, row):
        if self._columns is None:
            # column name -> the model's field, else the name itself (an extra attribute); the same every run
            by_column = self.model._meta.columns
            self._columns = [by_column.get(description[0]) or description[0] for description in cursor.description]
        # what Model.__init__(__no_default__=1) sets up, without its keyword handling
        instance = self.model.__new__(self.model)
        instance.__data__ = data = {}
        instance._dirty = set()
        instance.__rel__ = {}
        for column, value in zip(self._columns, row):
            if isinstance(column, str):
                setattr(instance, column, value)
            else:
                data[column.name] = column.python_value(value)
        return instance

    def first(self, *values):
        cursor = self._execute(values)
        row = cursor.fetchone()
        return None if row is None else self._instance(cursor, row)

    def all(self, *values):
        cursor = self._execute(values)
        return [self._instance(cursor, row) for row in cursor.fetchall()]

    def scalar(self, *values):
        row = self._execute(values).fetchone()
        return None if row is None else row[0]
