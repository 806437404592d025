"""YAML text to plain data, remembering the line of every key and list item, with `${VAR}` filled.

ruamel.yaml's round-trip loader keeps positions (`.lc`); we copy the document into plain dicts,
lists and scalars (what pydantic and the rest of the gateway expect) and keep a map from each
location (`("devices", 1, "host")`) to its 1-based line, so that an error found later by
validation can be shown at its line.

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

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .rules import Loc

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)


@dataclass
class Document:
    """A parsed config file: plain data, the line of each location, and `${VAR}` problems."""

    data: object
    lines: dict[Loc, int] = field(default_factory=dict)
    env_problems: list[tuple[Loc, str]] = field(default_factory=list)
    """Unset variables and malformed references, at the location of the value holding them."""

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


def _yaml_problem(exc: YAMLError) -> YamlProblem:
    if not isinstance(exc, MarkedYAMLError):
        return YamlProblem(f"not valid YAML: {exc}", None)
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "not valid YAML"
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
    """Copies a ruamel document into plain data, recording lines and filling `${VAR}`."""

    def __init__(self, env: Mapping[str, str] | None) -> None:
        self.env = env
        self.doc = Document(None)

    def build(self, node: object, loc: Loc) -> object:
        if isinstance(node, Mapping):
            return self._mapping(node, loc)
        if isinstance(node, list):
            return self._sequence(node, loc)
        return self._scalar(node, loc)

    def _mapping(self, node: Mapping[object, object], loc: Loc) -> dict[object, object]:
        out: dict[object, object] = {}
        for key, value in node.items():
            plain_key = self._scalar(key, None)
            here = (*loc, plain_key)  # type: ignore[arg-type]
            line = _line(node, "key", key)
            if line is not None:
                self.doc.lines[here] = line
            out[plain_key] = self.build(value, here)
        return out

    def _sequence(self, node: list[object], loc: Loc) -> list[object]:
        out: list[object] = []
        for index, value in enumerate(node):
            here = (*loc, index)
            line = _line(node, "item", index)
            if line is not None:
                self.doc.lines[here] = line
            out.append(self.build(value, here))
        return out

    def _scalar(self, node: object, loc: Loc | None) -> object:
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, str):
            text = str(node)
            if loc is None or self.env is None or "${" not in text:
                return text
            filled, problems = substitute(text, self.env)
            self.doc.env_problems += [(loc, problem) for problem in problems]
            return filled
        if isinstance(node, int):
            # ruamel's ScalarInt and ScalarBoolean (an anchored bool) are int subclasses.
            return bool(node) if type(node).__name__ == "ScalarBoolean" else int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, dt.datetime | dt.date):
            return node.isoformat()
        return node


def _line(node: object, kind: str, key: object) -> int | None:
    try:
        lc = node.lc  # type: ignore[attr-defined]
        line, _column = lc.key(key) if kind == "key" else lc.item(key)
    except (AttributeError, KeyError, TypeError, IndexError):
        return None
    return int(line) + 1


def parse_yaml(text: str, env: Mapping[str, str] | None) -> Document:
    """Parse one YAML document into plain data with lines; raises YamlProblem.

    With `env` None, `${VAR}` references are kept as written (the HTTP API shows them so).
    """
    yaml = YAML(typ="rt")
    try:
        node = yaml.load(text)
    except YAMLError as exc:
        raise _yaml_problem(exc) from exc
    builder = _Builder(env)
    builder.doc.lines[()] = 1
    builder.doc.data = builder.build(node, ())
    return builder.doc
