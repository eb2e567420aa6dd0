"""What the listing reads besides the workspace row, written by whoever writes a workspace.

For each workspace: one `workspace_tag` row per tag, one `workspace_label`
row per label and one `workspace_attribute` row per attribute_pairs() pair
(so tag, label and attribute filters use an index), and its search
document in the engine's search index. Call `write(workspaces)` after
inserting or changing a workspace's name, title, tags or labels, and
`forget(ids)` before deleting workspaces, in the same transaction. (Deleting
a workspace removes its tag and label rows by ON DELETE CASCADE.)

The search document is the workspace's fullname, title, tags and label
values, lower-cased (Python's str.lower), one per line: the text in which
`q` terms are looked up as substrings, on every engine. Since schema version 6
the description is in it too (after the title).
"""
import json

from .db import database, engine
from .models import Workspace, WorkspaceAttribute, WorkspaceLabel, WorkspaceTag

# Rows per INSERT (SQLite's limit on bound values is 32,766; PostgreSQL's 65,535).
_BATCH = 500


INDEXED_COLUMNS = (
    Workspace.id, Workspace.fullname, Workspace.title, Workspace.description, Workspace.tags, Workspace.labels,
    Workspace.attributes,
)
# Written by whoever changes one of these columns (services.workspaces).
INDEXED_FIELDS = frozenset(column.name for column in INDEXED_COLUMNS) - {"id", "fullname"}
ATTRIBUTE_NAME_MAX, ATTRIBUTE_VALUE_MAX = 64, 256


def search_document(fullname, title, tags, labels, description=None):
    parts = [fullname, title or "", description or "", *tags, *labels.values()]
    return "\n".join(part.lower() for part in parts if part)


def attribute_pairs(attributes):
    """The (name, value) pairs an attribute filter finds a workspace by: for each top-level attribute,
    its value, each item of a list, and the "id" of an object (or of each object of a list), as text
    (JSON's spelling for true, false and numbers); longer names or values than the table holds are left out."""
    pairs = {}
    for name, value in (attributes or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                item = item.get("id")
            if item is None or isinstance(item, (dict, list)):
                continue
            text = item if isinstance(item, str) else json.dumps(item)
            if len(name) <= ATTRIBUTE_NAME_MAX and len(text) <= ATTRIBUTE_VALUE_MAX:
                pairs[(name, text)] = None
    return list(pairs)


# What each indexed field feeds: its side table (rewritten when it changes) and the search document.
_SIDE_TABLES = {"tags": WorkspaceTag, "labels": WorkspaceLabel, "attributes": WorkspaceAttribute}
_IN_SEARCH_DOCUMENT = frozenset({"title", "description", "tags", "labels"})


def write(workspaces, fresh=False, changed=INDEXED_FIELDS):
    """(Re)write the side rows and search documents of these Workspace instances.

    `fresh`: none of them has side rows yet (a rebuild after clearing), so nothing is deleted first.
    `changed`: the indexed fields that changed; only what they feed is rewritten (a new title
    rewrites the search document alone: a PUT's write transaction is that much shorter).
    """
    workspaces = list(workspaces)
    tables = [(name, table) for name, table in _SIDE_TABLES.items() if name in changed]
    for start in range(0, len(workspaces), _BATCH):
        batch = workspaces[start:start + _BATCH]
        if not fresh:
            ids = [workspace.id for workspace in batch]
            for _, table in tables:
                table.delete().where(table.workspace.in_(ids)).execute()
        rows_of = {
            "tags": lambda: [{"workspace": w.id, "tag": tag} for w in batch for tag in dict.fromkeys(w.tags or ())],
            "labels": lambda: [{"workspace": w.id, "key": k, "value": v} for w in batch for k, v in (w.labels or {}).items()],
            "attributes": lambda: [{"workspace": w.id, "name": name, "value": value}
                                   for w in batch for name, value in attribute_pairs(w.attributes)],
        }
        for name, table in tables:
            rows = rows_of[name]()
            for first in range(0, len(rows), _BATCH):
                table.insert_many(rows[first:first + _BATCH]).execute()
        if fresh or changed & _IN_SEARCH_DOCUMENT:
            engine().write_search(database, {
                w.id: search_document(w.fullname, w.title, w.tags or (), w.labels or {}, w.description) for w in batch
            })


def forget(workspace_ids):
    """Remove these workspaces from the search index (their side rows go with the rows themselves)."""
    workspace_ids = list(workspace_ids)
    for start in range(0, len(workspace_ids), _BATCH):
        engine().forget_search(database, workspace_ids[start:start + _BATCH])


def clear():
    """Empty the search index (before every workspace is deleted)."""
    engine().clear_search(database)


def rebuild():
    """Index every workspace again, in batches (migrations; repairs; bulk loads).

    Everything is cleared first, so the batches only insert: deleting per batch inside one long
    transaction made PostgreSQL scan the growing side tables each time (no statistics yet).
    """
    WorkspaceTag.delete().execute()
    WorkspaceLabel.delete().execute()
    WorkspaceAttribute.delete().execute()
    clear()
    last = ""
    while True:
        batch = list(Workspace.select(*INDEXED_COLUMNS).where(Workspace.id > last).order_by(Workspace.id).limit(_BATCH))
        if not batch:
            return
        write(batch, fresh=True)
        last = batch[-1].id
