"""The API reference: an OpenAPI schema that says what the service really answers, and
Swagger UI to read it at /docs, served from the files the fastapi-offline wheel ships (Swagger
UI 5, which reads OpenAPI 3.1; the CSP allows scripts from this origin only, and the machines
reach no CDN). Only those files are used: the wheel's own pages start Swagger UI with an inline
script, which the CSP forbids, so /docs-init.js (api/static) does that here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.schemas import ErrorResponse
from redactor.record import Record

DOCS_ASSETS = "/docs/assets"
DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ID-document redaction service: API reference</title>
  <link rel="icon" href="/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{DOCS_ASSETS}/swagger-ui.css">
  <script src="{DOCS_ASSETS}/swagger-ui-bundle.js" defer></script>
  <script src="/docs-init.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""

docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/docs", response_class=HTMLResponse)
async def docs() -> HTMLResponse:
    return HTMLResponse(DOCS_HTML)


def install(app: FastAPI) -> None:
    """Serve /docs and its assets, and replace the generated schema by the truthful one."""
    import fastapi_offline

    app.include_router(docs_router)
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
    app.openapi = _truthful(app)  # type: ignore[method-assign]


def _truthful(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = correct(schema)
        return app.openapi_schema

    return openapi


def correct(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a 422 with its own error shape for every operation with parameters;
    this service answers a malformed request with 400 `invalid_request` in its own shape, and
    uses 422 only for needs_review. The record, an open dict in the code, gets its schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            generated = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if generated.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
                responses.setdefault(
                    "400",
                    {"description": "invalid_request: a malformed request", "content": {"application/json": {"schema": error_ref}}},
                )
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}"))
    record = Record.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(record.pop("$defs", {}))
    record["description"] = (
        "The signed verification record: what was checked (document, MRZ, expiry), what was blacked out, and "
        "the SHA-256 of the redacted copy. `signature` is a JWS (EdDSA) over the other members; "
        "verify it with /.well-known/jwks.json or POST /v1/records/verify."
    )
    components["Record"] = record
    # In the code the record is the exact dict that was signed (a model could change a byte
    # and break the signature); here it is documented by its type.
    for model, field in (("Redaction", "record"), ("ErrorBody", "record")):
        properties = components.get(model, {}).get("properties", {})
        if field in properties:
            description = properties[field].get("description", "")
            properties[field] = {"allOf": [{"$ref": "#/components/schemas/Record"}], "description": description}
    return schema
