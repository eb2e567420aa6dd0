"""`python app.py`: wsserver on gunicorn (pre-forked worker processes, threads in each).

The app is created once in the master (schema migration and the admin
bootstrap run once), the master's database connection is closed, and the
workers are forked from it; each worker thread then keeps its own SQLite
connection for its whole life. SIGTERM/SIGINT stop gracefully: in-flight
requests finish within the graceful timeout.
"""
from gunicorn.app.base import BaseApplication

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


def _close_database_in_worker(worker):
    from . import db

    db.close_connection()


def gunicorn_options(config):
    return {
        "bind": f"{config['HOST']}:{config['PORT']}",
        "workers": config["WORKERS"],
        "threads": config["THREADS"],
        "worker_class": "gthread",
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "timeout": 60,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "wsserver",
        "worker_exit": lambda server, worker: _close_database_in_worker(worker),
    }


def serve(overrides=None):
    from . import create_app, db

    app = create_app(overrides)
    db.close_connection()  # workers open their own after the fork
    config = app.config
    print(
        f"wsserver: serving http://{config['HOST']}:{config['PORT']} "
        f"({config['WORKERS']} processes x {config['THREADS']} threads), instance {config['INSTANCE_PATH']}",
        flush=True,
    )
    Server(app, gunicorn_options(config)).run()
