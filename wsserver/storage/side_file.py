"""Small SQLite files beside the data: the rate-limit counters (http/ratelimit.py) and test mode's
state (testing/mode.py).

They are separate from the database so that using them never contends with
data writes (and they stay SQLite whatever engine holds the data). Nothing in
them must survive an OS crash, so they run with synchronous=OFF in WAL mode.
Every worker process and thread opens its own connection (a forked worker
must not share its parent's), in autocommit mode: each statement is its own
transaction.
"""
import os
import sqlite3
import threading

from .disk import make_private_file


class SideFile:
    """The SQLite file at `path`, its tables made by `schema` (CREATE ... IF NOT EXISTS statements)."""

    def __init__(self, path, schema, timeout):
        self.path = path
        self.schema = tuple(schema)
        self.timeout = timeout
        self._local = threading.local()

    def connection(self):
        """This thread's connection (opened, and the tables made, on first use in this process)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            make_private_file(self.path)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            for statement in self.schema:
                connection.execute(statement)
            local.connection, local.pid = connection, os.getpid()
        return local.connection
