"""API schemas for change requests (学籍变动): one ``…In``/``…Out`` per operation (architecture.md convention 10).

Request bodies are plain pydantic models with ``extra="forbid"``: a state, a step, an approver, a school or a
province smuggled into a body is refused (422) before any service runs (security.md test 11). The submission
body is one schema per kind, a union discriminated by ``kind``: its ``facts`` are the kind's typed facts
(``KindSpec.facts_schema``, built from the registry, so a new kind appears here by itself); the values are
validated by the kind's ``prepare``, which names the field in Chinese.

Identifiers in outputs are masked (security.md §0): the 学籍号 and identity or travel document numbers appear
only as ``…_masked`` values, in lists, details, facts and reports alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from ninja import Field, Schema
from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    RootModel,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails

from xueji.core.errors import FieldError
from xueji.core.pagination import MAX_PAGE
from xueji.students.schemas import MAX_PAGE_SIZE, ErrorOut

from . import kinds
from .enums import ChangeKind
from .kinds.facts import KindFacts

__all__ = ["ErrorOut"]


class _Closed(BaseModel):
    """Input bodies refuse unknown keys (mass assignment)."""

    model_config = ConfigDict(extra="forbid")


# --- submission ----------------------------------------------------------------------------------------------


class LookupIn(_Closed):
    """A student outside the caller's jurisdiction, named by 学籍号 AND 姓名 (both must match, nationally):
    转学 (第15条) and 升学 (第14条) are started by the receiving school, 境外返回 (第20条) too."""

    student_number: str = Field(
        min_length=1, max_length=40, description="学籍号或身份证件号（任一证件类型；空格、全角字符可容忍）"
    )
    name: str = Field(min_length=1, max_length=60, description="姓名")


class SubmitBody(_Closed):
    """What every kind's submission body holds; ``kind`` and ``facts`` are the kind's (see the variants)."""

    kind: str
    enrollment_id: UUID | None = Field(None, description="本辖区内学生的学籍ID")
    lookup: LookupIn | None = Field(None, description="转学、升学、境外返回：按学籍号和姓名查找学生")
    target_school_id: int | None = Field(None, description="转入/升入/接收学校ID（机构ID）")
    household_county_code: str | None = Field(
        None, max_length=6, description="缓学：户籍所在地县级教育行政部门的行政区划代码（第十一条）"
    )
    facts: KindFacts = Field(default_factory=KindFacts)
    reason: str = Field("", max_length=40, description="原因（代码）")
    note: str = Field("", max_length=500, description="说明")


def _variant(spec: kinds.KindSpec) -> type[SubmitBody]:
    """The submission body of one kind: ``kind`` fixed, ``facts`` the kind's schema."""
    label = str(ChangeKind(spec.kind).label)
    name = "".join(part.title() for part in spec.kind.split("_"))
    tag: Any = Literal[spec.kind]  # a Literal built from the registry (a type checker cannot follow it)
    model: type[SubmitBody] = create_model(
        f"{name}SubmitIn",
        __base__=SubmitBody,
        __doc__=f"{label}（{spec.kind}）的申请",
        kind=(tag, Field(description=f"业务类型：{label}")),
        facts=(spec.facts_schema, Field(default_factory=spec.facts_schema, description=f"{label}的办理事项")),
    )
    return model


SUBMIT_VARIANTS: dict[str, type[SubmitBody]] = {spec.kind: _variant(spec) for spec in kinds.specs()}


class ChangeSubmitIn(RootModel[Any]):
    """发起学籍变动申请: one body per kind, discriminated by ``kind``."""

    root: Annotated[Union[tuple(SUBMIT_VARIANTS.values())], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007

    @model_validator(mode="wrap")
    @classmethod
    def _as_one_body(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """Errors name the body's fields as before the union (``note``, ``kind``; not ``suspension.note``),
        and an unknown kind is the engine's 400 ``unknown_kind`` on ``kind`` (as it always was), not a 422."""
        if (
            isinstance(value, dict)
            and isinstance(value.get("kind"), str)
            and value["kind"] not in SUBMIT_VARIANTS
        ):
            raise FieldError("kind", "unknown_kind", "业务类型无效")
        try:
            return handler(value)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(exc.title, [_flat(e) for e in exc.errors()]) from None


def _flat(error: Any) -> InitErrorDetails:
    loc = tuple(error["loc"])
    if error["type"] == "union_tag_not_found":
        return {"type": "missing", "loc": ("kind",), "input": error["input"]}
    if error["type"] == "union_tag_invalid":
        return {"type": "string_type", "loc": ("kind",), "input": error["input"]}
    if loc and loc[0] in SUBMIT_VARIANTS:
        loc = loc[1:]
    details: InitErrorDetails = {"type": error["type"], "loc": loc, "input": error["input"]}
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


class ChangeReceiptOut(Schema):
    """The receipt of a submission. It carries only what never changes after the submission, so that a
    replay with the same ``Idempotency-Key`` returns exactly the same bytes; the live state is at
    ``GET /changes/{id}``."""

    id: UUID
    kind: str
    kind_label: str
    person_id: UUID | None
    target_school_id: int | None
    steps_total: int
    created_at: datetime


# --- decisions and other actions -----------------------------------------------------------------------------


class DecisionIn(_Closed):
    position: int = Field(ge=0, le=100, description="办理的环节序号（列表中显示的 position）")
    action: Literal["approve", "reject", "return"] = Field(
        description="approve 同意/备案、reject 不同意、return 退回补充材料"
    )
    comment: str = Field("", max_length=500, description="意见（不同意或退回时必填）")


class DecisionOut(Schema):
    """The receipt of a decision: the decided step, and the request state this decision produced."""

    request_id: UUID
    position: int
    action: str
    step_state: str
    step_state_label: str
    request_state_after: str
    decided_at: datetime | None
    comment: str


class BatchItemIn(_Closed):
    request_id: UUID = Field(description="申请ID")
    position: int = Field(ge=0, le=100, description="办理的环节序号（待办列表中的 position）")


class BatchApproveIn(_Closed):
    items: list[BatchItemIn] = Field(min_length=1, max_length=100, description="要通过的待办（最多 100 项）")
    comment: str = Field("", max_length=500, description="意见（可不填，用于每一项）")


class BatchItemOut(Schema):
    """One item's result: decided (``ok``) with the request state after it, or refused with the error the
    single decision would give (``code``, ``message``); an item outside the caller's reach is ``not_found``."""

    request_id: str
    position: int
    ok: bool
    code: str
    message: str
    request_state_after: str = Field(description="办理后的申请状态（pending/scheduled/approved；未办理为空）")
    effective_on: date | None = Field(description="生效日期（已批准待生效时为将来的日期）")


class BatchApproveOut(Schema):
    items: list[BatchItemOut]
    approved: int
    refused: int


class ResubmitIn(_Closed):
    comment: str = Field("", max_length=200, description="补充说明")


class CancelIn(_Closed):
    reason: str = Field("", max_length=200, description="撤销原因（必填）")


# --- reads ---------------------------------------------------------------------------------------------------


class ChangeFiltersIn(Schema):
    kind: str = Field("", description="业务类型")
    state: str = Field(
        "", description="状态：pending、returned、scheduled（已批准待生效）、approved、rejected、cancelled"
    )
    person_id: UUID | None = Field(None, description="学生（人员ID）")
    initiated: bool = Field(False, description="只看本单位发起的申请")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ChangeOut(Schema):
    id: UUID
    kind: str
    kind_label: str
    state: str
    state_label: str
    scope: str
    person_id: UUID | None
    student_name: str
    student_number_masked: str
    school_id: int | None
    school_name: str
    target_school_id: int | None
    target_school_name: str
    initiator_org_id: int
    initiator_org_name: str
    current_position: int
    effective_on: date | None = Field(
        description="生效日期：已批准待生效（scheduled）为将生效的日期，已办结为生效的日期"
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class ChangePageOut(Schema):
    items: list[ChangeOut]
    count: int
    page: int
    page_size: int


class StepOut(Schema):
    position: int
    party: str
    party_label: str
    org_unit_id: int
    org_name: str
    mode: str
    mode_label: str
    state: str
    state_label: str
    started_on: date | None
    due_on: date | None
    due_provisional: bool
    decided_by: str
    decided_at: datetime | None
    comment: str


class AttachmentOut(Schema):
    id: UUID
    step_position: int | None
    title: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class ChangeDetailOut(ChangeOut):
    reason: str
    note: str
    policy_version: str
    facts: dict[str, Any]
    before: dict[str, Any]
    steps: list[StepOut]
    attachments: list[AttachmentOut]
    actions: list[str] = Field(
        description="调用者现在可以执行的操作（approve/reject/return/resubmit/cancel）"
    )


class WorklistFiltersIn(Schema):
    kind: str = Field("", description="业务类型")


class WorkItemOut(Schema):
    request_id: UUID
    kind: str
    kind_label: str
    person_id: UUID | None
    student_name: str
    student_number_masked: str
    position: int
    party: str
    party_label: str
    mode: str
    org_unit_id: int
    org_name: str
    started_on: date | None
    due_on: date | None
    provisional: bool
    days_left: int | None
    overdue: bool
    escalated: bool
    actions: list[str] = Field(description="一键办理：调用者在该环节可执行的操作；上级督办（escalated）为空")


class ReturnedItemOut(ChangeOut):
    """A request of the caller's unit returned for more material: resubmit or cancel it."""

    returned_by: str
    returned_at: datetime | None
    comment: str


class WorklistOut(Schema):
    items: list[WorkItemOut]
    count: int
    returned: list[ReturnedItemOut] = Field(description="本单位发起、被退回补充材料的申请（重新提交或撤销）")


class TimelineItemOut(ChangeOut):
    steps: list[StepOut]


class TimelineOut(Schema):
    person_id: UUID
    items: list[TimelineItemOut]


# --- notifications -------------------------------------------------------------------------------------------


class NotificationFiltersIn(Schema):
    unread_only: bool = Field(True, description="只看未读")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class NotificationOut(Schema):
    id: int
    request_id: UUID | None
    org_unit_id: int
    message: str
    created_at: datetime
    read: bool
    needs_action: bool = Field(description="待办通知（需要办理的环节或被退回的申请）")
    done: bool = Field(description="所提示的事项已办理完毕（已审核、已重新提交、已撤销或已生效）")
    done_at: datetime | None


class NotificationPageOut(Schema):
    items: list[NotificationOut]
    count: int
    page: int
    page_size: int


class NotificationsReadIn(_Closed):
    ids: list[int] = Field(min_length=1, max_length=500, description="通知ID")


class NotificationsReadOut(Schema):
    marked: int


# --- cohorts and promotion -----------------------------------------------------------------------------------


class GraduationCohortIn(_Closed):
    school_id: int = Field(description="学校ID（机构ID）")
    grade: int = Field(ge=1, le=12, description="毕业年级（6、9、12）")
    kind: Literal["graduation", "completion", "incomplete"] = Field(
        "graduation", description="毕业、结业或肄业"
    )


class ProgressionCohortIn(_Closed):
    from_school_id: int = Field(description="毕业学校ID")
    to_school_id: int = Field(description="升入学校ID（调用者本校）")
    grade: int = Field(ge=1, le=12, description="毕业年级（6 或 9）")
    class_name: str = Field(min_length=1, max_length=30, description="升入班级")
    admission_ref: str = Field("", max_length=100, description="录取依据")


class CohortSkipOut(Schema):
    enrollment_id: UUID
    name: str
    code: str
    message: str


class CohortOut(Schema):
    submitted: list[UUID]
    submitted_count: int
    skipped: list[CohortSkipOut]


class PromotionIn(_Closed):
    org_id: int = Field(description="区域（县级及以上教育行政部门的机构ID）")
    school_year: int = Field(ge=2000, le=2100, description="升入的学年（学年开始的年份）")


class PromotionQueryIn(Schema):
    org_id: int
    school_year: int = Field(ge=2000, le=2100)


class PromotionOut(Schema):
    school_year: int
    org_unit_id: int
    org_name: str
    counts: dict[str, int]
    by_school_grade: list[dict[str, Any]]
    by_school_truncated: bool
    in_flight: list[dict[str, Any]]
    promoted: int | None
