"""WSSERVER_FLAVORS (wsserver/config.py `_flavors`): which flavors are served and where; a bad value
stops start-up with one line naming the setting; a custom mount serves the flavor there and only there."""
import pytest

from conftest import ADMIN_TOKEN, API, bearer
from wsserver import create_app
from wsserver.config import ConfigError, load_settings

DEFAULT = {"engineering": "/flavors/engineering", "geoscience": "/flavors/geoscience", "platform": "/flavors/platform"}


@pytest.mark.parametrize("value, expected", [
    (None, DEFAULT),
    ("", DEFAULT),
    ("none", {}),
    ("NONE", {}),
    ("platform", {"platform": "/flavors/platform"}),
    ("engineering=/, platform", {"engineering": "", "platform": "/flavors/platform"}),
    ("geoscience=/geo/v1/,platform=/", {"geoscience": "/geo/v1", "platform": ""}),
    ("engineering=/,geoscience=/,platform=/", {"engineering": "", "geoscience": "", "platform": ""}),
])
def test_the_setting_reads_names_and_mounts(instance_path, value, expected):
    environ = {} if value is None else {"WSSERVER_FLAVORS": value}
    settings, _ = load_settings({"INSTANCE_PATH": instance_path}, environ=environ)
    assert settings["FLAVORS"] == expected


@pytest.mark.parametrize("value, words", [
    ("accounting", "unknown flavor 'accounting'"),
    ("platform,platform", "named twice"),
    ("platform=/api/x", "belongs to wsserver itself"),
    ("engineering=/ui", "belongs to wsserver itself"),
    ("platform=flavors", "expected / or a path"),
    ("platform=/a b", "expected / or a path"),
    ("engineering=/same,platform=/same", "two flavors at /same"),
])
def test_a_bad_value_is_one_line_naming_the_setting(instance_path, value, words):
    with pytest.raises(ConfigError) as error:
        load_settings({"INSTANCE_PATH": instance_path}, environ={"WSSERVER_FLAVORS": value})
    message = str(error.value)
    assert "WSSERVER_FLAVORS" in message and words in message and "\n" not in message


def test_a_custom_mount_serves_the_flavor_there_only(instance_path):
    client = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN,
                         "FLAVORS": "platform=/compat/platform"}).test_client()
    admin = bearer(ADMIN_TOKEN)
    assert client.put(f"{API}/workspaces/research", json={"fullname": "research"}, headers=admin).status_code == 201
    answer = client.get("/compat/platform/workspaces", headers=admin)
    assert answer.status_code == 200 and [item["identifier"] for item in answer.get_json()] == ["research"]
    assert client.get("/compat/platform/workspaces/x", headers=admin).get_json() == {"detail": "Not Found"}
    for path in ("/flavors/platform/workspaces", "/flavors/engineering/api/workspaces/"):
        missing = client.get(path, headers=admin)
        assert missing.status_code == 404 and set(missing.get_json()) == {"error"}  # the native envelope
    paths = client.get("/openapi.json").get_json()["paths"]
    assert [path for path in paths if "platform" in path or "flavors" in path] == ["/compat/platform/workspaces"]
    assert client.get("/api/workspaces", headers=admin).status_code == 200  # the alias stays
