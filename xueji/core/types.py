"""The acting user as core and the ground apps (audit's trail, regions' services, scheduling) see it.

They stand below accounts and may not import its ``User`` (core imports no app), so they name the few
attributes they use; ``xueji.accounts.models.User`` has them all. Apps above accounts use
``xueji.accounts.types.Actor`` (the user model itself).
"""

from __future__ import annotations

from typing import Any, Protocol


class ActorLike(Protocol):
    """An authenticated account: its primary key and its username."""

    @property
    def pk(self) -> Any: ...

    def get_username(self) -> str: ...
