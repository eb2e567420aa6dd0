"""wsserver: a self-hosted workspace server (the v2 Workspaces API on Flask + SQLite)."""
import os

from flask import Flask, request
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

BODY_METHODS = ("POST", "PUT", "PATCH")


class JSONProvider(DefaultJSONProvider):
    sort_keys = False
    ensure_ascii = False


def require_json_body():
    """A request that carries a body must say it is JSON (415 otherwise)."""
    if request.method in BODY_METHODS and not request.is_json:
        has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
        if has_body or request.mimetype:
            from .errors import error_response

            return error_response(415)
    return None


def create_app(config=None):
    """The one app factory. `config` overrides settings (see wsserver.config)."""
    from . import db, migrations
    from .api import register_blueprints
    from .errors import register_error_handlers
    from .services import accounts
    from .services.avatars import AVATAR_FOLDER, clean_temporary_files
    from .smorest import Api

    settings, flask_options = load_settings(config)
    app = Flask("wsserver", instance_path=settings["INSTANCE_PATH"])
    app.json = JSONProvider(app)
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

    os.makedirs(os.path.join(settings["INSTANCE_PATH"], AVATAR_FOLDER), exist_ok=True)
    db.open_database(settings["INSTANCE_PATH"], settings["BUSY_TIMEOUT_MS"])
    migrations.migrate()
    fresh_token = accounts.ensure_bootstrap_admin(settings["INSTANCE_PATH"], settings["ADMIN_TOKEN"])
    if fresh_token:
        print(
            f"wsserver: created the instance admin 'admin'. Its token (also in "
            f"{os.path.join(settings['INSTANCE_PATH'], accounts.ADMIN_TOKEN_FILE)}):\n{fresh_token}",
            flush=True,
        )

    with app.app_context():
        clean_temporary_files()

    api = Api(app)
    register_blueprints(api)
    register_error_handlers(app)
    app.before_request(require_json_body)
    register_docs_page(app)

    from .cli import register_commands

    register_commands(app)
    return app


def register_docs_page(app):
    """GET /docs: Swagger UI over /openapi.json, served from the installed package (no CDN)."""
    from flask_swagger_ui import get_swaggerui_blueprint

    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "wsserver API"}),
        url_prefix="/docs",
    )
