"""Building the org tree: the ministry and the education departments of every current division."""

from __future__ import annotations

from django.db import transaction

from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import ApplicationError
from xueji.core.types import ActorLike

from . import divisions
from .enums import NATIONAL_CODE, OrgLevel
from .models import OrgUnit

DEPT_SUFFIX = "教育局"


def _with_path(unit: OrgUnit) -> OrgUnit:
    unit.path = f"{unit.parent.path if unit.parent else '/'}{unit.pk}/"
    OrgUnit.objects.filter(pk=unit.pk).update(path=unit.path)
    return unit


def dept_name(division: divisions.Division) -> str:
    if division.level == "province":
        return f"{division.name}教育厅" if not division.name.endswith("市") else f"{division.name}教育委员会"
    return f"{divisions.full_name(division.code)}{DEPT_SUFFIX}"


@transaction.atomic
def load_departments(*, actor: ActorLike | None = None, province_codes: set[str] | None = None) -> int:
    """Create the ministry and the education department of every current division (idempotent).

    ``province_codes`` limits the load (tests and small demos). Returns the number of units created.
    """
    created = 0
    national = OrgUnit.objects.filter(level=OrgLevel.NATIONAL).first()
    if national is None:
        national = OrgUnit.objects.create(
            level=OrgLevel.NATIONAL,
            name="教育部",
            code=NATIONAL_CODE,
            division_code=NATIONAL_CODE,
            province_code=NATIONAL_CODE,
            path="",
        )
        _with_path(national)
        created += 1
    existing = {(u.level, u.code): u for u in OrgUnit.objects.exclude(level=OrgLevel.SCHOOL)}
    by_code: dict[str, OrgUnit] = {u.code: u for u in existing.values() if u.level != OrgLevel.NATIONAL}
    for level in ("province", "city", "county"):
        pending = []
        for d in divisions.all_divisions():
            if d.level != level or (level, d.code) in existing:
                continue
            if province_codes is not None and divisions.province_code(d.code) not in province_codes:
                continue
            parent = national if d.parent_code is None else by_code.get(d.parent_code)
            if parent is None:
                continue
            pending.append(
                OrgUnit(
                    level=level,
                    name=dept_name(d),
                    code=d.code,
                    division_code=d.code,
                    province_code=divisions.province_code(d.code),
                    parent=parent,
                    path="",
                )
            )
        made = OrgUnit.objects.bulk_create(pending)
        for unit in made:
            assert unit.parent is not None
            unit.path = f"{unit.parent.path}{unit.pk}/"
            by_code[unit.code] = unit
        OrgUnit.objects.bulk_update(made, ["path"], batch_size=500)
        created += len(made)
    if created:
        record(
            event_type=EventType.ORG_CREATED,
            actor=actor,
            subject_type="org",
            subject_id=national.pk,
            summary=f"载入教育行政部门 {created} 个",
        )
    return created


def department_for(division_code: str) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=division_code).exclude(level=OrgLevel.SCHOOL).first()
    if unit is None:
        raise ApplicationError("department_unknown", f"行政区划 {division_code} 没有对应的教育行政部门")
    return unit
