"""The web page at `/`: static HTML, CSS and JavaScript shipped inside the package (no build step, no CDN).

The page itself holds no data, so it is served without a key; every call it makes to /v1 sends the
key the user entered (kept in the browser's local storage).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
# The page loads nothing from elsewhere, and document text it shows can never run as script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def install_web_page(app: FastAPI) -> None:
    app.mount("/ui", StaticFiles(directory=STATIC_DIR), name="ui")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
        return FileResponse(STATIC_DIR / "index.html", headers=headers)
