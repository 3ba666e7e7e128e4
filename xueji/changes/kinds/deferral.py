"""缓学 (第11条): deferring school entry of a school-age child.

第11条: every child who has reached six (seven where conditions are lacking — policy ``school_entry_age``)
must be sent to school. A deferral is applied for, with supporting material, to the education department
of the county of HOUSEHOLD registration, which reviews and grants it; it normally lasts one school year
(policy ``deferral_months``); a child still unable to attend re-applies. Deferred children are NOT
registered (no enrollment, no 学籍号) — so the request carries the child's identity in its facts, and the
county sees its deferrals ending (:func:`deferrals_ending`) so that each child comes back onto its list.

The county's registrar enters the application after reviewing the material: the chain is the household
county alone, so the submission is the approval. Age is reckoned on 31 August of the school year's start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from django.db.models import CharField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop as N_

from xueji.accounts.jurisdiction import scope_q
from xueji.accounts.types import Actor
from xueji.core.errors import ApplicationError, Conflict, FieldError
from xueji.core.masking import mask_id_number
from xueji.regions import divisions
from xueji.regions.services import department_for
from xueji.students.enums import Gender, IdDocumentType
from xueji.students.fields import PERSON_FIELDS
from xueji.students.identity import check_identity_matches, validate_identity
from xueji.students.models import Enrollment, IdentityKey
from xueji.students.services import add_months
from xueji.students.validation import clean_fields

from ..enums import ChangeKind, Entry, Party
from ..models import ChangeRequest
from ..workflow import OPEN_STATES, RequestState
from . import register
from .base import Context, KindSpec
from .facts import Code, Day, Integer, KindFacts, Text, fact
from .inputs import (
    KindForm,
    area_input,
    date_input,
    select_input,
    text_input,
)

_CHILD_FIELDS = tuple(
    spec for spec in PERSON_FIELDS if spec.key in {"name", "gender", "birth_date", "id_type", "id_number"}
)
LIVE_STATES = [RequestState.APPROVED, *OPEN_STATES]


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def child_key(identity_key: str | None, name: str, gender: str, birth: date) -> str:
    """A stable, non-reversible key of the child (the identity document's keyed registry key, else
    name+sex+birth date), so that renewals and duplicates are found without storing the number outside the
    facts' sealed ``id_number``."""
    raw = identity_key or f"Z:{name}:{gender}:{birth.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


class DeferralInvalid(ApplicationError):
    def __init__(self, fields: dict[str, str]) -> None:
        first = next(iter(fields.values()))
        super().__init__("deferral_invalid", f"缓学信息有误：{first}", fields)


# --- the page's form --------------------------------------------------------------------------------


class DeferralForm(KindForm):
    kind = ChangeKind.DEFERRAL
    article = _("第十一条")
    intro = _(
        "由户籍所在地县级教育行政部门审核批准；一般为一学年，期满仍不能入学的应重新申请。缓学儿童暂不注册学籍。"
    )
    name = text_input(_("儿童姓名"), required=True, max_length=60)
    gender = select_input(_("性别"), list(Gender.choices))
    birth_date = date_input(_("出生日期"))
    id_type = select_input(_("身份证件类型"), list(IdDocumentType.choices))
    id_number = text_input(_("身份证件号"), max_length=20, autocomplete="off", spellcheck="false")
    household_code = text_input(
        _("户口所在地"),
        required=True,
        max_length=6,
        inputmode="numeric",
        help_text=_("6位行政区划代码，须属本县（区）"),
    )
    school_year = text_input(
        _("缓学学年"), max_length=4, inputmode="numeric", help_text=_("学年开始的年份，如 2026")
    )
    applicant_name = text_input(_("申请的监护人姓名"), required=True, max_length=60)
    reason_text = area_input(_("缓学原因"), required=True)
    evidence = text_input(
        _("证明材料"), required=True, max_length=200, help_text=_("如：县级以上医院诊断证明")
    )

    def setup(self, **kw: Any) -> None:
        self.fields["school_year"].initial = str(timezone.localdate().year)
        self.fields["id_type"].initial = "1"
        counties = kw.get("counties") or []
        if len(counties) > 1:
            field = select_input(_("受理部门"), [(str(c.pk), c.name) for c in counties])
            self.fields = {"county": field, **self.fields}  # type: ignore[assignment]

    def facts(self) -> dict[str, Any]:
        out = super().facts()
        out.pop("county", None)
        return out


class DeferralFacts(KindFacts):
    name: Text = fact("儿童姓名")
    gender: Code = fact("性别（代码）", choices=Gender.values)
    birth_date: Day = fact("出生日期")
    id_type: Code = fact("身份证件类型（代码）", choices=IdDocumentType.values)
    id_number: Text = fact("身份证件号")
    household_code: Text = fact("户口所在地（6 位行政区划代码，须属受理的县）")
    school_year: Integer = fact("缓学学年（学年开始的年份，默认今年）")
    applicant_name: Text = fact("申请的监护人姓名")
    reason_text: Text = fact("缓学原因")
    evidence: Text = fact("证明材料（如县级以上医院诊断证明）")


@register
class Deferral(KindSpec):
    kind = ChangeKind.DEFERRAL
    entry = Entry.HOUSEHOLD
    start_label = N_("缓学")
    facts_schema = DeferralFacts
    form = DeferralForm
    fact_labels: ClassVar[dict[str, str]] = {
        "name": N_("儿童姓名"),
        "start_date": N_("缓学开始"),
        "end_date": N_("缓学结束"),
        "reason_text": N_("缓学原因"),
    }
    initiator = Party.HOUSEHOLD_COUNTY
    needs_enrollment = False
    from_statuses = None

    def fact_text(self, key: str, value: Any) -> str | None:
        return str(_("是（上一学年已批准缓学）")) if key == "renewal_of" else None

    def prepare(self, ctx: Context) -> dict[str, Any]:
        county = ctx.extra["household_county"]
        errors: dict[str, str] = {}
        child = clean_fields(_CHILD_FIELDS, ctx.facts, errors)
        household = str(ctx.facts.get("household_code") or "").strip()
        if not household:
            errors["household_code"] = "户口所在地为必填项"
        elif not (len(household) == 6 and household.isdigit() and divisions.is_known_address_code(household)):
            errors["household_code"] = f"户口所在地“{household}”不是有效的6位行政区划代码"
        for key, label in (
            ("applicant_name", "申请的监护人姓名"),
            ("reason_text", "缓学原因"),
            ("evidence", "证明材料"),
        ):
            if not str(ctx.facts.get(key) or "").strip():
                errors[key] = f"请填写{label}（第十一条：应出具相关材料）"
        if errors:
            raise DeferralInvalid(errors)
        identity = validate_identity(
            child["id_type"],
            child.get("id_number") or "",
            today=ctx.today,
            known_region=divisions.is_known_address_code,
        )
        check_identity_matches(identity, birth_date=child["birth_date"], gender=child["gender"])
        try:
            owner = department_for(household)
        except ApplicationError:
            owner = None
        if owner is None or owner.pk != county.pk:
            raise FieldError(
                "household_code",
                "household_county_mismatch",
                f"户口所在地不属于{county.name}：缓学须向户籍所在地县级教育行政部门申请（第十一条）",
            )
        year = ctx.facts.get("school_year") or ctx.today.year
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise FieldError("school_year", "invalid", "学年须为四位年份，如 2026") from None
        if not ctx.today.year - 1 <= year <= ctx.today.year + 1:
            raise FieldError("school_year", "out_of_range", "只能为上一、本或下一学年办理缓学")
        cutoff = date(year, 8, 31)
        entry_age = int(ctx.policy.get("school_entry_age", 6))
        if age_on(child["birth_date"], cutoff) < entry_age:
            raise ApplicationError(
                "not_school_age",
                f"该儿童至{cutoff:%Y-%m-%d}未满{entry_age}周岁，尚未到入学年龄，不需办理缓学（第十一条）",
            )
        identity_key = IdentityKey.make_key(identity.doc_type, identity.number) if identity.number else None
        if identity_key:
            held = IdentityKey.objects.filter(key=identity_key).values_list("person_id", flat=True).first()
            if held and Enrollment.objects.filter(person_id=held, is_active=True).exists():
                raise ApplicationError(
                    "student_already_enrolled",
                    "该儿童已注册学籍在读，不能办理缓学（第十一条：缓学学生暂缓注册学籍）",
                )
        ckey = child_key(identity_key, child["name"], child["gender"], child["birth_date"])
        live = ChangeRequest.objects.filter(kind=self.kind, state__in=LIVE_STATES, facts__child_key=ckey)
        if live.filter(facts__school_year=year).exists():
            raise Conflict("deferral_exists", f"该儿童{year}学年已有缓学申请或已批准缓学")
        previous = live.filter(state=RequestState.APPROVED).order_by("-closed_at").first()
        months = int(ctx.policy.get("deferral_months", 12))
        start = date(year, 9, 1)
        end = add_months(start, months) - timedelta(days=1)
        return {
            "name": child["name"],
            "gender": child["gender"],
            "birth_date": child["birth_date"].isoformat(),
            "id_type": identity.doc_type,
            "id_number": identity.number,
            "id_number_masked": mask_id_number(identity.number) if identity.number else "",
            "household_code": household,
            "child_key": ckey,
            "school_year": year,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "renewal_of": str(previous.pk) if previous else "",
            "applicant_name": str(ctx.facts["applicant_name"]).strip()[:60],
            "reason_text": str(ctx.facts["reason_text"]).strip()[:200],
            "evidence": str(ctx.facts["evidence"]).strip()[:200],
        }

    def apply(self, request: Any, actor: Actor, today: date) -> dict[str, Any]:
        # Nothing to write: a deferred child has no record (第11条). The approved request IS the deferral.
        return {
            "deferred_until": request.facts["end_date"],
            "school_year": request.facts["school_year"],
            "renewal_of": request.facts["renewal_of"],
        }


@dataclass(frozen=True)
class DeferralDue:
    request: ChangeRequest
    name: str
    end_date: date
    ended: bool  # already over: the child is back on the county's list to enter school


def deferrals_ending(*, viewer: Actor, today: date | None = None, within_days: int = 30) -> list[DeferralDue]:
    """Approved deferrals of the viewer's counties that end within ``within_days`` or have ended, soonest
    first — minus those renewed for a later school year and those whose child has since been registered."""
    today = today or timezone.localdate()
    horizon = (today + timedelta(days=within_days)).isoformat()
    rows = list(
        ChangeRequest.objects.filter(
            scope_q(viewer, "source_path"), kind=ChangeKind.DEFERRAL, state=RequestState.APPROVED
        )
        .annotate(end=Cast(KT("facts__end_date"), CharField()))
        .filter(end__lte=horizon)
        .order_by("end")
    )
    if not rows:
        return []
    keys = {r.facts["child_key"] for r in rows}
    later: dict[str, int] = {}
    for facts in ChangeRequest.objects.filter(
        kind=ChangeKind.DEFERRAL, state__in=LIVE_STATES, facts__child_key__in=sorted(keys)
    ).values_list("facts", flat=True):
        later[facts["child_key"]] = max(later.get(facts["child_key"], 0), int(facts["school_year"]))
    identity_keys = {
        IdentityKey.make_key(r.facts["id_type"], r.facts["id_number"]): r
        for r in rows
        if r.facts.get("id_number")
    }
    enrolled_keys = set(
        IdentityKey.objects.filter(
            key__in=list(identity_keys), person__enrollments__is_active=True
        ).values_list("key", flat=True)
    )
    out = []
    for r in rows:
        if later.get(r.facts["child_key"], 0) > int(r.facts["school_year"]):
            continue
        if (
            r.facts.get("id_number")
            and IdentityKey.make_key(r.facts["id_type"], r.facts["id_number"]) in enrolled_keys
        ):
            continue
        end = date.fromisoformat(r.facts["end_date"])
        out.append(DeferralDue(r, r.facts["name"], end, end < today))
    return out
