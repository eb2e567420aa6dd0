"""Listing workspaces: visibility, filters, fuzzy search, sort and paging.

One function, `list_workspaces(account, query)`, over a plain description of
the query (wsserver/queries.py's `ListQuery`), so any wire dialect can sit in front of it. The
rules of `q` (what matches, in what order) are in services/search.py.
"""
from dataclasses import replace
from datetime import timedelta, timezone

from peewee import SQL, fn

from ..storage.db import PreparedSelect
from ..errors import Forbidden
from ..ids import format_time
from ..storage.models import AclEntry, Workspace, WorkspaceAttribute, WorkspaceLabel, WorkspaceTag
from ..permissions import LEVELS, SEES_TRASH, may_list_all
from ..queries import BY_NAME, Filters, ListQuery
from .search import search, search_terms

def list_workspaces(account, query):
    """(the page of Workspace rows, the number of matches before paging)."""
    if query.all and not may_list_all(account):
        raise Forbidden("Only instance admins may list every workspace (all=true).")
    if not search_terms(query.q):
        page, count, values = _prepared_listing(account.id, _with_stored_values(query))
        return page.all(*values), count.scalar(*values)
    # with q, the SQL holds patterns made from the terms' text: written anew each time
    page, count = build_queries(account, query)
    return list(page), count.scalar()


def build_queries(account, query):
    """The page query and the count query of `query` (tests and the benchmark read their plans).

    With q, services/search.py is the rule: `search` gives the condition (every term a substring
    of the workspace's search document, or one of the close misspellings looked up first) and the
    relevance order (unless a sort is given).
    """
    stored = _with_stored_values(query)
    terms = search_terms(query.q)
    if not terms:
        return _queries(account.id, stored)
    match, ranking = search(terms, _search_within(account.id, stored))
    return _queries(account.id, stored, match, ranking)


# --- listing without q: its SQL written once per shape (storage.db.PreparedSelect) ----------------

_OPTIONAL_FILTERS = (
    "created_by", "created_after", "created_before", "updated_after", "updated_before", "level", "visibility",
    "updated_by", "uuid", "name", "organization", "sole_member",
)
_PREPARED = {}  # shape -> (page, count)
MAX_PREPARED_SHAPES = 256


def _prepared_listing(account_id, stored):
    """The prepared page and count queries of this query's shape, and the values to run them with.

    The shape is what changes the SQL: all, the sort, how many tags and labels, which optional
    filters are given. `_values` lists a query's values in a fixed order; `_template` puts
    markers back in the same places to write the SQL once.
    """
    filters = stored.filters
    present = tuple(getattr(filters, name) is not None for name in _OPTIONAL_FILTERS)
    shape = (stored.all, stored.include_archived, stored.include_deleted, stored.sort, len(filters.tags),
             len(filters.labels), len(filters.attributes), len(filters.members), present)
    prepared = _PREPARED.get(shape)
    if prepared is None:
        pairs = len(filters.labels) + len(filters.attributes) + len(filters.members)
        arity = 3 + len(filters.tags) + 2 * pairs + sum(present)

        def build(which):
            return lambda *markers: _queries(*_template(shape, markers))[which]

        prepared = (PreparedSelect(Workspace, build(0), arity), PreparedSelect(Workspace, build(1), arity))
        if len(_PREPARED) >= MAX_PREPARED_SHAPES:
            _PREPARED.clear()
        _PREPARED[shape] = prepared
    return (*prepared, _values(account_id, stored))


def _values(account_id, stored):
    filters = stored.filters
    optional = [getattr(filters, name) for name in _OPTIONAL_FILTERS if getattr(filters, name) is not None]
    pairs = [part for pair in (*filters.labels, *filters.attributes, *filters.members) for part in pair]
    return [account_id, stored.offset, stored.limit, *filters.tags, *pairs, *optional]


def _template(shape, markers):
    """(account id, query) of this shape with the markers where _values takes the values from."""
    all_flag, include_archived, include_deleted, sort, tag_count, label_count, attribute_count, member_count, \
        present = shape
    taken = iter(markers)
    account_id, offset, limit = next(taken), next(taken), next(taken)
    tags = tuple(next(taken) for _ in range(tag_count))
    labels, attributes, members = (
        tuple((next(taken), next(taken)) for _ in range(count)) for count in (label_count, attribute_count, member_count)
    )
    optional = {name: next(taken) if given else None for name, given in zip(_OPTIONAL_FILTERS, present)}
    filters = Filters(tags=tags, labels=labels, attributes=attributes, members=members, **optional)
    query = ListQuery(filters=filters, sort=sort, offset=offset, limit=limit, all=all_flag,
                      include_archived=include_archived, include_deleted=include_deleted)
    return account_id, query


def _queries(account_id, stored, match=None, ranking=()):
    """The page and count queries of a query with its values as stored (_with_stored_values):
    `match` narrows what it may see, `ranking` orders when no sort is given."""
    if match is None and _by_name_in_memberships(stored):
        return _page_and_count_by_name(account_id, stored)
    matches = _visible(account_id, stored)
    if match is not None:
        matches = matches.where(match)
    if stored.sort:
        order = _sort_order(stored.sort, account_id)
    elif ranking:
        order = [*ranking, Workspace.fullname, Workspace.id]
    else:
        order = _sort_order(BY_NAME, account_id)
    # Page over ids first (an index walk for deep offsets), then read only those rows.
    page_ids = matches.select(Workspace.id).order_by(*order).offset(stored.offset).limit(stored.limit)
    page = Workspace.select().where(Workspace.id.in_(page_ids)).order_by(*order)
    count = matches.select(fn.COUNT(SQL("*")))
    return page, count


def _search_within(account_id, query):
    """The ids misspellings are looked for among: what the query may see, filtered; None for all."""
    if not query.all or query.filters != Filters() or not query.include_archived or not query.include_deleted:
        return _visible(account_id, query).select(Workspace.id)
    return None


def _by_name_in_memberships(query):
    """The caller's own workspaces in name order, filtered at most by level: the most common listing."""
    filters = query.filters
    return (
        not query.all
        and len(query.sort) <= 1
        and all(key.field == "fullname" for key in query.sort)
        and filters == Filters(level=filters.level)
    )


def _page_and_count_by_name(account_id, query):
    """The page as one range of the (account, workspace_fullname, workspace) index, whatever the
    number of memberships; the count from the caller's entries alone."""
    descending = bool(query.sort) and query.sort[0].descending
    members = AclEntry.select(AclEntry.workspace).where(AclEntry.account == account_id)
    if not query.include_archived or not query.include_deleted:
        # per entry, the workspace row by its primary key: the walk stays in the index's order
        members = members.join(Workspace, on=(Workspace.id == AclEntry.workspace))
        if not query.include_archived:
            members = members.where(Workspace.archived_at.is_null())
        if not query.include_deleted:
            members = members.where(Workspace.deleted_at.is_null())
        else:
            members = members.where(Workspace.deleted_at.is_null() | (AclEntry.level >= SEES_TRASH))
    if query.filters.level is not None:
        members = members.where(AclEntry.level >= query.filters.level)
    order = (AclEntry.workspace_fullname, AclEntry.workspace)
    page_ids = (
        members.order_by(*(column.desc() if descending else column.asc() for column in order))
        .offset(query.offset)
        .limit(query.limit)
    )
    page = Workspace.select().where(Workspace.id.in_(page_ids)).order_by(*_sort_order(query.sort or BY_NAME, account_id))
    count = members.select(fn.COUNT(SQL("*")))
    return page, count


def _with_stored_values(query):
    """`query` with every value as it is compared in SQL: timestamps as stored text, level as its number."""
    filters = query.filters

    def optional(value, convert):
        return None if value is None else convert(value)

    return replace(
        query,
        filters=replace(
            filters,
            created_after=optional(filters.created_after, stored_timestamp),
            created_before=optional(filters.created_before, stored_timestamp),
            updated_after=optional(filters.updated_after, stored_timestamp),
            updated_before=optional(filters.updated_before, stored_timestamp),
            level=optional(filters.level, LEVELS.__getitem__),
            name=optional(filters.name, ascii_lower),
            # any member: at least the lowest level
            members=tuple((account_id, LEVELS[level or min(LEVELS, key=LEVELS.get)]) for account_id, level in filters.members),
        ),
    )


def _visible(account_id, query):
    """Workspaces the query may see, with its filters applied (values as _with_stored_values gives them)."""
    selected = Workspace.select()
    filters = query.filters
    if not query.include_archived:
        selected = selected.where(Workspace.archived_at.is_null())
    if not query.include_deleted:
        selected = selected.where(Workspace.deleted_at.is_null())
    elif not query.all:
        # the caller's own entry (joined below) says whether they may see it in the trash
        selected = selected.where(Workspace.deleted_at.is_null() | (AclEntry.level >= SEES_TRASH))
    if not query.all or filters.level is not None:
        # through the (account, workspace) index of AclEntry
        selected = selected.join(
            AclEntry, on=((AclEntry.account == account_id) & (AclEntry.workspace == Workspace.id))
        )
        if filters.level is not None:
            selected = selected.where(AclEntry.level >= filters.level)
    side_filters = [
        (WorkspaceTag, WorkspaceTag.tag == tag) for tag in filters.tags
    ] + [
        (WorkspaceLabel, (WorkspaceLabel.key == key) & (WorkspaceLabel.value == value))
        for key, value in filters.labels
    ] + [
        (WorkspaceAttribute, (WorkspaceAttribute.name == name) & (WorkspaceAttribute.value == value))
        for name, value in filters.attributes
    ]
    for position, (table, condition) in enumerate(side_filters):
        rows = table.select(table.workspace).where(condition)
        if query.all and position == 0:
            # Over the whole instance, let the first one (tags before labels such as env:prod,
            # which are rarely selective) drive through its index ...
            selected = selected.where(Workspace.id.in_(rows))
        else:
            # ... and check the others per row, as for the members' list (driven by the memberships).
            selected = selected.where(fn.EXISTS(rows.where(table.workspace == Workspace.id)))
    for member_id, least in filters.members:
        # another account's membership, through the (workspace, account) index
        member = AclEntry.alias()
        selected = selected.where(fn.EXISTS(member.select(member.id).where(
            (member.workspace == Workspace.id) & (member.account == member_id) & (member.level >= least))))
    for column, value in (
        (Workspace.created_by, filters.created_by), (Workspace.updated_by, filters.updated_by),
        (Workspace.visibility, filters.visibility), (Workspace.uuid, filters.uuid),
        (Workspace.organization_id, filters.organization),
    ):
        if value is not None:
            selected = selected.where(column == value)
    if filters.name is not None:
        selected = selected.where(_NAME == filters.name)
    if filters.sole_member is not None:
        # a second member, through the (workspace, account) index
        other, first = AclEntry.alias(), AclEntry.alias()
        lowest = first.select(fn.MIN(first.account)).where(first.workspace == Workspace.id)
        second = fn.EXISTS(other.select(other.id).where((other.workspace == Workspace.id) & (other.account > lowest)))
        # a bound value (the prepared query's SQL is the same for True and False): sole <=> no second member
        selected = selected.where(second != filters.sole_member)
    for column, after, before in (
        (Workspace.created_at, filters.created_after, filters.created_before),
        (Workspace.updated_at, filters.updated_after, filters.updated_before),
    ):
        if after is not None:
            selected = selected.where(column >= after)
        if before is not None:
            selected = selected.where(column < before)
    return selected


def stored_timestamp(moment):
    """An aware datetime as the stored text (ids.now_iso), rounded up to the millisecond.

    Stored times have millisecond precision, so rounding up keeps `>= bound`
    and `< bound` exact for bounds with finer precision.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # naive means UTC
    moment = moment.astimezone(timezone.utc)
    extra = moment.microsecond % 1000
    if extra:
        try:
            moment += timedelta(microseconds=1000 - extra)
        except OverflowError:  # the last millisecond of year 9999
            pass
    return format_time(moment)


def ascii_lower(text):
    """`text` with A-Z lower-cased and nothing else: what SQL lower() does on both engines (SQLite's is
    ASCII-only, and every PostgreSQL text column has the "C" collation)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# A workspace's name as other dialects show it: the title, or the fullname where there is none (lower-cased;
# the index workspace_name_sort serves it).
_NAME = fn.lower(fn.COALESCE(Workspace.title, Workspace.fullname))


def _caller_level(account_id):
    """The caller's level in the workspace of the row (-1 where they are not a member: the lowest)."""
    entry = AclEntry.alias()
    return fn.COALESCE(
        entry.select(entry.level).where((entry.workspace == Workspace.id) & (entry.account == account_id)), -1
    )


def _sort_order(keys, account_id):
    order = []
    for key in keys:
        if key.field in ("name", "level", "views"):
            # (the indexes workspace_name_sort and workspace_views_sort serve the first two)
            column = {"name": _NAME, "views": fn.COALESCE(Workspace.views, 0)}.get(key.field) or _caller_level(account_id)
            order.append(column.desc() if key.descending else column.asc())
        elif key.field == "title":
            # case-insensitive (ASCII); a workspace without a title sorts as the smallest
            column = fn.lower(Workspace.title)
            order.append(column.desc(nulls="LAST") if key.descending else column.asc(nulls="FIRST"))
        else:
            column = getattr(Workspace, key.field)
            order.append(column.desc() if key.descending else column.asc())
    # Ties go by id, in the direction of the last key, so one index serves a one-key sort.
    order.append(Workspace.id.desc() if keys[-1].descending else Workspace.id.asc())
    return order
