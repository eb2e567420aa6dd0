"""HTTPS (issue 26, item 4): WSSERVER_TLS_CERT/_KEY or WSSERVER_TLS=self-signed make `python app.py`
serve TLS through granian. The files are checked (or made) before the port is bound, each problem one
line; the self-signed set lives in <instance>/tls (the server's key 0600, the authority's key nowhere).
One live server for the module, checked with plain requests: its CA file works, another CA fails.
"""
import os
import stat
import subprocess
import sys

import pytest
import requests
from cryptography import x509

from conftest import ROOT, LiveServer
from wsserver.config import ConfigError, load_settings
from wsserver.ops.serve import server_options
from wsserver.ops.tls import TLSError, self_signed, tls_files


def settings(tmp_path, **values):
    return load_settings({"INSTANCE_PATH": str(tmp_path / "instance"), **values}, environ={})[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(str(tmp_path_factory.mktemp("tls") / "instance"),
                      env={"WSSERVER_TLS": "self-signed", "WSSERVER_WORKERS": "1"})
    yield live
    live.stop()


def test_the_self_signed_server_answers_https_to_a_client_trusting_its_ca(server):
    assert server.url.startswith("https://127.0.0.1:")
    assert requests.get(server.url + "/healthz", verify=server.ca_file, timeout=10).json() == {"status": "ok"}
    assert requests.get(server.url.replace("127.0.0.1", "localhost") + "/healthz", verify=server.ca_file,
                        timeout=10).status_code == 200
    output = server.output()
    assert f"clients trust {server.ca_file}" in output and f"serving {server.url}" in output


def test_a_client_trusting_another_ca_or_none_is_refused(server, tmp_path):
    other = self_signed(str(tmp_path / "other"))
    for verify in (other.ca, True):  # another authority; the system's bundle
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "/healthz", verify=verify, timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP to the TLS port
        requests.get(server.url.replace("https://", "http://") + "/healthz", timeout=10)


def test_the_self_signed_files_names_and_modes(server):
    folder = os.path.dirname(server.ca_file)
    assert stat.S_IMODE(os.stat(os.path.join(folder, "key.pem")).st_mode) == 0o600
    assert sorted(os.listdir(folder)) == ["ca.pem", "cert.pem", "key.pem"]  # no key of the authority
    with open(os.path.join(folder, "cert.pem"), "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(address) for address in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_the_self_signed_set_is_kept_and_made_again_when_a_file_is_missing(tmp_path):
    first = self_signed(str(tmp_path / "tls"))
    with open(first.cert, "rb") as handle:
        made = handle.read()
    again = self_signed(str(tmp_path / "tls"))
    assert (first.made, again.made) == (True, False)
    with open(again.cert, "rb") as handle:
        assert handle.read() == made
    os.unlink(first.key)
    assert self_signed(str(tmp_path / "tls")).made


def test_given_files_are_passed_to_granian(tmp_path):
    made = self_signed(str(tmp_path / "made"))
    config = settings(tmp_path, TLS_CERT=made.cert, TLS_KEY=made.key)
    files = tls_files(config)
    options = server_options(config, files)
    assert (str(options["ssl_cert"]), str(options["ssl_key"])) == (made.cert, made.key)
    assert "ssl_cert" not in server_options(settings(tmp_path), tls_files(settings(tmp_path)))


@pytest.mark.parametrize("values, message", [
    ({"TLS_CERT": "{cert}"}, "WSSERVER_TLS_CERT is set but WSSERVER_TLS_KEY is not"),
    ({"TLS_KEY": "{key}"}, "WSSERVER_TLS_KEY is set but WSSERVER_TLS_CERT is not"),
    ({"TLS_CERT": "{missing}", "TLS_KEY": "{key}"}, "WSSERVER_TLS_CERT: cannot read"),
    ({"TLS_CERT": "{key}", "TLS_KEY": "{key}"}, "holds no PEM certificate"),
    ({"TLS_CERT": "{cert}", "TLS_KEY": "{cert}"}, "holds no PEM private key"),
    ({"TLS_CERT": "{cert}", "TLS_KEY": "{other_key}"}, "is not the key of the certificate"),
    ({"TLS": "self-signed", "TLS_CERT": "{cert}"}, "leave WSSERVER_TLS_CERT and WSSERVER_TLS_KEY unset"),
])
def test_unusable_settings_are_one_line(tmp_path, values, message):
    made, other = self_signed(str(tmp_path / "made")), self_signed(str(tmp_path / "other"))
    paths = {"cert": made.cert, "key": made.key, "other_key": other.key, "missing": str(tmp_path / "none.pem")}
    with pytest.raises(TLSError, match=message) as raised:
        tls_files(settings(tmp_path, **{name: value.format(**paths) for name, value in values.items()}))
    assert "\n" not in str(raised.value)


def test_an_unknown_tls_mode_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="WSSERVER_TLS .*expected self-signed"):
        settings(tmp_path, TLS="letsencrypt")


def test_python_app_py_stops_with_one_line_before_binding(tmp_path):
    environment = {**os.environ, "WSSERVER_INSTANCE_PATH": str(tmp_path / "instance"), "WSSERVER_PORT": "0",
                   "WSSERVER_TLS_CERT": str(tmp_path / "none.pem"), "WSSERVER_TLS_KEY": str(tmp_path / "none.pem")}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "app.py")], env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"wsserver: cannot start: WSSERVER_TLS_CERT: cannot read {tmp_path / 'none.pem'}: No such file or directory"]
