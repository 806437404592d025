"""YAML text to plain data, remembering the line of every key and list item, with `${VAR}` filled.

ruamel.yaml composes the document into nodes that know their line (with its C parser when
ruamel.yaml.clib is installed); we copy them into plain dicts, lists and scalars (what pydantic
and the rest of the gateway expect) and keep a map from each location (`("devices", 1,
"host")`) to its 1-based line, so that an error found later by validation can be shown at its
line.

A value filled from the environment is remembered with its written form (`Document.filled`) so
that messages can name `${MQTT_PASSWORD}` instead of showing what it holds.

Environment variables are substituted in string values after parsing, so that a value with YAML
syntax in it (a password with `: ` or `#`) cannot change the structure of the file:
`${NAME}` (an error when NAME is unset), `${NAME:-default}` (the default when NAME is unset or
empty), and `$${` for a literal `${`. Substituted values stay text; pydantic converts `"1883"`
to a port number where a number is expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .indentation import misaligned, over_indented
from .limits import InputTooComplex, scan_yaml
from .rules import Loc

MERGE_TAG = "tag:yaml.org,2002:merge"

try:
    import _ruamel_yaml  # noqa: F401 - the C parser, from ruamel.yaml.clib

    _HAVE_C = True
except ImportError:
    _HAVE_C = False

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)


@dataclass
class Document:
    """A parsed config file: plain data, the line of each location, and `${VAR}` problems."""

    data: object
    lines: dict[Loc, int] = field(default_factory=dict)
    env_problems: list[tuple[Loc, str]] = field(default_factory=list)
    """Unset variables and malformed references, at the location of the value holding them."""
    filled: dict[Loc, tuple[str, str]] = field(default_factory=dict)
    """Values that `${VAR}` references filled in: location -> (value, text as written). The
    loader shows the text as written in its messages: a value from the environment may be a
    secret, and the variable's name is what the technician can act on."""

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest written parent (a missing key: its mapping)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


class YamlProblem(Exception):
    """The text is not valid YAML (or not one document); `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_YAML_HINTS = {
    "\\t": "indent with spaces: YAML does not allow tabs",
    "<block": "check the indentation of this line and the one above",
    "mapping values are not allowed": "a value with ': ' in it needs quotes",
}


def _yaml_problem(exc: YAMLError, text: str) -> YamlProblem:
    if not isinstance(exc, MarkedYAMLError):
        return YamlProblem(f"not valid YAML: {exc}", None)
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "not valid YAML"
    if mark is not None:
        # Most of these are a line indented wrong: say so in plain words when it is.
        if "mapping values are not allowed" in problem:
            plain = over_indented(text, mark.line)
        elif "<block" in problem:
            plain = misaligned(text, mark.line)
        else:
            plain = None
        if plain is not None:
            return YamlProblem(plain, mark.line + 1)
    if exc.context and exc.context_mark is not None:
        context = f"{exc.context} (line {exc.context_mark.line + 1})"
        problem = f"{context}, {problem}" if problem.startswith("but ") else f"{problem}, {context}"
    hints = [hint for needle, hint in _YAML_HINTS.items() if needle in str(exc.problem)]
    if hints:
        problem += f"; {hints[0]}"
    return YamlProblem(problem, mark.line + 1 if mark is not None else None)


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with `${VAR}` references filled from `env`, and a message per unusable reference.

    An unset variable stays as written, so that the rest of the value can still be shown.
    """
    problems: list[str] = []

    def fill(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            problems.append(f"'${{' without a closing '}}' in {text!r}; write ${{NAME}}")
            return whole
        name = _NAME.match(inner)
        if name is None:
            problems.append(
                f"'{whole}' is not a variable reference; write ${{NAME}} or ${{NAME:-default}}"
            )
            return whole
        value = env.get(name.group(1))
        default = name.group(2)
        if default is not None and not value:
            return default
        if value is None:
            problems.append(
                f"environment variable {name.group(1)} is not set "
                f"(set it, or give a default: ${{{name.group(1)}:-default}})"
            )
            return whole
        return value

    return _REFERENCE.sub(fill, text), problems


class _Builder:
    """Copies a composed YAML node graph into plain data, recording lines and filling `${VAR}`.

    Working on nodes (not on ruamel's round-trip objects) lets the C parser do the scanning:
    ten times faster, which a config of hundreds of devices notices at every start.
    """

    def __init__(self, env: Mapping[str, str] | None, constructor: Any) -> None:
        self.env = env
        self.constructor = constructor
        self.doc = Document(None)

    def build(self, node: Node, loc: Loc) -> object:
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            return self._sequence(node, loc)
        return self._scalar(node, loc)

    def _pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        """The key/value nodes of a mapping, with YAML merge keys (`<<: *defaults`) expanded:
        keys written in the mapping win over merged ones."""
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if key.tag == MERGE_TAG:
                sources = value.value if isinstance(value, SequenceNode) else [value]
                for source in sources:
                    if isinstance(source, MappingNode):
                        merged += self._pairs(source)
            else:
                own.append((key, value))
        if not merged:
            return own
        written = {self._scalar(k, None) for k, _ in own}
        return [(k, v) for k, v in merged if self._scalar(k, None) not in written] + own

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[object, object]:
        out: dict[object, object] = {}
        for key, value in self._pairs(node):
            plain_key = self._scalar(key, None)
            line = key.start_mark.line + 1
            if plain_key in out:
                raise YamlProblem(
                    f'found duplicate key "{plain_key}" with value "{self._text(value)}" '
                    f'(original value: "{self._text(self._original(node, plain_key))}")',
                    line,
                )
            here: Loc = (*loc, plain_key if isinstance(plain_key, str | int) else str(plain_key))
            self.doc.lines[here] = line
            out[plain_key] = self.build(value, here)
        return out

    def _original(self, node: MappingNode, key: object) -> Node | None:
        for k, v in node.value:
            if self._scalar(k, None) == key:
                return v
        return None

    @staticmethod
    def _text(node: Node | None) -> object:
        return node.value if isinstance(node, ScalarNode) else "..."

    def _sequence(self, node: SequenceNode, loc: Loc) -> list[object]:
        out: list[object] = []
        for index, value in enumerate(node.value):
            here = (*loc, index)
            self.doc.lines[here] = value.start_mark.line + 1
            out.append(self.build(value, here))
        return out

    def _scalar(self, node: Node, loc: Loc | None) -> object:
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str):
            if loc is None or self.env is None or "${" not in value:
                return value
            filled, problems = substitute(value, self.env)
            self.doc.env_problems += [(loc, problem) for problem in problems]
            if filled != value:
                self.doc.filled[loc] = (filled, value)
            return filled
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        return value


def parse_yaml(text: str, env: Mapping[str, str] | None, *, pure: bool = False) -> Document:
    """Parse one YAML document into plain data with lines; raises YamlProblem.

    `pure` composes with the pure-Python parser even where the C one is installed: slower, but
    a worker thread running it gives the event loop its turn every few milliseconds, where the
    C composer holds the interpreter for the whole document (the API renders so in a thread).

    With `env` None, `${VAR}` references are kept as written (the HTTP API shows them so).
    The C parser (ruamel.yaml.clib) composes the document when it is installed; on a syntax
    error the pure-Python parser reads it again, for its more precise message.

    First `limits.scan_yaml` bounds the nesting depth and the alias expansion, before anything
    recursive sees the text (the YamlProblem then says `nesting deeper than 64 levels`).
    """
    yaml = YAML(typ="safe", pure=pure or not _HAVE_C)
    try:
        scan_yaml(text)
        node = yaml.compose(text)
    except InputTooComplex as exc:
        raise YamlProblem(exc.message, exc.line) from exc
    except YAMLError as exc:
        try:
            YAML(typ="rt").load(text)
        except YAMLError as precise:
            raise _yaml_problem(precise, text) from precise
        raise _yaml_problem(exc, text) from exc
    builder = _Builder(env, yaml.constructor)
    builder.doc.lines[()] = 1
    try:
        builder.doc.data = None if node is None else builder.build(node, ())
    finally:
        # The constructor memoizes every node it saw, and it sits in a reference cycle with
        # the YAML object: left so, the whole node graph (100,000 objects for 4,000 signals)
        # waits for the cyclic collector, whose pass over it holds the interpreter for
        # 0.1 s and more, stalling the event loop. Cleared, reference counting frees it now.
        yaml.constructor.constructed_objects.clear()
    return builder.doc
