"""Reads for bulk registration: batches within the viewer's jurisdiction, live progress, duplicate look-ups
for the dry run (side-effect free), and the school roster for export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db.models import Q, QuerySet

from xueji.accounts.jurisdiction import school_registrar_units, scope_q
from xueji.core.errors import NotFound
from xueji.schools.enums import SchoolState
from xueji.schools.models import School
from xueji.students.models import Enrollment, IdentityKey

from .models import ImportBatch

QUERY_CHUNK = 900  # under SQLite's bound-parameter limit
PROGRESS_TTL = 6 * 3600
RUNNING = frozenset({ImportBatch.Status.CHECKING, ImportBatch.Status.COMMITTING})


def batch_list(*, viewer: Any) -> QuerySet[ImportBatch]:
    """Batches of schools in the viewer's jurisdiction (school registrars: their school; department
    registrars: their subtree), newest first."""
    return (
        ImportBatch.objects.filter(scope_q(viewer, "school__org__path"))
        .select_related("school", "created_by")
        .defer("errors")
        .order_by("-created_at")
    )


def batch_get(*, viewer: Any, batch_id: UUID | str) -> ImportBatch:
    """One batch, or NotFound when it does not exist or lies outside the viewer's jurisdiction."""
    try:
        return (
            ImportBatch.objects.filter(scope_q(viewer, "school__org__path"))
            .select_related("school", "school__org", "created_by")
            .get(pk=batch_id)
        )
    except (ImportBatch.DoesNotExist, ValueError):
        raise NotFound() from None


def registrar_schools(*, viewer: Any) -> QuerySet[School]:
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


def _progress_key(batch_id: UUID | str) -> str:
    return f"xueji:import-progress:{batch_id}"


def publish_progress(batch_id: UUID | str, phase: str, done: int, total: int) -> None:
    """Record live progress in the Django cache.

    A commit runs in one long transaction (all-or-nothing), so progress written to the batch row would stay
    invisible until the end. The cache is outside the transaction: with the default per-process cache the
    web poller sees it when the import runs in a thread of the same process (``tasks.py``); with a shared
    cache (Redis, Memcached) it is seen from any process. The dry run also writes progress to the row.
    """
    cache.set(_progress_key(batch_id), (phase, done, total), PROGRESS_TTL)


def clear_progress(batch_id: UUID | str) -> None:
    cache.delete(_progress_key(batch_id))


def live_progress(batch: ImportBatch) -> Progress:
    """The freshest progress known for ``batch``: the cache while it runs, else the stored counters."""
    if batch.status in RUNNING or batch.status == ImportBatch.Status.UPLOADED:
        cached = cache.get(_progress_key(batch.pk))
        if cached is not None:
            phase, done, total = cached
            return Progress(phase, done, total)
    phase = (
        "commit" if batch.status in {ImportBatch.Status.COMMITTING, ImportBatch.Status.COMMITTED} else "check"
    )
    return Progress(phase, batch.progress_done, batch.progress_total)


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
