"""The roles a person's account may hold: the route table's roles, less public and device-only ones."""

from __future__ import annotations

from enum import Enum

from dispatcher.http.roles import Role

PERSON_ROLES: tuple[Role, ...] = (Role.KIOSK, Role.DISPLAY, Role.AGENT, Role.SUPERVISOR, Role.PLANNER, Role.ADMIN)
"""A kiosk or display account is for a site without dedicated devices (a tablet logged in at the door)."""

__all__ = ["PERSON_ROLES", "PersonRole", "Role"]


class PersonRole(str, Enum):
    """The same six roles, as the choices of ``guichet users add --role``."""

    KIOSK = "kiosk"
    DISPLAY = "display"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"
