"""The geoscience flavor's wire shapes (wsserver/flavors/geoscience.py; README, "Flavors"): the query
parameters of GET /workspace/orgs/{org_id}/workspaces, its answer, and its problem details.

Parameters read into plain values (GeoListParameters); the flavor turns the user UUIDs into accounts
and the rest into a queries.ListQuery. Comparisons of `created_at`/`updated_at` become half-open
bounds here: each value is an interval [start, end) (a date: that whole UTC day; a date-time: that
millisecond, the stored precision), and `gte`/`gt`/`lte`/`lt`/`eq` pick its ends.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from wsserver.queries import SortKey

from ..common import Text
from ..listing import MAX_POSITION, TimestampParameter

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_NAME_LENGTH = 256
# The service's sort fields -> the listing service's (queries.SORT_FIELDS; "level" is the caller's level).
SORT_FIELDS = {"name": "name", "created_at": "created_at", "updated_at": "updated_at", "user_role": "level"}
DEFAULT_SORT = (SortKey("name"),)

_FIELD = "(?:" + "|".join(SORT_FIELDS) + ")"
SORT_PATTERN = f"^-?{_FIELD}(?:,-?{_FIELD})*$"
ORDER_BY_PATTERN = f"^(?:(?:asc|desc):)?{_FIELD}(?:,(?:(?:asc|desc):)?{_FIELD})*$"
# A date, or a date-time with an optional offset (a "+" a client did not percent-encode arrives as a space).
_MOMENT = r"\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[Zz]|[+ -]\d{2}:?\d{2})?)?"
_BOUND = "(?:gte|gt|lte|lt):"
# one comparison (a bare value is eq:), or two bounds
COMPARISON_PATTERN = f"^(?:(?:(?:{_BOUND}|eq:)?{_MOMENT})|(?:{_BOUND}{_MOMENT},{_BOUND}{_MOMENT}))$"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMPARISON = re.compile(r"(gte|gt|lte|lt|eq):(.*)", re.DOTALL)
_MILLISECOND = timedelta(milliseconds=1)
_LAST = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class GeoListParameters:
    """GET .../workspaces as plain values; user ids are still UUIDs (lower-case text)."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort: tuple = DEFAULT_SORT
    created_by: str | None = None
    user_id: str | None = None
    name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    deleted: bool = False


def _plus(moment, step):
    try:
        return moment + step
    except OverflowError:
        return _LAST


class LooseBoolean(fields.Boolean):
    """A boolean as the service's framework reads one from a query: true/false, 1/0, yes/no, on/off,
    t/f, y/n, in any case."""

    truthy = {"true", "1", "yes", "on", "t", "y"}
    falsy = {"false", "0", "no", "off", "f", "n"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = value.strip().lower() if isinstance(value, str) else None
        if text in self.truthy:
            return True
        if text in self.falsy:
            return False
        raise ValidationError("Input should be a valid boolean (true or false).")


class SortParameter(Text):
    """`name,-created_at` → (SortKey, ...); a field named again adds nothing."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(SORT_PATTERN[1:-1], text):
            raise ValidationError(f"Use a comma-separated list of {', '.join(SORT_FIELDS)}, each optionally "
                                  "prefixed with - (descending).")
        return _keys((item.lstrip("-"), item.startswith("-")) for item in text.split(","))


class OrderByParameter(Text):
    """`asc:user_role,desc:name` → (SortKey, ...); a bare field is ascending."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(ORDER_BY_PATTERN[1:-1], text):
            raise ValidationError(f"Use a comma-separated list of {', '.join(SORT_FIELDS)}, each optionally "
                                  "prefixed with asc: or desc:.")
        pairs = []
        for item in text.split(","):
            direction, _, name = item.rpartition(":")
            pairs.append((name, direction == "desc"))
        return _keys(pairs)


def _keys(pairs):
    keys, seen = [], set()
    for name, descending in pairs:
        if name not in seen:
            seen.add(name)
            keys.append(SortKey(SORT_FIELDS[name], descending))
    return tuple(keys)


_COMPARISON_ERROR = ("Use [gte:|gt:|lte:|lt:|eq:]<ISO 8601 date or date-time>, or two bounds joined by a comma "
                     "(e.g. gte:2024-01-01,lt:2024-02-01T12:00:00Z); an equality stands alone.")


class ComparisonParameter(Text):
    """`gte:2024-01-01,lt:2024-02-01` → (after, before): aware UTC datetimes (None: open), after
    inclusive and before exclusive."""

    _moment = TimestampParameter()

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(COMPARISON_PATTERN[1:-1], text):
            raise ValidationError(_COMPARISON_ERROR)
        after = before = None
        for item in text.split(","):
            matched = _COMPARISON.fullmatch(item)
            operator, moment_text = matched.groups() if matched else ("eq", item)
            start, end = self._interval(moment_text)
            low, high = {"eq": (start, end), "gte": (start, None), "gt": (end, None),
                         "lt": (None, start), "lte": (None, end)}[operator]
            after = low if after is None or (low is not None and low > after) else after
            before = high if before is None or (high is not None and high < before) else before
        return after, before

    def _interval(self, text):
        """[start, end) of a date (its UTC day) or a date-time (its millisecond)."""
        try:
            start = self._moment.deserialize(text)
        except ValidationError:
            raise ValidationError(_COMPARISON_ERROR) from None
        if _DATE_ONLY.fullmatch(text):
            return start, _plus(start, timedelta(days=1))
        floor = start.replace(microsecond=start.microsecond - start.microsecond % 1000)
        return start, _plus(floor, _MILLISECOND)


COMPARISON_HELP = (
    "Comparisons `gte:`, `gt:`, `lte:`, `lt:` or `eq:` followed by an ISO 8601 date or date-time (no offset "
    "means UTC); a bare value means `eq:`. A date alone is that whole UTC day (`eq:2024-01-01` is the day, "
    "`gt:2024-01-01` from the next day on); a date-time is exact to the millisecond. Two bounds may be "
    "joined by a comma (`gte:2024-01-01,lt:2024-02-01`); an equality stands alone."
)
# Pairs of names for one filter: the name the reference gives and the one its generated client sends.
ALIASES = (("created_by", "filter[created_by]"), ("user_id", "filter[user_id]"), ("name", "filter[name]"))


class _QuerySchema(Schema):
    """Unknown parameters are ignored (as by the service); a repeated one is 422."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def refuse_repeated(self, data, **kwargs):
        """`limit=1&limit=2` is ambiguous."""
        multidict = getattr(data, "data", None)
        if hasattr(multidict, "getlist"):
            known = {field.data_key or name for name, field in self.fields.items()}
            repeated = {name: ["Give this parameter once."] for name in multidict
                        if name in known and len(multidict.getlist(name)) > 1}
            if repeated:
                raise ValidationError(repeated)
        return data


class GeoListQuerySchema(_QuerySchema):
    """Query parameters of GET /workspace/orgs/{org_id}/workspaces: a malformed value or a conflict is 422."""

    limit = fields.Integer(
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"The maximum number of results to return (1–{MAX_LIMIT}, default "
                                 f"{DEFAULT_LIMIT}). The service deprecates limits over {MAX_LIMIT}: here they "
                                 "are 422.", "default": DEFAULT_LIMIT},
    )
    offset = fields.Integer(
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "The (zero-based) offset of the first item returned in the collection.",
                  "default": 0},
    )
    sort = SortParameter(metadata={
        "description": "Comma-separated fields to sort by: name, created_at, updated_at, user_role, each "
        "optionally prefixed with `-` (descending). Not with order_by. Default: name. Ties go by id.",
        "pattern": SORT_PATTERN,
    })
    order_by = OrderByParameter(metadata={
        "description": "Comma-separated fields to order by, each optionally prefixed with `asc:` (the "
        "default) or `desc:`, e.g. `asc:user_role,desc:name`. Not with sort. user_role orders by rank "
        "(viewer < editor < owner).",
        "pattern": ORDER_BY_PATTERN,
    })
    created_by = fields.UUID(metadata={"description": "Workspaces created by this user (UUID). "
                                                      "Also accepted as filter[created_by]."})
    filter_created_by = fields.UUID(data_key="filter[created_by]", metadata={
        "description": "The same as created_by (the name the service's generated client sends)."})
    created_at = ComparisonParameter(metadata={"description": "Filter by the time the workspace was created. "
                                                              + COMPARISON_HELP, "pattern": COMPARISON_PATTERN})
    updated_at = ComparisonParameter(metadata={"description": "Filter by the time the workspace was last "
                                                              "updated. " + COMPARISON_HELP,
                                               "pattern": COMPARISON_PATTERN})
    name = Text(validate=validate.Length(1, MAX_NAME_LENGTH), metadata={
        "description": "Workspaces of this name (case-insensitive, whole name). Also accepted as filter[name]."})
    filter_name = Text(data_key="filter[name]", validate=validate.Length(1, MAX_NAME_LENGTH),
                       metadata={"description": "The same as name."})
    deleted = LooseBoolean(metadata={"description": "true: include workspaces that have been deleted (in the "
                                                    "trash) too. Default false."})
    user_id = fields.UUID(metadata={"description": "Workspaces this user (UUID) has a role in; instance admins "
                                                   "only (403 otherwise). Also accepted as filter[user_id]."})
    filter_user_id = fields.UUID(data_key="filter[user_id]", metadata={"description": "The same as user_id."})

    @validates_schema
    def no_conflicts(self, data, **kwargs):
        errors = {}
        if "sort" in data and "order_by" in data:
            errors.update({name: ["Use either sort or order_by, not both."] for name in ("sort", "order_by")})
        for name, alias in ALIASES:
            attribute = "filter_" + name
            if name in data and attribute in data and data[name] != data[attribute]:
                errors.update({key: [f"{name} and {alias} differ: give one."] for key in (name, alias)})
        if errors:
            raise ValidationError(errors)

    @post_load
    def to_parameters(self, data, **kwargs):
        def either(name):
            value = data.get(name, data.get("filter_" + name))
            return str(value).lower() if value is not None and name != "name" else value

        created_after, created_before = data.get("created_at", (None, None))
        updated_after, updated_before = data.get("updated_at", (None, None))
        return GeoListParameters(
            limit=data.get("limit", DEFAULT_LIMIT),
            offset=data.get("offset", 0),
            sort=data.get("sort") or data.get("order_by") or DEFAULT_SORT,
            created_by=either("created_by"),
            user_id=either("user_id"),
            name=either("name"),
            created_after=created_after,
            created_before=created_before,
            updated_after=updated_after,
            updated_before=updated_before,
            deleted=data.get("deleted", False),
        )


class GeoGetQuerySchema(_QuerySchema):
    """Query parameters of GET /workspace/orgs/{org_id}/workspaces/{workspace_id}."""

    deleted = LooseBoolean(load_default=False, metadata={
        "description": "true: find the workspace in the trash too. Default false."})


# --- answers --------------------------------------------------------------------------------------------

ROLES = ("owner", "editor", "viewer")


class GeoUserSchema(Schema):
    email = fields.String(required=True, allow_none=True, metadata={"description": "Always null here: "
                                                                                   "accounts have no email."})
    id = fields.UUID(required=True, metadata={"description": "The user's UUID."})
    name = fields.String(required=True, allow_none=True, metadata={"description": "The account's nickname."})


class GeoBoundingBoxSchema(Schema):
    coordinates = fields.List(fields.List(fields.List(fields.Float(), validate=validate.Length(2, 2))),
                              required=True, metadata={"description": "[longitude, latitude] rings."})
    type = fields.String(required=True, validate=validate.OneOf(["Polygon"]))


class GeoWorkspaceSchema(Schema):
    """A workspace as the service shows it (keys in the reference's order)."""

    bounding_box = fields.Nested(GeoBoundingBoxSchema, required=True, allow_none=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    created_by = fields.Nested(GeoUserSchema, required=True)
    current_user_role = fields.String(required=True, allow_none=True, validate=validate.OneOf(ROLES), metadata={
        "description": "The caller's role: owner, editor or viewer; null where an instance admin has none."})
    default_coordinate_system = fields.String(required=True)
    description = fields.String(required=True)
    id = fields.UUID(required=True)
    labels = fields.List(fields.String(), required=True)
    ml_enabled = fields.Boolean(required=True)
    name = fields.String(required=True)
    self_link = fields.String(required=True, metadata={"format": "uri"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_by = fields.Nested(GeoUserSchema, required=True)


class GeoLinksSchema(Schema):
    count = fields.Integer(required=True, metadata={"description": "Results on this page."})
    first = fields.String(required=True, metadata={"format": "uri"})
    last = fields.String(required=True, metadata={"format": "uri"})
    next = fields.String(required=True, allow_none=True, metadata={"format": "uri"})
    previous = fields.String(required=True, allow_none=True, metadata={"format": "uri"})
    total = fields.Integer(required=True, metadata={"description": "Matches before paging."})


class GeoWorkspaceListSchema(Schema):
    links = fields.Nested(GeoLinksSchema, required=True)
    results = fields.List(fields.Nested(GeoWorkspaceSchema), required=True)


class GeoInvalidParamSchema(Schema):
    name = fields.String(required=True)
    reason = fields.String(required=True)


class GeoProblemSchema(Schema):
    """RFC 9457 problem details (application/problem+json)."""

    detail = fields.String(required=True, allow_none=True)
    invalid_params = fields.List(fields.Nested(GeoInvalidParamSchema), data_key="invalid-params", required=True,
                                 allow_none=True, metadata={"description": "The offending parameters (422), "
                                                                           "else null."})
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
