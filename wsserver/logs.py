"""Logging: wsserver's loggers write to stderr as text or JSON lines.

Nothing secret is ever passed to a logger: the access log carries the method,
the path, the status, the duration and the request id, and query parameters
whose names suggest a secret are masked.
"""
import json
import logging
import sys
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


def configure_logging(log_format, level, access_log=True):
    """Attach one stderr handler to the `wsserver` logger (replacing ours from an earlier app)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    logging.getLogger(ACCESS_LOGGER_NAME).setLevel(logging.NOTSET if access_log else logging.WARNING)
    for handler in list(logger.handlers):
        if getattr(handler, "wsserver_handler", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.wsserver_handler = True
    handler.setFormatter(JSONLineFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
