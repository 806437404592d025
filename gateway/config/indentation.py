"""Plain words for the YAML errors that indentation causes, from the text around the error.

The parser reports what it expected ("mapping values are not allowed here", "expected <block
end>, but found '<block mapping start>'"), which a technician cannot act on. Both usually mean a
line indented wrong: further in than the key above it, which already has a value (YAML then
reads the line as the rest of that value), or at a depth that lines up with no key above it.
These functions look at the lines and say which, naming the keys to line up with. Pure: text in,
a sentence or None out.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"^(- +)?([^\s:#'\"][^:#]*?|'[^']*'|\"[^\"]*\"):(\s|$)")
"""A `key:` line (or a `- key:` list item): the key is group 2."""


def _content(line: str) -> str:
    stripped = line.strip()
    return "" if stripped.startswith("#") else stripped


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key_of(line: str) -> tuple[int, str] | None:
    """(indentation of the key, key) of a `key:` or `- key:` line."""
    body = line.lstrip(" ")
    match = _KEY.match(body)
    if match is None:
        return None
    dash = match.group(1) or ""
    return _indent(line) + len(dash), match.group(2)


def _spaces(n: int) -> str:
    return "1 space" if n == 1 else f"{n} spaces"


def _previous(lines: list[str], index: int) -> int | None:
    for i in range(index - 1, -1, -1):
        if _content(lines[i]):
            return i
    return None


def over_indented(text: str, line: int) -> str | None:
    """Line `line` (0-based) is indented further than the key above it, which has a value."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return None
    here = _key_of(lines[line])
    above_index = _previous(lines, line)
    if here is None or above_index is None:
        return None
    above = _key_of(lines[above_index])
    if above is None:
        return None
    rest = (
        lines[above_index].split(":", 1)[1].split(" #", 1)[0].strip()
        if ":" in lines[above_index]
        else ""
    )
    if here[0] <= above[0] or not rest:
        return None
    return (
        f"'{here[1]}:' is indented further than '{above[1]}:' on the line above, which already "
        f"has a value: indent '{here[1]}:' by {_spaces(above[0])}, like '{above[1]}:' "
        "(or, if the ': ' belongs in the value, put the value in quotes)"
    )


def misaligned(text: str, line: int) -> str | None:
    """Line `line` (0-based) is at a depth that lines up with no enclosing key above it."""
    lines = text.splitlines()
    if not 0 <= line < len(lines) or not _content(lines[line]):
        return None
    depth = _indent(lines[line])
    chain: list[tuple[int, str]] = []  # the enclosing keys, innermost first
    lowest: int | None = None
    for i in range(line - 1, -1, -1):
        if not _content(lines[i]):
            continue
        key = _key_of(lines[i])
        if key is None:
            continue
        if lowest is None or key[0] < lowest:
            chain.append(key)
            lowest = key[0]
        if lowest == 0:
            break
    if any(indent == depth for indent, _ in chain):
        return None
    deeper = [k for k in chain if k[0] > depth]
    shallower = [k for k in chain if k[0] < depth]
    if not deeper or not shallower:
        return None
    inner, outer = min(deeper), max(shallower)
    return (
        f"this line is indented {_spaces(depth)}, which lines up with no key above it: "
        f"'{inner[1]}:' is at {inner[0]} and '{outer[1]}:' at {outer[0]}; indent it by "
        f"{inner[0]} to go with '{inner[1]}:', or by {outer[0]} to go with '{outer[1]}:'"
    )
