"""The web page for people, at /ui: server-rendered pages over the same services and the same
permission table as the API (README, "Web interface"). On by default; WSSERVER_UI=false leaves
/ui and / answering 404.

blueprint.py: what every page shares (session, CSRF, headers, render_page); pages.py: signing
in, the lists, a new workspace, the refusal pages; workspace.py: one workspace (fields, avatar,
invite, members, deletion) and joining by invite link; admin.py: the instance admins' pages;
session.py: signing in and the cookie.
"""
from flask import redirect, url_for

from . import admin, pages, workspace  # noqa: F401  (register their pages on blp)
from .blueprint import blp
from .session import configure_sessions


def register_ui(app):
    """Mount the web page (when WSSERVER_UI is on) and send / to it."""
    if not app.config["UI"]:
        return
    configure_sessions(app)
    app.register_blueprint(blp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("ui.workspaces")))
