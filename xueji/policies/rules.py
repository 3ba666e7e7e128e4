"""Province rule keys that registration reads, as pure data: national defaults, validation and the resolved rule.

Province rules are business data (CONTRIBUTING "Adding a province rule"): a province's
:class:`~xueji.policies.models.ProvinceRuleSet` overrides the national defaults key by key
(:func:`xueji.changes.policy.merge`, which takes these defaults into ``NATIONAL_DEFAULTS``). This module holds the
keys that the registration of a student needs — below the students app, so that
:func:`xueji.students.validation.clean_registration` can apply them without reaching up to the change workflow:

``school_entry_age``
    第11条: 凡年满六周岁的儿童 … 应当送其入学; 条件不具备的地区的儿童，可以推迟到七周岁. The age (6, or 7 where a
    province so decides) at which a child enters 一年级; grade *g* is expected at ``school_entry_age + g − 1``.
``grade_age``
    Age-for-grade plausibility at registration (issue 8 item 4; 第9条 学校不得使用虚假信息, 第11条 入学年龄):
    ``age_on`` (``"MM-DD"``) is the day of the school year on which age is counted — 31 August, the day by which
    a child must be six to enter school in most provinces; then one entry per stage (``primary``, ``junior``,
    ``senior``) with two bands of whole years relative to the expected age, ``normal`` and ``allowed``:

    * inside ``normal``: accepted;
    * outside ``normal`` but inside ``allowed``: accepted only when the registrar confirms, with a reason, that
      the age is right (缓学, 留级, 跳级, 插班, 随班就读 …);
    * outside ``allowed``: refused — the birth date or the grade is wrong (a child of 14 months in 一年级).

``checks``
    The problem-record checks (第9、25条; :mod:`xueji.checks`): per rule (reason code, :data:`CHECK_RULES`)
    ``enabled``, ``due_working_days`` (the owner's deadline), ``owner`` (``school`` or ``county`` acts first) and
    the rule's thresholds (``margin_years``, ``max_days``, ``grace_days``, ``check_from``); a province overrides
    any of them key by key (:class:`CheckRules`, defaults :data:`CHECKS_DEFAULT`, validation
    :func:`checks_errors`), filed like every rule set (:func:`xueji.policies.services.check_rules_file`).

National defaults (:data:`GRADE_AGE_DEFAULT`), in years from the expected age (一年级 6, 初一 12, 高一 15):

========  ========  =========  ===================================================================================
stage     normal    allowed    why
========  ========  =========  ===================================================================================
小学      0 … +1    −1 … +6    第11条: six, or seven where conditions lack; one year early (a birthday just after
                               31 August) or late entry, 缓学 and repeated years need a confirmation; a child two
                               years too young, or more than six years too old, is a typing error.
初中      0 … +1    −2 … +6    as 小学, continued; two years ahead is possible after skipped grades.
普通高中  0 … +2    −2 … +6    entry follows 中考, which some pupils repeat (复读): two years late is ordinary.
========  ========  =========  ===================================================================================
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SCHOOL_ENTRY_AGE = 6
ENTRY_AGES = (6, 7)  # 第11条: 六周岁; 条件不具备的地区可以推迟到七周岁
GRADE_AGE = "grade_age"
STAGES = ("primary", "junior", "senior")
STAGE_LABELS = {
    "primary": gettext_lazy("小学"),
    "junior": gettext_lazy("初中"),
    "senior": gettext_lazy("普通高中"),
}
BANDS = ("normal", "allowed")
BAND_LABELS = {"normal": gettext_lazy("正常范围"), "allowed": gettext_lazy("可确认范围")}
#: Offsets (years from the expected age) a band may reach: wider is no longer a plausibility check.
MIN_OFFSET, MAX_OFFSET = -5, 15
#: The school year's grades hold from this month on (the national promotion runs in early August, domain.md
#: §3.1): a registration in August is for the school year that starts in September.
SCHOOL_YEAR_FROM_MONTH = 8

GRADE_AGE_DEFAULT: dict[str, Any] = {
    "age_on": "08-31",
    "primary": {"normal": [0, 1], "allowed": [-1, 6]},
    "junior": {"normal": [0, 1], "allowed": [-2, 6]},
    "senior": {"normal": [0, 2], "allowed": [-2, 6]},
}

_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


class RulesInvalid(ValueError):
    """A rule set's values are not valid: ``fields`` maps each bad key (``grade_age.primary.normal``) to a
    Chinese message naming it."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def _month_day(value: Any) -> tuple[int, int] | None:
    match = _MONTH_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    try:
        date(2001, month, day)  # not a leap year: 02-29 is refused
    except ValueError:
        return None
    return month, day


def _band(value: Any) -> tuple[int, int] | None:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def validate_rules(rules: Any) -> dict[str, Any]:
    """Check the registration keys of a province's rule set (``school_entry_age``, ``grade_age``) and the
    problem-record checks (``checks``, :func:`checks_errors`) and the export approval level (``exports``); other
    keys pass through unchanged. Returns the
    rules; raises :class:`RulesInvalid` with every error at once.

    ``grade_age`` may override ``age_on`` and any stage; a stage given must carry both bands. Each band is
    ``[low, high]`` in whole years from the expected age with ``allowed.low ≤ normal.low ≤ 0 ≤ normal.high ≤
    allowed.high`` (the expected age itself is always normal) and within −5 … +15.
    """
    if not isinstance(rules, Mapping):
        raise RulesInvalid({"rules": _("规则须为 JSON 对象")})
    errors: dict[str, str] = {}
    if "school_entry_age" in rules and rules["school_entry_age"] not in ENTRY_AGES:
        errors["school_entry_age"] = _(
            "school_entry_age（入学年龄）须为 6 或 7（第十一条：年满六周岁，条件不具备的地区可推迟到七周岁）"
        )
    if GRADE_AGE in rules:
        errors.update(_grade_age_errors(rules[GRADE_AGE]))
    if CHECKS in rules:
        errors.update(checks_errors(rules[CHECKS]))
    if EXPORTS in rules:
        errors.update(_exports_errors(rules[EXPORTS]))
    if errors:
        raise RulesInvalid(errors)
    return dict(rules)


EXPORTS = "exports"
EXPORT_APPROVING_LEVELS = ("county", "city", "province", "national")


def _exports_errors(value: Any) -> dict[str, str]:
    """第24条: which department level approves the province's data exports (``{"approving_level": "city"}``;
    xueji.exports reads it)."""
    if not isinstance(value, Mapping) or set(value) - {"approving_level"}:
        return {EXPORTS: _("exports（数据导出）须为对象，只能含 approving_level")}
    if value.get("approving_level", "") not in ("", *EXPORT_APPROVING_LEVELS):
        return {
            EXPORTS: _("exports.approving_level（导出审批层级）须为 county、city、province 或 national 之一")
        }
    return {}


def _grade_age_errors(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {GRADE_AGE: _("grade_age（年龄与年级）须为对象")}
    errors: dict[str, str] = {}
    for key in sorted(set(value) - {"age_on", *STAGES}):
        errors[f"{GRADE_AGE}.{key}"] = _(
            "grade_age 中的“%(key)s”不是可设置的项（可设 age_on、primary、junior、senior）"
        ) % {"key": key}
    if "age_on" in value and _month_day(value["age_on"]) is None:
        errors[f"{GRADE_AGE}.age_on"] = _("grade_age.age_on（年龄计算日）须为 MM-DD 格式的日期，如 08-31")
    for stage in STAGES:
        if stage not in value:
            continue
        key = f"{GRADE_AGE}.{stage}"
        name = STAGE_LABELS[stage]
        entry = value[stage]
        if not isinstance(entry, Mapping) or set(entry) != set(BANDS):
            errors[key] = _("%(key)s（%(stage)s）须同时给出 normal 和 allowed 两个范围") % {
                "key": key,
                "stage": name,
            }
            continue
        normal, allowed = _band(entry["normal"]), _band(entry["allowed"])
        for band, parsed in (("normal", normal), ("allowed", allowed)):
            if parsed is None:
                errors[f"{key}.{band}"] = _("%(key)s（%(stage)s%(band)s）须为两个整数 [下限, 上限]") % {
                    "key": f"{key}.{band}",
                    "stage": name,
                    "band": BAND_LABELS[band],
                }
            elif not MIN_OFFSET <= parsed[0] <= parsed[1] <= MAX_OFFSET:
                errors[f"{key}.{band}"] = _(
                    "%(key)s（%(stage)s%(band)s）须满足 %(min)s ≤ 下限 ≤ 上限 ≤ %(max)s（单位：与标准年龄相差的岁数）"
                ) % {
                    "key": f"{key}.{band}",
                    "stage": name,
                    "band": BAND_LABELS[band],
                    "min": MIN_OFFSET,
                    "max": MAX_OFFSET,
                }
        if (
            normal is not None
            and allowed is not None
            and f"{key}.normal" not in errors
            and f"{key}.allowed" not in errors
        ):
            if not normal[0] <= 0 <= normal[1]:
                errors[f"{key}.normal"] = _(
                    "%(key)s（%(stage)s正常范围）须包含标准年龄（下限 ≤ 0 ≤ 上限）"
                ) % {
                    "key": f"{key}.normal",
                    "stage": name,
                }
            elif not (allowed[0] <= normal[0] and normal[1] <= allowed[1]):
                errors[f"{key}.allowed"] = _("%(key)s（%(stage)s可确认范围）须包含正常范围") % {
                    "key": f"{key}.allowed",
                    "stage": name,
                }
    return errors


def merge_rules(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` overridden key by key: a mapping value is merged one level deep (a province's ``grade_age``
    that sets only ``primary`` keeps the national ``junior``/``senior``), anything else replaced. The one merge
    of province rules (:func:`xueji.changes.policy.merge` adds the per-kind merge of ``chains``)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **copy.deepcopy(dict(value))}
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Verdict:
    """What :meth:`GradeAgeRules.judge` found: ``outcome`` is ``ok``, ``confirm`` or ``refuse``."""

    outcome: str
    age: int
    day: date
    normal: tuple[int, int]  # ages (years) for the grade
    allowed: tuple[int, int]

    def age_text(self) -> str:
        return _("%(n)s 周岁") % {"n": self.age} if self.age >= 1 else _("不满 1 周岁")


def age_on(birth: date, day: date) -> int:
    """Full years of age on ``day`` (周岁)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def school_year_of(day: date) -> int:
    """The calendar year in which the school year of ``day`` starts (from August: the coming school year)."""
    return day.year if day.month >= SCHOOL_YEAR_FROM_MONTH else day.year - 1


@dataclass(frozen=True)
class GradeAgeRules:
    """The resolved age-for-grade rule of one province on one day (national defaults + its override)."""

    entry_age: int
    age_on: tuple[int, int]
    bands: Mapping[str, Mapping[str, tuple[int, int]]]
    version: str = "national"

    @classmethod
    def from_rules(
        cls, rules: Mapping[str, Any] | None = None, *, version: str = "national"
    ) -> GradeAgeRules:
        """From a province's (validated) rule set, or the national defaults for ``None``. Raises
        :class:`RulesInvalid` for invalid values (a rule set is validated before it is stored)."""
        override = dict(rules or {})
        own = {k: override[k] for k in ("school_entry_age", GRADE_AGE) if k in override}
        validate_rules(own)
        merged = merge_rules({"school_entry_age": SCHOOL_ENTRY_AGE, GRADE_AGE: GRADE_AGE_DEFAULT}, own)
        grade_age = merged[GRADE_AGE]
        month_day = _month_day(grade_age["age_on"])
        assert month_day is not None  # validated
        bands = {stage: {band: _band(grade_age[stage][band]) or (0, 0) for band in BANDS} for stage in STAGES}
        return cls(int(merged["school_entry_age"]), month_day, bands, version)

    def expected_age(self, grade: int) -> int:
        """The age a pupil of ``grade`` (1–12) has on the counting day: 一年级 = the school entry age."""
        return self.entry_age + grade - 1

    def counting_day(self, today: date, entry_ym: str | None = None) -> date:
        """The day of the registration's school year on which age is counted (``age_on`` in that year). The
        school year is today's, or the one the 入学年月 starts when that is later (registering in July for
        September)."""
        year = school_year_of(today)
        if entry_ym and len(entry_ym) == 6 and entry_ym.isdigit():
            year = max(year, school_year_of(date(int(entry_ym[:4]), int(entry_ym[4:]), 1)))
        return date(year, *self.age_on)

    def judge(self, *, stage: str, grade: int, birth: date, day: date) -> Verdict:
        """第11条 / 第9条: is a pupil born on ``birth`` plausible in ``grade`` (of ``stage``) on ``day``?"""
        age = age_on(birth, day)
        expected = self.expected_age(grade)
        bands = self.bands[stage]
        normal = (expected + bands["normal"][0], expected + bands["normal"][1])
        allowed = (expected + bands["allowed"][0], expected + bands["allowed"][1])
        if normal[0] <= age <= normal[1]:
            outcome = "ok"
        elif allowed[0] <= age <= allowed[1]:
            outcome = "confirm"
        else:
            outcome = "refuse"
        return Verdict(outcome, age, day, normal, allowed)


#: What each key of a province rule set governs, as the versions table names it (no internal codes on screen).
RULE_KEY_LABELS = {
    "version": gettext_lazy("版本"),
    "chains": gettext_lazy("审批流程"),
    "clock_days": gettext_lazy("办理时限"),
    "death_filing_working_days": gettext_lazy("死亡注销时限"),
    "transfer_blackout": gettext_lazy("暑期停办转学"),
    "cross_province_progression_windows": gettext_lazy("跨省升学办理时段"),
    "no_transfer_grades": gettext_lazy("不得转学的年级"),
    "suspension_max_months": gettext_lazy("休学期限"),
    "resumption_grade": gettext_lazy("复学年级"),
    "deferral_months": gettext_lazy("缓学期限"),
    "school_entry_age": gettext_lazy("入学年龄"),
    GRADE_AGE: gettext_lazy("年龄与年级"),
    "required_evidence": gettext_lazy("证明材料"),
    "checks": gettext_lazy("问题学籍检查"),
}


def rule_key_labels(keys: Any) -> list[str]:
    """The labels of a rule set's keys, in the order given (an unknown key is shown as it is)."""
    return [str(RULE_KEY_LABELS.get(k, k)) for k in keys if k != "version"]


# ------------------------------------------------------------------------------------------------ checks
#: Province rule key of the problem-record checks (第9、25条; issue 10 §2): one entry per rule (reason code),
#: each overriding the national default key by key.
CHECKS = "checks"
#: The rules of :mod:`xueji.checks` in the order they run, and the keys each may set beside the common ones
#: (``enabled``, ``due_working_days``, ``owner``).
CHECK_RULES: dict[str, tuple[str, ...]] = {
    # 第9条 不得重复建立学籍: students without an identity number matching another on name, sex and birth date.
    "suspected_duplicate": (),
    # 第6、9条: an identity number that fails today's check (GB 11643 format, check digit, birth date) —
    # records imported before the checks existed.
    "id_invalid": (),
    # 第9、11条: age on the counting day outside the grade_age ``allowed`` band widened by ``margin_years``.
    "age_grade": ("margin_years",),
    # 第16条 休学期限不超过 1 年: suspended longer than ``max_days`` with no new suspension since.
    "suspension_overdue": ("max_days",),
    # 第25条 学籍信息准确: an active record with no class ``grace_days`` after registration.
    "no_class": ("grace_days",),
    # 第7、25条: not promoted by ``check_from`` (MM-DD) of the school year (normal promotion is automatic).
    "not_promoted": ("check_from",),
    # 第6条 2 个月内建立学籍档案: archive not completed ``grace_days`` after its due date.
    "archive_overdue": ("grace_days",),
}
CHECK_OWNERS = ("school", "county")
CHECK_RULE_LABELS = {
    "suspected_duplicate": gettext_lazy("疑似重复（无证件号）"),
    "id_invalid": gettext_lazy("身份证件号未通过校验"),
    "age_grade": gettext_lazy("年龄与年级严重不符"),
    "suspension_overdue": gettext_lazy("休学超过一年"),
    "no_class": gettext_lazy("未分班"),
    "not_promoted": gettext_lazy("未按时升级"),
    "archive_overdue": gettext_lazy("学籍档案逾期未建立"),
}
#: National defaults. ``due_working_days``: the owner's deadline, in working days from the day the record is
#: opened; ``owner``: who acts first (a suspected duplicate is the county's to decide, 第9条 上级学籍管理部门).
CHECKS_DEFAULT: dict[str, dict[str, Any]] = {
    "suspected_duplicate": {"enabled": True, "due_working_days": 20, "owner": "county"},
    "id_invalid": {"enabled": True, "due_working_days": 20, "owner": "school"},
    "age_grade": {"enabled": True, "due_working_days": 20, "owner": "school", "margin_years": 0},
    "suspension_overdue": {"enabled": True, "due_working_days": 10, "owner": "school", "max_days": 365},
    "no_class": {"enabled": True, "due_working_days": 5, "owner": "school", "grace_days": 30},
    "not_promoted": {"enabled": True, "due_working_days": 10, "owner": "school", "check_from": "09-15"},
    "archive_overdue": {"enabled": True, "due_working_days": 10, "owner": "school", "grace_days": 0},
}
#: Bounds of each integer setting (inclusive).
CHECK_BOUNDS = {
    "due_working_days": (1, 60),
    "margin_years": (0, 10),
    "max_days": (30, 1095),
    "grace_days": (0, 365),
}


def checks_errors(value: Any) -> dict[str, str]:
    """Errors of a rule set's ``checks`` key, one Chinese message per bad key (``checks.age_grade.margin_years``).
    A rule given may set any of its keys; a key left out keeps the national default."""
    if not isinstance(value, Mapping):
        return {CHECKS: _("checks（问题学籍检查）须为对象")}
    errors: dict[str, str] = {}
    for rule in sorted(set(value) - set(CHECK_RULES)):
        errors[f"{CHECKS}.{rule}"] = _("checks 中的“%(key)s”不是可设置的检查规则") % {"key": rule}
    for rule, extra in CHECK_RULES.items():
        if rule not in value:
            continue
        entry, key = value[rule], f"{CHECKS}.{rule}"
        if not isinstance(entry, Mapping):
            errors[key] = _("%(key)s 须为对象") % {"key": key}
            continue
        allowed = {"enabled", "due_working_days", "owner", *extra}
        for name in sorted(set(entry) - allowed):
            errors[f"{key}.{name}"] = _("%(key)s 中的“%(name)s”不是可设置的项") % {"key": key, "name": name}
        for name in sorted(set(entry) & allowed):
            item, field = entry[name], f"{key}.{name}"
            if name == "enabled" and not isinstance(item, bool):
                errors[field] = _("%(key)s（是否启用）须为 true 或 false") % {"key": field}
            elif name == "owner" and item not in CHECK_OWNERS:
                errors[field] = _("%(key)s（首先处理方）须为 school 或 county") % {"key": field}
            elif name == "check_from" and _month_day(item) is None:
                errors[field] = _("%(key)s（检查起始日）须为 MM-DD 格式的日期，如 09-15") % {"key": field}
            elif name in CHECK_BOUNDS:
                low, high = CHECK_BOUNDS[name]
                if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                    errors[field] = _("%(key)s 须为 %(low)s 至 %(high)s 之间的整数") % {
                        "key": field,
                        "low": low,
                        "high": high,
                    }
    return errors


@dataclass(frozen=True)
class CheckRules:
    """The resolved problem-record checks of one province on one day: the national defaults with the province's
    ``checks`` override (per rule, key by key)."""

    rules: Mapping[str, Mapping[str, Any]]
    version: str = "national"

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any] | None = None, *, version: str = "national") -> CheckRules:
        """From a province's (validated) rule set, or the national defaults for ``None``. Raises
        :class:`RulesInvalid` for invalid values."""
        own = dict(rules or {}).get(CHECKS, {})
        validate_rules({CHECKS: own})
        merged = {rule: {**CHECKS_DEFAULT[rule], **dict(own.get(rule, {}))} for rule in CHECK_RULES}
        return cls(merged, version)

    def __getitem__(self, rule: str) -> Mapping[str, Any]:
        return self.rules[rule]

    def enabled(self, rule: str) -> bool:
        return bool(self.rules[rule]["enabled"])

    def due_working_days(self, rule: str) -> int:
        return int(self.rules[rule]["due_working_days"])

    def owner(self, rule: str) -> str:
        return str(self.rules[rule]["owner"])

    def check_from(self, school_year: int) -> date:
        """The day of ``school_year`` from which an un-promoted record is a problem."""
        month_day = _month_day(self.rules["not_promoted"]["check_from"])
        assert month_day is not None  # validated
        return date(school_year, *month_day)
