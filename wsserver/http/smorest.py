"""flask-smorest's Api, and what the OpenAPI document says of the whole API.

Operation ids, errors and links are declared on each route (api/*.py); this is
the rest: the error envelope as the error schema, servers, licence, security,
and the document's description (which says that /api is an alias of /api/v2,
documented once).
"""
import threading

import flask_smorest
from apispec import BasePlugin
from marshmallow import fields

from schemas.common import ErrorEnvelopeSchema

from ..permissions import LEVELS

INTRODUCTION = "Workspaces, their members and roles, invites and avatars."
ALIAS = """Every operation under `/api/v2` answers identically under `/api` (an alias for
newer clients of the same API); it is documented once, under `/api/v2`."""
# When a flavor mounted at / takes paths under /api (wsserver.flavors.alias_served).
NO_ALIAS = """On this server the `/api` alias of `/api/v2` is off: a flavor mounted at `/` serves
paths under `/api` (README, "Flavors"). The native API answers under `/api/v2` only."""
ERRORS = """Errors are `{"error": {"message", "details"}}` with the status of the table in
each operation (a flavor's operations: in that service's error shape). Every operation may also
answer `414` (request target over 8,190 bytes) and `431` (a header line over 8,190 bytes, or over
100 headers), and, when rate limits are on, `429` with `Retry-After`, or `503` with `Retry-After`
when their counters cannot be read or written (the request is refused, never let through uncounted)."""


def description(alias_served=True):
    """The document's description, saying whether /api is an alias of /api/v2 on this server."""
    return "\n\n".join((INTRODUCTION, ALIAS if alias_served else NO_ALIAS, ERRORS))


SPEC_OPTIONS = {
    "info": {
        "description": description(),
        "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
    },
    # relative: the server the document was read from
    "servers": [{"url": "/", "description": "This server"}],
    "security": [{"bearerAuth": []}, {"basicAuth": []}],
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Personal access token."},
            "basicAuth": {"type": "http", "scheme": "basic"},
        }
    },
}


# Enums written once, as components; a field names its own with metadata={"component": name}.
ENUM_COMPONENTS = {
    "MemberLevel": {
        "type": "string",
        "enum": list(LEVELS),
        "description": "A member's level, lowest to highest: user < developer < admin < owner.",
    },
}


# The 429 of the rate limits (README, "Rate limits"), with the headers that say when to come back;
# the X-RateLimit-* headers come on every other answer of a limited operation too (when limits are on).
RATE_LIMITED = "RATE_LIMITED"
RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the window (when rate limits are on).",
    "X-RateLimit-Remaining": "Requests left in the window.",
    "X-RateLimit-Reset": "When the window ends, in seconds since the Unix epoch.",
    "X-RateLimit-Window": "The window's length in milliseconds.",
}
RATE_HEADER_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}


class RateHeadersOnLimitedAnswers(BasePlugin):
    """apispec plugin: every 2xx answer of an operation that documents the rate limit's 429
    declares the X-RateLimit-* headers."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            responses = operation.get("responses", {})
            if "429" not in {str(code) for code in responses}:
                continue
            for code, response in responses.items():
                if str(code).startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {}).update(RATE_HEADER_REFS)


class DialectDefaultErrors(BasePlugin):
    """apispec plugin: an operation of a flavor (wsserver/flavors; known by its tag) documents its errors
    in its service's shape: every answer flask-smorest documents with the native envelope (its default
    answer, webargs' 422) refers to the flavor's error response instead, and a 422 moves to the status
    the flavor answers validation errors with. The flavor's response components are registered with
    its first operation (none: none)."""

    def __init__(self):
        self.dialects = {}  # tag -> ({response component name: response object}, validation status)
        self.registered = set()

    def init_spec(self, spec):
        super().init_spec(spec)
        self.spec = spec

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            found = [self.dialects[tag] for tag in operation.get("tags", ()) if tag in self.dialects]
            if not found:
                continue
            own, validation_status = found[0]
            for name, response in own.items():
                if name not in self.registered:
                    self.spec.components.response(name, response)
                    self.registered.add(name)
            error = {"$ref": f"#/components/responses/{next(iter(own))}"}
            responses = operation.get("responses", {})
            for code, response in list(responses.items()):
                # a component named by flask-smorest (resolved to a $ref by apispec later), or a $ref
                name = response if isinstance(response, str) else None
                if isinstance(response, dict) and response.get("$ref", "").startswith("#/components/responses/"):
                    name = response["$ref"].rpartition("/")[2]
                if name is not None and name not in own:
                    responses[code] = error
            for unprocessable in (422, "422"):  # flask-smorest's keys are integers at this point
                if validation_status != 422 and unprocessable in responses:
                    responses[validation_status] = responses.pop(unprocessable)


def dict_lengths_as_properties(converter, field, ret, **kwargs):
    """A length limit on a JSON object counts its keys: maxProperties, not maxLength."""
    if isinstance(field, fields.Dict):
        for length, properties in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
            if length in ret:
                ret[properties] = ret.pop(length)
    return {}


def component_reference(converter, field, ret, **kwargs):
    """A field with metadata {"component": name} is that component (its description kept beside the reference,
    which OpenAPI 3.0 tools show and otherwise ignore)."""
    name = field.metadata.get("component")
    if name is None:
        return {}
    description = ret.get("description")
    ret.clear()
    reference = {"$ref": f"#/components/schemas/{name}"}
    return {**reference, "description": description} if description else reference


class Api(flask_smorest.Api):
    """flask-smorest's Api, writing each blueprint's part of the document when the document is first
    read (`spec`), not when the blueprint is registered: the routes are there at once, and an app
    whose document nobody reads (most apps a test makes) never pays for it (~90 ms an app)."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def __init__(self, *args, **kwargs):
        self._undocumented = []  # (blueprint, name, parameters) registered, not yet in the document
        self._documenting = threading.Lock()
        self._documenter = None  # the thread writing them (it may read the document meanwhile)
        super().__init__(*args, **kwargs)

    @property
    def spec(self):
        """The document, with every registered blueprint in it (another thread waits until it is whole)."""
        if self._undocumented and self._documenter != threading.get_ident():
            with self._documenting:
                self._documenter = threading.get_ident()
                try:
                    for blp, name, parameters in self._undocumented:
                        # what flask_smorest.Api.register_blueprint does for the document, in registration order
                        blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
                        self._spec.tag({"name": name, "description": blp.description})
                    self._undocumented = []
                finally:
                    self._documenter = None
        return self._spec

    @spec.setter
    def spec(self, value):
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options):
        """As flask-smorest's (public signature and effect), with the document's part written later (spec)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def init_app(self, app, *, spec_kwargs=None):
        self.dialect_errors = DialectDefaultErrors()
        spec_kwargs = {**(spec_kwargs or {}), "extra_plugins": [RateHeadersOnLimitedAnswers(), self.dialect_errors]}
        super().init_app(app, spec_kwargs=spec_kwargs)
        # flask-smorest's page metadata header, unused: wsserver pages with X-Total-Count and Link
        self.spec.components.schemas.pop("PaginationMetadata", None)
        for name, schema in ENUM_COMPONENTS.items():
            self.spec.components.schema(name, schema)
        for name, description in RATE_HEADERS.items():
            self.spec.components.header(name, {"description": description, "schema": {"type": "integer"}})
        self.spec.components.response(RATE_LIMITED, {
            "description": "Too many requests: over the caller's budget, or a locked login.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
            "headers": {
                "Retry-After": {"description": "Seconds until the caller may try again.", "schema": {"type": "integer"}},
                **RATE_HEADER_REFS,
            },
        })
        # apispec's public hook for field conversion; these run after its own
        self.ma_plugin.converter.add_attribute_function(dict_lengths_as_properties)
        self.ma_plugin.converter.add_attribute_function(component_reference)

    def document_error_dialect(self, tag, responses, validation_status=422):
        """Operations tagged `tag` answer errors as these response components ({name: OpenAPI response
        object}, the default answer first), validation errors with `validation_status`; call before
        the blueprint is registered."""
        self.dialect_errors.dialects[tag] = (dict(responses), validation_status)
