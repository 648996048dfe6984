"""Pure: the roles, cumulative (admin > approver > operator > viewer)."""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    """Cumulative: each role can do everything the ones below it can."""

    NONE = 0
    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()
