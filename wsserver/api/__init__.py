"""flask-smorest blueprints, one module per resource, and where each is mounted."""
from . import accounts, avatars, health, members, sessions, tokens, workspaces

API_PREFIX = "/api/v2"
# Newer clients of the same API use /api: every resource answers there identically.
ALIAS_PREFIX = "/api"

# Blueprints served under both prefixes.
RESOURCES = (accounts.blp, tokens.blp, sessions.blp, workspaces.blp, members.blp, avatars.blp)
# Blueprints served at the root of the server.
ROOT_RESOURCES = (health.blp, avatars.files_blp)


def register_blueprints(app, api, alias=True):
    """The native API at API_PREFIX, and at ALIAS_PREFIX too when `alias` (wsserver.flavors.alias_served)."""
    for blp in RESOURCES:
        api.register_blueprint(blp, url_prefix=API_PREFIX)
        if alias:
            # served, but documented once (under API_PREFIX; the document's description says so)
            app.register_blueprint(blp, url_prefix=ALIAS_PREFIX, name=f"{blp.name}-alias")
    for blp in ROOT_RESOURCES:
        api.register_blueprint(blp)


def register_test_mode_blueprints(app, api):
    """Test mode only (WSSERVER_TEST_MODE): /__admin__/reset, /__admin__/requests and the request recorder."""
    from . import admin

    api.register_blueprint(admin.blp)
    admin.record_requests(app)
