"""Request id, access log and metrics, as plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import logging
import os
import re
import time
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amends.errors import (
    AmendsError,
    PayloadTooLarge,
    ValidationFailed,
    internal_error_response,
    render_problem,
)
from amends.kit.context import request_id_var
from amends.ops.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("amends.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


UPLOAD_TYPES = (b"multipart/form-data", b"text/csv")


def _nul_parameters(scope: Scope) -> list[str]:
    """Where a NUL character hides in the path or query string (PostgreSQL cannot store
    one, and no identifier or search term has one)."""
    found = ["path"] if "\x00" in scope["path"] else []
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        found += [f"query.{name}" for name, value in parse_qsl(
            query.decode("latin-1"), keep_blank_values=True) if "\x00" in name + value]
    return found


class RequestContextMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` when it is sane), tags its log
    lines and its answer with it, answers an unforeseen error with a 500 that carries it,
    refuses bodies over the size limit (413) and NUL characters in the path or query (422),
    and counts and logs the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else os.urandom(12).hex()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await render_problem(Request(scope), refusal)(scope, receive, send_with_id)
            else:
                await self.app(scope, self._bounded(scope, headers, receive), send_with_id)
        except HTTPException as too_large:  # raised by `_bounded` where nobody caught it
            status = too_large.status_code
            if answered:
                raise
            await render_problem(Request(scope), PayloadTooLarge(too_large.detail))(
                scope, receive, send_with_id)
        except Exception:
            # Answered here rather than by Starlette's outermost handler, so that the log
            # line and the 500 both carry this request's id.
            status = 500
            log.exception("unhandled error", extra={"method": scope.get("method", ""),
                                                    "path": scope.get("path")})
            if answered:
                raise  # too late for an answer; the server drops the connection
            await internal_error_response(Request(scope))(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method, template, str(status)).inc()
            REQUEST_SECONDS.labels(method, template).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope.get("path"),
                        "route": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    @staticmethod
    def _limit(scope: Scope, headers: dict[bytes, bytes]) -> int:
        settings = scope["app"].state.settings
        content_type = headers.get(b"content-type", b"").lower()
        if content_type.startswith(UPLOAD_TYPES):
            return int(settings.max_upload_bytes)
        return int(settings.max_body_bytes)

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> AmendsError | None:
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._limit(scope, headers):
            return PayloadTooLarge(f"At most {self._limit(scope, headers):,} bytes.",
                                   limit=self._limit(scope, headers))
        where = _nul_parameters(scope)
        if where:
            return ValidationFailed(
                "No parameter may contain a NUL character: " + ", ".join(where),
                errors=[{"loc": w.split("."), "field": w.partition(".")[2] or w,
                         "message": "must not contain a NUL character", "type": "value_error"}
                        for w in where])
        return None

    def _bounded(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive) -> Receive:
        """A body sent without Content-Length (chunked) is counted as it arrives."""
        if b"content-length" in headers:
            return receive  # the server holds the body to its declared length
        limit = self._limit(scope, headers)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException, because the framework turns any other error raised while
                # it reads a body into a 400.
                raise HTTPException(413, f"At most {limit:,} bytes.")
            return message

        return counted
