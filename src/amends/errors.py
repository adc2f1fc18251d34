"""Errors with a stable code, rendered as RFC 9457 problem+json (or an HTML page)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from amends.kit.context import request_id_var

log = logging.getLogger("amends.errors")

PROBLEM_JSON = "application/problem+json"


class AmendsError(Exception):
    """Base of every error a service raises; subclasses set `status`, `code` and `title`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        # Set when the refusal itself was recorded (an audit event) in the request's
        # transaction: that transaction then commits although the request fails.
        self.keep_changes = False
        super().__init__(self.detail)

    def headers(self) -> dict[str, str]:
        return {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:amends:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NotAuthenticated(AmendsError):
    status, code, title = 401, "not_authenticated", "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="amends"'}


class Forbidden(AmendsError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(AmendsError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AmendsError):
    status, code, title = 409, "conflict", "Conflict"


class ValidationFailed(AmendsError):
    status, code, title = 422, "validation_failed", "The request is not valid"


class PayloadTooLarge(AmendsError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class CsrfFailed(AmendsError):
    status, code, title = 403, "csrf_failed", "The form has expired; reload the page"


class TooManyAttempts(AmendsError):
    status, code, title = 429, "too_many_attempts", "Too many attempts"

    def __init__(self, detail: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def errors(*classes: type[AmendsError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route documents, grouped by status."""
    by_status: dict[int, list[type[AmendsError]]] = {}
    documented: list[type[AmendsError]] = [NotAuthenticated, ValidationFailed,
                                           PayloadTooLarge, *classes]
    for cls in documented:
        by_status.setdefault(cls.status, [])
        if cls not in by_status[cls.status]:
            by_status[cls.status].append(cls)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, members in sorted(by_status.items()):
        codes = ", ".join(f"`{c.code}`" for c in members)
        responses[status] = {
            "description": f"{members[0].title if len(members) == 1 else 'Problem'}: {codes}",
            "content": {
                PROBLEM_JSON: {
                    "schema": PROBLEM_SCHEMA,
                    "examples": {
                        c.code: {"summary": c.title, "value": c().problem()} for c in members
                    },
                }
            },
        }
    return responses


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/v1/") or request.url.path in {"/openapi.json", "/metrics"}:
        return False
    return "text/html" in request.headers.get("accept", "")


def render_problem(request: Request, error: AmendsError) -> Response:
    headers = error.headers()  # the request id is added to every answer by the middleware
    if _wants_html(request):
        from amends.web.templating import render_error_page

        return render_error_page(request, error, headers=headers)
    return JSONResponse(
        error.problem(instance=request.url.path),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


class InternalError(AmendsError):
    status, code, title = 500, "internal_error", "Internal error"


def internal_error_response(request: Request) -> Response:
    """The answer to an error nobody foresaw: the request id (in the body and the
    `X-Request-ID` header) is what finds it in the logs."""
    error = InternalError("Something went wrong on our side; the request id "
                          f"{request_id_var.get() or ''} identifies it in our logs.",
                          request_id=request_id_var.get())
    try:
        return render_problem(request, error)
    except Exception:  # the console's error page itself failed: answer in plain JSON
        log.exception("the error page failed")
        return JSONResponse(error.problem(instance=request.url.path), status_code=500,
                            media_type=PROBLEM_JSON)


def install_error_handlers(app: FastAPI) -> None:
    async def on_amends_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AmendsError)
        return render_problem(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not request.url.path.startswith("/v1/") and any(
            err.get("loc", ("",))[0] == "path" for err in exc.errors()
        ):
            # A console address whose id is malformed names no page, like an unknown id.
            return render_problem(request, NotFound("There is no such page; check the link."))
        fields = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "field": None
                if err.get("type") == "json_invalid"
                else ".".join(str(p) for p in err.get("loc", ())[1:]) or None,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        error = ValidationFailed(
            "One or more fields are not valid: "
            + ", ".join(f["field"] or "body" for f in fields),
            errors=fields,
        )
        return render_problem(request, error)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        generic = type(
            "HttpProblem", (AmendsError,), {"status": exc.status_code, "code": code, "title": title}
        )
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        error = generic(detail)
        response = render_problem(request, error)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return internal_error_response(request)

    app.add_exception_handler(AmendsError, on_amends_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
