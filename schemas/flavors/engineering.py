"""The engineering flavor's wire (reference documents 000 and 001): the query parameters of
GET /api/workspaces/ read into a queries.ListQuery with Django REST framework's messages, and the
workspace, page and error shapes.

The answer schemas document the shapes; `view` builds each answer from a `WorkspaceItem` (the
stored row plus what the flavor looked up), mapping the store to the dialect's fields: columns for
what the store knows, `Workspace.attributes` for the rest (shown as stored; ATTRIBUTE_DEFAULTS when
absent).
"""
import copy
from typing import Any, NamedTuple

from marshmallow import Schema, fields, post_load, pre_load, validate

from wsserver.fields import DEFAULT_VISIBILITY, VISIBILITIES
from wsserver.queries import MAX_SEARCH_TERMS, Filters, ListQuery, SortKey

from ..common import MULTILINE, SearchTerms, Text

DEFAULT_LIMIT = 20
# A larger limit is cut to it, as DRF's max_limit does; 100, not queries.MAX_LIMIT, since every item may
# carry its image (base64 under 1 MB): a page stays under 100 MB.
MAX_LIMIT = 100
MAX_POSITION = 2**31 - 1
MAX_SEARCH_LENGTH = 200
SORT_VALUES = tuple(f"{name}{suffix}" for name in ("name", "created_at", "views") for suffix in ("", ":asc", ":desc"))
TYPES = ("PROJECT", "DEVELOPMENT", "PUBLIC", "TEST")

# --- query parameters, with DRF's messages --------------------------------------------------------


def _integer(low=None, high=None, **kwargs):
    """An integer parameter; out of range: DRF's IntegerField messages."""
    validators = []
    if low is not None:
        validators.append(validate.Range(min=low, error="Ensure this value is greater than or equal to {min}."))
    if high is not None:
        validators.append(validate.Range(max=high, error="Ensure this value is less than or equal to {max}."))
    return fields.Integer(validate=validators, error_messages={"invalid": "A valid integer is required."}, **kwargs)


def _choice(choices, **kwargs):
    return Text(validate=validate.OneOf(choices, error='"{input}" is not a valid choice.'), **kwargs)


def _boolean(**kwargs):
    """DRF's BooleanField: true/false, True/False, 1/0, yes/no, on/off, t/f, y/n (marshmallow's same sets)."""
    return fields.Boolean(error_messages={"invalid": "Must be a valid boolean."}, **kwargs)


class EngineeringListQuerySchema(Schema):
    """Query parameters of GET /api/workspaces/. Unknown ones are ignored and a repeated one counts with
    its last value (Django's QueryDict); a bad value is a 400 naming the parameter."""

    limit = _integer(1, metadata={"description": f"Number of results to return per page (default {DEFAULT_LIMIT}; "
                                                  f"more than {MAX_LIMIT} counts as {MAX_LIMIT})."})
    offset = _integer(0, MAX_POSITION, metadata={"description": "The initial index from which to return the results."})
    all = _boolean(metadata={"description": "True: every workspace of the instance, not only the caller's. "
                                            "Requires org admin permission (instance admins; 403 otherwise)."})
    include_archived = _boolean(metadata={"description": "Whether or not to include archived workspaces. "
                                                         "Requires org admin permission (instance admins; 403 otherwise)."})
    visibility = _choice(VISIBILITIES, metadata={"description": "Filter on workspace visibility."})
    app = _integer(metadata={"description": "Filter on app ID (`app.id`)."})
    label = _integer(metadata={"description": "Filter on label ID (the `id` of one of `labels`)."})
    sort = _choice(SORT_VALUES, metadata={"description": "Sort by name | created_at | views, allowing for :asc and "
                                                         ":desc suffixes. Default: by relevance with `search`, else by slug."})
    search = Text(
        controls=MULTILINE,
        validate=[
            validate.Length(min=1, error="This field may not be blank."),
            validate.Length(max=MAX_SEARCH_LENGTH, error="Ensure this field has no more than {max} characters."),
            SearchTerms("Ensure this field has no more than {max} distinct words."),
        ],
        metadata={"description": "Fuzzy, case-insensitive match of every word over name, slug and description "
                                 f"(and the native tags and labels); at most {MAX_SEARCH_TERMS} distinct words. "
                                 "An answer the search's CPU budget cut short carries `X-Answer-Partial: search`."},
    )

    @pre_load
    def last_values(self, data, **kwargs):
        """Django's QueryDict: a parameter given twice counts with its last value."""
        multidict = getattr(data, "data", data)
        if hasattr(multidict, "getlist"):
            return {name: multidict.getlist(name)[-1] for name in multidict}
        return data

    @post_load
    def to_list_query(self, data, **kwargs):
        attributes = tuple((name, str(data[parameter])) for name, parameter in (("app", "app"), ("labels", "label"))
                           if parameter in data)
        name, _, direction = data.get("sort", "").partition(":")
        return ListQuery(
            filters=Filters(visibility=data.get("visibility"), attributes=attributes),
            sort=(SortKey(name, direction == "desc"),) if name else (),
            offset=data.get("offset", 0),
            limit=min(data.get("limit", DEFAULT_LIMIT), MAX_LIMIT),
            q=(data.get("search") or "").strip() or None,
            all=data.get("all", False),
            include_archived=data.get("include_archived", False),
        )


# --- answers ------------------------------------------------------------------------------------


class WorkspaceItem(NamedTuple):
    """A workspace as the flavor shows it: the stored row, its avatar as base64 (or None) and the
    caller's last visit (stored text, or None)."""

    workspace: Any  # a storage Workspace row
    image: str | None = None
    user_last_visit: str | None = None


class Page(NamedTuple):
    items: list  # of WorkspaceItem
    count: int
    next: str | None
    previous: str | None


class _Viewed:
    """Output schemas whose `view(obj)` builds the answer (the fields document it)."""

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        return [self.view(item) for item in obj] if many else self.view(obj)


def _id(description=None, **kwargs):
    return fields.Integer(allow_none=True, metadata={"description": description} if description else {}, **kwargs)


def _text(description=None, **kwargs):
    return fields.String(allow_none=True, metadata={"description": description} if description else {}, **kwargs)


def _moment(description):
    return fields.String(allow_none=True, metadata={"format": "date-time", "description": description})


class EngineeringAppSchema(Schema):
    id = _id()
    name = _text()
    readable_name = _text("Human-readable app name.")


class EngineeringAppVersionSchema(Schema):
    id = _id()
    tag = _text("Unique version tag for the application.")
    is_conflicted = fields.Boolean(allow_none=True)
    status = _text("CREATED, UPLOADING, PACKING, CHECKING, PUBLISHING, PUBLISHED, ERROR or ERROR_WITH_ACTION_REQUIRED.")
    app_type = _text("tree, simple or editor.")
    sdk_version = _text()
    oauth2_integrations = _text()
    python_version = _text()
    connector_version = _text()
    created_at = _moment("App version creation date.")
    created_by_type = _text("User or CI.")
    created_by_instance = _id()
    created_by_context = fields.Dict(allow_none=True)
    progress = fields.Raw(metadata={"description": "Progress steps (a string in 000, a list in 001)."})


class EngineeringAppBuilderSchema(Schema):
    id = _id()
    conversation_id = _id()
    current_preview_code_revision_id = _id()
    current_active_code_revision_id = _id()
    previous_active_code_revision_id = _id()
    first_created_code_revision_id = _id()
    latest_created_code_revision_id = _id()
    latest_code_revision_id = _id("Deprecated.")


class EngineeringWorkspaceErrorSchema(Schema):
    code = _text("The error code.")
    context = fields.Dict(allow_none=True)


class EngineeringLabelSchema(Schema):
    id = _id()
    name = _text()
    description = _text()
    color = _text()
    number_of_apps = _id()
    number_of_workspaces = _id()


class EngineeringProjectSchema(Schema):
    id = _id()
    name = _text()
    description = _text()
    visibility = _text()


def _nested(schema, description):
    return fields.Nested(schema, required=True, allow_none=True, metadata={"description": description})


def _listed(schema, description):
    return fields.List(fields.Nested(schema), required=True, metadata={"description": description})


def _flag(description):
    return fields.Boolean(required=True, metadata={"description": description})


def _count(description):
    return fields.Integer(required=True, allow_none=True, metadata={"description": description})


# Attributes (Workspace.attributes) shown as stored, these when absent. Callables derive from the row.
ATTRIBUTE_DEFAULTS = {
    "type": lambda row: row.visibility if row.visibility in ("DEVELOPMENT", "PUBLIC") else "PROJECT",
    "app": None, "app_builder": None, "app_version": None, "errors": [],
    "is_dev": lambda row: row.visibility == "DEVELOPMENT",
    "owner": None, "is_initialized": True, "is_active": True, "labels": [], "project": None, "default_group": None,
    "nr_views_last_30_days": 0, "target_total_users": None, "target_monthly_active_users": None,
    "target_daily_active_users_per_month": None, "start_entity_id": None,
}


def _attribute(row, name):
    attributes = row.attributes or {}
    if name in attributes:
        return attributes[name]
    default = ATTRIBUTE_DEFAULTS[name]
    return default(row) if callable(default) else (list(default) if isinstance(default, list) else default)


class EngineeringWorkspaceShortSchema(_Viewed, Schema):
    """A workspace of the list (000)."""

    id = fields.Integer(required=True, metadata={"description": "A unique integer value identifying this workspace."})
    name = fields.String(required=True, metadata={"description": "The name of the workspace (its title, else its slug)."})
    slug = fields.String(required=True, metadata={"description": "The unique slug of the workspace (its fullname)."})
    description = fields.String(required=True, metadata={"description": "A description about the workspace (empty: none)."})
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))
    app_version = _nested(EngineeringAppVersionSchema, "The app version (attribute `app_version`).")
    app = _nested(EngineeringAppSchema, "The app (attribute `app`).")
    errors = _listed(EngineeringWorkspaceErrorSchema, "Errors (attribute `errors`).")
    image = fields.String(required=True, allow_none=True,
                          metadata={"description": "The uploaded avatar, base64-encoded, when under 1 MB; else null."})
    is_dev = _flag("Whether the workspace is dev (attribute `is_dev`; default: visibility is DEVELOPMENT).")
    owner = _count("The owner id of a development workspace (attribute `owner`; default null).")
    is_initialized = _flag("Whether the workspace is initialized with entity types (attribute; default true).")
    is_archived = _flag("Whether the workspace is archived.")
    is_active = _flag("Whether runners are ready for jobs (attribute; default true).")
    labels = _listed(EngineeringLabelSchema, "Labels (attribute `labels`).")
    default_group = _count("Attribute `default_group` (default null).")
    nr_views = fields.Integer(required=True, metadata={"description": "The workspace's view counter."})

    @staticmethod
    def view(item):
        row = item.workspace
        answer = {
            "id": row.number,
            "name": row.title or row.fullname,
            "slug": row.fullname,
            "description": row.description or "",
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "visibility": row.visibility or DEFAULT_VISIBILITY,
        }
        for name in EngineeringWorkspaceShortSchema._declared_fields:
            if name not in answer:
                answer[name] = _value(item, name)
        return answer


def _value(item, name):
    row = item.workspace
    if name in ("image", "user_last_visit"):
        return getattr(item, name)
    if name == "is_archived":
        return row.archived_at is not None
    if name == "nr_views":
        return row.views or 0
    return _attribute(row, name)


def _as_listed(*names):
    """Copies of these fields of the list's workspace (the same documentation in 001)."""
    return [copy.deepcopy(EngineeringWorkspaceShortSchema._declared_fields[name]) for name in names]


class EngineeringWorkspaceSchema(_Viewed, Schema):
    """One workspace (001): every key of its example, in that order."""

    id, name, slug, description, created_at, updated_at, visibility = _as_listed(
        "id", "name", "slug", "description", "created_at", "updated_at", "visibility")
    type = fields.String(required=True, metadata={
        "description": f"One of {', '.join(TYPES)} (attribute `type`; default: DEVELOPMENT or PUBLIC as the "
                       "visibility, else PROJECT)."})
    app = _as_listed("app")[0]
    app_builder = _nested(EngineeringAppBuilderSchema, "The app builder (attribute `app_builder`).")
    app_version, errors, image, is_dev, owner, is_initialized, is_archived, is_active, labels = _as_listed(
        "app_version", "errors", "image", "is_dev", "owner", "is_initialized", "is_archived", "is_active", "labels")
    project = _nested(EngineeringProjectSchema, "The project (attribute `project`).")
    default_group = _as_listed("default_group")[0]
    user_last_visit = fields.String(required=True, allow_none=True, metadata={
        "format": "date-time", "description": "When the requesting user last used this workspace (null: unknown)."})
    nr_views = _as_listed("nr_views")[0]
    nr_views_last_30_days = _count("Views in the last 30 days (attribute; default 0).")
    target_total_users = _count("Target total users (attribute; default null).")
    target_monthly_active_users = _count("Target monthly active users (attribute; default null).")
    target_daily_active_users_per_month = _count("Target daily active users (attribute; default null).")
    start_entity_id = _count("Attribute `start_entity_id` (default null).")

    @staticmethod
    def view(item):
        short = EngineeringWorkspaceShortSchema.view(item)
        return {name: short[name] if name in short else _value(item, name)
                for name in EngineeringWorkspaceSchema._declared_fields}


class EngineeringPageSchema(_Viewed, Schema):
    """`{"count", "next", "previous", "results": [...]}`: DRF's LimitOffsetPagination, the shape the
    service's own client (the VIKTOR SDK) reads. Reference page 000 shows it nested inside another
    `{"count", "results"}`, a rendering artefact of that page; the client is the better evidence."""

    count = fields.Integer(required=True, metadata={"description": "Count of all the objects in the result set."})
    next = fields.String(required=True, allow_none=True, metadata={"format": "uri", "description": "The next page."})
    previous = fields.String(required=True, allow_none=True,
                             metadata={"format": "uri", "description": "The previous page."})
    results = fields.List(fields.Nested(EngineeringWorkspaceShortSchema), required=True)

    @staticmethod
    def view(page):
        return {"count": page.count, "next": page.next, "previous": page.previous,
                "results": [EngineeringWorkspaceShortSchema.view(item) for item in page.items]}


class EngineeringUserSchema(_Viewed, Schema):
    """The caller (GET /api/users/current/), with what the VIKTOR SDK's `User` reads. Accounts have a
    nickname, not a first and last name, no integer id, e-mail or job title: see `view`."""

    id = fields.String(required=True, metadata={
        "format": "uuid", "description": "The account's UUID, the user id every flavor shows (accounts have no "
                                         "integer id)."})
    username = fields.String(required=True, metadata={"description": "The account's username."})
    first_name = fields.String(required=True, metadata={
        "description": "The nickname up to its first space (the whole nickname when it has none)."})
    last_name = fields.String(required=True, metadata={
        "description": "The rest of the nickname after its first space (empty when none)."})
    email = fields.String(required=True, metadata={"description": "Always empty: accounts hold no e-mail address."})
    job_title = fields.String(required=True, metadata={"description": "Always empty: accounts hold no job title."})

    @staticmethod
    def view(account):
        first, _, last = (account.nickname or account.username).strip().partition(" ")
        return {"id": account.uuid, "username": account.username, "first_name": first, "last_name": last.strip(),
                "email": "", "job_title": ""}


# The error answers: {"detail": "..."}, or a validation error's {"<parameter>": [...], "non_field_errors": [...]}.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong (every error but a validation error)."},
        "non_field_errors": {"type": "array", "items": {"type": "string"},
                             "description": "Validation errors about no one parameter."},
    },
    "additionalProperties": {"type": "array", "items": {"type": "string"},
                             "description": "A parameter's validation errors."},
    "example": {"field1": ["Validation error"], "non_field_errors": ["Sample non field validation error"]},
}
