"""Province rules as data with national defaults (第12、15、16、18、20、29条).

Code asks ``policy_for(province_code, on)`` and reads keys; it never branches on a province. A province's
active :class:`~xueji.policies.models.ProvinceRuleSet` (filed, effective on the date) overrides the defaults
key by key; ``chains`` override per kind and scope.

Chains are lists of ``[party, mode]``; a step's clock comes from ``clock_days[kind]`` (working days), which
for a transfer is 第15条's 10 working days for each of the four parties.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from xueji.policies.queries import rule_set_in_force
from xueji.policies.rules import GRADE_AGE, GRADE_AGE_DEFAULT, SCHOOL_ENTRY_AGE, merge_rules

from .enums import ChangeKind, Party, Scope

S, SC, SCITY, SP = Party.SCHOOL, Party.SCHOOL_COUNTY, Party.SCHOOL_CITY, Party.SCHOOL_PROVINCE
TS, TC, TP = Party.TARGET_SCHOOL, Party.TARGET_COUNTY, Party.TARGET_PROVINCE
A, N = "approve", "notify"

NATIONAL_DEFAULTS: dict[str, Any] = {
    "version": "national-2025",
    "chains": {
        # 第15条: the receiving school starts it (its own submission is step 0, approved on creation); the
        # sending school and both upper departments handle it. Same county: one department (domain.md §3.1).
        ChangeKind.TRANSFER: {
            Scope.SAME_COUNTY: [[TS, A], [S, A], [SC, A]],
            Scope.CROSS_COUNTY: [[TS, A], [TC, A], [S, A], [SC, A]],
            Scope.CROSS_CITY: [[TS, A], [TC, A], [S, A], [SC, A]],
            Scope.CROSS_PROVINCE: [[TS, A], [TC, A], [TP, A], [S, A], [SC, A], [SP, A]],
        },
        # 第16条: guardian applies, school confirms, upper level approves.
        ChangeKind.SUSPENSION: {"any": [[S, A], [SC, A]]},
        ChangeKind.RESUMPTION: {"any": [[S, A], [SC, A]]},
        # 第18条: senior high only; school confirms, upper level is notified (备案), not asked.
        ChangeKind.WITHDRAWAL: {"any": [[S, A], [SC, N]]},
        # 第11条: approved by the county of household registration.
        ChangeKind.DEFERRAL: {"any": [[Party.HOUSEHOLD_COUNTY, A]]},
        ChangeKind.REFORM_PLACEMENT: {"any": [[S, A], [SC, A]]},
        ChangeKind.REFORM_RETURN: {"any": [[S, A], [SC, A]]},
        ChangeKind.SPECIAL_EDUCATION: {"any": [[S, A], [SC, A]]},
        ChangeKind.SPECIAL_EDUCATION_DECISION: {"any": [[S, A], [SC, A]]},
        # 第14条: receiving school, its department, the graduating school's department (三方核办).
        ChangeKind.PROGRESSION: {"any": [[TS, A], [TC, A], [SC, A]]},
        ChangeKind.GRADUATION: {"compulsory": [[S, A]], "senior": [[S, A], [SC, A]]},
        ChangeKind.COMPLETION: {"any": [[S, A], [SC, A]]},
        ChangeKind.INCOMPLETE: {"any": [[S, A], [SC, A]]},
        # 第20条: handled at the school; the archive goes to the upper department.
        ChangeKind.ABROAD: {"any": [[S, A], [SC, A]]},
        ChangeKind.RETURN_FROM_ABROAD: {"any": [[TS, A], [TC, A]]},
        # 第21条: the school files within 60 working days; the upper level cancels the record.
        ChangeKind.DEATH: {"any": [[S, A], [SC, A]]},
        # 第13条: key data changes with evidence, approved up the chain.
        ChangeKind.KEY_DATA_CHANGE: {"any": [[S, A], [SC, A]]},
    },
    "clock_days": {ChangeKind.TRANSFER: 10, "default": 10},
    "death_filing_working_days": 60,
    "transfer_blackout": ["07-15", "08-14"],  # no new transfer requests (MOE FAQ, domain.md §3.1)
    "cross_province_progression_windows": [["08-15", "12-14"], ["03-01", "05-31"]],
    "no_transfer_grades": [],  # e.g. [[1, 1], [6, 2]]: (grade, term) pairs that may not transfer
    "suspension_max_months": 12,  # 第16条: 不超过 1 年
    "resumption_grade": "original",  # or "next"
    "deferral_months": 12,
    "school_entry_age": SCHOOL_ENTRY_AGE,  # 第11条: 年满六周岁 (7 where conditions lack: a province may set 7)
    # 第9条/第11条 (issue 8 item 4): age-for-grade plausibility at registration, bands per stage; defined with
    # its validation in xueji.policies.rules, which registration (below this app) reads.
    GRADE_AGE: copy.deepcopy(GRADE_AGE_DEFAULT),
    "required_evidence": {
        ChangeKind.SUSPENSION: {"illness": "医院诊断证明", "other": "相关证明材料"},
        ChangeKind.DEATH: {"any": "死亡证明"},
        ChangeKind.KEY_DATA_CHANGE: {"any": "户籍证明材料"},
        ChangeKind.SPECIAL_EDUCATION: {"any": "残疾人证或县级以上医院、相关鉴定单位证明"},
    },
}


@dataclass(frozen=True)
class Policy:
    data: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.data.get("version", ""))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def chain(self, kind: str, variant: str) -> list[tuple[str, str]]:
        chains = self.data["chains"].get(kind, {})
        steps = chains.get(variant) or chains.get("any")
        if steps is None:
            raise KeyError(f"no chain for {kind}/{variant}")
        return [(str(p), str(m)) for p, m in steps]

    def clock_days(self, kind: str) -> int | None:
        clocks = self.data["clock_days"]
        value = clocks.get(kind, clocks.get("default"))
        return int(value) if value else None


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Province rules over the defaults: ``chains`` per kind and variant, every other key as
    :func:`xueji.policies.rules.merge_rules` does (one level deep for mappings)."""
    out = merge_rules(base, {k: v for k, v in override.items() if k != "chains"})
    for kind, variants in (override.get("chains") or {}).items():
        out["chains"].setdefault(kind, {}).update(copy.deepcopy(variants))
    return out


def policy_for(province_code: str, on: date) -> Policy:
    """National defaults overridden by the province's newest filed rule set effective on ``on``."""
    rules = rule_set_in_force(province_code, on)
    if rules is None:
        return Policy(copy.deepcopy(NATIONAL_DEFAULTS))
    data = merge(NATIONAL_DEFAULTS, rules.rules)
    data["version"] = f"{province_code}-v{rules.version}"
    return Policy(data)


def in_window(on: date, window: list[str]) -> bool:
    """Whether ``on`` lies in a yearly MM-DD window (inclusive; windows do not wrap the year end)."""
    md = f"{on.month:02d}-{on.day:02d}"
    return window[0] <= md <= window[1]
