"""`python app.py`: wsserver on gunicorn (pre-forked worker processes, threads in each).

The app is created once in the master (schema migration and the admin
bootstrap run once), the master's database connection is closed, and the
workers are forked from it; each worker thread then keeps its own SQLite
connection for its whole life. SIGTERM/SIGINT stop gracefully: in-flight
requests finish within the graceful timeout, then each worker closes its
database connection.
"""
import argparse
import sys

from gunicorn.app.base import BaseApplication

from .config import ConfigError

GRACEFUL_TIMEOUT_SECONDS = 20


class Server(BaseApplication):
    def __init__(self, application, options):
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def write_error_envelope(sock, status_int, reason, mesg):
    """gunicorn's answer to a request it cannot parse (request line too long, bad header, ...),
    in the same JSON envelope as every other error instead of gunicorn's HTML page."""
    import json

    from gunicorn import util

    from .errors import envelope

    body = json.dumps(envelope(f"{reason}: {mesg}" if mesg else reason)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def _close_database(server, worker):
    from . import db

    db.close_connection()


def gunicorn_options(config):
    return {
        "bind": f"{config['HOST']}:{config['PORT']}",
        "workers": config["WORKERS"],
        "threads": config["THREADS"],
        "worker_class": "gthread",
        # A gthread worker accepts every connection it can and queues it for its threads, so one
        # worker could take all of a burst of keep-alive clients while the others idle (seen in the
        # benchmark: a third of the throughput on some runs). Capped at twice its threads, a
        # worker leaves the rest to the others; it could not serve them any sooner anyway.
        "worker_connections": config["WORKER_CONNECTIONS"] or 2 * config["THREADS"],
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "timeout": 60,
        "keepalive": 5,
        # longest request line gunicorn accepts (its maximum); longer ones get 414 in the envelope
        "limit_request_line": 8190,
        # wsserver writes its own access log (with request ids); gunicorn only reports problems
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "wsserver",
        "worker_exit": _close_database,
        # forwarded headers are handled by the app (WSSERVER_TRUST_PROXY), not by gunicorn
        "forwarded_allow_ips": "127.0.0.1,::1" if config["TRUST_PROXY"] else "",
    }


def serve(overrides=None):
    from . import create_app, db
    from .logs import configure_logging

    from gunicorn import util

    app = create_app(overrides)
    db.close_connection()  # workers open their own after the fork
    config = app.config
    # request threads hand log records to a writer thread instead of queueing on stderr
    configure_logging(config["LOG_FORMAT"], config["LOG_LEVEL"], config["ACCESS_LOG"], background=True)
    # gunicorn's own error pages (unparseable requests) use the error envelope too
    util.write_error = write_error_envelope
    print(
        f"wsserver: serving http://{config['HOST']}:{config['PORT']} "
        f"({config['WORKERS']} processes x {config['THREADS']} threads), instance {config['INSTANCE_PATH']}",
        flush=True,
    )
    Server(app, gunicorn_options(config)).run()


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="wsserver", description="Serve the wsserver API.")
    parser.add_argument("--host", help="address to listen on (WSSERVER_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (WSSERVER_PORT, default 8080)")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    overrides = {}
    if arguments.host:
        overrides["HOST"] = arguments.host
    if arguments.port is not None:
        overrides["PORT"] = arguments.port
    try:
        serve(overrides)
    except ConfigError as exc:
        print(f"wsserver: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0
