"""wsserver: a self-hosted workspace server (the v2 Workspaces API on Flask + SQLite)."""
import json
import os
import re

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from .config import load_settings, request_body_limit

API_SPEC_OPTIONS = {
    "info": {"description": "Workspaces, their members and roles, invites and avatars."},
    "security": [{"bearerAuth": []}, {"basicAuth": []}],
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Personal access token."},
            "basicAuth": {"type": "http", "scheme": "basic"},
        }
    },
}


MAX_INTEGER_DIGITS = 4300  # Python's own default limit (sys.get_int_max_str_digits)
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _NotJSON(ValueError):
    """A literal json.loads reads but JSON (RFC 8259) does not allow, or Python cannot convert."""


def _json_integer(text):
    digits = len(text) - text.startswith("-")
    # checked first: without Python's limit, int() of a huge literal takes quadratic time
    if digits > MAX_INTEGER_DIGITS:
        raise _NotJSON(f"an integer literal of {digits} digits")
    try:
        return int(text)
    except ValueError:  # a lower limit for this interpreter (PYTHONINTMAXSTRDIGITS)
        raise _NotJSON(f"an integer literal of {digits} digits") from None


def _json_constant(name):
    raise _NotJSON(f"{name} is not a JSON value")


class JSONProvider(DefaultJSONProvider):
    """The app's JSON, both ways: request bodies (Flask's get_json and the API's argument
    parser, wsserver.api.common) and every answer."""

    sort_keys = False
    ensure_ascii = False

    def loads(self, s, **kwargs):
        """Strict JSON: NaN/Infinity and integers over MAX_INTEGER_DIGITS digits are malformed
        JSON (json.JSONDecodeError, so 400), not a crash deep in the parser (500)."""
        kwargs.setdefault("parse_int", _json_integer)
        kwargs.setdefault("parse_constant", _json_constant)
        try:
            return json.loads(s, **kwargs)
        except _NotJSON as exc:
            document = s if isinstance(s, str) else s.decode("utf-8", "replace")
            raise json.JSONDecodeError(f"Not valid JSON: {exc}", document or " ", 0) from None

    def dumps(self, obj, **kwargs):
        """As JSON text that encodes as UTF-8: an answer that echoes a lone surrogate from the
        request (an unknown field's name in a 422) gets it escaped (\\ud800), not a crash."""
        text = super().dumps(obj, **kwargs)
        if not text.isascii() and _LONE_SURROGATE.search(text):
            text = super().dumps(obj, **{**kwargs, "ensure_ascii": True})
        return text


def create_app(config=None, *, open_storage=True):
    """The one app factory. `config` overrides settings (see wsserver.config).

    With open_storage=False the instance folder is not touched until the first
    request or the first admin command that needs it (so `restore` can fill an
    empty folder); see open_instance().
    """
    from .api import register_blueprints
    from .errors import register_error_handlers
    from .http.hooks import install_request_hooks
    from .ops.logs import configure_logging
    from .http.ratelimit import init_rate_limits
    from .http.smorest import Api

    settings, flask_options = load_settings(config)
    app = Flask("wsserver", instance_path=settings["INSTANCE_PATH"])
    app.json = JSONProvider(app)
    # `//` in a path is a 404 like any unknown path, not a redirect with an HTML body
    app.url_map.merge_slashes = False
    app.config.update(settings)
    app.config.update(
        API_TITLE="wsserver",
        API_VERSION="2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS=API_SPEC_OPTIONS,
        MAX_CONTENT_LENGTH=request_body_limit(settings["AVATAR_MAX_BYTES"]),
    )
    app.config.update(flask_options)
    configure_logging(settings["LOG_FORMAT"], settings["LOG_LEVEL"], settings["ACCESS_LOG"])
    from .testing.mode import configure_test_mode

    configure_test_mode(settings)  # deterministic ids/time in test mode; warns that test mode is on

    if open_storage:
        open_instance(app)
    else:
        app.before_request(lambda: open_instance(app))

    install_request_hooks(app)
    api = Api(app)
    register_blueprints(api)
    if settings["TEST_MODE"]:
        from .api import register_test_mode_blueprints

        register_test_mode_blueprints(app, api)  # /__admin__/*: absent (404) and undocumented otherwise
    register_error_handlers(app)
    from .storage.db import release_connection

    app.teardown_appcontext(release_connection)
    init_rate_limits(app)
    register_docs_page(app)

    from .ops.cli import register_commands, register_seed_commands

    register_commands(app)
    register_seed_commands(app)
    return app


def open_instance(app):
    """Open (creating if needed) the instance folder: database, schema, admin, avatar folder. Idempotent."""
    if app.extensions.get("wsserver-storage"):
        return
    from .storage import db, migrations
    from .services import accounts
    from .storage.avatar_files import avatar_folder_of, clean_temporary_files, remove_unreferenced_files

    instance = app.config["INSTANCE_PATH"]
    os.makedirs(avatar_folder_of(app.config), exist_ok=True)
    db.open_database(
        app.config["DATABASE_URL"], instance, app.config["BUSY_TIMEOUT_MS"], max_connections=app.config["THREADS"] + 4
    )
    migrations.migrate()
    fresh_token = None
    if app.config["SEED_FILE"]:
        from .testing.seed import load_seed_file_at_startup

        with app.app_context():
            fresh_token = load_seed_file_at_startup()  # with the admin rule, as `flask seed` does
    fresh_token = accounts.ensure_bootstrap_admin(instance, app.config["ADMIN_TOKEN"]) or fresh_token
    if fresh_token:
        print(
            f"wsserver: created the instance admin 'admin'. Its token (also in "
            f"{os.path.join(instance, accounts.ADMIN_TOKEN_FILE)}):\n{fresh_token}",
            flush=True,
        )
    with app.app_context():
        clean_temporary_files()
        remove_unreferenced_files()
        if app.config["TEST_MODE"]:
            from .testing.mode import capture_baseline

            capture_baseline()  # the state POST /__admin__/reset restores
    app.extensions["wsserver-storage"] = True


def register_docs_page(app):
    """GET /docs: Swagger UI over /openapi.json, served from the installed package (no CDN).

    The page talks to this server only: Swagger UI's online validator is off
    (validatorUrl null; by default, on any host but localhost, it would send the
    spec's address to validator.swagger.io and show its badge). flask-swagger-ui
    passes `config` to SwaggerUIBundle as JSON, so None arrives as null.
    """
    from flask_swagger_ui import get_swaggerui_blueprint

    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "wsserver API", "validatorUrl": None}),
        url_prefix="/docs",
    )
