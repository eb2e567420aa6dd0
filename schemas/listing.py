"""The query parameters of GET /workspaces, read into a services.listing.ListQuery, and its Link header."""
import math
import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from wsserver.queries import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEARCH_TERMS, SORT_FIELDS, Filters, ListQuery, SortKey

from .common import MULTILINE, MULTILINE_REFUSED, SINGLE_LINE_REFUSED, SearchTerms, Text, level_field

# Far beyond any real page, and small enough for SQLite's 64-bit OFFSET.
MAX_POSITION = 2**31 - 1
MAX_TAG_FILTERS = 50
MAX_LABEL_FILTERS = 50
MAX_Q_LENGTH = 200
OFFSET_STYLE = ("limit", "offset")
PAGE_STYLE = ("page", "page_size")

_SORT_FIELD = "(?:" + "|".join(SORT_FIELDS) + ")"
_SORT_KEY = f"(?:-?{_SORT_FIELD}|{_SORT_FIELD}:(?:asc|desc))"
_SORT_KEYS = f"{_SORT_KEY}(?:,{_SORT_KEY})*"
# key: a label key (no control characters); value: a label value (tab and line breaks allowed)
LABEL_PATTERN = f"^[^:{SINGLE_LINE_REFUSED}]{{1,64}}:[^{MULTILINE_REFUSED}]{{0,256}}$"


class SortParameter(Text):
    """`fullname,-created_at,title:desc` → (SortKey, ...); a field named again adds nothing."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(_SORT_KEYS, text):
            raise ValidationError(
                f"Use comma-separated keys among {', '.join(SORT_FIELDS)}, each as field, -field, "
                "field:asc or field:desc (no spaces)."
            )
        keys, seen = [], set()
        for item in text.split(","):
            name, _, direction = item.lstrip("-").partition(":")
            if name not in seen:
                seen.add(name)
                keys.append(SortKey(name, item.startswith("-") or direction == "desc"))
        return tuple(keys)


class LabelParameter(Text):
    """`key:value` → (key, value); the first colon separates them. The rules of stored labels apply."""

    def __init__(self, **kwargs):
        super().__init__(controls=MULTILINE, **kwargs)
        self.key_field = Text()

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        key, colon, label_value = text.partition(":")
        if not colon or not key:
            raise ValidationError("Must be key:value (a non-empty key, a colon, a value).")
        if len(key) > 64 or len(label_value) > 256:
            raise ValidationError("Label keys have at most 64 characters, values at most 256.")
        self.key_field.deserialize(key)
        return key, label_value


class TimestampParameter(fields.DateTime):
    """ISO 8601 date or date-time → an aware UTC datetime; naive means UTC."""

    # A '+' of a UTC offset that the client did not percent-encode arrives as a space.
    _UNENCODED_PLUS = re.compile(r"(T[\d:.,]+) (\d\d(?::?\d\d)?)$")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid ISO 8601 date-time.")
        # RFC 3339 allows a lower-case t and z
        text = self._UNENCODED_PLUS.sub(r"\1+\2", value.strip().upper())
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                "Not a valid ISO 8601 date-time (e.g. 2026-11-22T04:31:51.047Z or 2026-11-22)."
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            # before year 1 or after 9999 in UTC: as a bound, the first or last representable moment
            earliest = moment.replace(tzinfo=None) < datetime(5000, 1, 1)
            return (datetime.min if earliest else datetime.max).replace(tzinfo=timezone.utc)


class TrueFalse(fields.Boolean):
    """Exactly `true` or `false`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in ("true", "false"):
            raise ValidationError("Must be true or false.")
        return value == "true"


def _timestamp(description):
    return TimestampParameter(metadata={"description": description})


class ListQuerySchema(Schema):
    """Query parameters of GET /workspaces. Unknown parameters, repeated single ones and bad values: 422."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Page length (1–{MAX_LIMIT}, default {DEFAULT_LIMIT}). Not with page/page_size."},
    )
    offset = fields.Integer(
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "Matches to skip (default 0). Not with page/page_size."},
    )
    page = fields.Integer(
        validate=validate.Range(1, MAX_POSITION),
        metadata={"description": "Page number, from 1. Not with limit/offset."},
    )
    page_size = fields.Integer(
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Page length (1–{MAX_LIMIT}, default {DEFAULT_LIMIT}). Not with limit/offset."},
    )
    sort = SortParameter(
        metadata={
            "description": f"Comma-separated keys among {', '.join(SORT_FIELDS)}: `field` or `field:asc` "
            "ascending, `-field` or `field:desc` descending. Ties go by id. Default: fullname, "
            "or relevance when q is given.",
            "pattern": f"^{_SORT_KEYS}$",
        }
    )
    # no control characters but whitespace (the full-text engine would read a NUL as the end of the query)
    q = Text(
        controls=MULTILINE,
        validate=[validate.Length(max=MAX_Q_LENGTH), SearchTerms("At most {max} distinct whitespace-separated terms.")],
        metadata={
            "description": "Fuzzy, case-insensitive search over fullname, title, tags and label values; "
            f"every whitespace-separated term must match (as a substring or a close misspelling of a word). "
            f"At most {MAX_SEARCH_TERMS} distinct terms (422 beyond). A search has a CPU budget: an answer "
            "it cut short carries the header `X-Answer-Partial: search` (the matches found until then). "
            "Blank means no search."
        },
    )
    tag = fields.List(
        Text(validate=validate.Length(1, 64)),
        validate=validate.Length(max=MAX_TAG_FILTERS),
        metadata={"description": "Has this tag (exact). Repeat for several: all must match."},
    )
    label = fields.List(
        LabelParameter(metadata={"pattern": LABEL_PATTERN}),
        validate=validate.Length(max=MAX_LABEL_FILTERS),
        metadata={"description": "`key:value`: has this label (exact). Repeat for several: all must match."},
    )
    created_by = Text(
        validate=validate.Length(1, 64), metadata={"description": "Account id of the creator."}
    )
    created_after = _timestamp("Created at or after this time (inclusive). ISO 8601; no offset means UTC.")
    created_before = _timestamp("Created before this time (exclusive). ISO 8601; no offset means UTC.")
    updated_after = _timestamp("Updated at or after this time (inclusive). ISO 8601; no offset means UTC.")
    updated_before = _timestamp("Updated before this time (exclusive). ISO 8601; no offset means UTC.")
    level = level_field(
        metadata={"description": "The caller's level in the workspace is at least this one (owner > admin > developer > user)."},
    )
    all = TrueFalse(
        metadata={"description": "true: every workspace of the instance (instance admins only, else 403)."}
    )
    include_archived = TrueFalse(
        metadata={"description": "true: archived workspaces too (left out by default); `archivedAt` tells them apart."}
    )

    @pre_load
    def refuse_repeated(self, data, **kwargs):
        """`limit=1&limit=2` is ambiguous: only list parameters may repeat."""
        multidict = getattr(data, "data", None)
        if hasattr(multidict, "getlist"):
            repeated = {
                name: ["Give this parameter once."]
                for name in multidict
                if name in self.fields
                and not isinstance(self.fields[name], fields.List)
                and len(multidict.getlist(name)) > 1
            }
            if repeated:
                raise ValidationError(repeated)
        return data

    @validates_schema
    def one_paging_style(self, data, **kwargs):
        offset_style = [name for name in OFFSET_STYLE if name in data]
        page_style = [name for name in PAGE_STYLE if name in data]
        if offset_style and page_style:
            message = "Use either limit/offset or page/page_size, not both."
            raise ValidationError({name: [message] for name in offset_style + page_style})

    @post_load
    def to_list_query(self, data, **kwargs):
        if "page" in data or "page_size" in data:
            limit = data.get("page_size", DEFAULT_LIMIT)
            offset = (data.get("page", 1) - 1) * limit
        else:
            limit = data.get("limit", DEFAULT_LIMIT)
            offset = data.get("offset", 0)
        filters = Filters(
            tags=tuple(dict.fromkeys(data.get("tag", ()))),
            labels=tuple(dict.fromkeys(data.get("label", ()))),
            created_by=data.get("created_by"),
            created_after=data.get("created_after"),
            created_before=data.get("created_before"),
            updated_after=data.get("updated_after"),
            updated_before=data.get("updated_before"),
            level=data.get("level"),
        )
        return ListQuery(
            filters=filters,
            sort=data.get("sort", ()),
            offset=offset,
            limit=limit,
            q=(data.get("q") or "").strip() or None,
            all=data.get("all", False),
            include_archived=data.get("include_archived", False),
        )


def paging_links(base_url, args, query, total, shown=None):
    """RFC 8288 Link value (first, prev, next, last) for this page, keeping every other query parameter.

    `args` is the request's query multidict; links use the paging style the
    client used (page/page_size, else limit/offset). `shown`: the items the page
    holds when the answer budget ended it early (fewer than the limit); `next`
    then follows on from the last of them, in limit/offset style whatever the
    client used (a page number cannot say where).
    """
    kept = [(name, value) for name, value in args.items(multi=True) if name not in OFFSET_STYLE + PAGE_STYLE]
    page_style = any(name in args for name in PAGE_STYLE)
    limit, offset = query.limit, query.offset
    cut = shown is not None and shown < limit and offset + shown < total

    def link(position, relation):
        if page_style and not (cut and relation == "next"):
            paging = [("page", position // limit + 1), ("page_size", limit)]
        else:
            paging = [("limit", limit), ("offset", position)]
        return f'<{base_url}?{urlencode(kept + paging)}>; rel="{relation}"'

    if total > offset:
        # the last page of the walk from this offset in steps of `limit`
        last = offset + (math.ceil((total - offset) / limit) - 1) * limit
    else:
        last = (max(total - 1, 0) // limit) * limit
    links = [link(0, "first")]
    if offset > 0:
        links.append(link(max(offset - limit, 0), "prev"))
    if cut:
        links.append(link(offset + shown, "next"))
    elif offset + limit < total:
        links.append(link(offset + limit, "next"))
    links.append(link(last, "last"))
    return ", ".join(links)
