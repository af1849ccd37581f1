"""The site's users and orders (in memory: this is a test site)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class User:
    """A site user, as Flask-Login wants one."""

    id: str
    open_id: str | None = None

    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return self.id


USERS: dict[str, User] = {}
ORDERS: dict[str, list[str]] = {}


def reset() -> None:
    USERS.clear()
    ORDERS.clear()


def user_by_open_id(open_id: str) -> User | None:
    return next((user for user in USERS.values() if user.open_id == open_id), None)
