"""`python app.py`: wsserver on granian (worker processes, a pool of Python threads in each).

Why granian: its HTTP/1 side is Rust (hyper on tokio), so a connection that is slow to send its
headers, or idle between requests, costs a small buffer, not a Python thread; only complete
requests reach the WSGI threads. With gunicorn's gthread workers 16 slowloris connections (or 100
idle ones) took every thread and /healthz stopped answering; see the README's "Serving front end"
for the figures that decided it (bench/slow_clients.py and `make bench`).

Start-up, in order: refuse a second server on the same instance folder (a lock file) and a port
that is taken, each with a one-line error and nothing in the instance changed; granian binds the
socket; only then is the instance opened (migrations, seed file, the admin bootstrap: once, in the
main process); then the workers are forked and each keeps one SQLite connection per thread.
With WSSERVER_TLS_CERT/_KEY or WSSERVER_TLS=self-signed it serves HTTPS (ops/tls.py: the files are
checked, or made, before the port is bound). SIGTERM/SIGINT stop gracefully: the workers stop
accepting, finish what is in flight, write out their queued log lines and close their database
connections.
"""
import argparse
import errno
import fcntl
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from ..config import ConfigError
from .tls import ADDRESSES, NAMES, TLSError, tls_files

SELF_SIGNED_FOR = (*NAMES, *ADDRESSES)

LOCK_FILE = "server.lock"
# A client gets this long to send a request's headers (slowloris connections are dropped after it).
HEADER_READ_TIMEOUT_MS = 10_000


class StartError(Exception):
    """The server cannot start; the message is one line for the operator."""


def describe(error, instance_path=None):
    """One line for an operator: what went wrong, without a traceback."""
    from ..errors import DomainError, is_storage_full

    if is_storage_full(error, instance_path):
        return f"the disk is full ({error})"
    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def lock_instance(instance_path):
    """Hold <instance>/server.lock for the life of this process; StartError when another holds it."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, LOCK_FILE)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with os.fdopen(descriptor) as handle:
            holder = handle.read().strip() or "another process"
        raise StartError(
            f"another wsserver (pid {holder}) is already serving the instance {instance_path}; "
            "stop it first or use another WSSERVER_INSTANCE_PATH"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    return descriptor  # kept open (and locked) until the process ends


def check_port_free(host, port):
    """StartError when host:port cannot be bound (in use, no permission, no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise StartError(f"cannot listen on {host}:{port}: {reason}") from None


def server_options(config, tls=None):
    """The keyword arguments of granian's server for these settings (`tls`: tls.TLSFiles, or None)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return {
        "address": config["HOST"],
        "port": config["PORT"],
        "interface": Interfaces.WSGI,
        "workers": config["WORKERS"],
        "blocking_threads": config["THREADS"],
        "http1_settings": HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS),
        # wsserver writes its own access log (with request ids); granian only reports problems
        "log_access": False,
        "log_level": LogLevels.warning,
        "respawn_failed_workers": True,
        # HTTPS: granian serves TLS itself (its default floor, TLS 1.3)
        **({"ssl_cert": Path(tls.cert), "ssl_key": Path(tls.key)} if tls is not None else {}),
    }


class _QuietThreadAdvice(logging.Filter):
    """granian advises against more threads than 2 x cores + 1 at every start; THREADS is the
    operator's choice (README: Serving), so that advice is not repeated on every start."""

    def filter(self, record):
        return "Python threads" not in record.getMessage()


class Worker:
    """What each forked worker process does when it starts and when it stops."""

    def __init__(self, wsgi_app, config):
        self.wsgi_app = wsgi_app
        self.config = config

    def load(self):
        # granian set up its own logging in the new process (closing ours): put wsserver's back
        from .logs import configure_logging

        config = self.config
        configure_logging(config["LOG_FORMAT"], config["LOG_LEVEL"], config["ACCESS_LOG"], background=True)
        return self.wsgi_app

    @staticmethod
    def run(*args, **kwargs):
        """granian's WSGI worker, then: finish pending avatar clean-ups, close this process's
        database connections and write out the queued log lines (a worker process ends without
        running atexit hooks)."""
        from granian.server.mp import MPServer

        from ..storage import db
        from ..storage.avatar_files import finish_pending_removals

        # A terminal's Ctrl-C sends SIGINT to the master and every worker at once, and a worker that
        # gets it beside the master's SIGTERM can hang in granian's shutdown (seen 6-9 times in 10):
        # workers stop on the master's SIGTERM only.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            MPServer._spawn_wsgi_worker(*args, **kwargs)
        finally:
            finish_pending_removals()  # avatar files whose removal is still being retried
            db.close_all_connections()
            logging.shutdown()


def run(wsgi_app, config, on_startup=None, tls=None):
    """Serve `wsgi_app` on granian with these settings until SIGTERM/SIGINT (HTTPS with `tls`).

    `on_startup` runs in the main process once the socket is bound, before the workers fork.
    """
    from granian import Granian

    server = Granian("wsserver", **server_options(config, tls))  # the app is handed over, not imported by name
    logging.getLogger("_granian").addFilter(_QuietThreadAdvice())
    if on_startup is not None:
        server.on_startup(on_startup)
    server.serve(spawn_target=Worker.run, target_loader=Worker(wsgi_app, config).load, wrap_loader=False)


def serve(overrides=None):
    from .. import create_app
    from ..instance import open_instance
    from ..storage import db
    from .logs import configure_logging

    app = create_app(overrides, open_storage=False)  # nothing in the instance changes yet
    config = app.config
    lock_instance(config["INSTANCE_PATH"])
    check_port_free(config["HOST"], config["PORT"])
    try:
        tls = tls_files(config)
    except TLSError as exc:
        raise StartError(str(exc)) from None
    if tls is not None and tls.ca:
        made = "made" if tls.made else "kept"
        print(f"wsserver: TLS: self-signed certificate {tls.cert} ({made}) for "
              f"{', '.join(SELF_SIGNED_FOR)}; clients trust {tls.ca}", flush=True)
    scheme = "http" if tls is None else "https"

    def open_storage():
        # granian has bound the socket: the server is really going to serve
        try:
            open_instance(app)
        except ConfigError:
            raise
        except Exception as exc:  # a full disk, an unreadable folder, a seed file that breaks a rule
            raise StartError(f"cannot open the instance {config['INSTANCE_PATH']}: {describe(exc, config['INSTANCE_PATH'])}") from None
        db.close_all_connections()  # workers open their own after the fork
        configure_logging(config["LOG_FORMAT"], config["LOG_LEVEL"], config["ACCESS_LOG"], background=True)
        print(
            f"wsserver: serving {scheme}://{config['HOST']}:{config['PORT']} "
            f"({config['WORKERS']} processes x {config['THREADS']} threads), instance {config['INSTANCE_PATH']}",
            flush=True,
        )

    run(app, config, on_startup=open_storage, tls=tls)


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
    except StartError as exc:
        print(f"wsserver: cannot start: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the instance folder itself: not creatable, not writable, a full disk
        print(f"wsserver: cannot start: {describe(exc)}", file=sys.stderr)
        return 2
    return 0
