"""Reads for bulk registration: batches within the viewer's jurisdiction, live progress, duplicate look-ups
for the dry run (side-effect free), the students a batch created, and rosters for export (issue 8 items 8, 9)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import data_grants, school_registrar_units, scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.scheduling.workers import worker_gone
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.models import Enrollment, IdentityKey
from xueji.students.queries import listed_person

from .models import ImportBatch, RosterExport

QUERY_CHUNK = 900  # under SQLite's bound-parameter limit
RUNNING = frozenset({ImportBatch.Status.CHECKING, ImportBatch.Status.COMMITTING})


def batch_list(*, viewer: Actor) -> QuerySet[ImportBatch]:
    """Batches of schools in the viewer's jurisdiction (school registrars: their school; department
    registrars: their subtree), newest first."""
    return (
        ImportBatch.objects.filter(scope_q(viewer, "school__org__path"))
        .select_related("school", "created_by")
        .defer("errors")
        .order_by("-created_at")
    )


def batch_get(*, viewer: Actor, batch_id: UUID | str) -> ImportBatch:
    """One batch, or NotFound when it does not exist or lies outside the viewer's jurisdiction."""
    try:
        return (
            ImportBatch.objects.filter(scope_q(viewer, "school__org__path"))
            .select_related("school", "school__org", "created_by")
            .get(pk=batch_id)
        )
    except (ImportBatch.DoesNotExist, ValueError):
        raise NotFound() from None


def registrar_schools(*, viewer: Actor) -> QuerySet[School]:
    """Active schools where the viewer may upload (their own, and teaching points of their central school)."""
    ids = [u.id for u in school_registrar_units(viewer)]
    if not ids:
        return School.objects.none()
    return (
        School.objects.filter(Q(org_id__in=ids) | Q(central_school_id__in=ids), state=SchoolState.ACTIVE)
        .select_related("org")
        .order_by("school_code")
    )


# ------------------------------------------------------------------------------------ progress
@dataclass(frozen=True)
class Progress:
    phase: str  # "check" | "commit" | ""
    done: int
    total: int

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 0
        return min(100, self.done * 100 // self.total)

    @property
    def known(self) -> bool:
        """False while a commit runs without a measured row count yet (always so on SQLite: see tasks.py)."""
        return not (self.phase == "commit" and self.done == 0)


def live_progress(batch: ImportBatch) -> Progress:
    """Progress of ``batch`` as stored in its row — the same in every web process.

    The dry run writes it after every chunk in short transactions; a commit writes it through a second
    database connection on PostgreSQL. On SQLite the commit's transaction holds the only write lock, so no
    other connection can write until it ends: the page shows "导入中" with the row count of the dry run and
    no percentage (``Progress.known`` is False) until the import is finished."""
    phase = batch.phase or (
        "commit" if batch.status in {ImportBatch.Status.COMMITTING, ImportBatch.Status.COMMITTED} else "check"
    )
    total = batch.progress_total or batch.total_rows
    if batch.status == ImportBatch.Status.COMMITTING:
        total = batch.total_rows or total
    return Progress(phase, batch.progress_done, total)


def batch_is_stale(batch: ImportBatch, *, now: Any = None) -> bool:
    """A batch shown as running whose process is gone (killed worker or web process): it will never finish
    and may be retried (``services.import_batch_retry``)."""
    if batch.status not in RUNNING:
        return False
    return worker_gone(
        host=batch.worker_host,
        pid=batch.worker_pid,
        heartbeat_at=batch.heartbeat_at,
        now=now or timezone.now(),
    )


def running_batches() -> QuerySet[ImportBatch]:
    """Every batch shown as running (system-wide; for the stale-job reaper, not for a viewer)."""
    return ImportBatch.objects.filter(status__in=RUNNING).defer("errors")


# ------------------------------------------------------------------------------------ duplicates
def enrolled_elsewhere(identity_keys: list[str]) -> dict[str, str]:
    """Identity keys (``type:number``) whose person holds an active 学籍 now → that school's name.

    Read-only mirror of the refusal in :func:`xueji.students.services.register_students` (第9条/第12条),
    used by the dry run so that every duplicate is reported before anything is written."""
    persons: dict[str, UUID] = {}
    for start in range(0, len(identity_keys), QUERY_CHUNK):
        chunk = identity_keys[start : start + QUERY_CHUNK]
        persons.update(IdentityKey.objects.filter(key__in=chunk).values_list("key", "person_id"))
    if not persons:
        return {}
    person_ids = list(set(persons.values()))
    schools: dict[UUID, str] = {}
    for start in range(0, len(person_ids), QUERY_CHUNK):
        ids = person_ids[start : start + QUERY_CHUNK]
        schools.update(
            Enrollment.objects.filter(person_id__in=ids, is_active=True).values_list(
                "person_id", "school__name"
            )
        )
    return {key: schools[pid] for key, pid in persons.items() if pid in schools}


# ------------------------------------------------------------------------------------ who sees what
def full_number_schools(viewer: Actor) -> frozenset[int]:
    """Schools whose students' 学籍号 the viewer sees in full: those where the viewer is a filed school
    registrar, with the teaching points its central school keeps (issue 8 item 1; 第22条). Everyone else — a
    county or city registrar, an approver — sees a 学籍号 masked in lists and exports (第24条) and reveals one
    at a time on the record page (audited, rate-limited)."""
    units = [u.id for u in school_registrar_units(viewer)]
    if not units:
        return frozenset()
    points = School.objects.filter(central_school_id__in=units).values_list("pk", flat=True)
    return frozenset(units) | frozenset(points)


# ------------------------------------------------------------------------------------ created students
CREATED_ORDER = ("grade", "class_name", "class_number", "person__name", "pk")


def created_list(*, viewer: Actor, batch: ImportBatch) -> QuerySet[Enrollment]:
    """The students ``batch`` registered (issue 8 item 8): its enrollments at the batch's school, within the
    viewer's jurisdiction, by grade, class and class number. ``batch`` comes from :func:`batch_get` (scoped).
    A record that has since moved on shows its snapshot (``students.queries.listed_person``)."""
    return (
        Enrollment.objects.filter(scope_q(viewer, "scope_path"))
        .filter(school_id=batch.school_id, import_batch_id=batch.pk)
        .select_related("person", "snapshot")
        .order_by(*CREATED_ORDER)
    )


def created_rows(*, viewer: Actor, batch: ImportBatch, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """:func:`created_list` as rows of ``export.CREATED_COLUMNS`` then ``school_id`` and ``person_id`` (as
    ``export.value_paths`` orders them), streamed in chunks; the person as the viewer may see it (a record that
    moved on: its snapshot), its values already decrypted."""
    for enrollment in created_list(viewer=viewer, batch=batch).iterator(chunk_size=chunk_size):
        person = listed_person(enrollment)
        yield (
            person.student_number,
            person.name,
            person.gender,
            enrollment.grade,
            enrollment.class_name,
            enrollment.status,
            enrollment.school_id,
            enrollment.person_id,
        )


# ------------------------------------------------------------------------------------ roster export
#: Department levels whose registrars export a region's roster, and the units they may export (第5条: the
#: county and the city manage their region; a province or the ministry picks one of its cities or counties).
ROSTER_LEVELS = frozenset({OrgLevel.CITY, OrgLevel.COUNTY})


def roster_units(viewer: Actor) -> list[OrgUnit]:
    """The units the viewer may export a roster of, in tree order: the viewer's own schools (school
    registrars, with the teaching points of their central school), and for a department registrar every
    city and county department in their subtree. Empty for other roles (approvers, admins)."""
    units: dict[int, OrgUnit] = {}
    for school in registrar_schools(viewer=viewer):
        units[school.org.pk] = school.org
    dept_paths = [g.org_unit.path for g in data_grants(viewer) if g.role == Role.DEPT_REGISTRAR]
    if dept_paths:
        q = Q()
        for path in dept_paths:
            q |= Q(path__startswith=path)
        for unit in OrgUnit.objects.filter(q, level__in=ROSTER_LEVELS, is_active=True):
            units[unit.pk] = unit
    return sorted(units.values(), key=lambda u: u.path)


def roster_school(*, unit: OrgUnit, school_code: str) -> School | None:
    """The active school with ``school_code`` inside ``unit`` (a unit from :func:`roster_units`), else None —
    the same answer for a code that does not exist and for one outside the unit, so the filter reveals no
    school beyond the viewer's region."""
    return (
        School.objects.select_related("org")
        .filter(school_code=school_code, org__path__startswith=unit.path, state=SchoolState.ACTIVE)
        .first()
    )


def roster_queryset(
    *,
    viewer: Actor,
    unit: OrgUnit,
    school: School | None = None,
    grade: int | None = None,
    class_name: str = "",
) -> QuerySet[Enrollment]:
    """Active enrollments (在读 and the other statuses of a current 学籍) of ``unit``'s subtree, narrowed by
    school, grade and class, always within the viewer's jurisdiction; ordered by school, grade, class and
    class number. ``scope_path LIKE 'path%'`` is served by the pattern index (issue 7)."""
    qs = Enrollment.objects.filter(scope_q(viewer, "scope_path")).filter(
        scope_path__startswith=unit.path, is_active=True
    )
    if school is not None:
        qs = qs.filter(school_id=school.pk)
    if grade:
        qs = qs.filter(grade=grade)
    if class_name:
        qs = qs.filter(class_name=class_name)
    return qs.order_by("school_id", "grade", "class_name", "class_number", "person__name", "pk")


def roster_rows(
    qs: QuerySet[Enrollment], paths: list[str], *, chunk_size: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``qs`` as ``values_list(*paths)``, streamed from a server-side cursor (never the whole
    region in memory)."""
    return qs.values_list(*paths).iterator(chunk_size=chunk_size)


def export_get(*, viewer: Actor, export_id: UUID | str) -> RosterExport:
    """One background roster export — only its own requester sees it, and only while the unit it covers is
    still theirs to export (a withdrawn grant ends access to files built before): NotFound otherwise."""
    try:
        export = RosterExport.objects.select_related("org_unit").get(pk=export_id, requested_by=viewer)
    except (RosterExport.DoesNotExist, ValueError):
        raise NotFound() from None
    if export.org_unit_id not in {u.pk for u in roster_units(viewer)}:
        raise NotFound()
    return export


def export_list(*, viewer: Actor, limit: int = 10) -> list[RosterExport]:
    """The viewer's latest background roster exports."""
    return list(
        RosterExport.objects.filter(requested_by=viewer)
        .select_related("org_unit")
        .order_by("-created_at")[:limit]
    )


def export_is_stale(export: RosterExport, *, now: Any = None) -> bool:
    """A background export shown as running whose process is gone (it will never finish)."""
    if export.status != RosterExport.Status.RUNNING:
        return False
    return worker_gone(
        host=export.worker_host,
        pid=export.worker_pid,
        heartbeat_at=export.heartbeat_at,
        now=now or timezone.now(),
    )


def export_retention() -> timedelta:
    """How long a finished export's file is kept (``XUEJI_ROSTER_EXPORT_RETENTION_HOURS``, default 24)."""
    return timedelta(hours=int(getattr(settings, "XUEJI_ROSTER_EXPORT_RETENTION_HOURS", 24)))


def export_ready(export: RosterExport, *, now: Any = None) -> bool:
    """The export's file can be downloaded: written, not purged, not older than :func:`export_retention`."""
    if export.status != RosterExport.Status.DONE or export.file_purged_at is not None or not export.file_path:
        return False
    if (now or timezone.now()) - export.created_at > export_retention():
        return False
    return (Path(settings.VAR_DIR) / export.file_path).is_file()


def running_exports() -> QuerySet[RosterExport]:
    """Every export shown as running (system-wide; for the stale-job reaper, not for a viewer)."""
    return RosterExport.objects.filter(status=RosterExport.Status.RUNNING)
