"""A listing query as plain values: what every wire dialect builds from its parameters and
services/listing.py answers (`list_workspaces(account, ListQuery(...))`).

The wire schemas build these and the listing service reads them; both may import this
module, which imports nothing of wsserver.
"""
from dataclasses import dataclass, field
from datetime import datetime

SORT_FIELDS = ("fullname", "title", "created_at", "updated_at")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


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


@dataclass(frozen=True)
class ListQuery:
    filters: Filters = field(default_factory=Filters)
    sort: tuple[SortKey, ...] = ()  # empty: by relevance when q is given, else by fullname
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    q: str | None = None
    all: bool = False  # every workspace of the instance, not only the caller's
    include_archived: bool = False  # archived workspaces too (left out by default)
