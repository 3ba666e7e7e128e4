"""Stages and grades shared by the kinds that move a pupil between stages (graduation, progression, abroad and
return, special education): the next stage, its first and last grades, the entry method (第14、19、20条)."""

from __future__ import annotations

from xueji.students.enums import EntryMethod, Stage, entry_methods_for, grade_range, is_compulsory

NEXT_STAGE = {Stage.PRIMARY.value: Stage.JUNIOR.value, Stage.JUNIOR.value: Stage.SENIOR.value}


def graduating_grade(stage: str) -> int:
    """The last grade of a stage: 6 (小学), 9 (初中), 12 (普通高中)."""
    return max(grade_range(stage))


def first_grade(stage: str) -> int:
    return min(grade_range(stage))


def valid_entry_method(stage: str, method: str) -> str:
    """``method`` if it is valid for ``stage``, else the stage's "其他" code (12 义务教育, 99 高中)."""
    allowed = [m.value for m in entry_methods_for(stage)]
    if method in allowed:
        return method
    return EntryMethod.OTHER_COMPULSORY if is_compulsory(stage) else EntryMethod.OTHER_SENIOR
