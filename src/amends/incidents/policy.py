"""Who may do what to an incident, in which state: pure rules, no I/O. The service enforces
them and the incident page offers exactly the actions they allow, so the page never shows a
button that the service would then refuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from amends.roles import Role

Action = Literal["approve", "run", "pause", "resume", "cancel"]
ACTIONS: tuple[Action, ...] = ("approve", "run", "pause", "resume", "cancel")

# The states each action moves an incident out of.
FROM: dict[Action, tuple[str, ...]] = {
    "approve": ("draft",),
    "run": ("draft",),
    "pause": ("running",),
    "resume": ("paused",),
    "cancel": ("draft", "running", "paused"),
}
# Who may approve an incident whose gestures are worth more than the organisation's threshold
# (an API key or Amends itself may too: their scopes were checked before).
APPROVERS = (Role.MANAGER, Role.ADMIN)

Refusal = Literal["state", "needs_approval", "not_a_manager", "own_incident"]


@dataclass(frozen=True, slots=True)
class Situation:
    """What the rules look at: the incident's state, whether it still waits for a manager's
    approval, and who is asking."""

    status: str
    needs_approval: bool
    actor_kind: str
    actor_role: Role | None
    is_author: bool


def refusal(action: Action, situation: Situation) -> Refusal | None:
    """Why `action` is not allowed now, or None when it is."""
    if action == "approve":
        if situation.actor_kind == "user" and situation.actor_role not in APPROVERS:
            return "not_a_manager"
        if situation.is_author:
            return "own_incident"
    if situation.status not in FROM[action]:
        return "state"
    if action == "run" and situation.needs_approval:
        return "needs_approval"
    return None


def offered(situation: Situation) -> list[Action]:
    """The actions a page offers the person now, in its order: those allowed, but approval
    only while it is needed (approving ahead of time is allowed, and harmless, but no one
    needs a button for it)."""
    return [action for action in ACTIONS if refusal(action, situation) is None
            and (action != "approve" or situation.needs_approval)]
