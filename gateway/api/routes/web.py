"""The web page: plain HTML, CSS and JavaScript modules from the package, no build step.

The page loads without a token; its API calls need one as configured.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parents[1] / "static"
"""HTML, CSS, JavaScript modules and translations of the page."""

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    """The web page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def static_files() -> StaticFiles:
    """The page's files, mounted at /ui."""
    return StaticFiles(directory=STATIC)
