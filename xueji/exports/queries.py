"""Reads of export requests for a viewer (第24条): a requester sees their own requests; an approver sees the
requests waiting at (or below) the units where they approve. Anything else is NotFound."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound

from .enums import State
from .models import ExportRequest

APPROVING_ROLES = frozenset({Role.APPROVER, Role.DEPT_REGISTRAR})


def approver_paths(viewer: Actor) -> list[str]:
    """The org paths where ``viewer`` approves exports: filed approvers and department registrars."""
    return sorted(
        {
            g.org_unit.path
            for g in data_grants(viewer)
            if g.role in APPROVING_ROLES and g.org_unit.level != "school"
        }
    )


def can_approve(viewer: Actor, export: ExportRequest) -> bool:
    """The viewer approves at the export's approving unit or above it, and is not its requester; and the
    viewer's approving grant lies strictly above every grant of the requester (谁批准谁负责: a colleague at the
    requester's level, or below one of their grants, does not approve). Only at the ministry, where nothing is
    above, another national approver approves."""
    unit = export.approving_unit
    if export.requested_by_id == viewer.pk or unit is None:
        return False
    paths = [p for p in approver_paths(viewer) if unit.path.startswith(p)]
    if not paths:
        return False
    if unit.level == "national":
        return True
    requester = [g.org_unit.path for g in data_grants(export.requested_by)]
    return any(not any(p.startswith(r) for r in requester) for p in paths)


def _approvable_q(viewer: Actor) -> Q:
    paths = approver_paths(viewer)
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= Q(approving_unit__path__startswith=p)
    return q & ~Q(requested_by=viewer)


def my_requests(*, viewer: Actor) -> QuerySet[ExportRequest]:
    return ExportRequest.objects.filter(requested_by=viewer).select_related("org_unit", "approver")


def worklist(*, viewer: Actor) -> QuerySet[ExportRequest]:
    """Requests waiting for the viewer's decision (submitted, at a unit where they approve, not their own)."""
    qs = (
        ExportRequest.objects.filter(_approvable_q(viewer), state=State.SUBMITTED)
        .select_related("org_unit", "requested_by", "approving_unit")
        .order_by("submitted_at", "pk")
    )
    ids = [e.pk for e in qs if can_approve(viewer, e)]
    return qs.filter(pk__in=ids)


def decided_by(*, viewer: Actor, limit: int = 20) -> list[ExportRequest]:
    return list(
        ExportRequest.objects.filter(approver=viewer)
        .select_related("org_unit", "requested_by")
        .order_by("-decided_at")[:limit]
    )


def export_get(*, viewer: Actor, export_id: Any) -> ExportRequest:
    """One request for its requester or a viewer who may decide it (or decided it); NotFound otherwise."""
    try:
        export = ExportRequest.objects.select_related(
            "org_unit", "requested_by", "approver", "approving_unit"
        ).get(pk=export_id)
    except (ExportRequest.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound() from None
    if viewer.pk in (export.requested_by_id, export.approver_id) or can_approve(viewer, export):
        return export
    raise NotFound()


def own_export(*, viewer: Actor, export_id: Any) -> ExportRequest:
    """A request of the viewer's own (the file is theirs alone); NotFound for anyone else's."""
    export = export_get(viewer=viewer, export_id=export_id)
    if export.requested_by_id != viewer.pk:
        raise NotFound()
    return export
