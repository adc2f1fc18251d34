"""A rule switched on as the API asks: saved off, its dry run seen, then switched on."""

from __future__ import annotations

from typing import Any

import httpx


async def live_rule(client: httpx.AsyncClient, headers: dict[str, str],
                    rule: dict[str, Any]) -> dict[str, Any]:
    """Create `rule`, look at its dry run and switch it on; returns the rule as saved."""
    created = await client.post("/v1/rules", headers=headers, json=rule)
    assert created.status_code == 201, created.text
    made = created.json()
    tried = await client.post(f"/v1/rules/{made['id']}/dry-run", headers=headers)
    assert tried.status_code == 200, tried.text
    switched = await client.put(f"/v1/rules/{made['id']}", headers=headers,
                                json={**rule, "active": True})
    assert switched.status_code == 200, switched.text
    return dict(switched.json())
