"""A listing query as plain values: what every wire dialect builds from its parameters and
services/listing.py answers (`list_workspaces(account, ListQuery(...))`).

The wire schemas build these and the listing service reads them; both may import this
module, which imports nothing of wsserver.
"""
from dataclasses import dataclass, field
from datetime import datetime

# name: the title, or the fullname where there is none (case-insensitive); level: the caller's level in it.
SORT_FIELDS = ("fullname", "title", "created_at", "updated_at", "name", "views", "level")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# A search (`q`, a flavor's `search`) holds at most this many distinct terms: more is refused (422, or
# the flavor's own shape), since each term is one more condition to test on every candidate
# (services/search.py: its ceiling).
MAX_SEARCH_TERMS = 16
TOO_MANY_SEARCH_TERMS = f"At most {MAX_SEARCH_TERMS} distinct whitespace-separated terms."


def search_terms(q):
    """The lower-cased, whitespace-separated terms of q, each once, in order."""
    if not q:
        return []
    return list(dict.fromkeys(q.lower().split()))


def too_many_search_terms(q):
    """Whether q holds more terms than a search takes (MAX_SEARCH_TERMS)."""
    return len(search_terms(q)) > MAX_SEARCH_TERMS


@dataclass(frozen=True)
class SortKey:
    field: str  # one of SORT_FIELDS
    descending: bool = False


BY_NAME = (SortKey("fullname"),)  # the default order


@dataclass(frozen=True)
class Filters:
    """Every filter must hold. Bounds are aware datetimes: `*_after` inclusive, `*_before` exclusive."""

    tags: tuple[str, ...] = ()  # has every one of these tags (exact)
    labels: tuple[tuple[str, str], ...] = ()  # has every (key, value) label (exact)
    created_by: str | None = None  # account id
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    level: str | None = None  # the caller's level in it is at least this (a permissions.LEVELS name)
    # Added for the flavors (wsserver/flavors), open to every dialect:
    visibility: str | None = None  # one of fields.VISIBILITIES
    updated_by: str | None = None  # account id
    uuid: str | None = None  # the workspace's UUID (as other dialects show its id)
    name: str | None = None  # its name (the title, or the fullname where there is none), case-insensitive
    organization: str | None = None  # Organization.id
    sole_member: bool | None = None  # True: exactly one member; False: two or more
    # (attribute, value): a top-level attribute equals value, holds it in its list, or has it as "id"
    # (storage.index writes these pairs; values compared as text)
    attributes: tuple[tuple[str, str], ...] = ()
    # (account id, least level or None): that account is a member (at that level or higher)
    members: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class ListQuery:
    filters: Filters = field(default_factory=Filters)
    sort: tuple[SortKey, ...] = ()  # empty: by relevance when q is given, else by fullname
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    q: str | None = None
    all: bool = False  # every workspace of the instance, not only the caller's
    include_archived: bool = False  # archived workspaces too (left out by default)
    # workspaces in the trash too (left out by default): those the caller may restore (permissions.SEES_TRASH),
    # every one for instance admins
    include_deleted: bool = False
