"""Write turns on SQLite: writers wait for their turn in the kernel, not in SQLite's busy handler.

SQLite lets one write transaction run at a time. A writer that finds the lock taken sleeps in the
busy handler (1, 2, 5, 10 ... 100 ms, then tries again), so under a burst of writes some wait far
longer than the transactions ahead of them take: with 32 connections of PUTs the slowest 1% waited
over a second while each transaction took about 2 ms. Here a write transaction first takes a turn:

- inside the process, a lock: one writing thread per process;
- across the worker processes, an exclusive flock() on `<database>-writers.lock`: the kernel wakes
  the next waiter as soon as the holder lets go, and lets go by itself when a process dies (even
  killed mid-transaction), so a crash never leaves a turn taken.

Only then does the transaction begin (BEGIN IMMEDIATE), so it finds the database free and SQLite's
busy handler is left for other programs (a backup, the command line). The turn is given back when
the transaction ends. Readers never take a turn: WAL lets them read while a write is under way.
A process frozen in a write transaction (stopped, not killed) holds up the other writers until it
goes on or is killed; SQLite's own lock would hold them up just the same.
"""
import fcntl
import os
import threading

LOCK_SUFFIX = "-writers.lock"


class WriteTurns:
    """The turns of one database file, for the threads of this process."""

    def __init__(self, database_path):
        self._in_process = threading.Lock()
        self._held = threading.local()
        self._path = None if database_path in ("", ":memory:") else database_path + LOCK_SUFFIX
        self._descriptor = None
        self._pid = None
        os.register_at_fork(after_in_child=self._forget_parents_turn)

    def _forget_parents_turn(self):
        """In a forked child: the parent's threads are gone, and so are their turns."""
        self._in_process = threading.Lock()
        self._held = threading.local()
        self._pid = None

    def _file(self):
        # opened in each process that writes: a descriptor inherited over a fork would share the
        # parent's lock (flock locks belong to the open file, not to the process)
        if self._pid != os.getpid():
            self._descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._descriptor

    def take(self):
        """Wait for this thread's turn (a no-op if it holds one)."""
        if getattr(self._held, "turn", False):
            return
        self._in_process.acquire()
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)  # waits without the GIL
        except BaseException:
            self._in_process.release()
            raise
        self._held.turn = True

    def give_back(self):
        """End this thread's turn, if it holds one."""
        if not getattr(self._held, "turn", False):
            return
        self._held.turn = False
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._in_process.release()
