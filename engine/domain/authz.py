"""Who may do what: village and township scope, a task's role, no self-review."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .roles import COUNTY_ROLES, READ_ALL_ROLES, TOWNSHIP_ROLES, level_of

if TYPE_CHECKING:  # the domain reads these records' attributes only; it does not load them
    from ..store.models import User, Village


@dataclass(frozen=True)
class Grant:
    role: str
    village_id: int | None = None
    township: str | None = None
    county: str | None = None


@dataclass(frozen=True)
class Actor:
    id: int | None
    username: str
    name: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.id, user.username, user.name,
                   tuple(Grant(r.role, r.village_id, r.township, r.county) for r in user.roles))

    # -- scope --------------------------------------------------------------------------
    def roles_in(self, village: Village) -> set[str]:
        roles = set()
        for g in self.grants:
            if g.village_id is not None and g.village_id == village.id:
                roles.add(g.role)
            elif g.township is not None and g.township == village.township:
                roles.add(g.role)
            elif g.county is not None and village.county is not None and g.county == village.county:
                roles.add(g.role)
            elif g.role == "admin" and g.village_id is None and g.township is None and g.county is None:
                roles.add("admin")
        return roles

    def has_role(self, role: str, village: Village) -> bool:
        return role in self.roles_in(village)

    def can_view(self, village: Village) -> bool:
        return bool(self.roles_in(village))

    def can_read_all(self, village: Village) -> bool:
        return bool(self.roles_in(village) & READ_ALL_ROLES)

    def is_admin(self) -> bool:
        return any(g.role == "admin" for g in self.grants)

    def village_ids(self) -> set[int]:
        return {g.village_id for g in self.grants if g.village_id is not None}

    def townships(self) -> set[str]:
        return {g.township for g in self.grants if g.township is not None and g.role in TOWNSHIP_ROLES | {"admin"}}

    def counties(self) -> set[str]:
        return {g.county for g in self.grants if g.county is not None and g.role in COUNTY_ROLES}

    def level_in(self, village: Village) -> int:
        """The highest supervision level this person holds for ``village`` (0: none)."""
        return max((level_of(r) for r in self.roles_in(village)), default=0)

    def may_complete(self, role: str, extra_roles: str, village: Village) -> bool:
        allowed = {role} | {r.strip() for r in (extra_roles or "").split(",") if r.strip()}
        return bool(self.roles_in(village) & allowed)
