"""SQLite write turns (wsserver/storage/writers.py): one writer at a time across threads and worker
processes, waiting in the kernel; a process that dies gives its turn back."""
import os
import signal
import subprocess
import sys
import threading
import time

from wsserver.storage.writers import LOCK_SUFFIX, WriteTurns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from wsserver.storage.writers import WriteTurns
turns = WriteTurns({path!r})
turns.take()
print("held", flush=True)
time.sleep(float(sys.argv[1]))
turns.give_back()
print("given back", flush=True)
"""


def _holder(tmp_path, seconds):
    """Another process that takes the turn of tmp_path/db and holds it `seconds`."""
    script = HOLDER.format(root=ROOT, path=str(tmp_path / "db"))
    process = subprocess.Popen([sys.executable, "-c", script, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_writer_waits_for_another_process_turn(tmp_path):
    holder = _holder(tmp_path, 0.6)
    started = time.monotonic()
    turns = WriteTurns(str(tmp_path / "db"))
    turns.take()
    waited = time.monotonic() - started
    turns.give_back()
    assert holder.stdout.readline().strip() == "given back"
    assert holder.wait(10) == 0
    assert 0.4 < waited < 5, waited
    assert os.path.exists(str(tmp_path / "db") + LOCK_SUFFIX)


def test_a_killed_process_gives_its_turn_back(tmp_path):
    holder = _holder(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    started = time.monotonic()
    turns = WriteTurns(str(tmp_path / "db"))
    turns.take()
    turns.give_back()
    assert time.monotonic() - started < 2


def test_one_thread_at_a_time_and_a_turn_is_not_taken_twice(tmp_path):
    turns = WriteTurns(str(tmp_path / "db"))
    turns.take()
    turns.take()  # the same thread: already its turn (no deadlock)
    other_got_it = threading.Event()

    def other_writer():
        turns.take()
        other_got_it.set()
        turns.give_back()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert not other_got_it.wait(0.3)  # still this thread's turn
    turns.give_back()
    assert other_got_it.wait(5)
    thread.join(5)
    turns.give_back()  # not holding one: nothing happens


def test_an_in_memory_database_needs_no_lock_file(tmp_path):
    turns = WriteTurns(":memory:")
    turns.take()
    turns.give_back()
