from __future__ import annotations

import uuid

from amends.apikeys import service as apikeys
from amends.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from amends.auth import AdminCaller, MissingScope, SessionDep
from amends.errors import errors
from amends.routing import router as make_router

router = make_router(prefix="/v1/api-keys", tags=["api keys"])


@router.post("", status_code=201, responses=errors(MissingScope, apikeys.UnknownScope))
async def create_api_key(body: ApiKeyCreate, session: SessionDep, actor: AdminCaller
                         ) -> ApiKeyCreated:
    """Create an API key; the token is in this response only."""
    created = await apikeys.create_api_key(session, actor, name=body.name, scopes=body.scopes)
    return ApiKeyCreated(
        **ApiKeyOut.model_validate(created.api_key).model_dump(), token=created.token
    )


@router.get("", responses=errors(MissingScope))
async def list_api_keys(session: SessionDep, actor: AdminCaller) -> list[ApiKeyOut]:
    """The organisation's API keys (never their secrets)."""
    return [ApiKeyOut.model_validate(k) for k in await apikeys.list_api_keys(session, actor)]


@router.post("/{api_key_id}/revoke", responses=errors(MissingScope, apikeys.ApiKeyNotFound))
async def revoke_api_key(api_key_id: uuid.UUID, session: SessionDep, actor: AdminCaller
                         ) -> ApiKeyOut:
    """Revoke a key; it stops working within the key cache time (5 s by default)."""
    return ApiKeyOut.model_validate(
        await apikeys.revoke_api_key(session, actor, api_key_id=api_key_id)
    )
