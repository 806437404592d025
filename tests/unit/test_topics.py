"""Topics and payloads of the MQTT sink (SPEC "MQTT"): tables, plus hypothesis for the levels."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.models import GatewayIdentity, MqttConfig
from gateway.model import BAD, GOOD, UNCERTAIN, Batch, DeviceState, Sample, StateChange
from gateway.sinks.mqtt_messages import Encoder
from gateway.sinks.topics import (
    TopicCache,
    device_payload,
    device_topic,
    gateway_payload,
    gateway_topic,
    signal_payload,
    signal_topic,
    state_payload,
    state_topic,
    will_payload,
)

FULL = GatewayIdentity(id="casting-01", site="pasuruan", area="casting", line="line-1")


@pytest.mark.parametrize(
    ("prefix", "site", "area", "line", "expected"),
    [
        ("factory", "pasuruan", "casting", "line-1", "factory/pasuruan/casting/line-1/furnace-1"),
        ("factory", "pasuruan", "", "line-1", "factory/pasuruan/line-1/furnace-1"),
        ("factory", "", "", "", "factory/furnace-1"),
        ("", "pasuruan", "casting", "", "pasuruan/casting/furnace-1"),
        ("", "", "", "", "furnace-1"),
        ("acme/plant", "s", "a", "l", "acme/plant/s/a/l/furnace-1"),
    ],
)
def test_empty_levels_are_left_out(prefix, site, area, line, expected) -> None:
    identity = GatewayIdentity(id="gw", site=site, area=area, line=line)
    assert device_topic(prefix, identity, "furnace-1") == expected
    assert signal_topic(prefix, identity, "furnace-1", "melt_temp") == expected + "/melt_temp"
    assert state_topic(prefix, identity, "furnace-1") == expected + "/$state"


@pytest.mark.parametrize(
    ("prefix", "site", "expected"),
    [
        ("factory", "pasuruan", "factory/pasuruan/$gateway/gw"),
        ("factory", "", "factory/$gateway/gw"),
        ("", "", "$gateway/gw"),
    ],
)
def test_gateway_topic_has_site_only(prefix, site, expected) -> None:
    identity = GatewayIdentity(id="gw", site=site, area="casting", line="line-1")
    assert gateway_topic(prefix, identity) == expected


def test_cache_matches_the_functions_and_reuses_strings() -> None:
    cache = TopicCache("factory", FULL)
    topic = cache.signal("furnace-1", "melt_temp")
    assert topic == signal_topic("factory", FULL, "furnace-1", "melt_temp")
    assert cache.signal("furnace-1", "melt_temp") is topic, "built once, then looked up"
    assert cache.device("furnace-1") == device_topic("factory", FULL, "furnace-1")
    assert cache.state("furnace-1") == "factory/pasuruan/casting/line-1/furnace-1/$state"
    assert cache.gateway == "factory/pasuruan/$gateway/casting-01"


LEVEL = st.from_regex(r"\A([A-Za-z0-9][A-Za-z0-9_.-]{0,8})?\Z")
ID = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,8}\Z")
PREFIX = st.lists(st.from_regex(r"\A[A-Za-z0-9_-]{1,6}\Z"), max_size=3).map("/".join)


@given(prefix=PREFIX, site=LEVEL, area=LEVEL, line=LEVEL, gateway=ID, device=ID, signal=ID)
def test_topics_are_well_formed_for_any_levels(
    prefix, site, area, line, gateway, device, signal
) -> None:
    identity = GatewayIdentity(id=gateway, site=site, area=area, line=line)
    cache = TopicCache(prefix, identity)
    topics = [
        device_topic(prefix, identity, device),
        signal_topic(prefix, identity, device, signal),
        state_topic(prefix, identity, device),
        gateway_topic(prefix, identity),
        cache.signal(device, signal),
    ]
    for topic in topics:
        assert "//" not in topic
        assert not topic.startswith("/") and not topic.endswith("/")
        assert "+" not in topic and "#" not in topic
    expected = [level for level in (*prefix.split("/"), site, area, line, device, signal) if level]
    assert topics[1].split("/") == expected, "every non-empty level, in hierarchy order"
    assert topics[4] == topics[1]
    assert topics[2] == topics[0] + "/$state"
    assert topics[3].split("/")[-2:] == ["$gateway", gateway]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (
            Sample("melt_temp", 1452.3, GOOD, 1795389160779, "degC"),
            {"value": 1452.3, "ts": 1795389160779, "quality": "good", "unit": "degC"},
        ),
        (Sample("parts", 2**40, GOOD, 1), {"value": 2**40, "ts": 1, "quality": "good"}),
        (Sample("door", False, GOOD, 1), {"value": False, "ts": 1, "quality": "good"}),
        (
            Sample("recipe", "PP-ABS", UNCERTAIN, 1),
            {"value": "PP-ABS", "ts": 1, "quality": "uncertain"},
        ),
        (
            Sample("power", None, BAD, 1, "kW", "holding 10: illegal data address"),
            {
                "value": None,
                "ts": 1,
                "quality": "bad",
                "unit": "kW",
                "error": "holding 10: illegal data address",
            },
        ),
        (Sample("power", None, BAD, 1), {"value": None, "ts": 1, "quality": "bad"}),
    ],
)  # fmt: skip
def test_signal_payload(sample: Sample, expected: dict) -> None:
    raw = signal_payload(sample)
    assert orjson.loads(raw) == expected
    assert list(orjson.loads(raw)) == list(expected), "SPEC field order"


def test_signal_payload_keeps_types_exact() -> None:
    decoded = orjson.loads(signal_payload(Sample("x", 1, GOOD, 1)))
    assert type(decoded["value"]) is int
    decoded = orjson.loads(signal_payload(Sample("x", True, GOOD, 1)))
    assert decoded["value"] is True


def test_device_payload_lists_bad_signals_apart() -> None:
    batch = Batch(
        "loom-01",
        1795389160779,
        [
            Sample("picks", 100, GOOD, 1),
            Sample("speed_ppm", 312.5, GOOD, 1),
            Sample("tension", None, BAD, 1, None, "timeout"),
        ],
    )
    assert orjson.loads(device_payload(batch)) == {
        "ts": 1795389160779,
        "values": {"picks": 100, "speed_ppm": 312.5},
        "bad": ["tension"],
    }


def test_device_payload_includes_uncertain_values_and_names_them() -> None:
    batch = Batch("d", 5, [Sample("a", 1.5, UNCERTAIN, 5), Sample("b", 2, GOOD, 5)])
    assert orjson.loads(device_payload(batch)) == {
        "ts": 5,
        "values": {"a": 1.5, "b": 2},
        "bad": [],
        "uncertain": ["a"],
    }


def test_state_and_gateway_payloads() -> None:
    assert orjson.loads(state_payload(StateChange("d", DeviceState.ONLINE, 7), "gw-1")) == {
        "state": "online",
        "ts": 7,
        "gateway": "gw-1",
    }
    change = StateChange("d", DeviceState.ERROR, 8, "device d: no answer from 10.0.0.5:502")
    assert orjson.loads(state_payload(change, "gw-1")) == {
        "state": "error",
        "ts": 8,
        "gateway": "gw-1",
        "error": "device d: no answer from 10.0.0.5:502",
    }
    assert orjson.loads(will_payload("1.2.3")) == {
        "state": "offline",
        "version": "1.2.3",
        "will": True,
    }, "no ts: the gateway cannot know when the broker will publish it"
    assert orjson.loads(gateway_payload("online", "1.2.3", 9)) == {
        "state": "online",
        "version": "1.2.3",
        "ts": 9,
    }


def test_per_device_names_a_bad_signal_in_every_message_while_it_stays_bad() -> None:
    """An OPC UA subscription reports a bad node once; the scans after it leave it out."""
    config = MqttConfig.model_validate({"mode": "per_device"})
    encoder = Encoder(config, GatewayIdentity(id="g"), "1.0")

    def bad_of(*samples: Sample) -> list[str]:
        (message,) = encoder.batch(Batch("d", 1, list(samples)))
        return orjson.loads(message.payload)["bad"]

    assert bad_of(
        Sample("a", 1, GOOD, 1), Sample("ghost", None, BAD, 1, None, "BadNodeIdUnknown")
    ) == ["ghost"]
    assert bad_of(Sample("a", 2, GOOD, 1)) == ["ghost"], "still bad, not read again"
    assert bad_of(Sample("z", None, BAD, 1), Sample("a", 3, GOOD, 1)) == ["z", "ghost"]
    assert bad_of(Sample("ghost", 7, GOOD, 1)) == ["z"], "a good sample clears it"
    encoder.state(StateChange("d", DeviceState.OFFLINE, 2))
    assert bad_of(Sample("a", 4, GOOD, 1)) == [], "a new device state starts afresh"


def test_device_payload_gives_the_units_of_its_values() -> None:
    batch = Batch(
        "d",
        5,
        [
            Sample("melt_temp", 1452.3, GOOD, 5, "degC"),
            Sample("count", 3, GOOD, 5),
            Sample("power_kw", None, BAD, 5, "kW", "timeout"),
        ],
    )
    assert orjson.loads(device_payload(batch)) == {
        "ts": 5,
        "values": {"melt_temp": 1452.3, "count": 3},
        "bad": ["power_kw"],
        "units": {"melt_temp": "degC"},
    }
