"""Bounds on the shape of config input, checked before anything recursive sees it.

Why: ruamel's composer (its C one as much as the pure-Python one) recurses once per nesting
level, so a body of 30,000 nested `[` segfaults the whole process, and a few hundred levels
raise RecursionError (a 500 from the API); YAML aliases share nodes, so a 331-byte "billion
laughs" document composes at once and then costs minutes of CPU and gigabytes when it is
copied into plain data. A real config is a few levels deep and uses aliases for a handful of
defaults.

`scan_yaml` walks the parser's event stream, which ruamel produces without recursion, and
keeps one counter per open level: linear in the text, about a sixth of the cost of composing.
It counts how many nodes every anchor stands for, so the expansion of nested aliases is known
without doing it. `check_data` bounds already-parsed data (JSON from the HTTP API) the same
way, iteratively. Both raise `InputTooComplex`, which the loader and the API report as a
config error (`FILE:LINE: nesting deeper than 64 levels`).

Exceptions:

    Exception
     └── InputTooComplex   nested too deep or aliases expand too far; `line` is 1-based or None
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64
"""Most levels of nested mappings and lists (a real config needs under 10)."""
MAX_ALIAS_NODES = 100_000
"""Most nodes that aliases (`*name`, merge keys `<<: *name`) may add to the document: enough
for defaults shared by thousands of signals, far from the billions of an alias bomb."""

try:
    from _ruamel_yaml import CParser  # the C parser, from ruamel.yaml.clib

    _HAVE_C = True
except ImportError:
    _HAVE_C = False


class InputTooComplex(ValueError):
    """The input is nested deeper than MAX_DEPTH or its aliases expand past MAX_ALIAS_NODES."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _too_deep(line: int | None) -> InputTooComplex:
    return InputTooComplex(
        f"nesting deeper than {MAX_DEPTH} levels: a config needs only a few; "
        "check for unclosed brackets",
        line,
    )


def _events(text: str) -> Any:
    """The parser events of `text`; a YAMLError for text that is not YAML at all."""
    if _HAVE_C:
        parser = CParser(text)
        try:
            while True:
                event = parser.get_event()
                if event is None:
                    return
                yield event
                if type(event).__name__ == "StreamEndEvent":
                    return
        finally:
            parser.dispose()
    else:  # pragma: no cover - ruamel.yaml.clib is a dependency; kept for odd platforms
        from ruamel.yaml import YAML

        yield from YAML(typ="safe", pure=True).parse(text)


def scan_yaml(text: str) -> None:
    """Raise InputTooComplex when `text` nests too deep or its aliases expand too far.

    A syntax error found on the way is left for the composer to report (YAMLError is raised
    as is): everything the scan passed before it was within bounds.
    """
    # One frame per open collection: [nodes in it so far, height of its deepest child].
    frames: list[list[int]] = [[0, 0]]
    anchors: dict[str, tuple[int, int]] = {}  # name -> (nodes it stands for, its height)
    opened_anchor: list[str | None] = []
    added = 0
    for event in _events(text):
        kind = type(event).__name__
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            if len(frames) > MAX_DEPTH:
                raise _too_deep(_line(event))
            frames.append([1, 0])
            opened_anchor.append(event.anchor)
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            nodes, height = frames.pop()
            height += 1
            anchor = opened_anchor.pop()
            if anchor is not None:
                anchors[anchor] = (nodes, height)
            _add(frames[-1], nodes, height)
        elif kind == "ScalarEvent":
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
            _add(frames[-1], 1, 0)
        elif kind == "AliasEvent":
            nodes, height = anchors.get(event.anchor, (1, 0))
            if len(frames) - 1 + height > MAX_DEPTH:
                raise _too_deep(_line(event))
            added += nodes
            if added > MAX_ALIAS_NODES:
                raise InputTooComplex(
                    f"alias expansion over {MAX_ALIAS_NODES} nodes: aliases (*name) here "
                    "repeat more than a config needs; write the values out, or use a profile",
                    _line(event),
                )
            _add(frames[-1], nodes, height)


def _add(frame: list[int], nodes: int, height: int) -> None:
    frame[0] += nodes
    if height > frame[1]:
        frame[1] = height


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return None if mark is None else mark.line + 1


def check_data(data: object) -> None:
    """Raise InputTooComplex when parsed data (JSON) nests deeper than MAX_DEPTH levels.

    Iterative, so that data nested far deeper than Python's recursion limit is refused, not
    crashed on. Call it on a JSON body before anything walks the data recursively.
    """
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise _too_deep(None)
        stack.extend((child, depth + 1) for child in children)
