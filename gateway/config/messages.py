"""pydantic's validation errors, rewritten for a technician at a machine with a YAML file open.

pydantic says "Extra inputs are not permitted" at `devices.1.modbus-tcp.adress`; we say
"unknown key 'adress'; did you mean 'address'?" at `devices[1].adress`. This module walks the
config models alongside each error's `loc` to drop the union tags pydantic inserts
(`modbus-tcp`, `modbus`, `opcua`) so that the path is the path in the file, and to find what is
valid at that place (the model's fields, a Literal's choices) for did-you-mean suggestions.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Tag
from pydantic_core import ErrorDetails

from . import models
from .rules import RULE_ERROR, Loc, did_you_mean

_PATTERN_HINTS: dict[str, str] = {
    models.ID_PATTERN: (
        "{input} is not a valid id: use lowercase letters, digits, '-' and '_', "
        "starting with a letter or a digit (for example furnace-1)"
    ),
    models.NAME_PATTERN: (
        "{input} is not a valid name: use letters, digits, '-', '_' and '.', "
        "starting with a letter or a digit (for example melt_temp)"
    ),
    models.LEVEL_PATTERN: (
        "{input} is not a valid topic level: use letters, digits, '-', '_' and '.', "
        "or leave it empty"
    ),
}
"""Messages for the patterns of models.py, by pattern; `listen`, `sha256`... are matched below."""

_PATTERN_BY_FIELD: dict[str, str] = {
    "listen": "{input} is not host:port (for example 0.0.0.0:8080 or [::1]:8080)",
    "sha256": "{input} is not a sha256 hex digest: 64 hex digits (echo -n TOKEN | sha256sum)",
    "topic_prefix": "{input} may not contain '#', '+' or spaces (they are MQTT wildcards)",
    "endpoint": "{input} is not an OPC UA endpoint; write opc.tcp://HOST:PORT",
}


@dataclass(frozen=True)
class _Place:
    """What the model walk found at an error's location."""

    loc: Loc
    """The location with union tags removed: the path in the file."""
    owner: type[BaseModel] | None
    """The model whose field (or unknown key) the last part of `loc` names."""
    annotation: Any
    """The type of that field, or None when unknown."""


def _strip(tp: Any) -> Any:
    """`X` from `Annotated[X, ...]` and `X | None`; other types unchanged."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        args = _union_args(tp)
        if args is not None:
            rest = [arg for arg in args if arg is not type(None)]
            if len(rest) == 1 and len(rest) != len(args):
                tp = rest[0]
                continue
        return tp


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return None


def _tags(member: Any) -> list[str]:
    """The discriminator tags that select this member of a union."""
    if typing.get_origin(member) is typing.Annotated:
        found = [meta.tag for meta in member.__metadata__ if isinstance(meta, Tag)]
        if found:
            return found
    model = _strip(member)
    if isinstance(model, type) and issubclass(model, BaseModel):
        protocol = model.model_fields.get("protocol")
        if protocol is not None and typing.get_origin(protocol.annotation) is typing.Literal:
            return [str(arg) for arg in typing.get_args(protocol.annotation)]
    return []


def _walk(raw: Loc) -> _Place:
    tp: Any = models.Config
    clean: list[str | int] = []
    owner: type[BaseModel] | None = None
    for part in raw:
        if part == "[key]":
            continue
        tp = _strip(tp)
        union = _union_args(tp)
        if union is not None:
            chosen = next((m for m in union if str(part) in _tags(m)), None)
            if chosen is not None:
                tp = chosen
                continue
            tp = None
        clean.append(part)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field is not None else None
        elif origin is list:
            owner, tp = None, typing.get_args(tp)[0]
        elif origin is dict:
            owner, tp = None, typing.get_args(tp)[1]
        else:
            owner, tp = None, None
    return _Place(tuple(clean), owner, tp)


def _show(value: object) -> str:
    """A value as the technician wrote it: text in quotes, YAML spellings for the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _at(data: object, loc: Loc) -> object:
    """The value at `loc` in the data, or None."""
    for part in loc:
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _one_of(value: object, choices: list[str]) -> str:
    message = f"{_show(value)} is not one of {', '.join(choices)}"
    guess = did_you_mean(value, choices)
    return f"{message}; did you mean '{guess}'?" if guess else message


def _choices_from_text(expected: str) -> list[str]:
    quoted = re.findall(r"'([^']*)'", expected)
    return quoted or [part.strip() for part in re.split(r",| or ", expected) if part.strip()]


_SIBLINGS: list[tuple[type[BaseModel], str]] = [
    (models.ModbusTcpDevice, "modbus-tcp devices"),
    (models.ModbusRtuDevice, "modbus-rtu devices"),
    (models.OpcUaDevice, "opcua devices"),
    (models.ModbusSignal, "Modbus signals"),
    (models.OpcUaSignal, "OPC UA signals"),
]
"""Models a misplaced key may belong to: `serial_port` in a TCP device, `node` in a Modbus one."""


def _unknown_key(place: _Place, data: object) -> str:
    key = place.loc[-1] if place.loc else "?"
    if place.owner is None:
        return f"unknown key '{key}'"
    present = _at(data, place.loc[:-1])
    taken = set(present) if isinstance(present, Mapping) else set()
    fields = [name for name in place.owner.model_fields if name not in taken]
    guess = did_you_mean(key, fields)
    if guess:
        return f"unknown key '{key}'; did you mean '{guess}'?"
    for model, what in _SIBLINGS:
        if model is not place.owner and key in model.model_fields:
            mine = next((w for m, w in _SIBLINGS if m is place.owner), None)
            if mine is not None:
                return f"unknown key '{key}': {what} have it, not {mine}"
    return f"unknown key '{key}'; valid keys here: {', '.join(place.owner.model_fields)}"


def _literal(place: _Place, error: ErrorDetails) -> str:
    annotation = _strip(place.annotation)
    if typing.get_origin(annotation) is typing.Literal:
        choices = [str(arg) for arg in typing.get_args(annotation)]
    else:
        choices = _choices_from_text(str(error.get("ctx", {}).get("expected", "")))
    value = error["input"]
    if place.loc == ("version",) and value not in (1, "1"):
        return f"version {_show(value)} is not supported: this gateway reads version: 1"
    if isinstance(value, str) and value in choices:
        return f"{_show(value)} is text here; write {value} without quotes"
    return _one_of(value, choices)


_SIMPLE: dict[str, str] = {
    "int_parsing": "expected a whole number, got {input}",
    "int_type": "expected a whole number, got {input}",
    "int_from_float": "expected a whole number, got {input}",
    "float_parsing": "expected a number, got {input}",
    "float_type": "expected a number, got {input}",
    "bool_parsing": "expected true or false, got {input}",
    "bool_type": "expected true or false, got {input}",
    "string_type": "expected text, got {input}; put it in quotes if it is meant as text",
    "list_type": "expected a list (lines starting with '- '), got {input}",
    "dict_type": "expected a mapping (key: value lines), got {input}",
    "model_type": "expected a mapping (key: value lines), got {input}",
    "model_attributes_type": "expected a mapping (key: value lines), got {input}",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "greater_than": "must be more than {gt}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
    "less_than": "must be less than {lt}, got {input}",
    "string_too_long": "is longer than {max_length} characters",
    "too_long": "has more than {max_length} items",
    "finite_number": "expected a finite number, got {input}",
}


def _message(error: ErrorDetails, place: _Place, data: object) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    shown = _show(error.get("input"))
    if kind == "missing":
        return f"missing required field '{place.loc[-1]}'" if place.loc else "missing"
    if kind == "extra_forbidden":
        return _unknown_key(place, data)
    if kind == "literal_error":
        return _literal(place, error)
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "string_pattern_mismatch":
        field = str(place.loc[-1]) if place.loc else ""
        template = _PATTERN_HINTS.get(str(ctx.get("pattern")), _PATTERN_BY_FIELD.get(field))
        if template:
            return template.format(input=shown)
        return f"{shown} does not have the expected form ({ctx.get('pattern')})"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "must not be empty"
        return f"{shown} is shorter than {ctx.get('min_length')} characters"
    if kind in _SIMPLE:
        return _SIMPLE[kind].format(input=shown, **ctx)
    message = error["msg"]
    return message[:1].lower() + message[1:]


def translate(error: ErrorDetails, data: object) -> list[tuple[Loc, str]]:
    """One pydantic error as `(path in the file, message)` pairs (a rule error holds several)."""
    raw: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == RULE_ERROR:
        found = []
        for sub_loc, message in ctx.get("issues", []):
            found.append((_walk((*raw, *sub_loc)).loc, str(message)))
        return found
    place = _walk(raw)
    if kind == "union_tag_invalid":
        key = str(ctx.get("discriminator", "'protocol'")).strip("'")
        choices = _choices_from_text(str(ctx.get("expected_tags", "")))
        return [((*place.loc, key), _one_of(ctx.get("tag"), choices))]
    if kind == "union_tag_not_found":
        key = str(ctx.get("discriminator", "'protocol'")).strip("'")
        if not isinstance(error.get("input"), Mapping):
            return [(place.loc, _SIMPLE["model_type"].format(input=_show(error.get("input"))))]
        protocols = ", ".join(_tags(m)[0] for m in _union_args(_strip(models.Device)) or ())
        return [((*place.loc, key), f"missing required field '{key}' ({protocols})")]
    return [(place.loc, _message(error, place, data))]


_GUESS = re.compile(r"^unknown key '[^']*'; did you mean '([^']*)'\?$")


def without_explained_missing(found: list[tuple[Loc, str]]) -> list[tuple[Loc, str]]:
    """`found` without a "missing required field 'X'" that an unknown key beside it explains
    (`gatway:` -> "did you mean 'gateway'?"): the typo is the one thing to fix, and the missing
    field, reported at the line of its parent, would come first and mislead."""
    guessed = set()
    for loc, message in found:
        match = _GUESS.match(message)
        if match and loc:
            guessed.add((*loc[:-1], match.group(1)))
    if not guessed:
        return found
    return [
        (loc, message)
        for loc, message in found
        if not (loc in guessed and message.startswith("missing required field"))
    ]
