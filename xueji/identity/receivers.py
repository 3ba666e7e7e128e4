"""Audit of the digital identity: every token issued to a relying party is recorded (第23、24条: who gave which
system an identity, and when — never the claims themselves)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from oauth2_provider.signals import app_authorized

from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.guardians.ids import GUARDIAN_ROLE, guardian_label

from .claims import guardian_of


@receiver(app_authorized)
def token_issued(sender: Any, request: Any, token: Any, **kwargs: Any) -> None:
    user = getattr(token, "user", None)
    application = getattr(token, "application", None)
    if user is None or application is None:
        return
    guardian = guardian_of(user)
    if guardian is not None:
        # A guardian is named as the guardian end names it (never the stand-in account, never the phone).
        record(
            event_type=EventType.OIDC_AUTHORIZED,
            actor=None,
            actor_role=GUARDIAN_ROLE,
            subject_type="oidc_client",
            subject_id=application.client_id,
            summary=f"{application.name}（{token.scope}）",
            after={"source": application.client_id, "username": guardian_label(guardian)},
        )
        return
    record(
        event_type=EventType.OIDC_AUTHORIZED,
        actor=user,
        subject_type="oidc_client",
        subject_id=application.client_id,
        summary=f"{application.name}（{token.scope}）",
        after={"source": application.client_id},
    )
