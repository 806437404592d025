"""What the config loader reports: one `ConfigIssue` per problem, all of them in one `ConfigError`.

An issue is a value, not an exception, so that the loader, `gerbang check` and the HTTP API (422
with every error) can gather, sort and render them the same way: `FILE:LINE: path: message`.

Exceptions:

    Exception
     └── ConfigError    the config (file, text or API data) is invalid; `.issues` says why
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .rules import Loc


def format_path(loc: Loc) -> str:
    """`devices[1].signals[0].table` from `("devices", 1, "signals", 0, "table")`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config, where it is (file, 1-based line, field path) and what is wrong."""

    file: str | None
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = ":".join(
            part
            for part in (self.file, None if self.line is None else str(self.line))
            if part is not None
        )
        if not self.file and self.line is not None:
            where = f"line {self.line}"
        return ": ".join(part for part in (where, self.path, self.message) if part)


class ConfigError(Exception):
    """The config is invalid; `issues` holds every problem found, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue]]]:
        # Pickled by `load_config_apart`'s child: rebuild from the issues, not the message.
        return ConfigError, (self.issues,)


def sorted_issues(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Issues in file order (those without a line last), duplicates removed, ties kept in order."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: (issue.line is None, issue.line or 0))
