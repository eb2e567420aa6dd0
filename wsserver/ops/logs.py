"""Logging: wsserver's loggers write to stderr as text or JSON lines.

Nothing secret is ever passed to a logger: the access log carries the method,
the path, the status, the duration and the request id, and query parameters
whose names suggest a secret are masked.
"""
import json
import logging
import os
import queue
import sys
from datetime import datetime, timezone
from logging.handlers import QueueHandler, QueueListener

LOGGER_NAME = "wsserver"
ACCESS_LOGGER_NAME = "wsserver.access"


class JSONLineFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(log_format, level, access_log=True, background=False):
    """Attach one stderr handler to the `wsserver` logger (replacing ours from an earlier app).

    `background`: write from a thread of its own (BackgroundHandler), as the
    multi-threaded server does; in-process apps (tests, commands) write at once.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    logging.getLogger(ACCESS_LOGGER_NAME).setLevel(logging.NOTSET if access_log else logging.WARNING)
    for handler in list(logger.handlers):
        if getattr(handler, "wsserver_handler", False):
            logger.removeHandler(handler)
            handler.close()
    formatter = JSONLineFormatter() if log_format == "json" else TextFormatter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    if background:
        handler = BackgroundHandler(handler)
        handler.setFormatter(formatter)  # for whoever reads handler.formatter; the stream handler formats
    handler.wsserver_handler = True
    logger.addHandler(handler)


class BackgroundHandler(QueueHandler):
    """Hands records to `target` (a StreamHandler) through a queue; one thread per process writes them.

    With a plain StreamHandler every request thread takes the handler's lock and
    writes to stderr while holding it, so under load the threads queue behind
    each other's writes (a profile of the server showed a fifth of its time
    there). Here a request thread only puts the record on a queue, and a
    QueueListener thread formats and writes it: the record is queued as it is
    (prepare() does not format it), so JSON lines keep their `fields` and their
    exception. The listener is started lazily in each process, with a queue of
    its own: granian forks its workers after the app is made, a thread does not
    survive a fork, and what the parent had queued is the parent's to write. At
    exit logging.shutdown() closes the handler, which writes what is queued, so
    no line is lost on a clean shutdown.
    """

    def __init__(self, target):
        super().__init__(None)  # the queue is made with the listener, in the process that uses it
        self.target = target
        self._listener = None
        self._pid = None

    def handle(self, record):
        """As Handler.handle, without taking the handler's lock for every record: the queue is
        thread-safe (the lock, contended by every request thread, cost a twentieth of a request)."""
        passed = self.filter(record)
        if passed:
            self.emit(passed if isinstance(passed, logging.LogRecord) else record)  # (3.12: filters may replace it)
        return passed

    def prepare(self, record):
        return record  # formatted by the target on the listener thread, not on the request thread

    def emit(self, record):
        if self._pid != os.getpid():  # the first record in this process
            with self.lock:  # logging re-makes it after a fork
                if self._pid != os.getpid():
                    self.queue = queue.SimpleQueue()
                    self._listener = QueueListener(self.queue, self.target)
                    self._listener.start()
                    self._pid = os.getpid()
        super().emit(record)

    def close(self):
        """Write what is queued and stop the listener (at exit; a later record starts a new one)."""
        with self.lock:
            listener, self._listener = self._listener, None
            if listener is not None and self._pid == os.getpid():
                self._pid = None
                listener.enqueue_sentinel()
                # what QueueListener.stop() does, but stop() would wait without limit on a stuck stderr
                listener._thread.join(5)
        super().close()
