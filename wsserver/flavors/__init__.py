"""Flavors: the workspace APIs of other services, served over the same store (README, "Flavors").

Each flavor is one module here, a thin adapter like the native blueprints in api/: its routes read
that service's parameters into a queries.ListQuery (or a workspace look-up), call the same services,
and write that service's shapes and errors. It exposes:

- `blp`: its flask-smorest blueprint (flavors/common.FlavorBlueprint), documented in /openapi.json
  under its own tag;
- `PATHS`: the paths it owns, relative to its mount (unmatched ones there get its error shape too);
- `error_answer(status, message, details)` -> (status, body, mimetype): its error shape, for every
  error of its requests (errors.register_error_dialect).

WSSERVER_FLAVORS says which are served and where (config_values._flavors); a flavor mounted at `/` answers
at the server's root. When one of those has paths under `/api` (the engineering flavor's
`/api/workspaces/`), the native `/api` alias is off (the native API stays at `/api/v2`), since the
flavor would otherwise sit in the alias's place.
"""
import importlib

from ..errors import register_error_dialect


def flavor_module(name):
    return importlib.import_module(f"{__name__}.{name}")


def register_flavors(app, api):
    """Register each flavor of WSSERVER_FLAVORS at its mount, with its error dialect."""
    for name, mount in app.config["FLAVORS"].items():
        module = flavor_module(name)
        api.document_error_dialect(module.blp.name, module.blp.error_responses(), module.blp.validation_status)
        api.register_blueprint(module.blp, url_prefix=mount or None)
        register_error_dialect(app, module.blp.name, [mount + path for path in module.PATHS], module.error_answer)


def alias_served(app):
    """The native /api alias is served unless a flavor mounted at the root has paths under /api."""
    return not any(
        path == "/api" or path.startswith("/api/")
        for name, mount in app.config["FLAVORS"].items() if mount == ""
        for path in flavor_module(name).PATHS
    )
