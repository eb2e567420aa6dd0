"""Pages within WSSERVER_MAX_ANSWER_BYTES (README, Reliability: "Budgets and quotas").

A list answer is built from a page of items; before it is serialized, `fitting`
counts how many of the leading items fit in the budget, so an answer never grows
past it whatever the stored data (an engineering page of workspaces that each
carry a 1 MB image, a native page of 500 workspaces full of the longest labels).
The dialect then shows those items and sets its next link to follow on from the
last one shown; budgets.fit marks the answer `X-Answer-Partial: page`.

Ordinary pages cost nothing extra: when a cheap upper bound of every item's size
(`bound`, from the stored text's length) already fits, no item is measured; only
then is each item's view serialized to count its bytes.
"""
from flask import current_app

from .. import budgets

def answer_budget():
    return current_app.config["MAX_ANSWER_BYTES"]


def json_size(value):
    """Bytes of `value` in the app's JSON."""
    return len(current_app.json.dumps(value).encode("utf-8"))


def fitting(items, view, bound=None, largest=None, budget=None, reason=budgets.PAGE):
    """How many of the leading `items` fit in the answer budget, each shown as `view(item)`.

    `largest`, when given, is the most bytes any item can take: a page of so few that even the
    largest would fit costs nothing more. `bound(item)`, when given, is an upper bound of one item's
    bytes that costs no serialization: when the bounds add up to the budget or less, every item fits
    without being measured. Fewer than all: the answer is marked cut short for `reason` (None: not
    marked)."""
    budget = answer_budget() if budget is None else budget
    if largest is not None and len(items) * largest <= budget:
        return len(items)
    if bound is not None and sum(map(bound, items)) <= budget:
        return len(items)
    return budgets.fit(items, lambda item: json_size(view(item)) + 1, budget, reason)  # + 1: the comma between items



def lightened_to_fit(items, view, lighten, extra_bytes, reason):
    """Every item within the answer budget, its heavy part giving way first (`lighten(item)`: the item
    without it, shown as null; `extra_bytes(item)`: what the part adds to the item's JSON). For
    dialects whose clients page by offset += limit and never read `next`, so that a shorter page would
    make them skip the rest silently: the heavy parts that would pass the budget are null, marked
    `X-Answer-Partial: <reason>`. Only a page too large even without them ends early (`page`)."""
    budget = answer_budget()
    bare = [lighten(item) for item in items]
    sizes = [json_size(view(item)) + 1 for item in bare]  # + 1: the comma between items
    shown = budgets.fit(sizes, int, budget)  # marks the answer `page` when not all fit
    room = budget - sum(sizes[:shown])
    kept = []
    for item, without in zip(items[:shown], bare[:shown]):
        extra = extra_bytes(item)
        if extra <= room:
            room -= extra
            kept.append(item)
        else:
            kept.append(without)
            budgets.cut_short(reason)
    return kept
