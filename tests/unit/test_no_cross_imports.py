"""No test module imports another test module (issue 13).

A test module that imports from another one runs that module's fixtures and module-level code
in two places, couples unrelated tests (a change to one breaks the other's collection) and hides
what is shared. Shared helpers live in tests/support/, shared fixtures in a conftest.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def names_test_module(name: str) -> bool:
    """Whether a dotted module name (absolute, or relative without its leading dots) names a
    test module, or something inside one: one of its parts is `test_*`."""
    return any(part.startswith("test_") for part in name.split("."))


def imported_test_modules(source: str) -> list[str]:
    """The import statements of `source` that import a test module, as `line: module`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            # `from tests.integration import test_x` and `from . import test_x` name it in
            # the imported names.
            names = [base] + [f"{base}.{alias.name}".lstrip(".") for alias in node.names]
        else:
            continue
        hits = [name for name in names if names_test_module(name)]
        if hits:  # one entry per import statement
            found.append(f"{node.lineno}: {hits[0]}")
    return found


def test_the_scan_finds_every_form_of_import() -> None:
    source = "\n".join(
        [
            "import tests.integration.test_api",
            "from tests.integration.test_end_to_end import GatewayProcess",
            "from tests.unit import test_config",
            "from .test_opcua_adapter import Reader",
            "from . import test_web",
            "from tests.support.api import TOKEN",
            "import asyncio",
        ]
    )
    found = imported_test_modules(source)
    assert [entry.split(":")[0] for entry in found] == ["1", "2", "3", "4", "5"]


def test_no_test_module_imports_another() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert any(f.name == "test_end_to_end.py" for f in files), "the scan found no test files"
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{entry}"
        for path in files
        if "node_modules" not in path.parts
        for entry in imported_test_modules(path.read_text())
    ]
    assert offenders == [], "move what is shared to tests/support/ or a conftest.py"
