"""wsserver entry point.

    python app.py [--host HOST] [--port PORT]   serve the API (production WSGI server)
    flask --app app <command>                   admin commands (see `flask --app app --help`)
"""
import sys

from wsserver.config import ConfigError

if __name__ == "__main__":
    from wsserver.ops.serve import main

    sys.exit(main())
else:
    # `flask --app app ...` imports this module and uses `app`. The instance
    # folder is opened by the first command or request that needs it, so
    # `restore` can fill an empty one.
    try:
        from wsserver import create_app

        app = create_app(open_storage=False)
    except ConfigError as exc:
        print(f"wsserver: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
