"""wsserver: a self-hosted workspace server (the v2 Workspaces API on Flask + SQLite or PostgreSQL).

`create_app()` is the one app factory: settings, logging, storage, hooks, blueprints, errors,
rate limits and the docs page (README, "Architecture").
"""
import copy

from flask import Flask

from .config import load_settings, request_body_limit
from .http.json import JSONProvider
from .instance import open_instance

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
    from .http.auth import identify_caller
    from .http.disk_reserve import install_disk_reserve
    from .http.ratelimit import init_rate_limits
    from .http.smorest import SPEC_OPTIONS, Api, description

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
        # a copy per app: apispec merges what it built into these options (components), and a
        # shared dict would carry one app's schemas into the next app's document
        API_SPEC_OPTIONS=copy.deepcopy(SPEC_OPTIONS),
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
    from .flavors import alias_served, register_flavors

    alias = alias_served(app)
    if not alias:
        api.spec.options["info"]["description"] = description(alias_served=False)
    register_blueprints(app, api, alias=alias)
    register_flavors(app, api)  # WSSERVER_FLAVORS: other services' APIs over the same store
    if settings["TEST_MODE"]:
        from .api import register_test_mode_blueprints

        register_test_mode_blueprints(app, api)  # /__admin__/*: absent (404) and undocumented otherwise
    register_error_handlers(app)
    from .storage.db import release_connection

    app.teardown_appcontext(release_connection)
    init_rate_limits(app, identify_caller)
    install_disk_reserve(app)  # after the rate limits: a refused write is counted like any request
    register_docs_page(app)
    from .ui import register_ui

    register_ui(app)  # /ui, unless WSSERVER_UI=false

    from .ops.cli import register_commands, register_seed_commands

    register_commands(app)
    register_seed_commands(app)
    return app


def register_docs_page(app):
    """GET /docs: Swagger UI over /openapi.json, served from the installed package (no CDN).

    The page talks to this server only: Swagger UI's online validator is off
    (validatorUrl null; by default, on any host but localhost, it would send the
    spec's address to validator.swagger.io and show its badge). flask-swagger-ui
    passes `config` to SwaggerUIBundle as JSON, so None arrives as null.
    """
    from flask_swagger_ui import get_swaggerui_blueprint

    docs = get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "wsserver API", "validatorUrl": None})

    @docs.after_request
    def not_in_frames(response):
        # no other site may frame the page (clickjacking), as the web page's /ui answers
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    app.register_blueprint(docs, url_prefix="/docs")
