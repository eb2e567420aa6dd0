"""The database: one Peewee proxy, bound at start-up to the engine WSSERVER_DATABASE_URL names.

- `sqlite:///path` (the default: <instance>/wsserver.sqlite3): storage.sqlite.
- `postgresql://user:password@host:5432/name`: storage.postgres.

What differs between the engines lives in those two modules, which offer the
same functions; `engine()` is the one in use. Services see only what is here:
the proxy, transactions that are run again after a deadlock (`retrying`), row
and name locks that the engine needs (`lock_rows`, `lock_names`), and health.
Peewee keeps one connection per thread (from a pool on PostgreSQL).
"""
import functools
import importlib
import os

from peewee import DatabaseError, DatabaseProxy

from . import sqlite
from .disk import make_private_folder

database = DatabaseProxy()

DATABASE_FILE = "wsserver.sqlite3"
# URL scheme -> engine module, imported when a URL names it (storage.postgres and its pool are not
# needed by an instance on SQLite: one thing less to load at every start)
ENGINES = {"sqlite": "sqlite", "postgres": "postgres", "postgresql": "postgres"}
# How many times a transaction is run in all when the engine reports a deadlock or serialization failure.
ATTEMPTS = 5


class UnknownEngine(ValueError):
    """The database URL names an engine wsserver does not run on."""


def database_path(instance_path):
    return os.path.join(instance_path, DATABASE_FILE)


def default_url(instance_path):
    return "sqlite:///" + os.path.abspath(database_path(instance_path))


def engine_for(url):
    """The engine module of a database URL (its scheme, without a `+pool` suffix)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
    if scheme not in ENGINES:
        raise UnknownEngine(
            f"unsupported database URL scheme {scheme or url!r}: use sqlite:///path or postgresql://user@host/name"
        )
    return importlib.import_module(f"{__package__}.{ENGINES[scheme]}")


def open_database(url, instance_path, busy_timeout_ms=5000, max_connections=None):
    """Bind the proxy to the database at `url` (None: the instance's SQLite file) and return it."""
    make_private_folder(instance_path)
    url = url or default_url(instance_path)
    chosen = engine_for(url)
    bound = chosen.connect(url, busy_timeout_ms, max_connections)
    bound.engine = chosen
    database.initialize(bound)
    return bound


def engine():
    """The engine module (storage.sqlite or storage.postgres) of the open database."""
    return database.obj.engine


def is_sqlite():
    return engine() is sqlite


def close_connection():
    """Close this thread's connection (before fork, at shutdown)."""
    if database.obj is not None and not database.is_closed():
        database.close()


def release_connection(_error=None):
    """At the end of each request or command on PostgreSQL: hand this thread's connection back to the
    pool, which drops it if it broke (a restarted database server), so the next request gets a good
    one. SQLite keeps its connection per thread (its settings are per connection)."""
    if database.obj is not None and engine() is not sqlite and not database.is_closed() and not database.in_transaction():
        database.close()


def close_all_connections():
    """Close every pooled connection of this process (PostgreSQL) or this thread's (SQLite)."""
    if database.obj is None:
        return
    close_connection()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


def database_answers():
    """True when a trivial query succeeds (used by /readyz)."""
    try:
        return database.execute_sql("SELECT 1").fetchone() == (1,)
    except Exception:  # any driver error means "not ready", never a 500
        return False


def lock_rows(query, keys_too=True):
    """Lock the rows `query` selects until the transaction ends (SELECT ... FOR UPDATE), where the engine
    needs it: not on SQLite, whose write transactions hold the database's one write lock from their start.
    `keys_too=False` (FOR NO KEY UPDATE): rows that stay, so rows referring to them may still be written."""
    if engine().ROW_LOCKS:
        list(query.for_update() if keys_too else query.for_update("FOR NO KEY UPDATE"))


def lock_names(names):
    """Hold a lock on each of these names until the transaction ends (avatar files, on PostgreSQL)."""
    engine().lock_names(database, names)


def retrying(function):
    """Run `function` (which opens its own transaction) again when the engine reports a deadlock or a
    serialization failure, up to ATTEMPTS times in all. Inside an outer transaction it runs once:
    the outer one is what would have to be run again."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except DatabaseError as error:
                if attempt == ATTEMPTS or database.in_transaction() or not engine().is_transient(error):
                    raise

    return run


class PreparedSelect:
    """A SELECT written by Peewee once per engine, then run with new values: for the small queries of
    every request (the token look-up, a workspace with the caller's level, a page of the list),
    writing the SQL costs Peewee 10-20 times longer than the database takes to run it.

    `build(*values)` returns the query for these values; it is called once per engine with marker
    values, and the markers' places in the SQL's parameters are remembered. `first(*values)` and
    `all(*values)` run the SQL through `Model.raw` (Peewee's public API: rows become model
    instances, columns of joined tables or aliases plain attributes); `scalar(*values)` returns the
    first column of the first row. Only values `build` passes straight into the query may vary; a
    parameter made from one (a concatenation, a LIKE pattern) would freeze the first call's value,
    so it is refused when the SQL is first written.
    """

    def __init__(self, model, build, arity):
        self.model = model
        self.build = build
        self.arity = arity
        self._written = {}  # engine module -> (sql, [index into values, or ("constant", value)])
        self._readers = {}  # sql -> function(row) -> model instance

    def _write(self):
        markers = [f"\x00wsserver-value-{number}\x00" for number in range(self.arity)]
        sql, params = self.build(*markers).sql()
        places = []
        for param in params:
            if param in markers:
                places.append(markers.index(param))
            elif isinstance(param, str) and "\x00wsserver-value-" in param:
                raise ValueError(f"a parameter is made from a value, not the value itself: {param!r}")
            elif isinstance(param, (int, float, type(None))):
                places.append(("constant", param))
            else:  # text fixed into the query by `build`: it would not change with the values either
                raise ValueError(f"a parameter of the prepared query is not one of its values: {param!r}")
        return sql, places

    def _sql_and_params(self, values):
        if len(values) != self.arity:
            raise TypeError(f"expected {self.arity} values, got {len(values)}")
        key = engine()
        if key not in self._written:
            self._written[key] = self._write()
        sql, places = self._written[key]
        return sql, [values[place] if isinstance(place, int) else place[1] for place in places]

    def all(self, *values):
        return self._instances(*self._sql_and_params(values))

    def first(self, *values):
        found = self._instances(*self._sql_and_params(values), limit=1)
        return found[0] if found else None

    def _instances(self, sql, params, limit=None):
        """The rows as model instances, as `Model.raw` makes them (each column of the model through
        its field's python_value, other columns plain attributes, nothing dirty), with the columns
        resolved once per SQL instead of on every run (Peewee's cursor wrapper resolves them anew
        for each query: half the time of a page of 20)."""
        cursor = database.execute_sql(sql, params)
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
        reader = self._readers.get(sql)
        if reader is None:
            reader = self._readers[sql] = _row_reader(self.model, [column[0] for column in cursor.description])
        return [reader(row) for row in rows]

    def scalar(self, *values):
        sql, params = self._sql_and_params(values)
        row = database.execute_sql(sql, params).fetchone()
        return None if row is None else row[0]


def _row_reader(model, names):
    """function(row) -> an instance of `model`, for rows of these column names (see PreparedSelect)."""
    fields = model._meta.columns
    columns = [(fields[name].name, fields[name].python_value) for name in names if name in fields]
    extras = [position for position, name in enumerate(names) if name not in fields]
    positions = [position for position, name in enumerate(names) if name in fields]

    def read(row):
        instance = model(__no_default__=1, **{names[position]: row[position] for position in extras})
        # the fields' values straight into the instance's data, as Peewee's own row reader leaves them
        instance.__data__ = {name: convert(row[position]) for (name, convert), position in zip(columns, positions)}
        return instance

    return read
