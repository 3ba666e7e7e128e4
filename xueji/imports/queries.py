"""Reads for bulk registration: batches within the viewer's jurisdiction, live progress, duplicate look-ups
for the dry run (side-effect free), and the school roster for export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from xueji.accounts.jurisdiction import school_registrar_units, scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.scheduling.workers import worker_gone
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.models import Enrollment, IdentityKey

from .models import ImportBatch

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


# ------------------------------------------------------------------------------------ roster
ROSTER_FIELDS = (
    "person__student_number",
    "person__name",
    "person__gender",
    "person__birth_date",
    "person__id_type",
    "person__id_number",
    "person__ethnicity",
    "grade",
    "class_name",
    "class_number",
    "entry_ym",
    "study_mode",
    "status",
    "registered_at",
)


def roster_rows(*, school: School, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Active enrollments of ``school`` ordered by grade, class, class number — streamed from the cursor."""
    return (
        Enrollment.objects.filter(school=school, is_active=True)
        .order_by("grade", "class_name", "class_number", "person__name")
        .values_list(*ROSTER_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
