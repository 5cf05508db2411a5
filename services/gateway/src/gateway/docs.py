"""The merged OpenAPI document and the docs page, whose assets are served from this process:
government intranets have no internet, so nothing may come from a CDN."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from emplan_shared.events.asyncapi import build_asyncapi
from gateway.openapi import OpenApiCache, add_security, merge_documents
from gateway.openapi_examples import add_examples

ASSETS = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def merged_openapi(request: Request) -> JSONResponse:
    app: FastAPI = request.app
    cache: OpenApiCache = app.state.openapi_cache
    documents, missing = await cache.documents()
    merged = add_examples(add_security(merge_documents(app.openapi(), documents)))
    headers = {"Emplan-Missing-Services": ",".join(missing)} if missing else None
    return JSONResponse(merged, headers=headers)


@router.get("/asyncapi.json")
async def asyncapi() -> JSONResponse:
    """The event catalogue (AsyncAPI 3.0), for integrators that consume emplan's events."""
    return JSONResponse(build_asyncapi())


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="emplan API 文档",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="emplan API 文档",
        redoc_js_url="/docs/assets/redoc.standalone.js",
        redoc_favicon_url="/docs/assets/favicon.png",
        with_google_fonts=False,
    )


def mount_docs(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
