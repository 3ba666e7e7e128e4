"""Receivers of the hooks core offers (core imports no app; the audit app connects these in ``ready``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from xueji.core.types import ActorLike

from .enums import EventType
from .services import record


def record_rate_limited(
    *, user: ActorLike, bucket: str, label: str, limit: int, period: int, window_start: datetime, **_: Any
) -> None:
    """The first refusal of a rate-limit window is a security event for the early warning (第23条 异常监管;
    issue #6 §3.10): ``security.rate_limited`` in the caller's transaction, without personal data (bucket,
    limit, window)."""
    record(
        event_type=EventType.RATE_LIMITED,
        actor=user,
        subject_type="user",
        subject_id=user.pk,
        org_unit_id=getattr(user, "org_unit_id", None),
        summary=f"操作频率超限：{label}",
        after={"bucket": bucket, "limit": limit, "period": period, "window_start": window_start.isoformat()},
        success=False,
    )
