"""A streamed response that closes its body's generator however the stream ends.

Starlette stops sending when the client goes away by cancelling the task that iterates the
body: the generator is left suspended at its `yield` and only closed when the garbage
collector finds it, so whatever it holds (a pooled connection mid-COPY, a transaction) is
given back late, or cleaned up by the collector with a warning. Closing it as the response
ends runs its `finally` at once.
"""

from __future__ import annotations

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
