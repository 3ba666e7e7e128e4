"""Who acts: the one type for the acting or viewing user across the apps above accounts.

``Actor`` is the authenticated account (views and API handlers obtain it with ``accounts.auth.actor_of``).
``MaybeActor`` is what ``request.user`` may be before authentication is known: only the few functions that
genuinely accept an anonymous visitor (navigation, the login pages, ``jurisdiction.all_grants``) take it.
Core and the ground apps below accounts use the protocol ``xueji.core.types.ActorLike``.
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser

from .models import User

Actor: TypeAlias = User
MaybeActor: TypeAlias = User | AnonymousUser
