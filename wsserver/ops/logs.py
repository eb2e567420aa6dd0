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
import threading
from datetime import datetime, timezone

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

    `background`: write from a thread of its own (BackgroundStreamHandler), as the
    multi-threaded server does; in-process apps (tests, commands) write at once.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    logging.getLogger(ACCESS_LOGGER_NAME).setLevel(logging.NOTSET if access_log else logging.WARNING)
    for handler in list(logger.handlers):
        if getattr(handler, "wsserver_handler", False):
            logger.removeHandler(handler)
            handler.close()
    handler = BackgroundStreamHandler(sys.stderr) if background else logging.StreamHandler(sys.stderr)
    handler.wsserver_handler = True
    handler.setFormatter(JSONLineFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)


class BackgroundStreamHandler(logging.Handler):
    """Formats and writes records on a thread of its own.

    With a plain StreamHandler every request thread takes the handler's lock and
    writes to stderr while holding it, so under load the threads queue behind
    each other's writes (a profile of the server showed a fifth of its time
    there). Here a request thread only puts the record on a queue. The writer
    thread is started lazily in each process (granian forks its workers after
    the app is made) and writes whatever is queued before flushing; at exit
    logging.shutdown() closes the handler, which drains the queue, so no line is
    lost on a clean shutdown.
    """

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self._queue = None
        self._writer = None
        self._pid = None
        self._start_lock = threading.Lock()

    def handle(self, record):
        # No handler lock: the queue is safe between threads.
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record):
        if self._pid != os.getpid():
            self._start()
        self._queue.put(record)

    def _start(self):
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._write, args=(self._queue,), name="wsserver-log", daemon=True)
            self._writer.start()
            self._pid = os.getpid()

    def _write(self, records):
        while True:
            batch = [records.get()]
            try:
                while len(batch) < 1000:
                    batch.append(records.get_nowait())
            except queue.Empty:
                pass
            waiting = []
            for record in batch:
                if record is None:  # the end marker of drain()
                    self._flush_stream()
                    for done in waiting:
                        done.set()
                    return
                if isinstance(record, _FlushMarker):
                    waiting.append(record.done)
                    continue
                try:
                    self.stream.write(self.format(record) + "\n")
                except Exception:
                    self.handleError(record)
            self._flush_stream()
            for done in waiting:
                done.set()

    def _flush_stream(self):
        try:
            self.stream.flush()
        except Exception:  # a closed or broken stream must not stop the writer
            pass

    def drain(self, timeout=5):
        """Write what is queued, then stop the writer (at exit; a later record starts a new one)."""
        writer = self._writer
        if writer is not None and writer.is_alive() and self._pid == os.getpid():
            self._pid = None
            self._queue.put(None)
            writer.join(timeout)

    def close(self):
        # also run by logging.shutdown() at exit, after flush()
        self.drain()
        super().close()

    def flush(self):
        """Wait until everything queued so far is written (tests, shutdown)."""
        if self._pid == os.getpid() and self._writer is not None and self._writer.is_alive():
            done = threading.Event()
            self._queue.put(_FlushMarker(done))
            done.wait(5)


class _FlushMarker(logging.LogRecord):
    def __init__(self, done):
        super().__init__("wsserver", logging.DEBUG, __file__, 0, "", None, None)
        self.done = done
