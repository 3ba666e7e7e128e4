"""The national basic-information field set (domain.md §1.1) as data: one place that the registration
form, the API, the import template, the importer and the roster export all read.

``required`` follows the national template's ★ marks (第3条: 基础学籍信息由国务院教育行政部门统一确定).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from . import enums


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str  # Chinese column header / form label (stable: import templates depend on it)
    kind: str  # text | date | ym | code | bool | region | grade | phone | postal
    required: bool = False
    choices: type[models.TextChoices] | None = None
    max_length: int = 200
    help: str = ""


F = FieldSpec
PERSON_FIELDS: tuple[FieldSpec, ...] = (
    F("name", "姓名", "text", True, max_length=60, help="与户籍登记一致；外籍学生填中文姓名"),
    F("gender", "性别", "code", True, enums.Gender),
    F("birth_date", "出生日期", "date", True, help="YYYY-MM-DD"),
    F("birthplace_code", "出生地", "region", True, help="6位行政区划代码"),
    F("native_place", "籍贯", "text", True, max_length=60),
    F("ethnicity", "民族", "code", True, enums.Ethnicity),
    F("nationality", "国籍/地区", "code", True, enums.Nationality),
    F("id_type", "身份证件类型", "code", True, enums.IdDocumentType),
    F("id_number", "身份证件号", "text", False, max_length=20, help="证件类型为“其他”时不填"),
    F("id_valid_period", "身份证件有效期", "text", False, max_length=30),
    F("overseas_status", "港澳台侨外", "code", True, enums.OverseasChineseStatus),
    F("political_status", "政治面貌", "code", False, enums.PoliticalStatus),
    F("health", "健康状况", "code", True, enums.HealthStatus),
    F("name_pinyin", "姓名拼音", "text", False, max_length=120),
    F("former_name", "曾用名", "text", False, max_length=60),
    F("household_code", "户口所在地", "region", True, help="6位行政区划代码"),
    F("household_type", "户口性质", "code", True, enums.HouseholdType),
    F("specialty", "特长", "text", False, max_length=100),
    F("current_address", "现住址", "text", True),
    F("mailing_address", "通信地址", "text", True),
    F("home_address", "家庭地址", "text", True),
    F("phone", "联系电话", "phone", True, max_length=20),
    F("postal_code", "邮政编码", "postal", True, max_length=6),
    F("email", "电子信箱", "text", False, max_length=100),
    F("only_child", "是否独生子女", "bool", True),
    F("preschool", "是否受过学前教育", "bool", True),
    F("left_behind", "是否留守儿童", "code", True, enums.LeftBehind),
    F("migrant_child", "是否进城务工人员随迁子女", "bool", True),
    F("orphan", "是否孤儿", "bool", True),
    F("martyr_child", "是否烈士或优抚子女", "bool", True),
    F("inclusive_education", "随班就读", "code", False, enums.InclusiveEducation),
    F("disability_type", "残疾类型", "code", False, enums.DisabilityType),
    F("govt_funded_place", "是否由政府购买学位", "bool", False),
    F("needs_aid", "是否需要申请资助", "bool", True),
    F("boarding_subsidy", "是否享受一补", "bool", True),
)

ENROLLMENT_FIELDS: tuple[FieldSpec, ...] = (
    F("grade", "年级", "grade", True, help="1–12，如 1 表示一年级，7 表示初一"),
    F("class_name", "班级", "text", True, max_length=30),
    F("class_number", "班内学号", "text", False, max_length=10),
    F("aux_number", "学籍辅号", "text", False, max_length=30),
    F("entry_ym", "入学年月", "ym", True, help="YYYYMM，本学段入学年月"),
    F("entry_method", "入学方式", "code", True, enums.EntryMethod),
    F("study_mode", "就读方式", "code", True, enums.StudyMode),
    F("student_source", "学生来源", "code", False, enums.StudentSource),
)

GUARDIAN_FIELDS: tuple[FieldSpec, ...] = (
    F("name", "姓名", "text", True, max_length=60),
    F("relation", "关系", "code", True, enums.FamilyRelation),
    F("relation_note", "关系说明", "text", False, max_length=30),
    F("is_guardian", "是否监护人", "bool", True),
    F("household_code", "户口所在地", "region", False),
    F("address", "现住址", "text", True),
    F("phone", "联系电话", "phone", True, max_length=20),
    F("ethnicity", "民族", "code", False, enums.Ethnicity),
    F("id_type", "身份证件类型", "code", False, enums.IdDocumentType),
    F("id_number", "身份证件号", "text", False, max_length=20),
    F("employer", "工作单位", "text", False, max_length=100),
    F("position", "职务", "text", False, max_length=60),
)

MAX_GUARDIANS = 2  # the national sheet has two family-member blocks

# Defaults for optional coded fields when left blank.
DEFAULTS = {
    "inclusive_education": "0",
    "disability_type": "0",
    "govt_funded_place": False,
    "student_source": "1",
    "political_status": "",
}
