"""What one request costs, and what it may cost (README, Reliability: "Budgets and quotas").

A request's cost ledger lives in a context variable, set when the request starts
(http/hooks.start_request) and read when its answer leaves (http/hooks.finish_request):

- with WSSERVER_SERVER_TIMING on, the CPU time of the request's thread since it started, which
  the answer reports as `Server-Timing: cpu;dur=<ms>` (what budget tests and operators read; wall
  time on a shared machine says little). Off by default: reading a thread's CPU clock is a system
  call, which cost a short request ~20 % of its CPU where that call is slow (a sandbox's kernel);
- what was cut short to stay within a budget: a service that stops early calls
  `cut_short(reason)` and the answer carries `X-Answer-Partial: <reason>[, ...]`
  (`search`: the search's time budget ran out, the matches are those found so far;
  `page`: the page reached WSSERVER_MAX_ANSWER_BYTES and ends early, its next link
  leading on from the last item shown; `image`: the engineering flavor showed `image: null`
  for the items whose images would have passed it, keeping every item of the page).

This module imports nothing of wsserver or Flask: services, storage and the HTTP edge
may all use it. Outside a request (the admin commands, tests calling services) the
ledger is absent and `cut_short` does nothing.
"""
import contextvars
import time

PARTIAL_HEADER = "X-Answer-Partial"
TIMING_HEADER = "Server-Timing"
SEARCH, PAGE, IMAGE, BOUNDING_BOX = "search", "page", "image", "bounding_box"
# The most bytes one character of stored text takes in the app's JSON (http/json.py writes UTF-8,
# not \u escapes: 4 bytes at most; a control character is written as a 6-byte \u00XX escape).
JSON_BYTES_PER_CHARACTER = 6

_ledger = contextvars.ContextVar("wsserver_request_cost", default=None)


class Ledger:
    """The cost of one request so far (its CPU clock read only when `timed`)."""

    __slots__ = ("cpu_started", "cut")

    def __init__(self, timed=False):
        self.cpu_started = time.thread_time() if timed else None
        self.cut = []

    def cpu_ms(self):
        return (time.thread_time() - self.cpu_started) * 1000


def start_request(timed=False):
    """A new ledger for the request starting on this thread (`timed`: its CPU time is reported)."""
    _ledger.set(Ledger(timed))


def current():
    """This request's ledger, or None outside a request."""
    return _ledger.get()


def cut_short(reason):
    """Record that this request's answer was cut short by a budget (SEARCH or PAGE)."""
    ledger = _ledger.get()
    if ledger is not None and reason not in ledger.cut:
        ledger.cut.append(reason)


def answer_headers():
    """The budget headers of the answer now leaving: CPU time, and what was cut short."""
    ledger = _ledger.get()
    if ledger is None:
        return {}
    headers = {} if ledger.cpu_started is None else {TIMING_HEADER: f"cpu;dur={ledger.cpu_ms():.2f}"}
    if ledger.cut:
        headers[PARTIAL_HEADER] = ", ".join(ledger.cut)
    return headers


def fit(items, size_of, budget, reason=PAGE):
    """How many of the leading items fit in `budget` bytes, their sizes given by `size_of(item)`;
    at least one (a page always makes progress: the setting's floor leaves room for the largest item).
    When fewer than all fit, the answer is marked cut short (`reason`; None: the caller decides)."""
    used = 0
    for shown, item in enumerate(items):
        used += size_of(item)
        if used > budget and shown:
            if reason is not None:
                cut_short(reason)
            return shown
    return len(items)

