"""Students: the person, their national identity registry rows, the 学籍 (enrollment), family, archive.

National scale (issue #2 §10): every people table carries ``province_code`` so it can be list-partitioned by
province; primary keys are UUIDv7 (no central sequence). National uniqueness of identity numbers and 学籍号
cannot be a unique index on a province-partitioned table, so it lives in two small registry tables keyed by
a blind index of the number (:class:`IdentityKey`, :class:`StudentNumber`: HMAC-SM3 under its own key, issue 11
§3 — the numbers themselves are stored only SM4-encrypted), which the register consults and writes in the same
transaction as the person.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xueji.core.fieldcrypto import (
    BlindIndexField,
    DerivedFieldsMixin,
    EncryptedCharField,
    EncryptedJSONField,
    FlagField,
    blind_index,
    derive_on,
)
from xueji.core.ids import uuid7
from xueji.schools.models import School

from . import enums
from .identity import registry_key, resident_id_fails


class IdentityCheckFlag(models.BooleanField):
    """A derived, non-secret flag: :func:`~.identity.resident_id_fails` of the row's identity fields, computed
    on every save and raw insert (:mod:`xueji.core.fieldcrypto` derived-field protocol)."""

    sources = ("id_type", "id_number", "birth_date", "gender")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("default", None)
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def derive(self, id_type: Any, number: Any, birth: Any, gender: Any) -> bool:
        return resident_id_fails(str(id_type or ""), str(number or ""), birth, str(gender or ""))

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        return derive_on(self, model_instance)


class Person(DerivedFieldsMixin, models.Model):
    """基础学籍信息 — resident identity and personal fields (domain.md §1.1). One row per human being."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    province_code = models.CharField(max_length=6, db_index=True)
    # 第8条: one number per person for life. Unique nationally through StudentNumber. A G number holds the
    # resident ID number, so it is encrypted like it and found through its blind index (issue 11 §3).
    student_number = EncryptedCharField(_("学籍号"), max_length=19, editable=False)
    student_number_bidx = BlindIndexField(source="student_number", normalise="upper", db_index=True)

    name = models.CharField(_("姓名"), max_length=60)
    name_pinyin = models.CharField(_("姓名拼音"), max_length=120, blank=True)
    former_name = models.CharField(_("曾用名"), max_length=60, blank=True)
    gender = models.CharField(_("性别"), max_length=1, choices=enums.Gender.choices)
    birth_date = models.DateField(_("出生日期"))
    birthplace_code = models.CharField(_("出生地"), max_length=6)
    native_place = models.CharField(_("籍贯"), max_length=60)
    ethnicity = models.CharField(_("民族"), max_length=2, choices=enums.Ethnicity.choices)
    nationality = models.CharField(_("国籍/地区"), max_length=3, choices=enums.Nationality.choices)
    id_type = models.CharField(_("身份证件类型"), max_length=1, choices=enums.IdDocumentType.choices)
    # Found by number through the national IdentityKey registry (a blind index), never by this column.
    id_number = EncryptedCharField(_("身份证件号"), max_length=20, blank=True)
    # Whether a resident ID number fails GB 11643 or disagrees with birth date/sex (checks rule id_invalid).
    id_check_failed = IdentityCheckFlag()
    id_valid_period = models.CharField(_("身份证件有效期"), max_length=30, blank=True)
    overseas_status = models.CharField(
        _("港澳台侨外"), max_length=2, choices=enums.OverseasChineseStatus.choices
    )
    political_status = models.CharField(
        _("政治面貌"), max_length=2, choices=enums.PoliticalStatus.choices, blank=True
    )
    health = EncryptedCharField(_("健康状况"), max_length=2, choices=enums.HealthStatus.choices)
    household_code = models.CharField(_("户口所在地"), max_length=6)
    household_type = models.CharField(_("户口性质"), max_length=1, choices=enums.HouseholdType.choices)
    specialty = models.CharField(_("特长"), max_length=100, blank=True)
    current_address = EncryptedCharField(_("现住址"), max_length=200)
    mailing_address = EncryptedCharField(_("通信地址"), max_length=200)
    home_address = EncryptedCharField(_("家庭地址"), max_length=200)
    phone = EncryptedCharField(_("联系电话"), max_length=20)
    phone_bidx = BlindIndexField(source="phone", normalise="digits", db_index=True)
    postal_code = models.CharField(_("邮政编码"), max_length=6)
    email = models.CharField(_("电子信箱"), max_length=100, blank=True)
    only_child = models.BooleanField(_("是否独生子女"))
    preschool = models.BooleanField(_("是否受过学前教育"))
    left_behind = models.CharField(_("是否留守儿童"), max_length=1, choices=enums.LeftBehind.choices)
    migrant_child = models.BooleanField(_("是否进城务工人员随迁子女"))
    orphan = models.BooleanField(_("是否孤儿"))
    martyr_child = models.BooleanField(_("是否烈士或优抚子女"))
    inclusive_education = models.CharField(
        _("随班就读"), max_length=1, choices=enums.InclusiveEducation.choices, default="0"
    )
    disability_type = EncryptedCharField(
        _("残疾类型"), max_length=1, choices=enums.DisabilityType.choices, default="0"
    )
    # Not the category, only whether there is one: what set-based statistics count (issue 10 §1).
    has_disability = FlagField(source="disability_type", false_values=("", "0"))
    govt_funded_place = models.BooleanField(_("是否由政府购买学位"), default=False)
    needs_aid = models.BooleanField(_("是否需要申请资助"))
    boarding_subsidy = models.BooleanField(_("是否享受一补"))
    # 第3条: province-defined non-basic information, validated against the province's active field set.
    extra = models.JSONField(_("非基础学籍信息"), default=dict, blank=True)
    extra_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("学生")
        verbose_name_plural = _("学生")
        indexes = [
            models.Index(fields=["province_code", "name"]),
            # 第9条 suspected duplicates among students without an ID number.
            models.Index(fields=["name", "gender", "birth_date"]),
        ]

    def __str__(self) -> str:
        return self.name


class IdentityKey(models.Model):
    """National registry of identity documents: one person per (document type, number) — 第9条. The key is the
    blind index of ``"<document type>:<NUMBER>"``, so the registry holds no number in clear."""

    key = models.CharField(max_length=64, primary_key=True)
    person = models.ForeignKey(Person, models.PROTECT, related_name="identity_keys")
    province_code = models.CharField(max_length=6)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key[:8] + "…"

    @staticmethod
    def make_key(id_type: str, number: str) -> str:
        return registry_key(id_type, number)


class StudentNumber(models.Model):
    """National registry of 学籍号 (第8条): one per person, never reused. ``number`` is the blind index of the
    学籍号 (:meth:`key_for`); ``kind`` its letter."""

    PURPOSE = "students_studentnumber.number"

    number = models.CharField(max_length=64, primary_key=True)
    person = models.OneToOneField(Person, models.PROTECT, related_name="number_registry")
    kind = models.CharField(max_length=1)  # G, J or L
    province_code = models.CharField(max_length=6)
    issued_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.kind + "…"

    @classmethod
    def key_for(cls, number: str) -> str:
        return blind_index(cls.PURPOSE, number.strip().upper())


class JSequence(models.Model):
    """Sequence counters for J numbers, one row per (region, birth date) — no national sequence."""

    prefix = models.CharField(max_length=14, primary_key=True)  # region code + YYYYMMDD
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.prefix


class Enrollment(models.Model):
    """The 学籍: a person's enrollment at a school. 第12条 一人一籍 — at most one active per person."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    person = models.ForeignKey(Person, models.PROTECT, related_name="enrollments")
    province_code = models.CharField(max_length=6)
    school = models.ForeignKey(School, models.PROTECT, related_name="enrollments", verbose_name=_("学校"))
    # The school's org path, denormalised so jurisdiction filters hit one indexed column.
    scope_path = models.CharField(max_length=255)
    stage = models.CharField(_("学段"), max_length=8, choices=enums.Stage.choices)
    grade = models.PositiveSmallIntegerField(_("年级"))
    class_name = models.CharField(_("班级"), max_length=30)
    class_number = models.CharField(_("班内学号"), max_length=10, blank=True)
    aux_number = models.CharField(_("学籍辅号"), max_length=30, blank=True)
    entry_ym = models.CharField(_("入学年月"), max_length=6)
    entry_method = models.CharField(_("入学方式"), max_length=2, choices=enums.EntryMethod.choices)
    study_mode = models.CharField(_("就读方式"), max_length=1, choices=enums.StudyMode.choices)
    student_source = models.CharField(
        _("学生来源"), max_length=1, choices=enums.StudentSource.choices, default="1"
    )
    status = models.CharField(
        _("学籍状态"), max_length=2, choices=enums.StudentStatus.choices, default=enums.StudentStatus.ENROLLED
    )
    is_active = models.BooleanField(default=True)
    registered_at = models.DateTimeField(_("注册时间"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    # 第6条: the archive is built within two months of first registration.
    archive_due = models.DateField(_("档案建立期限"))
    archive_completed_at = models.DateTimeField(_("档案建立时间"), null=True, blank=True)
    import_batch_id = models.UUIDField(null=True, blank=True)
    promoted_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("学籍")
        verbose_name_plural = _("学籍")
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=Q(is_active=True), name="enrollment_one_active_per_person"
            ),
            models.CheckConstraint(
                condition=Q(grade__gte=1) & Q(grade__lte=12), name="enrollment_grade_range"
            ),
        ]
        indexes = [
            # Region scoping is ``scope_path LIKE '<path>%'``: pattern operator class on PostgreSQL (issue 7).
            models.Index(
                fields=["scope_path", "is_active"],
                opclasses=["varchar_pattern_ops", "bool_ops"],
                name="enrollment_scope_pattern",
            ),
            models.Index(fields=["school", "is_active", "grade", "class_name"]),
            models.Index(
                fields=["province_code", "archive_due"],
                condition=Q(archive_completed_at__isnull=True),
                name="enrollment_archive_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.school_id}"


class Guardian(DerivedFieldsMixin, models.Model):
    """家庭成员或监护人 (domain.md §1.1). At least one per student is a guardian."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    person = models.ForeignKey(Person, models.CASCADE, related_name="guardians")
    province_code = models.CharField(max_length=6)
    name = models.CharField(_("姓名"), max_length=60)
    relation = models.CharField(_("关系"), max_length=1, choices=enums.FamilyRelation.choices)
    relation_note = models.CharField(_("关系说明"), max_length=30, blank=True)
    is_guardian = models.BooleanField(_("是否监护人"), default=True)
    household_code = models.CharField(_("户口所在地"), max_length=6, blank=True)
    address = EncryptedCharField(_("现住址"), max_length=200)
    phone = EncryptedCharField(_("联系电话"), max_length=20)
    phone_bidx = BlindIndexField(source="phone", normalise="digits", db_index=True)
    ethnicity = models.CharField(_("民族"), max_length=2, choices=enums.Ethnicity.choices, blank=True)
    id_type = models.CharField(
        _("身份证件类型"), max_length=1, choices=enums.IdDocumentType.choices, blank=True
    )
    id_number = EncryptedCharField(_("身份证件号"), max_length=20, blank=True)
    employer = models.CharField(_("工作单位"), max_length=100, blank=True)
    position = models.CharField(_("职务"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("家庭成员")
        verbose_name_plural = _("家庭成员")

    def __str__(self) -> str:
        return self.name


class EnrollmentSnapshot(models.Model):
    """The personal part of a record frozen when the enrollment ended at its school and continued at another
    (转学, 升学, 境外返回 — ``changes.kinds.common.move_to_school``; issue #6 §3.5, 第12、15条).

    The former school and its department keep a read-only copy of the record as it stood when the pupil left
    (第15条: the sending school backs up the file); what the new school records afterwards — address, phone,
    family — is outside their jurisdiction. ``person`` holds the Person's fields and ``guardians`` the family
    members, as JSON. ``backfilled`` marks snapshots taken by the data migration for moves made before this
    table existed: those hold the record as it was at migration time (the best data there was).
    A school merger is not a move: the records go to the successor with the school (第12条), nothing is frozen.
    """

    enrollment = models.OneToOneField(
        Enrollment, models.CASCADE, primary_key=True, related_name="snapshot", verbose_name=_("学籍")
    )
    province_code = models.CharField(max_length=6)
    person = EncryptedJSONField(_("基础信息（转出时）"))
    guardians = EncryptedJSONField(_("家庭成员（转出时）"), default=list)
    taken_at = models.DateTimeField(_("冻结时间"))
    backfilled = models.BooleanField(_("迁移时补记"), default=False)

    class Meta:
        verbose_name = _("转出时学籍快照")
        verbose_name_plural = _("转出时学籍快照")

    def __str__(self) -> str:
        return f"{self.enrollment_id} @ {self.taken_at:%Y-%m-%d}"

    # Fields that are not the pupil's personal data as the school held it.
    PERSON_SKIPPED = frozenset({"id", "province_code", "created_at", "updated_at"})
    GUARDIAN_SKIPPED = frozenset({"person", "province_code"})

    @staticmethod
    def _dump(instance: models.Model, skipped: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in instance._meta.concrete_fields:
            if f.name in skipped:
                continue
            value = f.value_from_object(instance)
            out[f.attname] = (
                value.isoformat()
                if hasattr(value, "isoformat")
                else (str(value) if f.name == "id" else value)
            )
        return out

    @classmethod
    def of(cls, person: Person, guardians: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The JSON of ``person``'s fields and of each family member, as stored in a snapshot."""
        return (
            cls._dump(person, cls.PERSON_SKIPPED),
            [cls._dump(g, cls.GUARDIAN_SKIPPED) for g in guardians],
        )

    def frozen_person(self, person_id: Any) -> FrozenPerson:
        """The record as it stood at ``taken_at``: a read-only :class:`FrozenPerson` with its family members."""
        known = {f.attname: f for f in Person._meta.concrete_fields}
        values = {k: known[k].to_python(v) for k, v in (self.person or {}).items() if k in known}
        person = FrozenPerson(id=person_id, province_code=self.province_code, **values)
        gknown = {f.attname: f for f in Guardian._meta.concrete_fields}
        person.frozen_guardians = [
            Guardian(
                person_id=person_id,
                province_code=self.province_code,
                **{k: gknown[k].to_python(v) for k, v in g.items() if k in gknown},
            )
            for g in (self.guardians or [])
        ]
        person.frozen_at = self.taken_at
        return person


class FrozenPerson(Person):
    """A Person rebuilt from an :class:`EnrollmentSnapshot` for a viewer who holds only the former record: it
    is never written (``save``/``delete`` raise), and carries the snapshot's family members and time."""

    frozen_at: Any = None
    frozen_guardians: Any = ()

    class Meta:
        proxy = True
        verbose_name = _("学生（转出时快照）")
        verbose_name_plural = _("学生（转出时快照）")

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("A frozen snapshot of a former record is read-only")

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("A frozen snapshot of a former record is read-only")


def archive_upload_to(instance: ArchiveDocument, filename: str) -> str:
    # The stored name carries no personal data (URLs and paths must not reveal identity).
    return f"archive/{instance.province_code}/{instance.id}"


class ArchiveDocument(models.Model):
    """A document in the electronic 学籍档案 (第6条)."""

    class Kind(models.TextChoices):
        IDENTITY = "identity", _("身份证件")
        HOUSEHOLD = "household", _("户口簿")
        ENROLLMENT = "enrollment", _("入学登记材料")
        PHOTO = "photo", _("照片")
        EVIDENCE = "evidence", _("佐证材料")
        OTHER = "other", _("其他")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    person = models.ForeignKey(Person, models.PROTECT, related_name="archive_documents")
    province_code = models.CharField(max_length=6)
    kind = models.CharField(_("材料类型"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("名称"), max_length=100)
    file = models.FileField(upload_to=archive_upload_to)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("档案材料")
        verbose_name_plural = _("档案材料")

    def __str__(self) -> str:
        return self.title


class ProblemRecord(models.Model):
    """问题学籍 (第9条: 上级学籍管理部门与学校应及时核实学生学籍信息，处理与解决问题学籍; 第25条: 严肃、及时处理检查中
    发现的问题). Opened at registration (suspected duplicates) or by the nightly checks (:mod:`xueji.checks`), each
    with a reason code (``kind``) and the article it enforces (:data:`KIND_ARTICLES`), or — 第25条 (学籍核查:
    严肃、及时处理检查中发现的人籍分离、空挂学籍等问题) — when the county accepts a school's verification return
    with 人籍分离 / 空挂学籍 / 需更正 findings (``verify_*``, :mod:`xueji.verification.services`).

    ``owner`` is the level that must act now: the school (explain, or correct through the proper change), the
    county department (resolve, return to the school, escalate), or — once escalated — the city or province
    department. ``due_on`` is the deadline in working days (per rule, province data), counted again from the day
    the record changes owner (the deadline follows the owner). Every
    action after opening is a :class:`ProblemEvent`; at most one open record per person and kind.
    """

    class Kind(models.TextChoices):
        SUSPECTED_DUPLICATE = "suspected_duplicate", _("疑似重复（无证件号：姓名+性别+出生日期相同）")
        ID_INVALID = "id_invalid", _("身份证件号错误")
        ID_DUPLICATE = "id_duplicate", _("身份证件号重复")
        AGE_GRADE = "age_grade", _("年龄与年级严重不符")
        SUSPENSION_OVERDUE = "suspension_overdue", _("休学超过一年未复学")
        NO_CLASS = "no_class", _("未分班")
        NOT_PROMOTED = "not_promoted", _("未按时升级")
        ARCHIVE_OVERDUE = "archive_overdue", _("学籍档案逾期未建立")
        # 第25条: what a school reported in a semester verification and the county accepted (人籍分离、空挂学籍
        # 须严肃、及时处理; 需更正: 学生基础学籍信息准确) — opened when the county accepts the return.
        VERIFY_ABSENT = "verify_absent", _("学籍核查：人籍分离")
        VERIFY_PHANTOM = "verify_phantom", _("学籍核查：空挂学籍")
        VERIFY_CORRECTION = "verify_correction", _("学籍核查：需更正")

    class State(models.TextChoices):
        OPEN = "open", _("待处理")
        CONFIRMED_DISTINCT = "distinct", _("已核实为不同学生")
        MERGED = "resolved", _("已处理")

    class Owner(models.TextChoices):
        SCHOOL = "school", _("学校")
        COUNTY = "county", _("县级教育行政部门")
        CITY = "city", _("市级教育行政部门")
        PROVINCE = "province", _("省级教育行政部门")

    class Source(models.TextChoices):
        REGISTRATION = "registration", _("注册时发现")
        CHECK = "check", _("自动检查发现")
        VERIFICATION = "verification", _("学籍核查发现")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(_("问题类型"), max_length=24, choices=Kind.choices)
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.OPEN)
    person = models.ForeignKey(Person, models.PROTECT, related_name="problems")
    other_person = models.ForeignKey(Person, models.PROTECT, null=True, blank=True, related_name="+")
    province_code = models.CharField(max_length=6)
    # The path of the student's school: every level above it sees the record (jurisdiction = path prefix).
    scope_path = models.CharField(max_length=255, db_index=True)
    school = models.ForeignKey(
        School, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("学校")
    )
    owner = models.CharField(
        _("当前处理方"), max_length=10, choices=Owner.choices, default=Owner.SCHOOL, db_default=Owner.SCHOOL
    )
    source = models.CharField(
        _("来源"),
        max_length=12,
        choices=Source.choices,
        default=Source.REGISTRATION,
        db_default=Source.REGISTRATION,
    )
    due_on = models.DateField(_("处理期限"), null=True, blank=True)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.CharField(_("处理意见"), max_length=300, blank=True)
    # A school's explanation of a record it cannot resolve yet (第25条: a verification round can be submitted
    # while problem records are open only when each is explained).
    # Bulk inserts (registration, the checks) may omit it: the database fills it in.
    explanation = models.CharField(_("情况说明"), max_length=300, blank=True, default="", db_default="")
    explained_at = models.DateTimeField(null=True, blank=True)
    explained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("问题学籍")
        verbose_name_plural = _("问题学籍")
        constraints = [
            # Idempotent checks: a rule run twice never opens a second record for the same person and reason.
            models.UniqueConstraint(
                fields=["person", "kind"], condition=Q(state="open"), name="problem_one_open_per_person_kind"
            ),
        ]
        indexes = [
            models.Index(
                fields=["scope_path", "owner"],
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
                condition=Q(state="open"),
                name="problem_open_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_state_display()}"

    @property
    def article(self) -> str:
        """The article of the regulation this reason enforces (shown beside the reason)."""
        return str(KIND_ARTICLES.get(self.kind, ""))

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    @property
    def escalated(self) -> bool:
        return self.owner in {self.Owner.CITY, self.Owner.PROVINCE}

    def is_overdue(self, today: Any) -> bool:
        return self.is_open and self.due_on is not None and today > self.due_on


#: The article each reason code enforces (regulation-2025).
KIND_ARTICLES: dict[str, Any] = {
    ProblemRecord.Kind.SUSPECTED_DUPLICATE: _("第九条"),
    ProblemRecord.Kind.ID_INVALID: _("第六条、第九条"),
    ProblemRecord.Kind.ID_DUPLICATE: _("第九条"),
    ProblemRecord.Kind.AGE_GRADE: _("第九条、第十一条"),
    ProblemRecord.Kind.SUSPENSION_OVERDUE: _("第十六条"),
    ProblemRecord.Kind.NO_CLASS: _("第二十五条"),
    ProblemRecord.Kind.NOT_PROMOTED: _("第七条、第二十五条"),
    ProblemRecord.Kind.ARCHIVE_OVERDUE: _("第六条"),
    ProblemRecord.Kind.VERIFY_ABSENT: _("第十七条、第二十五条"),
    ProblemRecord.Kind.VERIFY_PHANTOM: _("第二十五条"),
    ProblemRecord.Kind.VERIFY_CORRECTION: _("第二十五条"),
}


class ProblemEvent(models.Model):
    """One step in a problem record's history (第25条: the handling of what a check found is traceable): who did
    what, when, with the level that owns the record afterwards. ``note`` is the actor's own text about the
    handling; audit events (:mod:`xueji.audit`) carry no personal data, this history carries no more than the
    record itself."""

    class Action(models.TextChoices):
        OPEN = "open", _("生成")
        EXPLAIN = "explain", _("学校说明情况")
        CORRECT = "correct", _("学校已更正")
        RETURN = "return", _("退回学校")
        ESCALATE = "escalate", _("提交上级")
        RESOLVE = "resolve", _("处理完毕")
        REOPEN = "reopen", _("重新打开")

    id = models.BigAutoField(primary_key=True)
    problem = models.ForeignKey(ProblemRecord, models.CASCADE, related_name="events")
    action = models.CharField(_("操作"), max_length=10, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("时间"))
    owner_after = models.CharField(_("处理方"), max_length=10, choices=ProblemRecord.Owner.choices)
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("问题学籍处理记录")
        verbose_name_plural = _("问题学籍处理记录")
        indexes = [models.Index(fields=["problem", "at"])]

    def __str__(self) -> str:
        return f"{self.problem_id} {self.action}"


class SchoolActiveCount(models.Model):
    """在读学籍 per school, for counts that do not scan a region's enrollments (issue 7: dashboards of a province
    or the ministry). Never written by application code: database triggers on the enrollment table append a
    :class:`SchoolCountDelta` for every change of active enrollments, and :func:`xueji.students.counters.
    counts_compact` (every minute, ``XUEJI_SCHEDULE``) folds them in here. A count is this row plus the deltas
    not folded yet, so it is exact at any moment (:func:`xueji.students.counters.active_count`)."""

    school = models.OneToOneField(School, models.CASCADE, primary_key=True, related_name="+")
    active = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.school_id}: {self.active}"


class SchoolCountDelta(models.Model):
    """A change of a school's active enrollments not yet folded into :class:`SchoolActiveCount` (appended by
    triggers: no row is ever updated, so concurrent registrations, transfers and imports never wait on each
    other for a counter, and two transfers in opposite directions cannot deadlock on one)."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint: its check would take a key-share lock on the school row, which an import holds
    # FOR UPDATE for its whole transaction — a transfer into that school would wait for the import.
    school = models.ForeignKey(School, models.CASCADE, related_name="+", db_constraint=False)
    delta = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.school_id}: {self.delta:+d}"
