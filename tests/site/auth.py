"""Flask-Login, typed for this site."""

from __future__ import annotations

import typing as t

import flask_login

from .extensions import login_manager
from .models import USERS, User

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: ``flask_login.login_required`` (the package has no type hints).
login_required: t.Callable[[F], F] = flask_login.login_required


def login_user(user: User) -> None:
    flask_login.login_user(user)


def current_site_user() -> User:
    """The signed-in user (views behind :func:`login_required` only)."""
    user = flask_login.current_user
    if not isinstance(user, User):
        raise RuntimeError("no user is signed in")
    return user


def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


login_manager.user_loader(load_user)
