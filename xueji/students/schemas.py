"""API schemas for students: one ``…In``/``…Out`` pair per operation (architecture.md convention 10).

Input schemas accept strings for codes, dates and flags and leave the conversion to
:mod:`xueji.students.validation`, so that a missing or bad field yields the same Chinese field error in the API,
the form and the importer. Every field is optional at the schema level for that reason: "姓名为必填项" comes from
``clean_registration``, not from a generic 422.

Mass assignment (security.md test 11, ASVS 15.3.3): the registration schemas forbid unknown keys, so a
学籍号, status, school or province smuggled into the body is refused (422) before any service runs; the edit
schema passes unknown keys on to ``student_update``, which refuses them with ``unknown_fields`` (400).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict

from xueji.core.pagination import MAX_PAGE

Text = str | None
Flag = bool | str | None  # "是"/"否", "1"/"0" or a JSON boolean
MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    """The one error shape of the API: a stable ``code``, a Chinese ``message``, per-field messages."""

    code: str
    message: str
    fields: dict[str, str]


class _Closed(BaseModel):
    """Input bodies are plain pydantic models: ninja's ``Schema`` reads through an ORM-style getter that
    drops undeclared keys, which would hide a smuggled key from ``student_update`` instead of refusing it."""

    model_config = ConfigDict(extra="forbid")


class PersonIn(_Closed):
    """基础学籍信息 (domain.md §1.1). Keys are exactly ``xueji.students.fields.PERSON_FIELDS``."""

    name: Text = Field(None, description="姓名")
    gender: Text = Field(None, description="性别（代码 1 男 / 2 女）")
    birth_date: Text = Field(None, description="出生日期 YYYY-MM-DD")
    birthplace_code: Text = Field(None, description="出生地（6位行政区划代码）")
    native_place: Text = Field(None, description="籍贯")
    ethnicity: Text = Field(None, description="民族（代码）")
    nationality: Text = Field(None, description="国籍/地区（代码，如 CHN）")
    id_type: Text = Field(None, description="身份证件类型（代码）")
    id_number: Text = Field(None, description="身份证件号")
    id_valid_period: Text = Field(None, description="身份证件有效期")
    overseas_status: Text = Field(None, description="港澳台侨外（代码）")
    political_status: Text = Field(None, description="政治面貌（代码）")
    health: Text = Field(None, description="健康状况（代码）")
    name_pinyin: Text = Field(None, description="姓名拼音")
    former_name: Text = Field(None, description="曾用名")
    household_code: Text = Field(None, description="户口所在地（6位行政区划代码）")
    household_type: Text = Field(None, description="户口性质（代码）")
    specialty: Text = Field(None, description="特长")
    current_address: Text = Field(None, description="现住址")
    mailing_address: Text = Field(None, description="通信地址")
    home_address: Text = Field(None, description="家庭地址")
    phone: Text = Field(None, description="联系电话")
    postal_code: Text = Field(None, description="邮政编码")
    email: Text = Field(None, description="电子信箱")
    only_child: Flag = Field(None, description="是否独生子女")
    preschool: Flag = Field(None, description="是否受过学前教育")
    left_behind: Text = Field(None, description="是否留守儿童（代码）")
    migrant_child: Flag = Field(None, description="是否进城务工人员随迁子女")
    orphan: Flag = Field(None, description="是否孤儿")
    martyr_child: Flag = Field(None, description="是否烈士或优抚子女")
    inclusive_education: Text = Field(None, description="随班就读（代码）")
    disability_type: Text = Field(None, description="残疾类型（代码）")
    govt_funded_place: Flag = Field(None, description="是否由政府购买学位")
    needs_aid: Flag = Field(None, description="是否需要申请资助")
    boarding_subsidy: Flag = Field(None, description="是否享受一补")


class EnrollmentIn(_Closed):
    """The enrollment at the school. Status, school and dates are set by the service, never by the client."""

    grade: int | str | None = Field(None, description="年级 1–12")
    class_name: Text = Field(None, description="班级")
    class_number: Text = Field(None, description="班内学号")
    aux_number: Text = Field(None, description="学籍辅号")
    entry_ym: Text = Field(None, description="入学年月 YYYYMM")
    entry_method: Text = Field(None, description="入学方式（代码）")
    study_mode: Text = Field(None, description="就读方式（代码）")
    student_source: Text = Field(None, description="学生来源（代码）")


class GuardianIn(_Closed):
    """家庭成员或监护人. Keys are exactly ``xueji.students.fields.GUARDIAN_FIELDS``."""

    name: Text = Field(None, description="姓名")
    relation: Text = Field(None, description="关系（代码）")
    relation_note: Text = Field(None, description="关系说明")
    is_guardian: Flag = Field(None, description="是否监护人")
    household_code: Text = Field(None, description="户口所在地（6位行政区划代码）")
    address: Text = Field(None, description="现住址")
    phone: Text = Field(None, description="联系电话")
    ethnicity: Text = Field(None, description="民族（代码）")
    id_type: Text = Field(None, description="身份证件类型（代码）")
    id_number: Text = Field(None, description="身份证件号")
    employer: Text = Field(None, description="工作单位")
    position: Text = Field(None, description="职务")


class StudentRegisterIn(_Closed):
    school_id: int = Field(description="学校ID（机构ID）")
    person: PersonIn
    enrollment: EnrollmentIn
    guardians: list[GuardianIn] = Field(
        default_factory=list, description="家庭成员（1–2 人，至少一名监护人）"
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="本省非基础学籍信息（第三条）")
    age_confirmed: bool = Field(
        False,
        description="确认年龄与年级属实：年龄超出本省规则对该年级的正常范围、但在可确认范围内时须为 true，"
        "并填写 age_confirm_reason（否则 400，fields.age_confirmed 说明情况）",
    )
    age_confirm_reason: str = Field(
        "", description="年龄与年级不符的原因（2–200 字，如缓学、留级、跳级、插班）"
    )

    def raw_enrollment(self) -> dict[str, Any]:
        """The enrollment as ``clean_registration`` takes it, with the age confirmation (issue 8 item 4)."""
        return {
            **self.enrollment.model_dump(),
            "age_confirmed": self.age_confirmed,
            "age_confirm_reason": self.age_confirm_reason,
        }


class StudentRegisteredOut(Schema):
    person_id: UUID
    student_number: str
    suspected_duplicate: bool


class StudentUpdateIn(PersonIn):
    """Changed ordinary fields only. Key fields (姓名、证件、性别、出生日期) are refused with
    ``key_field_change`` (第13条); any other key (学籍号, status, school…) with ``unknown_fields``."""

    model_config = ConfigDict(extra="allow")


class StudentFiltersIn(Schema):
    q: str = Field(
        "",
        description="姓名（任意部分，单字按姓氏前缀）、姓名拼音、完整学籍号或完整身份证件号（容许全角字符与空格）",
    )
    school_id: int | None = None
    grade: int | None = Field(None, ge=1, le=12)
    class_name: str = ""
    status: str = Field("", description="学籍状态代码")
    include_inactive: bool = Field(False, description="包括已不在读（转出、毕业等）的学籍")
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)
    after: UUID | None = Field(
        None,
        description="键集分页：上一页响应中的 next_after（学籍ID）；给出时从该学籍之后开始，page 须为 1。"
        "长列表逐页读取用它，深页码（OFFSET）越往后越慢",
    )


class StudentListItemOut(Schema):
    """A list row. The 学籍号 and the identity number are direct identifiers: masked here."""

    person_id: UUID
    enrollment_id: UUID
    name: str
    gender: str
    birth_date: date
    student_number_masked: str
    id_number_masked: str
    school_id: int
    school_name: str
    grade: int
    class_name: str
    class_number: str
    status: str
    status_label: str
    is_active: bool
    archive_due: date
    archive_completed: bool


class StudentPageOut(Schema):
    items: list[StudentListItemOut]
    count: int = Field(description="匹配的学籍数；超过 10 000 时为 10 000（count_exact 为 false）")
    count_exact: bool = Field(True, description="count 是否为精确数（false：超过 10 000 条，请缩小查询范围）")
    next_after: UUID | None = Field(None, description="下一页的 after 参数；没有下一页时为 null")
    page: int
    page_size: int


class PersonOut(Schema):
    """Basic information for the detail view; identity number and phone masked (reveal is audited)."""

    name: str
    gender: str
    birth_date: date
    birthplace_code: str
    native_place: str
    ethnicity: str
    nationality: str
    id_type: str
    id_number_masked: str
    id_valid_period: str
    overseas_status: str
    political_status: str
    health: str
    name_pinyin: str
    former_name: str
    household_code: str
    household_type: str
    specialty: str
    current_address: str
    mailing_address: str
    home_address: str
    phone_masked: str
    postal_code: str
    email: str
    only_child: bool
    preschool: bool
    left_behind: str
    migrant_child: bool
    orphan: bool
    martyr_child: bool
    inclusive_education: str
    disability_type: str
    govt_funded_place: bool
    needs_aid: bool
    boarding_subsidy: bool


class EnrollmentOut(Schema):
    enrollment_id: UUID
    school_id: int
    school_code: str
    school_name: str
    stage: str
    grade: int
    class_name: str
    class_number: str
    aux_number: str
    entry_ym: str
    entry_method: str
    study_mode: str
    student_source: str
    status: str
    status_label: str
    is_active: bool
    registered_at: datetime
    archive_due: date
    archive_completed_at: datetime | None


class GuardianOut(Schema):
    id: UUID
    name: str
    relation: str
    relation_note: str
    is_guardian: bool
    household_code: str
    address: str
    phone_masked: str
    ethnicity: str
    id_type: str
    id_number_masked: str
    employer: str
    position: str


class ArchiveDocumentOut(Schema):
    """Metadata only; the file itself is never served through this API."""

    id: UUID
    kind: str
    kind_label: str
    title: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class StudentDetailOut(Schema):
    person_id: UUID
    student_number: str
    person: PersonOut
    enrollment: EnrollmentOut
    guardians: list[GuardianOut]
    archive: list[ArchiveDocumentOut]
    extra: dict[str, Any]
    extra_version: int | None


class StudentUpdatedOut(Schema):
    person_id: UUID
    changed: list[str]
    person: PersonOut


class RevealIn(_Closed):
    field: str = Field(description="id_number（身份证件号）或 phone（联系电话）")


class RevealOut(Schema):
    field: str
    value: str


class ArchiveCompletedOut(Schema):
    archive_due: date
    archive_completed_at: datetime
    overdue: bool


class ProblemFiltersIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ProblemRecordOut(Schema):
    id: UUID
    kind: str
    kind_label: str
    state: str
    person_id: UUID
    person_name: str
    other_person_id: UUID | None
    detail: str
    created_at: datetime


class ProblemPageOut(Schema):
    items: list[ProblemRecordOut]
    count: int
    page: int
    page_size: int


class ProblemResolveIn(_Closed):
    outcome: str = Field(description="distinct（核实为不同学生）或 resolved（已处理）")
    note: str = Field("", description="处理意见")


class ProblemResolvedOut(Schema):
    id: UUID
    state: str
    resolution_note: str
    resolved_at: datetime


class HistoryFiltersIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class HistoryEventOut(Schema):
    id: int
    occurred_at: datetime
    event_type: str
    event_label: str
    actor_username: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryPageOut(Schema):
    items: list[HistoryEventOut]
    count: int
    page: int
    page_size: int
