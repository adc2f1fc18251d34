"""Who is acting: a member of staff, an API key, or Amends itself (jobs, rules)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from amends.roles import ROLE_SCOPES, Role, Scope


@dataclass(frozen=True, slots=True)
class Actor:
    organization_id: uuid.UUID
    kind: Literal["user", "api_key", "system"]
    id: uuid.UUID | None
    label: str
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    session_id: uuid.UUID | None = None

    def can(self, scope: Scope | str) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.id if self.kind == "user" else None

    @classmethod
    def for_user(
        cls,
        *,
        organization_id: uuid.UUID,
        user_id: uuid.UUID,
        email: str,
        role: Role,
        session_id: uuid.UUID | None = None,
    ) -> Actor:
        return cls(
            organization_id=organization_id,
            kind="user",
            id=user_id,
            label=email,
            role=role,
            scopes=frozenset(ROLE_SCOPES[role]),
            session_id=session_id,
        )

    @classmethod
    def system(cls, organization_id: uuid.UUID, label: str = "amends") -> Actor:
        return cls(
            organization_id=organization_id,
            kind="system",
            id=None,
            label=label,
            scopes=frozenset({Scope.ADMIN}),
        )
