"""Viewer-scoped reads of certificates and batches (第5、23条: outside the jurisdiction = not found)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from xueji.accounts.jurisdiction import scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound

from .models import Certificate, CertificateBatch


def certificates_visible(viewer: Actor) -> QuerySet[Certificate]:
    return Certificate.objects.filter(scope_q(viewer)).select_related("school", "person")


def certificate_list(*, viewer: Actor, kind: str = "", person_id: Any = None) -> QuerySet[Certificate]:
    qs = certificates_visible(viewer)
    if kind:
        qs = qs.filter(kind=kind)
    if person_id:
        qs = qs.filter(person_id=person_id)
    return qs.order_by("-valid_from")


def certificate_get(*, viewer: Actor, certificate_id: Any) -> Certificate:
    try:
        certificate = certificates_visible(viewer).filter(pk=certificate_id).first()
    except (ValueError, TypeError):
        certificate = None
    if certificate is None:
        raise NotFound()
    return certificate


def batch_get(*, viewer: Actor, batch_id: Any) -> CertificateBatch:
    try:
        batch = CertificateBatch.objects.filter(scope_q(viewer), pk=batch_id).select_related("school").first()
    except (ValueError, TypeError):
        batch = None
    if batch is None:
        raise NotFound()
    return batch


def batches_recent(*, viewer: Actor, limit: int = 10) -> list[CertificateBatch]:
    return list(
        CertificateBatch.objects.filter(scope_q(viewer))
        .select_related("school")
        .order_by("-created_at")[:limit]
    )
