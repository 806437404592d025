"""Secrets stay secret: messages name `${VAR}` instead of showing its value, and `"***"` (or the
same `${VAR}`) keeps a secret only while its destination (host, port, url, endpoint, username)
is unchanged: re-pointed, the secret must be given again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config.issues import ConfigError
from gateway.config.loader import load_config, parse_config_text
from gateway.config.store import MASK, ConfigStore

SECRET = "MqttS3cr3t-9f8e7d"
ENV = {"MQTT_PASSWORD": SECRET, "INFLUX_TOKEN": "Infl0xT0ken-abcdef", "GW_ID": SECRET}

CONFIG = """\
version: 1
gateway: {id: casting-01}
mqtt:
  host: 10.0.0.1
  port: 1883
  username: gerbang
  password: literal-mqtt-pw
influxdb: {enabled: true, url: "http://10.0.0.2:8086", org: o, bucket: b, token: "${INFLUX_TOKEN}"}
devices:
  - {id: roaster-1, protocol: opcua, endpoint: "opc.tcp://10.0.0.6:4840", username: op,
     password: op-pw, signals: [{name: drum, node: "ns=2;s=Drum"}]}
"""


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG)
    return ConfigStore.load(path, ENV)


def _messages(exc: ConfigError) -> dict[str, str]:
    return {issue.path: issue.message for issue in exc.issues}


def _refused(store: ConfigStore, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        store.prepare(data)
    return _messages(caught.value)


def test_messages_name_the_variable_never_its_value(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "version: 1\n"
        "gateway: {id: '${GW_ID}'}\n"
        "mqtt: {port: '${MQTT_PASSWORD}', keepalive: '${MQTT_PASSWORD}'}\n"
        "devices: [{id: d, protocol: modbus-tcp, host: h, measurement: 'x-${GW_ID}-y',\n"
        "           interval: '${MQTT_PASSWORD}'}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    text = str(caught.value)
    assert SECRET not in text
    messages = _messages(caught.value)
    assert messages["gateway.id"].startswith("'${GW_ID}' is not a valid id")
    assert "'${MQTT_PASSWORD}'" in messages["mqtt.port"]
    assert messages["mqtt.keepalive"].startswith("'${MQTT_PASSWORD}' is not a duration")
    assert messages["devices[0].interval"].startswith("'${MQTT_PASSWORD}' is not a duration")


def test_short_values_are_replaced_only_as_whole_words() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(
            "version: 1\ngateway: {id: g}\nmqtt: {port: '${PORT}'}\n", "gw.yaml", {"PORT": "0"}
        )
    assert _messages(caught.value)["mqtt.port"] == "must be at least 1, got '${PORT}'"


def test_api_validation_names_the_variable(store: ConfigStore) -> None:
    shown = store.public()
    shown["gateway"]["id"] = "${GW_ID}"
    messages = _refused(store, shown)
    assert messages["gateway.id"].startswith("'${GW_ID}' is not a valid id")
    assert SECRET not in repr(messages)


@pytest.mark.parametrize(
    ("section", "field", "value", "secret_path", "moved"),
    [
        ("mqtt", "host", "10.6.6.6", "mqtt.password", "host"),
        ("mqtt", "port", 8883, "mqtt.password", "port"),
        ("mqtt", "username", "other", "mqtt.password", "username"),
        ("influxdb", "url", "http://10.6.6.6:8086", "influxdb.token", "url"),
        ("devices", "endpoint", "opc.tcp://10.6.6.6:4840", "devices[0].password", "endpoint"),
    ],
)
def test_a_kept_secret_is_not_sent_to_a_new_destination(
    store: ConfigStore, section: str, field: str, value: object, secret_path: str, moved: str
) -> None:
    shown = store.public()
    target = shown["devices"][0] if section == "devices" else shown[section]
    target[field] = value
    messages = _refused(store, shown)
    assert list(messages) == [secret_path]
    assert f"only for the same destination, and {moved} changes here" in messages[secret_path]


def test_the_same_reference_is_the_same_secret(store: ConfigStore) -> None:
    shown = store.public()
    assert shown["influxdb"]["token"] == "${INFLUX_TOKEN}"
    shown["influxdb"]["url"] = "http://10.6.6.6:8086"
    messages = _refused(store, shown)
    assert messages["influxdb.token"].startswith(
        "'${INFLUX_TOKEN}' keeps the current token only for the same destination"
    )


def test_a_new_secret_for_a_new_destination_is_accepted(store: ConfigStore) -> None:
    shown = store.public()
    shown["mqtt"] |= {"host": "10.6.6.6", "port": "8883", "password": "new-pw"}
    shown["devices"][0] |= {"endpoint": "opc.tcp://10.6.6.7:4840", "password": "new-op-pw"}
    candidate = store.prepare(shown)
    assert candidate.config.mqtt.password is not None
    assert candidate.config.mqtt.password.get_secret_value() == "new-pw"
    assert candidate.raw["devices"][0]["password"] == "new-op-pw"


def test_other_changes_keep_the_secret(store: ConfigStore) -> None:
    shown = store.public()
    assert shown["mqtt"]["password"] == MASK
    shown["mqtt"] |= {"qos": 0, "port": "1883"}  # the same port, written as text
    shown["devices"][0]["interval"] = "5s"
    candidate = store.prepare(shown)
    assert candidate.raw["mqtt"]["password"] == "literal-mqtt-pw"
    assert candidate.raw["devices"][0]["password"] == "op-pw"
    assert candidate.config.influxdb.token is not None
    assert candidate.config.influxdb.token.get_secret_value() == ENV["INFLUX_TOKEN"]
