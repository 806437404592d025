"""Pure parts of the HTTP API: tokens, the latency histogram, the `api` config fields, and
`listen` parsing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.auth import digest, new_token, token_name, yaml_line
from gateway.api.server import parse_listen
from gateway.cli import main
from gateway.config.issues import ConfigError
from gateway.config.loader import parse_config_text
from gateway.config.models import ApiToken
from gateway.status import LATENCY_BUCKETS_MS, DeviceStatus


def test_gerbang_token_new_prints_a_token_and_its_config_line(capsys) -> None:
    assert main(["token", "new", "--name", "budi"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[0].rsplit(" ", 1)[1]
    assert out[-1].strip() == f'- {{name: "budi", sha256: "{digest(token)}"}}'


def test_new_tokens_are_random_and_their_line_holds_only_the_digest() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    line = yaml_line(first, "technician")
    assert first not in line and hashlib.sha256(first.encode()).hexdigest() in line
    config = parse_config_text(f"version: 1\ngateway: {{id: g}}\napi:\n  tokens:\n    {line}\n")
    assert token_name(f"Bearer {first}", config.api.tokens) == "technician"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer right", "ops"),
        ("bearer right", "ops"),
        ("Bearer  right ", "ops"),
        ("Bearer wrong", None),
        ("Basic right", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_token_name(header: str | None, expected: str | None) -> None:
    tokens = [
        ApiToken(name="other", sha256=digest("x")),
        ApiToken(name="ops", sha256=digest("right").upper()),
    ]
    assert token_name(header, tokens) == expected


@given(st.text(max_size=80))
def test_arbitrary_headers_never_raise(header: str) -> None:
    assert token_name(header, [ApiToken(name="ops", sha256=digest("right"))]) in (None, "ops")


def test_latency_histogram_counts_each_scan_in_its_bucket() -> None:
    status = DeviceStatus("d", "modbus-tcp")
    for latency in (1.0, 5.0, 7.5, 999.0, 60_000.0):
        status.observe_latency(latency)
    assert sum(status.latency_buckets) == 5
    assert status.latency_buckets[0] == 2, "5 ms is in the le=5 bucket"
    assert status.latency_buckets[LATENCY_BUCKETS_MS.index(10)] == 1
    assert status.latency_buckets[-1] == 1, "past the last bound: +Inf"
    assert status.latency_sum_ms == pytest.approx(61_012.5)


def test_api_tls_needs_cert_and_key_together() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text("version: 1\ngateway: {id: g}\napi: {tls_cert: /etc/c.pem}\n")
    assert [(i.path, i.line) for i in caught.value.issues] == [("api.tls_key", 3)]
    config = parse_config_text("version: 1\ngateway: {id: g}\napi: {read_requires_token: true}\n")
    assert config.api.read_requires_token and config.api.tls_cert is None


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("[::1]:80", ("::1", 80)),
        ("box.local:1", ("box.local", 1)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize(
    ("listen", "open_to_readers"),
    [
        ("127.0.0.1:8080", True),
        ("127.0.0.2:8080", True),
        ("localhost:8080", True),
        ("[::1]:8080", True),
        ("0.0.0.0:8080", False),
        ("[::]:8080", False),
        ("192.168.1.10:8080", False),
        ("gerbang.local:8080", False),
    ],
)
def test_browsing_a_machine_needs_a_token_when_the_api_is_open_to_the_lan(
    listen: str, open_to_readers: bool
) -> None:
    from types import SimpleNamespace
    from typing import Any

    from gateway.api.access import can_probe
    from gateway.api.errors import ApiError

    token = new_token()
    text = (
        "version: 1\ngateway: {id: gw}\n"
        f'api: {{listen: "{listen}", tokens: [{{name: budi, sha256: "{digest(token)}"}}]}}\n'
    )
    store: Any = SimpleNamespace(config=parse_config_text(text))
    assert can_probe(store, f"Bearer {token}") is None, "a token always does"
    if open_to_readers:
        assert can_probe(store, None) is None
    else:
        with pytest.raises(ApiError) as refused:
            can_probe(store, None)
        assert refused.value.status == 401
