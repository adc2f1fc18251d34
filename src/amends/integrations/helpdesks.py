"""The helpdesk apps Amends ships: importing this module registers each platform (its
signatures, payloads, replies and package) and lets the `helpdesk` channel post through them;
`ROUTERS` are their entry points (the panel's signed loads, ticket webhooks, Intercom's
Canvas Kit)."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

from amends.helpdesk import replies
from amends.helpdesk.platforms import PLATFORM_NAMES

ROUTERS: list[APIRouter] = []

for _name in PLATFORM_NAMES:
    try:
        _module = importlib.import_module(f"amends.integrations.{_name}")
    except ModuleNotFoundError as _missing:  # a platform being built: not shipped yet
        if _missing.name != f"amends.integrations.{_name}":
            raise
        continue
    if getattr(_module, "__file__", None) is None:  # a folder without __init__.py: the same
        continue
    ROUTERS.append(_module.router)

replies.install()
