"""Staff accounts: each person's own profile, and the organisation's staff as admins manage
them (invitations, roles, teams and stores, deactivation, password resets)."""

from __future__ import annotations

import uuid

from amends.auth import AdminCaller, Authenticated, MissingScope, SessionDep, SettingsDep
from amends.errors import errors
from amends.models import User
from amends.routing import router as make_router
from amends.users import admin
from amends.users import service as users
from amends.users.schemas import (
    PasswordLinkOut,
    PreferencesUpdate,
    StaffOut,
    UserInvite,
    UserOut,
    UserUpdate,
)

router = make_router(prefix="/v1/users", tags=["users"])


def staff_out(user: User) -> StaffOut:
    return StaffOut.model_validate({**UserOut.model_validate(user).model_dump(),
                                    "active": user.active, "pending": admin.pending(user),
                                    "created_at": user.created_at,
                                    "last_login_at": user.last_login_at,
                                    "invited_at": user.invited_at})


def link_out(link: admin.PasswordLink, base_url: str) -> PasswordLinkOut:
    return PasswordLinkOut(user=staff_out(link.user), emailed=link.emailed,
                           set_password_url=None if link.emailed
                           else f"{base_url.rstrip('/')}{link.path}",
                           expires_at=link.expires_at)


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


@router.get("", responses=errors(MissingScope))
async def list_users(session: SessionDep, actor: AdminCaller) -> list[StaffOut]:
    """The organisation's staff, active first: role, team, store, last login, and whether
    they are still to choose a password."""
    return [staff_out(user) for user in await admin.list_users(session, actor)]


@router.post("", status_code=201, responses=errors(
    MissingScope, users.UserExists, users.ConsoleLanguageNotOffered))
async def invite_user(body: UserInvite, session: SessionDep, settings: SettingsDep,
                      actor: AdminCaller) -> PasswordLinkOut:
    """Invite a person: their account is created without a password and a link to choose one
    (valid 72 hours, once) is e-mailed to them in their language. Without an e-mail channel
    the link is in this response (`set_password_url`), once, to pass on."""
    link = await admin.invite_user(session, actor, email=body.email, name=body.name,
                                   role=body.role, team=body.team, store=body.store,
                                   locale=body.locale)
    return link_out(link, settings.base_url)


@router.get("/{user_id}", responses=errors(MissingScope, admin.UserNotFound))
async def get_user(user_id: uuid.UUID, session: SessionDep, actor: AdminCaller) -> StaffOut:
    """One member of staff."""
    return staff_out(await admin.get_user(session, actor, user_id=user_id))


@router.patch("/{user_id}", responses=errors(
    MissingScope, admin.UserNotFound, admin.LastAdmin, users.ConsoleLanguageNotOffered))
async def update_user(user_id: uuid.UUID, body: UserUpdate, session: SessionDep,
                      actor: AdminCaller) -> StaffOut:
    """Change a person's name, role, team, store or console language (null clears team,
    store and language). The last active administrator cannot lose the role (409
    `last_admin`)."""
    return staff_out(await admin.update_user(session, actor, user_id=user_id,
                                             changes=body.model_dump(exclude_unset=True)))


@router.post("/{user_id}/deactivate", responses=errors(
    MissingScope, admin.UserNotFound, admin.LastAdmin))
async def deactivate_user(user_id: uuid.UUID, session: SessionDep,
                          actor: AdminCaller) -> StaffOut:
    """Stop a person logging in: their open sessions end at once. The last active
    administrator cannot be deactivated (409 `last_admin`)."""
    return staff_out(await admin.deactivate_user(session, actor, user_id=user_id))


@router.post("/{user_id}/reactivate", responses=errors(MissingScope, admin.UserNotFound))
async def reactivate_user(user_id: uuid.UUID, session: SessionDep,
                          actor: AdminCaller) -> StaffOut:
    """Let a deactivated person log in again."""
    return staff_out(await admin.reactivate_user(session, actor, user_id=user_id))


@router.post("/{user_id}/reset-password", responses=errors(
    MissingScope, admin.UserNotFound, admin.UserInactive))
async def reset_password(user_id: uuid.UUID, session: SessionDep, settings: SettingsDep,
                         actor: AdminCaller) -> PasswordLinkOut:
    """Send a person a new set-password link (valid 72 hours, once); their sessions and
    current password keep working until they use it. Without an e-mail channel the link is
    in this response, once."""
    return link_out(await admin.reset_password(session, actor, user_id=user_id),
                    settings.base_url)
