"""Django's model backend, loading the account's registrar filing with the account (issue 7).

Every page that opens student data checks the filing (第22条 先培训后上岗, :func:`xueji.accounts.jurisdiction.
data_grants`); loading it with the session's user saves two queries per request. Nothing is cached across
requests: a filing revoked or a grant removed takes effect on the next request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from .models import User


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.select_related("filing__filed_with").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
