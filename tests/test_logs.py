"""The served process's log handler: a caller only enqueues, one thread per process writes every line once.

The end-to-end check (a real server, concurrent requests, SIGTERM) is in
tests/test_operations.py; these drive BackgroundHandler directly.
"""
import io
import json
import logging
import os
import sys
import threading

import pytest

from wsserver.ops.logs import LOGGER_NAME, BackgroundHandler, JSONLineFormatter, configure_logging


class GatedStream:
    """A stream that notes which thread wrote each line; in `held_pid` a write waits for `gate`."""

    def __init__(self, fd=None, held_pid=None):
        self.fd, self.held_pid = fd, held_pid
        self.gate = threading.Event()
        self.lines, self.writers = [], set()

    def write(self, text):
        if os.getpid() == self.held_pid:
            self.gate.wait(10)
        self.writers.add(threading.get_ident())
        if self.fd is not None:
            os.write(self.fd, text.encode())
        self.lines.extend(text.splitlines())

    def flush(self):
        pass


def background_logger(name, stream, formatter=None):
    target = logging.StreamHandler(stream)
    target.setFormatter(formatter or logging.Formatter("%(message)s"))
    handler = BackgroundHandler(target)
    logger = logging.getLogger(f"test_logs.{name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [handler]
    return logger, handler


def test_json_lines_keep_fields_and_exception_and_are_written_on_another_thread():
    stream = GatedStream()
    logger, handler = background_logger("json", stream, JSONLineFormatter())
    kept = []
    keep = logging.Handler()
    keep.emit = kept.append
    logger.addHandler(keep)
    logger.info("served %s", "/x", extra={"fields": {"request_id": "r-1", "status": 200}})
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("failed", extra={"fields": {"request_id": "r-2"}})
    handler.close()
    assert stream.lines == [JSONLineFormatter().format(record) for record in kept]
    first, second = (json.loads(line) for line in stream.lines)
    assert first["message"] == "served /x" and first["request_id"] == "r-1" and first["status"] == 200
    assert second["request_id"] == "r-2" and "ZeroDivisionError" in second["exception"]
    assert threading.get_ident() not in stream.writers


def test_the_caller_never_waits_on_the_stream_and_close_writes_every_line_once():
    stream = GatedStream(held_pid=os.getpid())  # every write waits until the gate opens
    logger, handler = background_logger("gated", stream)
    done = threading.Event()

    def log_many():
        for number in range(200):
            logger.info("line %d", number)
        done.set()

    threading.Thread(target=log_many).start()
    assert done.wait(5), "a caller waited on the stream"
    assert stream.lines == []
    stream.gate.set()
    handler.close()
    assert stream.lines == [f"line {number}" for number in range(200)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_writes_its_own_lines_and_never_the_parents_again():
    reading, writing = os.pipe()
    stream = GatedStream(fd=writing, held_pid=os.getpid())  # the parent's writer is stuck on "a"
    logger, handler = background_logger("fork", stream)
    logger.info("a")
    logger.info("b")  # still queued in the parent at the fork
    child = os.fork()
    if child == 0:
        code = 1
        try:
            logger.info("c")
            handler.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    stream.gate.set()
    handler.close()
    os.close(writing)
    with os.fdopen(reading) as pipe:
        written = pipe.read().splitlines()
    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(written) == ["a", "b", "c"]


@pytest.fixture
def wsserver_logger_restored():
    logger, access = logging.getLogger(LOGGER_NAME), logging.getLogger(f"{LOGGER_NAME}.access")
    saved = logger.handlers[:], logger.level, access.level
    yield logger
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:], logger.level, access.level = saved[0], saved[1], saved[2]


def test_configure_logging_replaces_the_earlier_background_handler(wsserver_logger_restored, monkeypatch):
    logger = wsserver_logger_restored
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("json", "info", background=True)
    logger.info("one")
    configure_logging("json", "info", background=True)  # closes the first: "one" is written now
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["one"]
    logger.info("two")
    ours = [handler for handler in logger.handlers if getattr(handler, "wsserver_handler", False)]
    assert len(ours) == 1 and isinstance(ours[0], BackgroundHandler)
    ours[0].close()
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["one", "two"]
