"""The pytest plugin wsserver.testing, used the way an outside project uses it.

tests/plugin_example/ is such a project: a small client library
(workspace_client.py), its seed file and its tests (client_library_example.py,
not collected here). Each test copies it into an empty folder, with no
conftest.py and no ini file of this repository in sight, and runs pytest
there in a subprocess.
"""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

EXAMPLE = os.path.join(ROOT, "tests", "plugin_example")
DETERMINISTIC = ("--wsserver-fixed-time", "2024-06-01T09:30:00Z", "--wsserver-id-seed", "42")
EXAMPLE_TESTS = 5

# Each example project runs its own pytest, whose wsserver gets no WSSERVER_* setting from this run:
# it runs on its own SQLite instance in either run, so the PostgreSQL run would repeat it exactly.
pytestmark = pytest.mark.sqlite_only("the example projects run wsserver on its own SQLite instance in either run")


def outside_project(folder):
    """The example project in `folder`, its test module under a name pytest collects."""
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(EXAMPLE, "workspace_client.py"), folder)
    shutil.copy(os.path.join(EXAMPLE, "seed.yaml"), folder)
    shutil.copy(os.path.join(EXAMPLE, "client_library_example.py"), os.path.join(folder, "test_client_library.py"))
    return str(folder)


def run_pytest(folder, *arguments, pythonpath=ROOT):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("WSSERVER_", "PYTEST_"))}
    environment["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=folder, env=environment, capture_output=True, text=True, timeout=300,
    )


def assert_passed(result, count=EXAMPLE_TESTS):
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{count} passed" in result.stdout, result.stdout


BY_NAME = ("-p", "wsserver.testing.plugin")


def test_example_project_passes_with_the_plugin_and_command_line_options(tmp_path):
    folder = outside_project(tmp_path / "project")
    assert_passed(run_pytest(folder, *BY_NAME, "--wsserver-seed", "seed.yaml", *DETERMINISTIC))


def test_example_project_passes_with_ini_options(tmp_path):
    folder = outside_project(tmp_path / "project")
    with open(os.path.join(folder, "pytest.ini"), "w") as handle:
        handle.write(
            "[pytest]\nwsserver_seed = seed.yaml\nwsserver_fixed_time = 2024-06-01T09:30:00Z\nwsserver_id_seed = 42\n"
        )
    assert_passed(run_pytest(folder, *BY_NAME))


def test_without_the_seed_file_the_example_fails_on_its_seeded_accounts(tmp_path):
    folder = outside_project(tmp_path / "project")
    result = run_pytest(folder, *BY_NAME, *DETERMINISTIC, "-k", "alice_sees")
    assert result.returncode == 1 and "1 failed" in result.stdout
    assert "401" in result.stdout


def test_plugin_options_are_in_pytest_help(tmp_path):
    result = run_pytest(str(tmp_path), *BY_NAME, "--help")
    assert result.returncode == 0
    for option in ("--wsserver-seed=FILE", "--wsserver-fixed-time=TIME", "--wsserver-id-seed=N", "wsserver_seed"):
        assert option in result.stdout


@pytest.mark.slow
def test_installing_wsserver_enables_the_plugin_through_its_entry_point(tmp_path):
    # Build from a copy, so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        os.makedirs(source, exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), source)
    for package in ("wsserver", "schemas"):
        shutil.copytree(os.path.join(ROOT, package), source / package, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    folder = outside_project(tmp_path / "project")
    # No -p, and only the installed copy on the path: the pytest11 entry point loads the plugin.
    result = run_pytest(folder, "--wsserver-seed", "seed.yaml", *DETERMINISTIC, pythonpath=str(site))
    assert_passed(result)
    # Installed and named with -p as well: the entry point has the module's name, so pytest
    # loads it once instead of refusing it under a second name.
    assert_passed(run_pytest(folder, *BY_NAME, "--wsserver-seed", "seed.yaml", *DETERMINISTIC, pythonpath=str(site)))


TLS_PROJECT_TEST = '''
import requests

def test_the_server_serves_https_with_the_ca_file(wsserver_url, wsserver_ca_file, wsserver_admin):
    assert wsserver_url.startswith("https://127.0.0.1:")
    assert requests.get(wsserver_url + "/healthz", verify=wsserver_ca_file, timeout=10).status_code == 200
    assert wsserver_admin.get("/api/v2/me").json()["username"] == "admin"
'''


def test_with_wsserver_tls_the_server_serves_https_and_gives_its_ca_file(tmp_path):
    folder = tmp_path / "tls-project"
    folder.mkdir()
    (folder / "test_tls_client.py").write_text(TLS_PROJECT_TEST)
    assert_passed(run_pytest(str(folder), *BY_NAME, "--wsserver-tls"), count=1)
