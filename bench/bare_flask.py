"""The ceiling: a bare Flask app on wsserver's own WSGI server with wsserver's settings.

    BENCH_TOKEN=... python bench/bare_flask.py --port P

Every route answers the same small JSON document to `Authorization: Bearer
<BENCH_TOKEN>` (compared in constant time, 401 otherwise); a PUT or POST body
is parsed as JSON first. It runs on wsserver.ops.serve.run (granian) with the same
WORKERS/THREADS settings (defaults < instance config < WSSERVER_* environment),
so the difference to wsserver is wsserver's own work per request. For a
checkout from before granian (bench/run.py --tree), it runs on that
checkout's gunicorn server and options, as wsserver there does.
"""
import argparse
import hmac
import os
import sys
import tempfile

from flask import Flask, jsonify, request

# The wsserver checkout to use: this one, or the one bench/run.py --tree names.
ROOT = os.environ.get("BENCH_WSSERVER_TREE") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DOCUMENT = {
    "id": "0123456789abcdef01234567",
    "fullname": "bare-flask",
    "tags": ["bench"],
    "labels": {"kind": "constant"},
    "meta": {"title": "A constant answer", "avatar": None},
}


def create_bare_app(token):
    app = Flask("bare_flask")
    expected = f"Bearer {token}".encode()

    @app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "PUT", "POST", "DELETE"])
    def answer(path):
        given = request.headers.get("Authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            response = jsonify({"error": {"message": "Credentials are missing or wrong.", "details": {}}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="bare"'
            return response
        if request.method in ("PUT", "POST"):
            request.get_json()
        return jsonify(DOCUMENT)

    return app


def run_on_gunicorn(app, settings):
    from wsserver.ops.serve import Server, gunicorn_options

    options = gunicorn_options(settings)
    options["proc_name"] = "bare-flask"
    Server(app, options).run()


def main(argv=None):
    from wsserver.config import load_settings

    try:
        from wsserver.ops.serve import run
    except ImportError:  # a wsserver checkout from before granian
        run = run_on_gunicorn

    parser = argparse.ArgumentParser(description="Serve the bare Flask ceiling app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    token = os.environ.get("BENCH_TOKEN")
    if not token:
        print("bare_flask: set BENCH_TOKEN", file=sys.stderr)
        return 2
    instance = os.environ.get("WSSERVER_INSTANCE_PATH") or tempfile.mkdtemp(prefix="bare-flask-")
    settings, _ = load_settings({"INSTANCE_PATH": instance, "HOST": arguments.host, "PORT": arguments.port})
    print(
        f"bare_flask: serving http://{arguments.host}:{arguments.port} "
        f"({settings['WORKERS']} processes x {settings['THREADS']} threads)",
        flush=True,
    )
    run(create_bare_app(token), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
