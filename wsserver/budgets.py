"""What one request costs, and what it may cost (README, Reliability: "Budgets and quotas").

A request's cost ledger lives in a context variable, set when the request starts
(http/hooks.start_request) and read when its answer leaves (http/hooks.finish_request):

- the CPU time of the request's thread since it started, which every answer reports
  as `Server-Timing: cpu;dur=<ms>` (what budget tests and operators read; wall time
  on a shared machine says little);
- what was cut short to stay within a budget: a service that stops early calls
  `cut_short(reason)` and the answer carries `X-Answer-Partial: <reason>[, ...]`
  (`search`: the search's time budget ran out, the matches are those found so far;
  `page`: the page reached WSSERVER_MAX_ANSWER_BYTES and ends early, its next link
  leading on from the last item shown).

This module imports nothing of wsserver or Flask: services, storage and the HTTP edge
may all use it. Outside a request (the admin commands, tests calling services) the
ledger is absent and `cut_short` does nothing.
"""
import contextvars
import time

PARTIAL_HEADER = "X-Answer-Partial"
TIMING_HEADER = "Server-Timing"
SEARCH, PAGE = "search", "page"

_ledger = contextvars.ContextVar("wsserver_request_cost", default=None)


class Ledger:
    """The cost of one request so far."""

    __slots__ = ("cpu_started", "cut")

    def __init__(self):
        self.cpu_started = time.thread_time()
        self.cut = []

    def cpu_ms(self):
        return (time.thread_time() - self.cpu_started) * 1000


def start_request():
    """A new ledger for the request starting on this thread."""
    _ledger.set(Ledger())


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
    headers = {TIMING_HEADER: f"cpu;dur={ledger.cpu_ms():.2f}"}
    if ledger.cut:
        headers[PARTIAL_HEADER] = ", ".join(ledger.cut)
    return headers
