"""The README's new-user path, run as written, so the README cannot drift.

Every ```sh block of README.md preceded by `<!-- walkthrough -->` (invisible on
GitHub) belongs to the walk-through a new user pastes, in order, into a shell
in the checkout while the server of "Two commands" runs there. This test does
the same in a temporary copy of the checkout (the files the README's commands
use) with a temporary `./instance`:

- it starts the server the way "Two commands" says (`python3 app.py` in that
  folder, no WSSERVER_* setting but the port: a free one instead of 8080, which
  every block's `8080` is rewritten to);
- it runs the plain blocks in order in one `bash` (`set -euo pipefail`), so
  each block sees what the ones before it set, and asserts on what they print
  (the single file's build, which reads only the checkout, runs meanwhile in
  a `bash` of its own, and is waited for before the block after it);
- `<!-- walkthrough: server -->` marks a block that serves in the foreground
  until Ctrl-C: after stopping the first server with Ctrl-C (as the README
  tells the reader), the test runs it in the background, checks that it serves
  the same instance on the same port, and stops it with Ctrl-C (SIGINT to the
  process group, as a terminal sends it: both must stop);
- the blocks after it run in a new `bash` (with `set -u`, a block that relied
  on a variable of an earlier one would fail).

`python3` is a virtual environment's (with the system's packages), so the
walk-through's `pip install ".[testing]"` really installs, without touching
the environment the suite runs in. The single file's size the README states is
checked against the one the walk-through builds.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from wsserver.testing.server import LiveServer

README = os.path.join(ROOT, "README.md")
# What the README's commands use from the checkout (the rest of it, tests and benchmarks, they never read).
CHECKOUT_FILES = ("app.py", "pyproject.toml", "requirements.txt", "requirements-dev.txt", "README.md", "pytest.ini")
CHECKOUT_FOLDERS = ("scripts", "wsserver", "schemas")
MARKED_BLOCK = re.compile(r"^<!-- walkthrough(?P<kind>: server)? -->\n```sh\n(?P<code>.*?)^```$",
                          re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{2,3} (.+)$", re.MULTILINE)
# (section, kind) of every walk-through block, in README order: fewer, more or moved ones fail.
EXPECTED_BLOCKS = [
    ("A first walk-through with curl", "run"),
    ("Inviting someone", "run"),
    ("Revoking an invite", "run"),
    ("Accounts and tokens", "run"),
    ("Backup and restore", "run"),
    ("One file to copy", "run"),
    ("One file to copy", "server"),
    ("The pytest plugin", "run"),
]
BLOCK_SEPARATOR = "@@@ walkthrough block {} @@@"
TOKEN = re.compile(r"^wss_[A-Za-z0-9_-]{20,}$")
CTRL_C_SECONDS = 15
CTRL_C_FAILED = ("Ctrl-C (SIGINT to the process group, as a terminal sends it) did not stop {what} within "
                 f"{CTRL_C_SECONDS} s")


def walkthrough_blocks():
    """[(section, kind, code)] of the README's marked blocks, in order."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    blocks = []
    for match in MARKED_BLOCK.finditer(text):
        section = [heading.group(1) for heading in HEADING.finditer(text, 0, match.start())][-1]
        blocks.append((section, "server" if match.group("kind") else "run", match.group("code")))
    # a marker in front of anything but a ```sh block would be silently left out
    assert text.count("<!-- walkthrough") == len(blocks), "a walkthrough marker not right before a ```sh block"
    return blocks


def stated_single_file_megabytes():
    with open(README, encoding="utf-8") as handle:
        found = re.findall(r"dist/wsserver, about (\d+) MB", handle.read())
    assert len(found) == 1, found
    return int(found[0])


def checkout_copy(folder):
    os.makedirs(folder)
    for name in CHECKOUT_FILES:
        shutil.copy(os.path.join(ROOT, name), folder)
    for name in CHECKOUT_FOLDERS:
        shutil.copytree(os.path.join(ROOT, name), os.path.join(folder, name),
                        ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def outputs(text):
    """Each non-empty line of `text`: parsed as JSON where it is (a status line becomes an int), else the text."""
    items = []
    for line in text.splitlines():
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError:
                items.append(line)
    return items


def run_bash(blocks, cwd, env, timeout):
    """The blocks in one bash, each after a separator line; [stdout of each block], checked for success."""
    script = ["set -euo pipefail"]
    for number, code in enumerate(blocks):
        script += [f"echo '{BLOCK_SEPARATOR.format(number)}'", code]
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"status {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    parts = re.split(r"^@@@ walkthrough block \d+ @@@\n", result.stdout, flags=re.MULTILINE)
    assert len(parts) == len(blocks) + 1 and not parts[0].strip(), result.stdout
    return parts[1:]


def press_ctrl_c(process, timeout=CTRL_C_SECONDS):
    """What a terminal's Ctrl-C does: SIGINT to the foreground process group (master and workers alike).
    True if the process exited within `timeout`; else it is killed (the whole group) and False."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False


@contextlib.contextmanager
def serving_in_the_foreground(code, cwd, env, log_path):
    """A block that serves until Ctrl-C, run in the background in a process group of its own; at the end,
    Ctrl-C must stop it. A failure inside shows what it printed."""
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(["bash", "-c", "set -euo pipefail\n" + code], cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    except AssertionError as failure:
        with open(log_path, encoding="utf-8", errors="replace") as printed:
            raise AssertionError(f"{failure}\n{printed.read()[-3000:]}") from None
    finally:
        stopped = press_ctrl_c(process)
    assert stopped, CTRL_C_FAILED.format(what="./dist/wsserver")


def get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def assert_envelope(body):
    assert set(body) == {"error"} and set(body["error"]) == {"message", "details"}, body


@pytest.mark.slow
@pytest.mark.sqlite_only("the walk-through serves the default SQLite instance and backs up its file")
def test_the_readme_walkthrough_runs_as_written(tmp_path):
    blocks = walkthrough_blocks()
    assert [(section, kind) for section, kind, _ in blocks] == EXPECTED_BLOCKS

    work = checkout_copy(str(tmp_path / "checkout"))
    venv = str(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv], check=True)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("WSSERVER_", "PYTEST_"))}
    environment["PATH"] = os.path.join(venv, "bin") + os.pathsep + environment["PATH"]
    environment["SHIV_ROOT"] = str(tmp_path / "shiv")  # where the single file unpacks itself (not ~/.shiv)
    python = os.path.join(venv, "bin", "python3")

    # "Two commands": python3 app.py, serving ./instance; only the port differs from the README's.
    server = LiveServer(os.path.join(work, "instance"), command=(python, "app.py"), cwd=work,
                        env={name: None for name in os.environ if name.startswith("WSSERVER_")},
                        log_path=str(tmp_path / "server-output.log"), new_session=True).start()
    port = server.port
    try:
        codes = []
        for section, kind, code in blocks:
            assert "localhost" not in code, f"{section}: a block talks to $WS, never to a fixed address"
            rewritten = re.sub(r"\b8080\b", str(port), code)
            assert "8080" not in rewritten
            codes.append(rewritten)
        assert f"WS=http://127.0.0.1:{port}" in codes[0]

        # the token it printed once, and wrote to instance/admin-token (0600)
        admin_file = os.path.join(work, "instance", "admin-token")
        with open(admin_file) as handle:
            admin_token = handle.read().strip()
        assert TOKEN.match(admin_token) and admin_token in server.output()
        assert os.stat(admin_file).st_mode & 0o777 == 0o600

        # The single file's build reads only the checkout and writes only dist/ (and setuptools' build
        # folders), which nothing before it reads or writes: it runs meanwhile, in a bash of its own.
        building = subprocess.Popen(["bash", "-c", "set -euo pipefail\n" + codes[5]], cwd=work, env=environment,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            walk, invite, revoke, tokens, backup = (
                outputs(part) for part in run_bash(codes[:5], work, environment, 120))
        finally:
            build_output, build_errors = building.communicate(timeout=300)
        assert building.returncode == 0, build_output[-3000:] + build_errors[-3000:]
        build = outputs(build_output)

        # "stop the server from Two commands first (Ctrl-C in its shell)"
        stopped = press_ctrl_c(server.process)
        assert stopped, CTRL_C_FAILED.format(what="python3 app.py") + "\n" + server.output()[-1500:]
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
        server.stop()

    # A first walk-through with curl
    assert len(walk) == 7, walk
    created, workspace, status, read, listed, me, me_basic = walk
    assert created["account"]["username"] == "ada" and created["account"]["nickname"] == "Ada"
    assert created["account"]["admin"] is False and TOKEN.match(created["token"])
    ada_token = created["token"]
    assert status == 201
    assert workspace["fullname"] == "research" and workspace["tags"] == ["ml"]
    assert workspace["labels"] == {"team": "core"} and workspace["meta"] == {"title": "Research", "description": None, "avatar": None}
    assert workspace["createdBy"] == created["account"]["id"] and TOKEN.match(workspace["invite"])
    assert read == workspace
    assert [entry["fullname"] for entry in listed] == ["research"]
    for answer in (me, me_basic):
        assert answer["username"] == "ada"
        assert [(m["level"], m["workspace"]["fullname"]) for m in answer["memberships"]] == [("owner", "research")]

    # Inviting someone
    assert len(invite) == 5, invite
    old_invite, joined, acl, level_changed, left = invite
    assert old_invite == workspace["invite"] and joined == 204
    assert [(e["user"]["username"], e["level"]) for e in acl] == [("ada", "owner"), ("bob", "user")]
    assert level_changed == 204 and left == {}

    # Revoking an invite
    assert len(revoke) == 3, revoke
    renewed, refused, refused_status = revoke
    assert renewed["fullname"] == "research" and TOKEN.match(renewed["invite"]) and renewed["invite"] != old_invite
    assert_envelope(refused)
    assert refused_status == 403

    # Accounts and tokens
    assert len(tokens) == 8, tokens
    held, read_status, refused, refused_status, revoked, revoked_status, others, sessions_ended = tokens
    assert [(t["name"], t["current"], t["scope"]) for t in held] == [("created", False, "all"), ("password", True, "all")]
    assert all(t["prefix"].startswith("wss_") and len(t["prefix"]) == 12 for t in held)
    assert read_status == 200 and refused_status == 403
    assert_envelope(refused)
    assert revoked == {} and revoked_status == 401 and others == {"revoked": 1}
    assert sessions_ended == {"ended": 0}

    # Backup and restore: the archive in the folder the block made, restored into an empty instance folder
    assert len(backup) == 2, backup
    archives = os.listdir(os.path.join(work, "backups"))
    assert len(archives) == 1 and re.fullmatch(r"wsserver-\d{4}-\d\d-\d\d\.tar\.gz", archives[0]), archives
    assert backup[0] == f"Backed up 1 workspaces, 3 accounts and 0 avatar files to backups/{archives[0]}."
    assert backup[1].startswith("Restored the backup of ") and backup[1].endswith("/restored.")
    assert os.path.isfile(os.path.join(work, "restored", "wsserver.sqlite3"))

    # One file to copy: the size the README states is the one built
    single_file = os.path.join(work, "dist", "wsserver")
    assert build[-1] == "built dist/wsserver"
    megabytes = os.path.getsize(single_file) / 1e6
    assert round(megabytes) == stated_single_file_megabytes(), f"dist/wsserver is {megabytes:.1f} MB"

    # ...and, the first server stopped, it serves the same instance on the same port until Ctrl-C stops it
    with serving_in_the_foreground(codes[6], work, environment, tmp_path / "single-file-output.log") as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the single file exited"
            try:
                if get(url + "/healthz") == (200, {"status": "ok"}):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the single file did not answer within 60 s"
            time.sleep(0.2)
        status, served = get(url + "/api/v2/workspaces/research", admin_token)
        assert status == 200 and served["invite"] == renewed["invite"] and served["tags"] == ["ml"]
        # ada's first token was revoked in "Accounts and tokens" (DELETE /tokens): it stays refused
        assert get(url + "/api/v2/me", ada_token)[0] == 401

    # The pytest plugin: installed with the extra, the example project's test passes
    (plugin,) = run_bash(codes[7:], work, environment, 300)
    assert re.search(r"^=+ 1 passed in ", plugin, re.MULTILINE), plugin[-3000:]
    installed = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print('\\n'.join(m.requires('wsserver')))"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    with open(os.path.join(ROOT, "requirements-dev.txt")) as handle:
        pins = dict(line.strip().split("==") for line in handle if "==" in line)
    assert sorted(installed_requirement for installed_requirement in installed if "extra ==" in installed_requirement) \
        == sorted(f'{name}=={pins[name]}; extra == "testing"' for name in ("pytest", "requests"))
