"""A minimal SMS provider for bench/channels.py: answers every request as Twilio's Messages
API would (201, a message sid). Run as `uvicorn bench.sms_receiver:app`."""

from __future__ import annotations

import json
from typing import Any

BODY = json.dumps({"sid": "SM1", "status": "queued"}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
