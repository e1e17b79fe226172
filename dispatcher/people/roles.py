"""The roles an endpoint may require; a person or a device holds exactly one."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    """Who is asking: a device (kiosk, display) or a person's session."""

    KIOSK = "kiosk"
    DISPLAY = "display"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    PLANNER = "planner"
    ADMIN = "admin"


ROLES: tuple[Role, ...] = tuple(Role)
