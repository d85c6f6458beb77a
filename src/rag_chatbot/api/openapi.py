"""The OpenAPI document at ``/openapi.json``, true to what the service answers.

FastAPI documents each route's success response and, where a route has parameters, a 422 with
a validation-error schema of its own. The service answers every error with ``ErrorBody``
(``api.errors``) and with more statuses than that. This is the one place that documents them,
derived from what each operation depends on:

- every operation: 422 (a malformed request: headers, path, query or body);
- a request body: 400 (it cannot be parsed), 413 (``BodySizeLimit`` counts every body);
- a caller dependency of ``api.security``: 401, and 503 when the login store cannot be asked;
  ``AdminDep`` also 403. It also gives the operation its ``security`` (``bearer``,
  ``clientToken``; an empty alternative where anonymous callers are served);
- a path parameter: 404 (ids are looked up; another caller's is answered as not found);
- a rate-limit budget (``ratelimit.scope_of``): 429 with ``Retry-After``;

plus what a route declares itself with ``responses=errors(...)``. Every 4xx and 5xx response
gets the ``ErrorBody`` schema (``OpenAIErrorBody`` under ``/v1``), unless the route gave it a
body of its own (``/api/health/detailed``'s 503). And every string the API takes (in a body, a
path or a query) gets the pattern ``^[^\\u0000]*$``: text with NUL is refused (``api.storable``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from rag_chatbot.api import security
from rag_chatbot.api.schemas import ErrorBody, OpenAIErrorBody
from rag_chatbot.ratelimit import scope_of

DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be read: not UTF-8 JSON, or broken multipart (`INVALID_INPUT`).",
    401: "No, bad, expired or revoked credentials (`UNAUTHORIZED`).",
    403: "A known caller without the right to do this (`FORBIDDEN`).",
    404: "Not found, or not the caller's (`NOT_FOUND`, `SESSION_NOT_FOUND`).",
    413: "The request body is over the limit (`FILE_TOO_LARGE`).",
    415: "A file type that cannot be read, or content unlike its extension (`UNSUPPORTED_FORMAT`).",
    422: "Invalid input (`INVALID_INPUT`), or a document that cannot be processed "
    "(`PROCESSING_ERROR`).",
    429: "Too many requests (`RATE_LIMIT_EXCEEDED`); retry after `Retry-After` seconds.",
    503: "Something the request needs is down or switched off; retry later "
    "(`SERVICE_UNAVAILABLE`, `EMBEDDING_ERROR`, `CONTEXT_RETRIEVAL_ERROR`, `AI_SERVICE_ERROR`).",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "Seconds until the limit's window ends.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}
_NO_NUL = "^[^\u0000]*$"
Security = list[dict[str, list[str]]]
BEARER: Security = [{"bearer": []}]
_ANYONE: Security = [{}, {"bearer": []}, {"clientToken": []}]
# Most demanding first: an operation takes the first one it depends on.
_CALLERS: dict[Callable[..., Any], Security] = {
    security.admin: BEARER,
    security.logged_in_user: BEARER,
    security.identified_caller: [{"bearer": []}, {"clientToken": []}],
    security.chat_caller: _ANYONE,
    security.current_principal: _ANYONE,
}
_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /api/auth/login, or the operator's ADMIN_TOKEN.",
    },
    "clientToken": {
        "type": "apiKey",
        "in": "header",
        "name": security.CLIENT_TOKEN_HEADER,
        "description": "An anonymous browser's own random token (16-128 of A-Z a-z 0-9 _ -).",
    },
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route's own error statuses; their body is added here."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def install_openapi(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Make ``app.openapi()``, and so ``/openapi.json``, the document described above.

    ``routers``: those included in ``app``, without a prefix of their own.
    """
    generate = app.openapi
    routes = [route for router in routers for route in router.routes]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(spec: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """``spec`` (FastAPI's document of ``routes``) with the errors they really answer."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for fastapi_default in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_default, None)
    for model in (ErrorBody, OpenAIErrorBody):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    components["securitySchemes"] = _SECURITY_SCHEMES
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                _document(spec["paths"][route.path_format][method.lower()], route, method)
    for operation in (op for path in spec["paths"].values() for op in path.values()):
        _refuse_nul([operation.get("requestBody"), operation.get("parameters")], schemas, set())
    return spec


def _document(operation: dict[str, Any], route: APIRoute, method: str) -> None:
    statuses = {422}
    if route.body_field is not None:
        statuses |= {400, 413}
    calls = set(_calls(route.dependant))
    caller = next((c for c in _CALLERS if c in calls), None)
    if caller is not None:
        statuses |= {401, 503} | ({403} if caller is security.admin else set())
        operation.setdefault("security", _CALLERS[caller])
    if route.param_convertors:  # the path has parameters
        statuses.add(404)
    if scope_of(method, route.path_format) is not None:
        statuses.add(429)
    responses: dict[str, dict[str, Any]] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    body = "OpenAIErrorBody" if route.path_format.startswith("/v1/") else "ErrorBody"
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}
    for key, response in responses.items():
        if key[0] not in "45":
            continue
        if key == "422":  # FastAPI's own, which this service never sends
            response.update(description=DESCRIPTIONS[422], content=content)
        response.setdefault("content", content)
        if int(key) in _HEADERS:
            response.setdefault("headers", _HEADERS[int(key)])


def _refuse_nul(node: object, schemas: dict[str, Any], seen: set[str]) -> None:
    """Give each plain string schema under ``node``, references followed, ``_NO_NUL``."""
    if isinstance(node, list):
        for item in node:
            _refuse_nul(item, schemas, seen)
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _refuse_nul(schemas[name], schemas, seen)
    plain = not {"pattern", "format", "contentMediaType", "enum", "const"} & node.keys()
    if node.get("type") == "string" and plain:
        node["pattern"] = _NO_NUL
    for value in node.values():
        _refuse_nul(value, schemas, seen)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
