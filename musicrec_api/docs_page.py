"""The OpenAPI page at ``/docs`` with Swagger UI's files served by the API itself, so the page
works where the browser cannot reach the internet (FastAPI's default page loads them from a CDN).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"
OPENAPI_VERSION = "3.0.3"  # the newest version the bundled Swagger UI renders


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from the bundled files (create the app with
    ``docs_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
