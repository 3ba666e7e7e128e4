"""National 学籍号+姓名 lookups as the web form and the API make them: rate-limited and audited.

A receiving school cannot see a record outside its jurisdiction, so 转学 (第15条), 升学 (第14条) and 境外返回
(第20条) name the student by 学籍号 AND 姓名 and search the whole country. Each such search is a cross-region
identity lookup (issue #6 §3 leaks 2 and 10; 第24条 严格数据使用, 第23条 异常监管):

- rate-limited per account (``lookup`` bucket, per day by default; :func:`xueji.core.ratelimit.ratelimit_hit`
  raises ``rate_limited`` / 429 before the search runs);
- audited whether found or not (``identity.lookup``; subject = the student found, org unit = the school holding
  the record, so that side's audit administrator sees it; payload ``{kind, outcome}`` only — never the number
  or the name typed).

Call :func:`national_lookup` from views and API endpoints, outside any transaction (the count and the event of a
failed lookup must survive the refusal). The finders it calls are the kinds' own (``KindSpec.lookup``); the
engine re-checks inside a submission with the same finders.
"""

from __future__ import annotations

from xueji.accounts.types import Actor
from xueji.core.errors import NotFound
from xueji.core.ratelimit import ratelimit_hit
from xueji.students.models import Enrollment
from xueji.students.services import identity_lookup_recorded

from . import kinds
from .enums import Entry

#: The kinds a receiving school starts on a student it cannot see (each spec's ``lookup`` finds the record).
LOOKUP_KINDS = frozenset(s.kind for s in kinds.specs() if s.entry in {Entry.LOOKUP, Entry.RECEIVING})


def national_lookup(*, viewer: Actor, kind: str, student_number: str, name: str) -> Enrollment:
    """Find the record a receiving school names by 学籍号 + 姓名 (both must match), nationally.

    Returns the enrollment (转学: the active one; 升学: active or latest graduated; 境外返回: the latest).
    Raises ``rate_limited`` (429) above the account's limit — nothing is searched then — and NotFound (404)
    when nothing matches; both outcomes of a search are audited.
    """
    assert kind in LOOKUP_KINDS, kind
    ratelimit_hit(viewer, "lookup")
    try:
        found = kinds.get(kind).lookup(student_number=student_number, name=name)
    except NotFound:
        identity_lookup_recorded(
            actor=viewer, kind=str(kind), summary="跨区域身份查询：未找到学籍号与姓名均匹配的学生"
        )
        raise
    identity_lookup_recorded(
        actor=viewer,
        kind=str(kind),
        summary="跨区域身份查询：按学籍号和姓名查找学生",
        person_id=found.person_id,
        school_id=found.school_id,
        province_code=found.province_code,
    )
    return found
