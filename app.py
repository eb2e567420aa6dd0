"""wsserver entry point.

    python app.py [--host HOST] [--port PORT]   serve the API (production WSGI server)
    flask --app app <command>                   admin commands (see `flask --app app --help`)
"""
import argparse
import sys

from wsserver.config import ConfigError


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Serve the wsserver API.")
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
        from wsserver.serve import serve

        serve(overrides)
    except ConfigError as exc:
        print(f"wsserver: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    # `flask --app app ...` imports this module and uses `app`.
    try:
        from wsserver import create_app

        app = create_app()
    except ConfigError as exc:
        print(f"wsserver: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
