"""The platform flavor's wire shapes (reference 003, a FastAPI service): the query parameters and the
X-API-Version header of GET /workspaces, read into a queries.ListQuery; the workspace of its answer;
and its error bodies (`{"detail": "..."}`, or FastAPI's list of pydantic errors for a 422).

Every message a parameter can fail with is pydantic v2's sentence for the same mistake, so that
wsserver/flavors/platform.py (`validation_items`) can give each the `type` FastAPI gives it.
"""
import uuid

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from wsserver.queries import MAX_SEARCH_TERMS, Filters, ListQuery, SortKey

from ..common import MULTILINE, SearchTerms, Text
from ..listing import TimestampParameter

API_VERSION_HEADER = "X-API-Version"
API_VERSIONS = ("v1",)
# sort_by value -> the listing's sort field
SORT_BY = {"identifier": "fullname", "name": "name", "created_at": "created_at", "updated_at": "updated_at"}
DEFAULT_SORT_BY = "created_at"  # the reference's example lists its workspaces oldest first
SORT_ORDERS = ("asc", "desc")
WORKSPACE_TYPES = ("single_user", "multi_user")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
MAX_PAGE = 2**31 - 1  # (page - 1) * page_size stays far inside every engine's OFFSET
MAX_SEARCH_LENGTH = 200
SEARCH_PARAMETERS = ("search", "q")  # the first given wins
ACCOUNT_PARAMETERS = ("created_by", "updated_by", "owner_id")  # user UUIDs, looked up as account ids
_HEX = frozenset("0123456789abcdefABCDEF")
EXAMPLE_UUID = "98d91cd7-860d-4869-937a-5af32eff2f4a"


def one_of(values):
    """pydantic's sentence for an enum or a literal: Input should be 'a', 'b' or 'c'."""
    quoted = [f"'{value}'" for value in values]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"Input should be {listed}"


# --- parameters -----------------------------------------------------------------------------------------


class PydanticRange(validate.Range):
    """Range (documented as minimum/maximum) with pydantic's sentences."""

    def __call__(self, value):
        if self.min is not None and value < self.min:
            raise ValidationError(f"Input should be greater than or equal to {self.min}")
        if self.max is not None and value > self.max:
            raise ValidationError(f"Input should be less than or equal to {self.max}")
        return value


class PydanticMaxLength(validate.Length):
    """Length (documented as maxLength) with pydantic's sentence."""

    def __call__(self, value):
        if self.max is not None and len(value) > self.max:
            raise ValidationError(f"String should have at most {self.max} characters")
        return value


class PydanticChoice(validate.OneOf):
    """OneOf (documented as enum) with pydantic's sentence."""

    def __init__(self, choices):
        super().__init__(choices, error=one_of(choices))


class PlatformInteger(fields.Integer):
    default_error_messages = {"invalid": "Input should be a valid integer, unable to parse string as an integer"}

    def __init__(self, least, most, **kwargs):
        super().__init__(validate=PydanticRange(least, most), **kwargs)


class PlatformUUID(Text):
    """A UUID in any form Python reads (hyphenated, 32 hex digits, braces, urn:uuid:) → canonical lower-case text."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata = {**self.metadata, "format": "uuid"}
        self.metadata.pop("pattern", None)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError:
            digits = text.replace("-", "")
            bad = next((character for character in digits if character not in _HEX), None)
            reason = (f"invalid character: found `{bad}`" if bad is not None
                      else f"invalid length: expected 32 hexadecimal digits, found {len(digits)}")
            raise ValidationError(f"Input should be a valid UUID, {reason}") from None


class PlatformDateTime(TimestampParameter):
    """An ISO 8601 date-time or date (no offset: UTC) → an aware UTC datetime, with pydantic's sentence.
    (pydantic would also read a number as seconds since the epoch: not accepted, as not documented.)"""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise ValidationError("Input should be a valid datetime or date, invalid format "
                                  "(e.g. 2023-05-06T00:00:00Z or 2023-05-06)") from None


def _uuid(description):
    return PlatformUUID(metadata={"description": description, "example": EXAMPLE_UUID})


def _moment(description):
    return PlatformDateTime(metadata={"description": description + " ISO 8601 date-time or date (no offset: UTC)."})


def _search(description):
    return Text(controls=MULTILINE, validate=[PydanticMaxLength(max=MAX_SEARCH_LENGTH),
                                              SearchTerms("Value error, at most {max} distinct words")],
                metadata={"description": f"{description} At most {MAX_SEARCH_TERMS} distinct words. An answer "
                          "the search's CPU budget cut short carries `X-Answer-Partial: search`."})


class PlatformListQuerySchema(Schema):
    """Query parameters of the platform's GET /workspaces. As FastAPI: unknown parameters are ignored, and a
    repeated one counts with its last value."""

    class Meta:
        unknown = EXCLUDE

    sort_by = Text(validate=PydanticChoice(list(SORT_BY)), metadata={
        "description": "The field to sort by: identifier, name, created_at (the default) or updated_at. "
        "Ties go by an internal id. Without sort_by and sort_order, a search sorts by relevance."})
    sort_order = Text(validate=PydanticChoice(SORT_ORDERS), metadata={
        "description": "Order of sorting: asc (ascending, from A to Z; the default) or desc (descending)."})
    id = _uuid("Filter data by its id (the workspace's UUID).")
    created_by = _uuid("Filter data by the user (UUID) who created them.")
    updated_by = _uuid("Filter data by the user (UUID) who last updated them.")
    workspace_type = Text(validate=PydanticChoice(WORKSPACE_TYPES), metadata={
        "description": "single_user: exactly one member; multi_user: two or more."})
    owner_id = _uuid("Filter data by owner ID: workspaces this user (UUID) owns.")
    created_at_from = _moment("Filter data that were created at or after this time (inclusive).")
    created_at_to = _moment("Filter data that were created before this time (exclusive).")
    updated_at_from = _moment("Filter data that were updated at or after this time (inclusive).")
    updated_at_to = _moment("Filter data that were updated before this time (exclusive).")
    search = _search("Fuzzy match data by id (a whole UUID), name (identifier or name) or description; "
                     "case-insensitive, every whitespace-separated term must match. Blank: no search.")
    q = _search("Another name of `search` (used when `search` is not given).")
    page = PlatformInteger(1, MAX_PAGE, metadata={"description": "The page number to retrieve (from 1)."})
    page_size = PlatformInteger(1, MAX_PAGE_SIZE, metadata={
        "description": f"The number of items to retrieve per page (1-{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE})."})

    @pre_load
    def last_of_repeated(self, data, **kwargs):
        """`page=1&page=2` reads as page=2, as FastAPI reads a repeated single-valued parameter."""
        multidict = getattr(data, "data", data)
        if hasattr(multidict, "getlist"):
            return {name: multidict.getlist(name)[-1] for name in multidict}
        return data


class PlatformHeadersSchema(Schema):
    """The header of the platform's API version; every other header is not read here."""

    class Meta:
        unknown = EXCLUDE

    api_version = Text(data_key=API_VERSION_HEADER, load_default=API_VERSIONS[0],
                       validate=PydanticChoice(API_VERSIONS),
                       metadata={"description": "Your API version: only v1 (the default) is served; any other "
                                 "value is a 422 naming the supported one. Answers carry `X-API-Version: v1`."})

    @post_load
    def version(self, data, **kwargs):
        return data["api_version"]


def account_uuids(data):
    """The user UUIDs of the parameters, to look up as account ids."""
    return [data[name] for name in ACCOUNT_PARAMETERS if name in data]


def _as_uuid(text):
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def to_list_query(data, account_ids):
    """The ListQuery of the loaded parameters, with `account_ids` ({user UUID: account id}) for the user
    filters; None when nothing can match (a user that does not exist, or two different workspace ids)."""
    if any(data[name] not in account_ids for name in ACCOUNT_PARAMETERS if name in data):
        return None
    search = next((data[name] for name in SEARCH_PARAMETERS if name in data), "").strip() or None
    workspace_uuid = data.get("id")
    if search is not None and _as_uuid(search) is not None:
        # a whole UUID searches by id (the search document holds names and descriptions, not ids)
        if workspace_uuid not in (None, _as_uuid(search)):
            return None
        workspace_uuid, search = _as_uuid(search), None
    workspace_type = data.get("workspace_type")
    owner = data.get("owner_id")
    filters = Filters(
        uuid=workspace_uuid,
        created_by=account_ids.get(data.get("created_by")),
        updated_by=account_ids.get(data.get("updated_by")),
        members=((account_ids[owner], "owner"),) if owner else (),
        sole_member=None if workspace_type is None else workspace_type == "single_user",
        created_after=data.get("created_at_from"),
        created_before=data.get("created_at_to"),
        updated_after=data.get("updated_at_from"),
        updated_before=data.get("updated_at_to"),
    )
    if search is None or "sort_by" in data or "sort_order" in data:
        sort = (SortKey(SORT_BY[data.get("sort_by", DEFAULT_SORT_BY)], data.get("sort_order") == "desc"),)
    else:
        sort = ()  # by relevance
    page_size = data.get("page_size", DEFAULT_PAGE_SIZE)
    return ListQuery(filters=filters, sort=sort, offset=(data.get("page", 1) - 1) * page_size, limit=page_size,
                     q=search)


# --- the answer ------------------------------------------------------------------------------------------


def pydantic_time(stored):
    """Stored text (2023-05-06T00:00:00.000Z) as pydantic writes a UTC datetime: no fraction when it is
    zero (2023-05-06T00:00:00Z), else six digits (2023-05-06T00:00:00.120000Z)."""
    whole, _, fraction = stored.rstrip("Z").partition(".")
    fraction = fraction.ljust(6, "0")[:6]
    return f"{whole}Z" if not fraction.strip("0") else f"{whole}.{fraction}Z"


class PydanticTime(fields.String):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata = {**self.metadata, "format": "date-time"}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else pydantic_time(value)


TIME_DESCRIPTION = "UTC, as pydantic writes it: a fraction of a second (six digits) only when non-zero."


def _uuid_out(description, **kwargs):
    return fields.String(required=True, metadata={"format": "uuid", "description": description,
                                                  "example": EXAMPLE_UUID}, **kwargs)


class PlatformWorkspaceSchema(Schema):
    """A workspace as the platform shows it; every key always present, in this order."""

    id = _uuid_out("The workspace's UUID (stable).")
    identifier = fields.String(required=True, metadata={"description": "Its fullname.", "example": "delay"})
    name = fields.String(required=True, metadata={"description": "Its title, or its fullname where it has none.",
                                                  "example": "Delay Technologies"})
    owner_id = _uuid_out("The UUID of its longest-standing owner.", allow_none=True)
    workspace_type = fields.String(required=True, validate=validate.OneOf(WORKSPACE_TYPES), metadata={
        "description": "single_user: exactly one member; multi_user: two or more.", "example": "multi_user"})
    domain_name = fields.String(required=True, allow_none=True, metadata={
        "description": "Its `domain_name` attribute (seed files set it), or null.", "example": "d3lay.com"})
    created_at = PydanticTime(required=True, metadata={"description": TIME_DESCRIPTION})
    updated_at = PydanticTime(required=True, metadata={"description": TIME_DESCRIPTION})
    created_by = _uuid_out("The UUID of the user who created it (null if that account is gone).", allow_none=True)
    updated_by = _uuid_out("The UUID of the user who last changed it (null if that account is gone).",
                           allow_none=True)


# --- errors ----------------------------------------------------------------------------------------------

DETAIL_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What went wrong."}},
    "description": "An error, as FastAPI answers an HTTPException.",
}
VALIDATION_ITEM_SCHEMA = {
    "type": "object",
    "required": ["type", "loc", "msg"],
    "properties": {
        "type": {"type": "string", "description": "pydantic's error type, e.g. uuid_parsing, int_parsing, "
                 "greater_than_equal, less_than_equal, datetime_from_date_parsing, enum, literal_error."},
        "loc": {"type": "array", "items": {"type": "string"}, "description": "Where: [\"query\", parameter] or "
                "[\"header\", \"x-api-version\"]."},
        "msg": {"type": "string"},
        "input": {"type": "string", "description": "The value that was refused, as it was sent."},
    },
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": VALIDATION_ITEM_SCHEMA}},
    "description": "Invalid parameters, as FastAPI answers them (HTTPValidationError).",
}
