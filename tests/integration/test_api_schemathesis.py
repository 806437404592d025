"""The live API against its own OpenAPI document, with schemathesis: every operation, valid
and invalid requests, bounded (a few seconds per operation); 0 server errors and 0 mismatches
of status, content type, headers or body schema.

Only what cannot reach outside loopback or change the running config is sent with a token
(POST /api/v1/config/validate); every other change is sent without one and must be refused
as documented (401): a generated device entry could name any host, and a test read or a save
would then connect to it. The event stream is left out (it never ends).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.api import RunningGateway, config_data, running_gateway

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 25
"""Per operation: about 15 operations, well under a minute on the edge box."""
SKIPPED = {"GET /api/v1/events"}
WITH_TOKEN = {"POST /api/v1/config/validate"}


def conformance(operation: Any, base_url: str, headers: dict[str, str]) -> str | None:
    """Run EXAMPLES generated requests of one operation; the first failure, or None."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE)
        | operation.as_strategy(GenerationMode.NEGATIVE)
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    try:
        check()
    except Exception as exc:  # schemathesis raises its own failure groups
        return str(exc)
    return None


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    device = {
        "id": "press-1",
        "protocol": "modbus-tcp",
        "host": "127.0.0.1",
        "port": 1,
        "enabled": False,
        "signals": [{"name": "temp", "table": "holding", "address": 0}],
    }
    data = config_data(tmp_path, 1, [device])
    data["mqtt"]["enabled"] = False
    async with running_gateway(tmp_path / "gateway.yaml", data) as running:
        yield running


async def test_the_api_conforms_to_its_openapi_document(gw: RunningGateway) -> None:
    document = (await gw.client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    before = gw.path.read_bytes()
    failures: list[str] = []
    tested: list[str] = []

    def run() -> None:
        for result in schema.get_all_operations():
            operation = result.ok()
            key = f"{operation.method.upper()} {operation.path}"
            if key in SKIPPED:
                continue
            tested.append(key)
            problem = conformance(operation, gw.base_url, gw.auth() if key in WITH_TOKEN else {})
            if problem:
                failures.append(f"{key}: {problem}")

    await asyncio.wait_for(asyncio.to_thread(run), timeout=90)
    assert len(tested) >= 14, tested
    assert not failures, "\n\n".join(failures)
    assert gw.path.read_bytes() == before, "nothing was changed"
    assert (await gw.client.get("/readyz")).status_code == 200
