"""Parsing bombs: deep nesting and alias expansion are refused as config errors, cheaply, before
ruamel's recursive composer or the plain-data copy sees them; real configs still load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.config.issues import ConfigError
from gateway.config.limits import MAX_ALIAS_NODES, MAX_DEPTH, check_data
from gateway.config.loader import load_config, parse_config_text, validate_data
from gateway.config.store import ConfigStore

HEAD = "version: 1\ngateway: {id: g}\n"

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)
"""The 331-byte "billion laughs": 9^9 strings once its aliases are expanded."""


def _nested_block(levels: int) -> str:
    """`levels` nested block mappings, the file's own counted: level n + 1 starts at line 3 + n."""
    return HEAD + "x:\n" + "".join(" " * i + "k:\n" for i in range(1, levels)) + "\n"


def _issues(text: str, filename: str = "gw.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, filename, env={})
    return [str(issue) for issue in caught.value.issues]


def test_flow_nesting_of_thirty_thousand_levels_is_an_error_not_a_crash() -> None:
    text = HEAD + "x: " + "[" * 30_000 + "]" * 30_000 + "\n"
    assert _issues(text) == [
        f"gw.yaml:3: nesting deeper than {MAX_DEPTH} levels: a config needs only a few; "
        "check for unclosed brackets"
    ]


def test_unclosed_deep_brackets_name_the_depth_not_a_recursion_error() -> None:
    issues = _issues(HEAD + "x: " + "{a: " * 500 + "\n")
    assert len(issues) == 1
    assert issues[0].startswith(f"gw.yaml:3: nesting deeper than {MAX_DEPTH} levels")


def test_block_nesting_is_bounded_at_its_line() -> None:
    text = _nested_block(MAX_DEPTH + 1)
    issues = _issues(text)
    assert len(issues) == 1
    assert issues[0].startswith(f"gw.yaml:{3 + MAX_DEPTH}: nesting deeper than")


def test_nesting_up_to_the_limit_is_only_a_schema_error() -> None:
    issues = _issues(_nested_block(MAX_DEPTH))
    assert len(issues) == 1
    assert issues[0].startswith("gw.yaml:3: x: unknown key 'x'")


def test_alias_bomb_is_refused_at_once() -> None:
    started = time.process_time()
    issues = _issues(HEAD + ALIAS_BOMB)
    assert time.process_time() - started < 1.0
    assert len(issues) == 1
    assert f"alias expansion over {MAX_ALIAS_NODES} nodes" in issues[0]
    assert issues[0].startswith("gw.yaml:")


def test_aliases_nested_past_the_depth_limit_count_as_nesting() -> None:
    deep = "[" * 40 + "1" + "]" * 40
    text = HEAD + f"a: &deep {deep}\nb: " + "[" * 40 + "*deep" + "]" * 40 + "\n"
    assert "nesting deeper than" in _issues(text)[0]


def test_shared_defaults_through_aliases_and_merge_keys_still_load(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        HEAD
        + "x-modbus: &modbus {protocol: modbus-tcp, host: 127.0.0.1, interval: 1s}\n"
        + "x-signals: &signals\n"
        + "".join(f"  - {{name: s{i}, table: holding, address: {i}}}\n" for i in range(20))
        + "devices:\n"
        + "".join(f"  - {{<<: *modbus, id: d{i}, signals: *signals}}\n" for i in range(50))
    )
    with pytest.raises(ConfigError) as caught:  # `x-` keys are unknown: only they are errors
        load_config(path, {})
    assert {issue.path for issue in caught.value.issues} == {"x-modbus", "x-signals"}


def test_deep_json_data_is_refused_without_recursion() -> None:
    data: object = 1
    for _ in range(100_000):
        data = {"a": data}
    with pytest.raises(ValueError, match="nesting deeper than"):
        check_data(data)
    with pytest.raises(ConfigError, match="nesting deeper than"):
        validate_data({"version": 1, "gateway": {"id": "g"}, "x": data})


def test_json_data_at_the_limit_passes_the_check() -> None:
    data: object = 1
    for _ in range(MAX_DEPTH):
        data = [data]
    check_data(data)
    with pytest.raises(ValueError):
        check_data([data])


def test_store_refuses_deep_json_before_masking_or_dumping_it(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(HEAD)
    store = ConfigStore.load(path, {})
    data: object = "x"
    for _ in range(600):  # deeper than the YAML dumper's recursion allows
        data = {"k": data}
    with pytest.raises(ConfigError) as caught:
        store.prepare({"version": 1, "gateway": {"id": "g"}, "mqtt": data})
    assert [i.message.split(":")[0] for i in caught.value.issues] == [
        f"nesting deeper than {MAX_DEPTH} levels"
    ]
