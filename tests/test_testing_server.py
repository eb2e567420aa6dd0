"""wsserver.testing.server.LiveServer, the live server of the pytest plugin and of this suite: another
port when the free one was taken meanwhile, a clear error (and no process left) when it cannot start."""
import socket

import pytest

from conftest import ADMIN_TOKEN
from wsserver.testing import server as live

LIGHT = {"WSSERVER_ADMIN_TOKEN": ADMIN_TOKEN, "WSSERVER_WORKERS": "1", "WSSERVER_THREADS": "2"}


def test_a_port_taken_meanwhile_is_left_for_another_one(tmp_path, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port])
        real_free_port = live.free_port
        monkeypatch.setattr(live, "free_port", lambda: next(ports, None) or real_free_port())
        server = live.LiveServer(tmp_path / "instance", env=LIGHT).start()
        try:
            assert server.port != taken_port
            assert server.url == f"http://127.0.0.1:{server.port}"
            assert f"cannot listen on 127.0.0.1:{taken_port}: the port is in use" in server.output()
            assert server.process.poll() is None
        finally:
            assert server.stop() == 0
    assert server.log.closed


def test_a_server_that_cannot_start_is_an_error_with_its_output(tmp_path):
    server = live.LiveServer(tmp_path / "instance", env={**LIGHT, "WSSERVER_WORKERS": "none"}, attempts=2)
    with pytest.raises(RuntimeError, match="did not start \\(2 attempts\\)") as raised:
        server.start()
    assert str(raised.value).count("configuration error") == 2
    assert server.process.poll() is not None and server.log.closed


def test_none_in_env_unsets_a_variable_of_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WSSERVER_WORKERS", "none")  # would refuse to start
    server = live.LiveServer(tmp_path / "instance", env={**LIGHT, "WSSERVER_WORKERS": None}).start()
    try:
        assert "configuration error" not in server.output()
    finally:
        assert server.stop() == 0

