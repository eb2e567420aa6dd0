"""A live wsserver for tests: the real server in a subprocess on a free loopback port.

`LiveServer` runs `wsserver.ops.serve.main` (what `python app.py` runs; another
command can be given) with the instance folder, host and port set through
WSSERVER_* variables, waits until /healthz answers, keeps the process's output
in a log file and stops it. If the process exits before answering (another
process took the free port meanwhile, say), it tries again on another port.
With WSSERVER_TLS=self-signed (or WSSERVER_TLS_CERT) among its variables it
serves HTTPS: `url` is https://127.0.0.1:PORT and `ca_file` the file a client
trusts (<instance>/tls/ca.pem, or the given certificate).
The pytest plugin's `wsserver_server` and this repository's tests use it.
Standard library only: it is imported by every pytest run of an environment
where wsserver is installed.
"""
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

START_TIMEOUT_SECONDS = 30
START_ATTEMPTS = 3
POLL_SECONDS = 0.02
SERVE_COMMAND = (sys.executable, "-c", "import sys; from wsserver.ops.serve import main; sys.exit(main())")


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The real server in a subprocess on a free loopback port, once `start()` is called.

    `env`: variables over the environment's (None unsets one); the instance
    folder, host, port and PYTHONUNBUFFERED are set after them. `args`: the
    server's arguments. `new_session`: its own process group, so a test can
    SIGKILL master and workers at once. `command`/`cwd`: what runs, where
    (default: `wsserver.ops.serve.main` with this Python). The output of
    every attempt goes to `log_path` (default: server-output.log in the
    instance folder), emptied by `start()`.
    """

    def __init__(self, instance_path, env=None, args=(), new_session=False, command=SERVE_COMMAND, cwd=None,
                 log_path=None, start_timeout=START_TIMEOUT_SECONDS, attempts=START_ATTEMPTS):
        self.instance_path = str(instance_path)
        self.env = dict(env or {})
        self.args = tuple(args)
        self.new_session = new_session
        self.command = tuple(command)
        self.cwd = cwd
        self.log_path = str(log_path) if log_path else os.path.join(self.instance_path, "server-output.log")
        self.start_timeout = start_timeout
        self.attempts = attempts
        self.log = None  # the log file, open from start() to stop()
        self.process = None
        self.port = None
        self.url = None
        self.ca_file = self._ca_file()
        self.scheme = "http" if self.ca_file is None else "https"

    def _setting(self, name):
        value = self.env[name] if name in self.env else os.environ.get(name)
        return (value or "").strip() or None

    def _ca_file(self):
        """The file a client trusts when the server serves HTTPS (the self-signed authority, or the
        given certificate), else None."""
        if (self._setting("WSSERVER_TLS") or "").lower() == "self-signed":
            return os.path.join(self.instance_path, "tls", "ca.pem")
        return self._setting("WSSERVER_TLS_CERT")

    def tls_context(self):
        """An ssl.SSLContext trusting this server's certificate (None for plain HTTP)."""
        return None if self.ca_file is None else ssl.create_default_context(cafile=self.ca_file)

    def start(self):
        """Start the server and wait until it answers; returns self. RuntimeError if it does not."""
        os.makedirs(self.instance_path, exist_ok=True)
        self.log = open(self.log_path, "wb")
        for _ in range(self.attempts):
            self._launch(free_port())
            if self._wait(self.start_timeout):
                return self
        self.stop()
        raise RuntimeError(f"wsserver did not start ({self.attempts} attempts):\n{self.output()}")

    def _launch(self, port):
        environment = dict(os.environ)
        for name, value in self.env.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = str(value)
        environment.update(
            WSSERVER_INSTANCE_PATH=self.instance_path, WSSERVER_HOST="127.0.0.1", WSSERVER_PORT=str(port),
            PYTHONUNBUFFERED="1",
        )
        self.port = port
        self.url = f"{self.scheme}://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [*self.command, *self.args], cwd=self.cwd, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
        )

    def _wait(self, timeout):
        """True once /healthz answers 200, False if the process exits first; stops it after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                context = self.tls_context()  # the self-signed files exist once the server is up
                with urllib.request.urlopen(self.url + "/healthz", timeout=1, context=context) as answer:
                    if answer.status == 200:
                        return True
            except OSError:  # ssl.SSLError and a missing CA file are OSErrors too
                pass
            time.sleep(POLL_SECONDS)
        self.stop()
        raise RuntimeError(f"wsserver did not answer within {timeout}s:\n{self.output()}")

    def wait_ready(self, timeout=START_TIMEOUT_SECONDS):
        """Wait until /healthz answers 200; RuntimeError if the process exits first or time runs out."""
        if not self._wait(timeout):
            raise RuntimeError(f"wsserver exited early:\n{self.output()}")

    def output(self):
        """What the process (all its attempts) wrote to stdout and stderr so far."""
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM (SIGKILL after `timeout` seconds), close the log; returns the exit status."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None and not self.log.closed:
            self.log.close()
        return None if self.process is None else self.process.returncode
