"""The Host header check (DNS rebinding) as a table, and `api.allowed_hosts` validation."""

from __future__ import annotations

import pytest

from gateway.api.guard import host_allowed
from gateway.config.issues import ConfigError
from gateway.config.loader import parse_config_text


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8080", True),
        ("10.0.0.7", True),
        ("[::1]:8080", True),
        ("[fe80::1]", True),
        ("localhost:8080", True),
        ("LOCALHOST", True),
        ("box.local:8080", True),
        ("Box.Local.", True),
        (None, True),
        ("evil.example", False),
        ("evil.example:8080", False),
        ("127.0.0.1.nip.io", False),
        ("[::1", False),
        ("[evil]:80", False),
        ("", False),
        (":8080", False),
    ],
)
def test_host_allowed(host: str | None, allowed: bool) -> None:
    assert host_allowed(host, ["box.local"]) is allowed


def test_allowed_hosts_are_host_names() -> None:
    text = "version: 1\ngateway: {id: g}\napi: {allowed_hosts: [box.local, 'a b']}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text)
    assert [i.path for i in caught.value.issues] == ["api.allowed_hosts[1]"]
