"""Schema fuzzing: schemathesis against the real server's own /openapi.json.

Every operation, every check (server errors, response schema conformance,
documented status codes and content types, auth, ...), as a workspace member
and as a non-member, with a fixed seed and a bounded number of examples in
CI. `make fuzz` runs the long form (WSSERVER_FUZZ_EXAMPLES, no fixed seed).
"""
import os
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest
import requests

from conftest import ADMIN_TOKEN, API, LiveServer, bearer

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.environ.get("WSSERVER_FUZZ_EXAMPLES", "12")
SEED = os.environ.get("WSSERVER_FUZZ_SEED", "20261122")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = LiveServer(str(tmp_path_factory.mktemp("fuzz") / "instance"),
                        # schemathesis tries wrong passwords for the same username on purpose: the
                        # login lock-out (tested in test_hardening_auth.py) would answer 429 here
                        env={"WSSERVER_RATE_LIMIT": "off", "WSSERVER_LOGIN_LOCKOUT": "off",
                             "WSSERVER_LOGIN_BRAKE": "off", "WSSERVER_ACCESS_LOG": "0"})
    tokens = {}
    for name in ("fuzz-member", "fuzz-outsider"):
        made = requests.post(f"{server.url}{API}/accounts", json={"username": name}, headers=bearer(ADMIN_TOKEN), timeout=10)
        assert made.status_code == 201
        tokens[name] = made.json()["token"]
    created = requests.put(f"{server.url}{API}/workspaces/fuzz-ws", json={"fullname": "fuzz-ws", "tags": ["t"]},
                           headers=bearer(tokens["fuzz-member"]), timeout=10)
    assert created.status_code == 201
    yield server, tokens
    server.stop()


def failures_of(report_dir, limit=2000):
    """The failures of the JUnit report, each cut to `limit` characters (reproducing URLs can be huge)."""
    texts = []
    for name in sorted(os.listdir(report_dir)):
        if name.endswith(".xml"):
            for failure in ElementTree.parse(os.path.join(report_dir, name)).iter("failure"):
                texts.append((failure.text or failure.get("message", ""))[:limit])
    return "\n\n".join(texts)


@pytest.mark.parametrize("caller", ["fuzz-member", "fuzz-outsider"])
def test_schemathesis_finds_no_failure(fuzz_server, caller, tmp_path):
    server, tokens = fuzz_server
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", os.path.join(HERE, "fuzz", "schemathesis.toml"),
        "run", f"{server.url}/openapi.json",
        "--header", f"Authorization: Bearer {tokens[caller]}",
        "--max-examples", EXAMPLES,
        # one worker: hypothesis describes strategies with ast.parse, which Python 3.11 does not
        # survive from two threads at once ("AST constructor recursion depth mismatch")
        "--workers", "1",
        "--request-timeout", "20",
        "--report", "junit", "--report-dir", str(tmp_path),
        "--generation-database", "none",
    ]
    if SEED:
        command += ["--seed", SEED]
    # In the module's own folder, not the checkout: schemathesis keeps a cache of what it learned there
    # (.schemathesis/), replayed by its next run in the same folder; this module's runs share it (member,
    # then outsider, as before), and no other run (the other engine's, a later one) reads or changes it.
    result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                            cwd=os.path.dirname(server.instance_path))
    summary = result.stdout[-20000:]
    print(summary)
    assert result.returncode == 0, failures_of(tmp_path) or summary
    assert "generated" in summary
    # the stateful phase ran and followed the document's links (create/list -> get, put, members, ...)
    assert "Stateful" in summary
    covered = re.search(r"API Links:\s+(\d+) covered", summary)
    assert covered and int(covered.group(1)) > 0, summary
    # the server answered everything without a 5xx
    assert "500" not in server.output()
