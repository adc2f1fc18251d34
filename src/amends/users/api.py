"""The logged-in person's own profile: their console language and time zone."""

from __future__ import annotations

from amends.auth import Authenticated, SessionDep
from amends.errors import errors
from amends.routing import router as make_router
from amends.users import service as users
from amends.users.schemas import PreferencesUpdate, UserOut

router = make_router(prefix="/v1/users", tags=["users"])


@router.get("/me", responses=errors(users.NotAPerson))
async def get_me(session: SessionDep, actor: Authenticated) -> UserOut:
    """Who is logged in, with their console language and time zone."""
    return UserOut.model_validate(await users.me(session, actor))


@router.patch("/me", responses=errors(users.NotAPerson, users.ConsoleLanguageNotOffered))
async def update_me(body: PreferencesUpdate, session: SessionDep,
                    actor: Authenticated) -> UserOut:
    """Choose the console's language (`en`, `fr`, with any region; null follows the browser)
    and the zone dates are shown in (null uses the organisation's)."""
    changes = body.model_dump(exclude_unset=True)
    return UserOut.model_validate(await users.set_preferences(session, actor, changes=changes))
