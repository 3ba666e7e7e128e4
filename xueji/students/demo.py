"""Demo data for ``manage.py seed`` (``make run`` and benchmarks).

Builds, once, a demo region — the whole national tree of education departments, schools in 广州市海珠区
(440105) and 天河区 (440106) plus 北京市延庆区 (110119) for a cross-region contrast — one login per level,
and N students with realistic national-template data:

* names from Faker's zh_CN tables (surname frequencies included), sampled from pools built once;
* 居民身份证号 that validate (GB 11643: the address code of the county of first registration, birth date,
  sequence whose parity is the sex, MOD 11-2) and are unique by construction (a counter per address code,
  birth date and sex walks a fixed permutation of the sequence numbers; no random retries);
* birth dates that fit the grade (grade g in the school year starting in September Y: born September
  Y-6-g … August Y-5-g) and 入学年月 = September of the year the student started the current stage;
* a realistic share of students without an ID number (type Z, ≈3 %), 港澳台居民居住证 holders (type H,
  ≈1 %) and foreign passport holders (type A, ≈0.5 %); 民族, 随迁子女, 留守儿童 shares; 1–2 family members
  of whom at least one is a guardian.

Students go through the same path as any registration: raw dicts → :func:`clean_registration` →
:func:`register_students` (``actor=None``: the system) in batches of at most 5 000 per school. A few
no-ID students share name, sex and birth date across two schools of one county (第9条 suspected
duplicates for the county's worklist), and about ten are registered with ``now`` 70 days in the past so
that their archives (第6条: within 2 months) are overdue — through ``register_students``' own ``now``
parameter, not by rewriting rows.

Everything is deterministic for a given ``seed`` and ``today`` (apart from UUIDs and timestamps).
Running it again finds the demo region and changes nothing.
"""

from __future__ import annotations

import bisect
import random
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from faker import Faker
from faker.providers.person.zh_CN import Provider as ZhPerson

from xueji.accounts.enums import Role
from xueji.accounts.models import RoleGrant, User
from xueji.accounts.services import filing_record, role_grant, user_create
from xueji.regions import divisions
from xueji.regions.enums import OrgLevel
from xueji.regions.models import OrgUnit
from xueji.regions.services import department_for, load_departments
from xueji.schools.enums import DEFAULT_STAGES, SchoolType
from xueji.schools.models import School
from xueji.schools.services import school_create

from . import enums
from .identity import mod11_2_check_char
from .models import Person
from .services import register_students
from .validation import RegistrationInvalid, clean_registration

__all__ = [
    "DEMO_PASSWORD",
    "LOGINS",
    "DemoLogin",
    "SeedReport",
    "StudentMaker",
    "demo_exists",
    "demo_logins",
    "seed_demo",
]

#: One password for every demo login: 14 characters, 4 character classes, not a common password
#: (satisfies the dengbao profile). It is printed by the command — demo databases only.
DEMO_PASSWORD = "Xueji@2026demo"  # noqa: S105 - a documented demo credential, printed on purpose
BATCH = 5000  # registrations per register_students call (per school)
OVERDUE_STUDENTS = 10
OVERDUE_DAYS = 70  # registered this long ago → archive due (2 months) already passed
#: Nominal students per school when the requested number outgrows the hand-made schools.
STUDENTS_PER_EXTRA_SCHOOL = 1500
MIN_PER_SCHOOL = 3  # when the run is large enough, no school is left empty


# ---------------------------------------------------------------------------------------------------------
# The demo region
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class County:
    code: str
    prefix: str  # how addresses and school names start
    postal_codes: tuple[str, ...]
    streets: tuple[str, ...]
    migrant_share: float  # 进城务工人员随迁子女
    left_behind_share: float  # 留守儿童 among the others
    agricultural_share: float  # 户口性质 of local children
    boarding_bonus: float
    aid_share: float
    only_child_share: float
    migrant_sources: tuple[tuple[str, float], ...]  # province code → weight


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _weights(text: str) -> tuple[tuple[str, float], ...]:
    """ "440000:30 430000:18" → (("440000", 30.0), ("430000", 18.0))."""
    return tuple((k, float(v)) for k, v in (item.split(":") for item in text.split()))


COUNTIES: dict[str, County] = {
    "440105": County(
        "440105",
        "广州市海珠区",
        _words("510220 510230 510240 510250 510260 510280 510288 510300 510310"),
        _words(
            "新港中路 新港西路 江南大道中 江南大道南 工业大道中 昌岗中路 宝岗大道 南洲路 滨江东路 "
            "广州大道南 东晓路 赤岗路 琶洲大道 前进路 南华西路 同福中路"
        ),
        migrant_share=0.34,
        left_behind_share=0.01,
        agricultural_share=0.06,
        boarding_bonus=0.0,
        aid_share=0.03,
        only_child_share=0.42,
        migrant_sources=_weights(
            "440000:30 430000:18 450000:14 360000:10 510000:8 420000:8 410000:7 350000:5"
        ),
    ),
    "440106": County(
        "440106",
        "广州市天河区",
        _words("510620 510630 510640 510650 510655 510660 510665"),
        _words(
            "天河路 体育东路 体育西路 天河北路 黄埔大道西 中山大道西 林和西路 龙口西路 华景路 五山路 "
            "员村一横路 天河东路 猎德大道 棠下路 石牌东路 岑村路"
        ),
        migrant_share=0.38,
        left_behind_share=0.008,
        agricultural_share=0.05,
        boarding_bonus=0.0,
        aid_share=0.025,
        only_child_share=0.45,
        migrant_sources=_weights(
            "440000:28 430000:18 450000:12 360000:10 510000:10 420000:10 410000:7 610000:5"
        ),
    ),
    "110119": County(
        "110119",
        "北京市延庆区",
        _words("102100 102101 102102 102103 102104"),
        _words(
            "妫水北街 东外大街 高塔街 湖南东路 庆园街 新城街 永宁镇南关村 永宁镇新华营村 康庄镇小丰营村 "
            "八达岭镇岔道村 张山营镇西大庄科村 旧县镇东龙湾村"
        ),
        migrant_share=0.08,
        left_behind_share=0.05,
        agricultural_share=0.45,
        boarding_bonus=0.10,
        aid_share=0.08,
        only_child_share=0.38,
        migrant_sources=_weights("130000:40 410000:15 370000:15 150000:15 140000:15"),
    ),
}
DEMO_PROVINCES = frozenset({"440000", "110000"})


@dataclass(frozen=True)
class DemoSchool:
    key: str
    name: str
    school_type: str
    county: str
    cohort: int  # relative students per grade (weights the distribution)
    central: str | None = None  # key of the central school (teaching points)
    grades: tuple[int, ...] | None = None  # narrower than the stages' grades (small teaching points)


BASE_SCHOOLS: tuple[DemoSchool, ...] = (
    DemoSchool("hz_p1", "广州市海珠区新港路小学", SchoolType.PRIMARY, "440105", 240),
    DemoSchool("hz_p2", "广州市海珠区江南大道小学", SchoolType.PRIMARY, "440105", 180),
    DemoSchool("hz_9", "广州市海珠区南洲实验学校", SchoolType.NINE_YEAR, "440105", 150),
    DemoSchool("hz_j1", "广州市海珠区昌岗中学", SchoolType.JUNIOR, "440105", 360),
    DemoSchool("hz_s1", "广州市海珠区宝岗高级中学", SchoolType.SENIOR, "440105", 420),
    DemoSchool("hz_sp", "广州市海珠区启智学校", SchoolType.SPECIAL, "440105", 10),
    DemoSchool("hz_rf", "广州市海珠区育新学校", SchoolType.REFORM, "440105", 6),
    DemoSchool("th_p1", "广州市天河区华景小学", SchoolType.PRIMARY, "440106", 260),
    DemoSchool("th_p2", "广州市天河区体育东路小学", SchoolType.PRIMARY, "440106", 220),
    DemoSchool("th_cs", "广州市天河区龙口中学", SchoolType.COMPLETE_SECONDARY, "440106", 380),
    DemoSchool("th_9", "广州市天河区天府路实验学校", SchoolType.NINE_YEAR, "440106", 160),
    DemoSchool("yq_c", "北京市延庆区永宁镇中心小学", SchoolType.PRIMARY, "110119", 60),
    DemoSchool(
        "yq_tp",
        "北京市延庆区永宁镇新华营教学点",
        SchoolType.TEACHING_POINT,
        "110119",
        5,
        central="yq_c",
        grades=(1, 2, 3),
    ),
    DemoSchool("yq_j", "北京市延庆区第三中学", SchoolType.JUNIOR, "110119", 150),
    DemoSchool("yq_s", "北京市延庆区第一中学", SchoolType.SENIOR, "110119", 200),
)
#: The school whose code marks the demo region as seeded (the school registrar's school).
MARKER_SCHOOL = "hz_p1"
#: Pairs of schools (same county, shared stage) and a grade for the planted suspected duplicates.
DUPLICATE_PLACES: tuple[tuple[str, str, int], ...] = tuple(
    (first, second, int(grade))
    for first, second, grade in (
        item.split(":")
        for item in _words("hz_p1:hz_p2:3 th_p1:th_p2:2 hz_9:hz_p1:5 th_9:th_p1:4 hz_j1:hz_9:8 yq_c:yq_tp:2")
    )
)
# Extra schools for large runs: (county, type) in a fixed cycle (p primary, j junior, s senior, n nine-year,
# c complete secondary).
_EXTRA_TYPES: dict[str, str] = {
    "p": SchoolType.PRIMARY,
    "j": SchoolType.JUNIOR,
    "s": SchoolType.SENIOR,
    "n": SchoolType.NINE_YEAR,
    "c": SchoolType.COMPLETE_SECONDARY,
}
EXTRA_CYCLE: tuple[tuple[str, str], ...] = tuple(
    (item[:6], _EXTRA_TYPES[item[7]])
    for item in _words(
        "440105:p 440106:p 440106:j 440105:p 110119:p 440106:p 440105:j 440106:s 440106:n 440105:p 110119:j "
        "440105:s 440106:p 440105:n 440106:j 110119:s 440106:c 440105:j"
    )
)
EXTRA_COHORT: dict[str, int] = {
    SchoolType.PRIMARY: 250,
    SchoolType.JUNIOR: 500,
    SchoolType.SENIOR: 500,
    SchoolType.NINE_YEAR: 170,
    SchoolType.COMPLETE_SECONDARY: 280,
}
EXTRA_SUFFIX: dict[str, str] = {
    SchoolType.PRIMARY: "小学",
    SchoolType.JUNIOR: "中学",
    SchoolType.SENIOR: "高级中学",
    SchoolType.NINE_YEAR: "实验学校",
    SchoolType.COMPLETE_SECONDARY: "完全中学",
}
CODE_PREFIX: dict[str, str] = {
    SchoolType.PRIMARY: "21",
    SchoolType.TEACHING_POINT: "21",
    SchoolType.NINE_YEAR: "21",
    SchoolType.JUNIOR: "31",
    SchoolType.COMPLETE_SECONDARY: "31",
    SchoolType.SENIOR: "34",
    SchoolType.SPECIAL: "51",
    SchoolType.REFORM: "37",
    SchoolType.TWELVE_YEAR: "21",
}


def school_code(school_type: str, county: str, sequence: int) -> str:
    """A 10-digit 学校标识码: type (2) + province (2) + county's last 3 digits + sequence (3)."""
    return f"{CODE_PREFIX[school_type]}{county[:2]}{county[3:]}{sequence:03d}"


# ---------------------------------------------------------------------------------------------------------
# Logins
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    level: str  # shown in the table
    username: str
    role: str
    org: tuple[str, str]  # ("dept", division code) or ("school", school key)


LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("国家", "national_admin", Role.DEPT_REGISTRAR, ("dept", "000000")),
    DemoLogin("省级", "gd_province", Role.DEPT_REGISTRAR, ("dept", "440000")),
    DemoLogin("地市级", "gz_city", Role.DEPT_REGISTRAR, ("dept", "440100")),
    DemoLogin("县级", "haizhu_county", Role.DEPT_REGISTRAR, ("dept", "440105")),
    DemoLogin("学校学籍管理员", "school_registrar", Role.SCHOOL_REGISTRAR, ("school", MARKER_SCHOOL)),
    DemoLogin("安全管理员", "security_admin", Role.SECURITY_ADMIN, ("dept", "000000")),
    DemoLogin("审计管理员", "audit_admin", Role.AUDIT_ADMIN, ("dept", "000000")),
    DemoLogin("系统管理员", "system_admin", Role.SYSTEM_ADMIN, ("dept", "000000")),
)
REGISTRAR_ROLES = {Role.DEPT_REGISTRAR, Role.SCHOOL_REGISTRAR}
FILED_ON = date(2026, 1, 12)
TRAINED_ON = date(2026, 1, 8)


def _marker_code() -> str:
    return school_codes(list(BASE_SCHOOLS))[MARKER_SCHOOL]


def demo_exists() -> bool:
    """True when the demo region has been seeded (its first school and the school login exist)."""
    return (
        School.objects.filter(school_code=_marker_code()).exists()
        and User.objects.filter(username="school_registrar").exists()
    )


def demo_logins() -> list[tuple[str, str, str, str]]:
    """(level, username, password, org name) of each demo login that exists."""
    grants = {
        g.user.username: g.org_unit.name
        for g in RoleGrant.objects.select_related("user", "org_unit").filter(
            user__username__in=[lg.username for lg in LOGINS]
        )
    }
    return [
        (lg.level, lg.username, DEMO_PASSWORD, grants[lg.username]) for lg in LOGINS if lg.username in grants
    ]


# ---------------------------------------------------------------------------------------------------------
# Student generation (pure: no database)
# ---------------------------------------------------------------------------------------------------------

# 民族 (GB/T 3304) shares for the demo: mostly 汉族.
ETHNICITY_WEIGHTS = _weights(
    "01:95.5 08:1.2 15:0.6 06:0.5 13:0.4 03:0.4 11:0.4 12:0.3 07:0.2 22:0.2 02:0.2 10:0.1"
)
# 政治面貌 of the older pupils: 共青团员 or 群众.
CYL_MEMBER = enums.PoliticalStatus.CYL_MEMBER.value
MASSES = enums.PoliticalStatus.MASSES.value
HMT = (
    ("810000", "HKG", enums.OverseasChineseStatus.HONG_KONG_COMPATRIOT.value, "香港", 0.55),
    ("820000", "MAC", enums.OverseasChineseStatus.MACAU_COMPATRIOT.value, "澳门", 0.20),
    ("830000", "TWN", enums.OverseasChineseStatus.TAIWAN_COMPATRIOT.value, "台湾", 0.25),
)
# nationality, native place, weight, "male names|female names" (official Chinese names)
_FOREIGN_TABLE = """
KOR 韩国 30 金敏俊 朴志勋 李俊昊 崔宇振 郑在贤|金智妍 朴秀彬 李瑞贤 崔允熙 韩智恩
JPN 日本 15 佐藤健太 铃木大翔 高桥悠真 田中莲|佐藤阳菜 铃木结衣 高桥美咲 田中葵
USA 美国 15 史密斯·伊森 约翰逊·卢卡斯 布朗·诺亚|史密斯·艾玛 约翰逊·索菲亚 布朗·米娅
SGP 新加坡 8 陈俊杰 林伟杰 黄志明|陈慧琳 林佳欣 黄美玲
MYS 马来西亚 7 李振宇 张家豪 吴俊贤|李欣怡 张丽华 吴佩玲
GBR 英国 5 威廉姆斯·奥利弗|威廉姆斯·艾米莉
FRA 法国 5 马丁·路易|马丁·克洛伊
DEU 德国 5 穆勒·本|穆勒·米娅
RUS 俄罗斯 5 伊万诺夫·亚历山大|伊万诺娃·安娜
AUS 澳大利亚 5 琼斯·杰克|琼斯·夏洛特
"""


def _foreign(line: str) -> tuple[str, str, float, tuple[str, ...], tuple[str, ...]]:
    head, females = line.split("|")
    nationality, place, weight, *males = head.split()
    return nationality, place, float(weight), tuple(males), tuple(females.split())


FOREIGN = tuple(_foreign(line) for line in _FOREIGN_TABLE.strip().splitlines())
# Modern given-name characters (combined with Faker's zh_CN first-name characters).
MODERN_MALE = "子梓浩宇轩睿泽铭博俊一辰皓航逸晨阳毅诚瑞昊然嘉煜宸"
MODERN_FEMALE = "欣怡梓涵诗雨可馨思佳语诺若婷悦琪萱彤璇依晗芷菲"
TOWNS = _words("城关 新华 太平 长安 和平 龙泉 石桥 金山 白沙 清水 双河 永安 兴隆")
VILLAGES = _words("王家 李家 张庄 刘家湾 新村 上屯 下坪 石门 黄泥塘 大塘 竹园 枫树坪")
EMPLOYERS = _words(
    "有限公司 科技有限公司 商贸有限公司 物流有限公司 建筑工程有限公司 餐饮管理有限公司 人民医院 小学 街道办事处 "
    "电子厂 服装厂 个体经营"
)
POSITIONS = (*_words("职员 工程师 教师 经理 个体经营者 医生 司机 销售 会计 厨师 工人 务农"), "")
PHONE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 176 177 178 180 181 182 "
    "183 184 185 186 187 188 189 191 198 199"
)
STAGE_FIRST_GRADE = {"primary": 1, "junior": 7, "senior": 10}
CLASS_SIZE = {"primary": 45, "junior": 50, "senior": 50}
BOARDING_SHARE = {"primary": 0.03, "junior": 0.15, "senior": 0.55}


def _cum(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def school_year_start(today: date) -> int:
    """The calendar year in which the current school year began (September)."""
    return today.year if today.month >= 9 else today.year - 1


@dataclass
class Slot:
    """Students of one grade at one school (class and number counters included)."""

    school_key: str
    county: str
    grade: int
    count: int = 0
    made: int = 0


@dataclass
class StudentMaker:
    """Raw registrations (person, enrollment, guardians dicts) as a form or an import would give them."""

    seed: int
    today: date
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - demo data, not security
        self.year = school_year_start(self.today)
        fake = Faker("zh_CN")
        fake.seed_instance(self.seed)
        surnames = list(ZhPerson.last_names.keys())
        self._surnames = surnames
        self._surname_cum = _cum([float(w) for w in ZhPerson.last_names.values()])
        # Faker's zh_CN given names: one-character ones are combined into modern two-character names,
        # two-character ones (建华, 秀英 …) are kept whole and used sparingly for children.
        self._male_chars = [n for n in ZhPerson.first_names_male if len(n) == 1] + list(MODERN_MALE)
        self._female_chars = [n for n in ZhPerson.first_names_female if len(n) == 1] + list(MODERN_FEMALE)
        self._male_whole = [n for n in ZhPerson.first_names_male if len(n) == 2] or self._male_chars
        self._female_whole = [n for n in ZhPerson.first_names_female if len(n) == 2] or self._female_chars
        # Faker calls are slow (~20 µs): adult names come from pools drawn once.
        self._adult_male = [fake.first_name_male() for _ in range(600)]
        self._adult_female = [fake.first_name_female() for _ in range(600)]
        self.login_names = [fake.name() for _ in LOGINS]
        self._eth_codes = [c for c, _ in ETHNICITY_WEIGHTS]
        self._eth_cum = _cum([w for _, w in ETHNICITY_WEIGHTS])
        self._foreign_cum = _cum([f[2] for f in FOREIGN])
        self._hmt_cum = _cum([h[4] for h in HMT])
        # Counties of origin for migrant children, per demo county.
        by_province: dict[str, list[str]] = {}
        for d in divisions.all_divisions():
            if d.level == "county":
                by_province.setdefault(divisions.province_code(d.code), []).append(d.code)
        self._sources: dict[str, tuple[list[str], list[float], dict[str, list[str]]]] = {}
        for code, county in COUNTIES.items():
            provinces = [p for p, _ in county.migrant_sources]
            pools = {p: [c for c in by_province.get(p, []) if not c.startswith(code[:4])] for p in provinces}
            self._sources[code] = (provinces, _cum([w for _, w in county.migrant_sources]), pools)
        self._city_counties = {
            code: [d.code for d in divisions.children(code[:4] + "00")] or [code] for code in COUNTIES
        }
        # 身份证 sequence numbers (3 digits) in a fixed shuffled order: odd = male, even = female.
        odd, even = list(range(1, 1000, 2)), list(range(2, 1000, 2))
        self.rng.shuffle(odd)
        self.rng.shuffle(even)
        self._seq_order = {"1": odd, "2": even}
        self._seq_next: dict[tuple[str, str, str], int] = {}
        self._passport_serial = 0

    # -- small draws -----------------------------------------------------------------------------------

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._surname_cum)[0]

    def given_name(self, gender: str) -> str:
        chars = self._male_chars if gender == "1" else self._female_chars
        r = self.rng.random()
        if r < 0.35:
            return self.rng.choice(chars)
        if r < 0.42:
            return self.rng.choice(self._male_whole if gender == "1" else self._female_whole)
        return self.rng.choice(chars) + self.rng.choice(chars)

    def phone(self) -> str:
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def birth_date(self, grade: int) -> date:
        """Born September (Y-6-g) … August (Y-5-g) for grade g in the school year starting in year Y."""
        start = date(self.year - 6 - grade, 9, 1)
        span = (date(self.year - 5 - grade, 9, 1) - start).days
        return start + timedelta(days=self.rng.randrange(span))

    def resident_id(self, address_code: str, ymd: str, gender: str) -> str:
        """A valid GB 11643 number, unique per (address, birth date, sex) by counter.

        The n-th person of a key takes position (start + n) of a shuffled list of the sequence numbers of
        that parity, ``start`` being a CRC of the key: distinct for n < 500, and not all numbers of the
        demo share one sequence.
        """
        key = (address_code, ymd, gender)
        n = self._seq_next.get(key, 0)
        order = self._seq_order[gender]
        if n >= len(order):
            raise RuntimeError(f"身份证顺序码已用尽：{address_code}{ymd}（性别 {gender}）")
        self._seq_next[key] = n + 1
        start = zlib.crc32(f"{address_code}{ymd}".encode())
        first17 = f"{address_code}{ymd}{order[(start + n) % len(order)]:03d}"
        return first17 + mod11_2_check_char(first17)

    def passport(self, nationality: str) -> str:
        self._passport_serial += 1
        s = self._passport_serial
        return {
            "KOR": f"M{s:08d}",
            "JPN": f"TK{s:07d}",
            "USA": f"5{s:08d}",
            "SGP": f"K{s:07d}A",
            "MYS": f"A{s:08d}",
            "GBR": f"12{s:07d}",
            "FRA": f"18AB{s:05d}",
            "DEU": f"C{s:08d}",
            "RUS": f"75{s:07d}",
            "AUS": f"PA{s:07d}",
        }[nationality]

    def address(self, county: str) -> str:
        c = COUNTIES[county]
        rng = self.rng
        street = rng.choice(c.streets)
        if street.endswith("村"):
            return f"{c.prefix}{street}{rng.randrange(1, 300)}号"
        building, floor, flat = rng.randrange(1, 12), rng.randrange(1, 30), rng.randrange(1, 7)
        return f"{c.prefix}{street}{rng.randrange(1, 400)}号{building}栋{floor}0{flat}房"

    def hometown_address(self, county_code: str) -> str:
        rng = self.rng
        return f"{divisions.full_name(county_code)}{rng.choice(TOWNS)}镇{rng.choice(VILLAGES)}村{rng.randrange(1, 200)}号"

    # -- one registration -----------------------------------------------------------------------------

    def registration(
        self, slot: Slot, school_type: str, *, forced: tuple[str, str, date] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """One raw registration for ``slot`` (grade at a school). ``forced`` = (name, gender, birth) of a
        planted no-ID suspected duplicate."""
        rng = self.rng
        county = COUNTIES[slot.county]
        grade = slot.grade
        stage = enums.stage_for_grade(grade).value
        if forced is not None:
            name, gender, birth = forced
            doc = "Z"
        else:
            gender = "1" if rng.random() < 0.515 else "2"
            birth = self.birth_date(grade)
            r = rng.random()
            doc = "Z" if r < 0.03 else "H" if r < 0.04 else "A" if r < 0.045 else "1"
            name = ""
        ymd = f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
        surname = self.surname()
        migrant = doc in {"1", "Z"} and rng.random() < county.migrant_share
        home = slot.county
        person: dict[str, Any] = {
            "gender": gender,
            "birth_date": birth,
            "nationality": "CHN",
            "overseas_status": enums.OverseasChineseStatus.NONE.value,
            "id_type": doc,
            "id_number": "",
            "ethnicity": self._eth_codes[_pick(self._eth_cum, rng.random() * self._eth_cum[-1])],
        }
        if doc == "H":
            code, nationality, status, place, _w = HMT[_pick(self._hmt_cum, rng.random() * self._hmt_cum[-1])]
            person.update(
                id_number=self.resident_id(code, ymd, gender),
                nationality=nationality,
                overseas_status=status,
                birthplace_code=code,
                household_code=code,
                native_place=place,
                household_type="2",
                ethnicity=enums.Ethnicity.HAN.value,
            )
        elif doc == "A":
            nat, place, _w, males, females = FOREIGN[
                _pick(self._foreign_cum, rng.random() * self._foreign_cum[-1])
            ]
            name = rng.choice(males if gender == "1" else females)
            parents = (rng.choice(males), rng.choice(females))
            person.update(
                id_number=self.passport(nat),
                nationality=nat,
                overseas_status="51",
                birthplace_code=slot.county,
                household_code=slot.county,
                native_place=place,
                household_type="2",
                ethnicity="97",
            )
        else:
            if migrant:
                provinces, cum, pools = self._sources[slot.county]
                province = provinces[_pick(cum, rng.random() * cum[-1])]
                home = rng.choice(pools[province])
            elif rng.random() < 0.15:
                home = rng.choice(self._city_counties[slot.county])  # born in a neighbouring district
            agricultural = rng.random() < (0.7 if migrant else county.agricultural_share)
            person.update(
                birthplace_code=home if rng.random() < 0.6 else slot.county,
                household_code=home,
                native_place=divisions.full_name(home),
                household_type="1" if agricultural else "2",
            )
            if doc == "1":
                person["id_number"] = self.resident_id(home, ymd, gender)
        if not name:
            name = surname + self.given_name(gender)
        person["name"] = name
        current = self.address(slot.county)
        left_behind = "0"
        if not migrant and doc == "1" and rng.random() < county.left_behind_share:
            left_behind = "1" if rng.random() < 0.7 else "2"
        special = school_type == SchoolType.SPECIAL
        disability, inclusive, health = "0", "0", "10"
        if special:
            disability = rng.choice("5555522147")
            health = "50"
        elif rng.random() < 0.003:
            inclusive = rng.choice("1234")
            disability = {"1": "1", "2": "2", "3": "5", "4": "4"}[inclusive]
            health = "50"
        else:
            h = rng.random()
            health = "10" if h < 0.97 else "20" if h < 0.99 else "30" if h < 0.996 else "40"
        boarding_share = BOARDING_SHARE[stage] + county.boarding_bonus + (0.35 if special else 0.0)
        boarding = rng.random() < boarding_share
        needs_aid = rng.random() < county.aid_share + (0.05 if left_behind != "0" else 0.0)
        if stage == "senior":
            political = CYL_MEMBER if rng.random() < 0.65 else MASSES
        elif grade >= 8:
            political = CYL_MEMBER if rng.random() < 0.2 else MASSES
        else:
            political = ""
        yes = "是"
        no = "否"
        person.update(
            political_status=political,
            health=health,
            current_address=current,
            mailing_address=current,
            home_address=self.hometown_address(home) if migrant else current,
            phone="",
            postal_code=rng.choice(county.postal_codes),
            only_child=yes if rng.random() < county.only_child_share else no,
            preschool=yes if rng.random() < 0.97 else no,
            left_behind=left_behind,
            migrant_child=yes if migrant else no,
            orphan=yes if rng.random() < 0.001 else no,
            martyr_child=yes if rng.random() < 0.0005 else no,
            inclusive_education=inclusive,
            disability_type=disability,
            govt_funded_place=no,
            needs_aid=yes if needs_aid else no,
            boarding_subsidy=yes if boarding and needs_aid and stage != "senior" else no,
        )
        if doc != "A":
            parents = (
                surname + rng.choice(self._adult_male),
                self.surname() + rng.choice(self._adult_female),
            )
        guardians = self.guardians(parents, surname, person, current, left_behind)
        person["phone"] = guardians[0]["phone"]
        first = STAGE_FIRST_GRADE[stage]
        size = CLASS_SIZE[stage]
        index = slot.made
        slot.made += 1
        if stage == "senior":
            e = rng.random()
            method = "21" if e < 0.95 else "22" if e < 0.97 else "23" if e < 0.99 else "99"
        else:
            method = "11" if rng.random() < (0.85 if migrant else 0.95) else "12"
        s = rng.random()
        enrollment = {
            "grade": grade,
            "class_name": f"{index // size + 1}班",
            "class_number": f"{index % size + 1:02d}",
            "entry_ym": f"{self.year - (grade - first)}09",
            "entry_method": method,
            "study_mode": "2" if boarding else "1",
            "student_source": "1" if s < 0.98 else "2" if s < 0.995 else "9",
        }
        return person, enrollment, guardians

    def guardians(
        self, parents: tuple[str, str], surname: str, person: dict[str, Any], address: str, left_behind: str
    ) -> list[dict[str, Any]]:
        """1–2 family members; at least one is a guardian. Left-behind children live with a grandparent."""
        rng = self.rng
        household = person["household_code"]
        ethnicity = person["ethnicity"] if person["ethnicity"] != "97" else ""

        def member(name: str, relation: str, guardian: bool) -> dict[str, Any]:
            employed = rng.random() < 0.6
            return {
                "name": name,
                "relation": relation,
                "is_guardian": "是" if guardian else "否",
                "household_code": household,
                "address": address,
                "phone": self.phone(),
                "ethnicity": ethnicity,
                "employer": self._employer() if employed else "",
                "position": rng.choice(POSITIONS) if employed else "",
            }

        father = member(parents[0], "1", True)
        mother = member(parents[1], "2", True)
        if left_behind != "0":
            elder = self._adult_male if rng.random() < 0.4 else self._adult_female
            grand = member(surname + rng.choice(elder), "3", True)
            return [grand, father if rng.random() < 0.5 else mother]
        r = rng.random()
        if r < 0.72:
            return [father, mother] if rng.random() < 0.55 else [mother, father]
        if r < 0.86:
            return [mother]
        return [father]

    def _employer(self) -> str:
        rng = self.rng
        kind = rng.choice(EMPLOYERS)
        if kind == "个体经营":
            return kind
        city = rng.choice(("广州", "北京", "深圳", "佛山", ""))
        return f"{city}{rng.choice(self._surnames[:60])}{rng.choice('华兴达顺安信泰和')}{kind}"


def _pick(cum: list[float], x: float) -> int:
    """Index of the weighted choice whose cumulative weight first reaches ``x``."""
    return min(bisect.bisect_left(cum, x), len(cum) - 1)


# ---------------------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SeedReport:
    created: bool
    students: int = 0
    schools: int = 0
    departments_created: int = 0
    suspected_duplicates: int = 0
    overdue_archives: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock per phase
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # this process's CPU per phase

    @property
    def students_per_second(self) -> float:
        t = self.seconds.get("students", 0.0)
        return self.students / t if t else 0.0


def _school_plan(students: int) -> list[DemoSchool]:
    """The hand-made schools, plus numbered ones (第N小学 …) when ``students`` outgrows them."""
    plan = list(BASE_SCHOOLS)
    base_capacity = sum(s.cohort * _grade_count(s) for s in plan)
    extra = 0
    if students > base_capacity:
        extra = -(-(students - base_capacity) // STUDENTS_PER_EXTRA_SCHOOL)
    names = {s.name for s in plan}
    numbers: dict[tuple[str, str], int] = {}
    for i in range(extra):
        county, school_type = EXTRA_CYCLE[i % len(EXTRA_CYCLE)]
        name = ""
        while not name or name in names:
            n = numbers.get((county, school_type), 0) + 1
            numbers[(county, school_type)] = n
            name = f"{COUNTIES[county].prefix}第{_cn_number(n)}{EXTRA_SUFFIX[school_type]}"
        names.add(name)
        plan.append(DemoSchool(f"x{i}", name, school_type, county, EXTRA_COHORT[school_type]))
    return plan


def school_codes(plan: list[DemoSchool]) -> dict[str, str]:
    """学校标识码 of each planned school: numbered per (type prefix, county) in plan order."""
    sequence: dict[tuple[str, str], int] = {}
    codes = {}
    for spec in plan:
        key = (CODE_PREFIX[spec.school_type], spec.county)
        sequence[key] = sequence.get(key, 0) + 1
        codes[spec.key] = school_code(spec.school_type, spec.county, sequence[key])
    return codes


def _grades(spec: DemoSchool) -> list[int]:
    if spec.grades:
        return list(spec.grades)
    return [g for stage in DEFAULT_STAGES[SchoolType(spec.school_type)] for g in enums.grade_range(stage)]


def _grade_count(spec: DemoSchool) -> int:
    return len(_grades(spec))


def _cn_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return f"{'' if tens == 1 else digits[tens]}十{digits[ones] if ones else ''}"
    hundreds, rest = divmod(n, 100)
    if rest == 0:
        return f"{digits[hundreds]}百"
    if rest < 10:
        return f"{digits[hundreds]}百零{digits[rest]}"
    tens, ones = divmod(rest, 10)
    return f"{digits[hundreds]}百{digits[tens]}十{digits[ones] if ones else ''}"


def _allocate(slots: list[tuple[Slot, int]], total: int) -> None:
    """Spread ``total`` students over slots in proportion to their weights (largest remainder)."""
    weight = sum(w for _, w in slots)
    if not weight or total <= 0:
        return
    shares = [(slot, total * w / weight) for slot, w in slots]
    for slot, share in shares:
        slot.count += int(share)
    left = total - sum(int(share) for _, share in shares)
    ranked = sorted(range(len(shares)), key=lambda i: (-(shares[i][1] - int(shares[i][1])), i))
    for i in ranked[:left]:
        shares[i][0].count += 1


def _create_schools(plan: list[DemoSchool]) -> dict[str, School]:
    made: dict[str, School] = {}
    codes = school_codes(plan)
    for spec in plan:
        street = COUNTIES[spec.county].streets[len(made) % len(COUNTIES[spec.county].streets)]
        made[spec.key] = school_create(
            actor=None,
            name=spec.name,
            school_code=codes[spec.key],
            school_type=spec.school_type,
            county_code=spec.county,
            central_school=made[spec.central] if spec.central else None,
            address=f"{COUNTIES[spec.county].prefix}{street}{(len(made) * 37) % 300 + 1}号",
        )
    return made


def _org_for(login: DemoLogin, schools: dict[str, School]) -> OrgUnit:
    kind, ref = login.org
    if kind == "school":
        return schools[ref].org
    if ref == "000000":
        return OrgUnit.objects.get(level=OrgLevel.NATIONAL)
    return department_for(ref)


def _create_logins(schools: dict[str, School], names: list[str], today: date) -> None:
    """One account per level through the account services as the system (``actor=None``): never a
    superuser, the shared demo password validated against the active profile, registrars filed with the
    department above and trained (第22条 先培训后上岗)."""
    for login, display in zip(LOGINS, names, strict=True):
        org = _org_for(login, schools)
        user = user_create(
            actor=None, username=login.username, display_name=display, password=DEMO_PASSWORD, org_unit=org
        )
        role_grant(actor=None, user=user, role=login.role, org_unit=org)
        if login.role in REGISTRAR_ROLES:
            filing_record(
                actor=None,
                user=user,
                filed_with=org.parent or org,
                filed_on=min(FILED_ON, today),
                filing_reference=f"演示备案-{user.pk:04d}",
                trained_on=min(TRAINED_ON, today),
                training_course="学籍管理员岗前培训（2026年1月）",
                today=today,
            )


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def seed_demo(
    *,
    students: int,
    seed: int = 2026,
    today: date | None = None,
    all_departments: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
) -> SeedReport:
    """Seed the demo region once (see module docstring). Returns what was done; nothing if already seeded.

    Runs in one transaction: an interrupted run leaves nothing behind. ``actor=None`` throughout (the
    system), which every service called here documents.
    """
    if demo_exists():
        return SeedReport(created=False, students=Person.objects.count())
    now = timezone.now()
    today = today or timezone.localdate(now)
    report = SeedReport(created=True)
    clock = time.perf_counter()
    with transaction.atomic():
        report.departments_created = load_departments(
            actor=None, province_codes=None if all_departments else set(DEMO_PROVINCES)
        )
        report.seconds["departments"] = time.perf_counter() - clock

        clock = time.perf_counter()
        plan = _school_plan(students)
        schools = _create_schools(plan)
        report.schools = len(schools)
        maker = StudentMaker(seed=seed, today=today)
        _create_logins(schools, maker.login_names, today)
        report.seconds["schools_and_logins"] = time.perf_counter() - clock

        clock, cpu = time.perf_counter(), time.process_time()
        report.students = _seed_students(
            maker=maker,
            plan=plan,
            schools=schools,
            total=students,
            now=now,
            today=today,
            report=report,
            progress=progress,
            started=clock,
        )
        report.seconds["students"] = time.perf_counter() - clock
        report.cpu_seconds["students"] = time.process_time() - cpu
    return report


def _seed_students(
    *,
    maker: StudentMaker,
    plan: list[DemoSchool],
    schools: dict[str, School],
    total: int,
    now: datetime,
    today: date,
    report: SeedReport,
    progress: Callable[[int, int, float], None] | None,
    started: float,
) -> int:
    slots: dict[tuple[str, int], Slot] = {}
    weighted: list[tuple[Slot, int]] = []
    for spec in plan:
        for grade in _grades(spec):
            slot = Slot(spec.key, spec.county, grade)
            slots[(spec.key, grade)] = slot
            weighted.append((slot, spec.cohort))

    # Planted suspected duplicates (第9条): the same name, sex and birth date without an ID number at two
    # schools of one county.
    pairs = 0 if total < 20 else min(len(DUPLICATE_PLACES), 2 + total // 20000)
    forced: dict[str, list[tuple[int, tuple[str, str, date]]]] = {}
    for first, second, grade in DUPLICATE_PLACES[:pairs]:
        gender = "1" if maker.rng.random() < 0.5 else "2"
        twin = (maker.surname() + maker.given_name(gender), gender, maker.birth_date(grade))
        for key in (first, second):
            forced.setdefault(key, []).append((grade, twin))
    # Every school gets a few students when there are enough to go round (the special school, the
    # 专门学校 and the teaching point would otherwise be empty in a small demo).
    remaining = total - 2 * pairs
    if remaining >= MIN_PER_SCHOOL * len(plan) * 4:
        for spec in plan:
            grades = _grades(spec)
            for i in range(MIN_PER_SCHOOL):
                slots[(spec.key, grades[i % len(grades)])].count += 1
        remaining -= MIN_PER_SCHOOL * len(plan)
    _allocate(weighted, remaining)

    overdue_left = min(OVERDUE_STUDENTS, total // 10)
    past = now - timedelta(days=OVERDUE_DAYS)
    done = 0
    for spec in plan:
        school = schools[spec.key]
        stages = list(school.stages)
        raw: list[tuple[Any, Any, Any]] = []
        for grade, twin in forced.get(spec.key, []):
            raw.append(maker.registration(slots[(spec.key, grade)], spec.school_type, forced=twin))
        for grade in _grades(spec):
            slot = slots[(spec.key, grade)]
            raw.extend(maker.registration(slot, spec.school_type) for _ in range(slot.count))
        if not raw:
            continue
        if spec.key == MARKER_SCHOOL and overdue_left:
            # Registered 70 days ago: their archives (第6条, 2 months) are overdue in the demo.
            late, raw = raw[-overdue_left:], raw[:-overdue_left]
            results = _register(school, late, stages, today, past)
            report.suspected_duplicates += sum(1 for r in results if r.suspected_duplicate)
            report.overdue_archives = len(late)
            done += len(late)
        for batch in _batches(raw, BATCH):
            results = _register(school, batch, stages, today, now)
            report.suspected_duplicates += sum(1 for r in results if r.suspected_duplicate)
            done += len(batch)
            if progress is not None:
                progress(done, total, time.perf_counter() - started)
    return done


def _register(
    school: School, batch: list[tuple[Any, Any, Any]], stages: list[str], today: date, now: datetime
) -> list[Any]:
    regs = []
    for index, (person, enrollment, guardians) in enumerate(batch):
        try:
            regs.append(clean_registration(person, enrollment, guardians, school_stages=stages, today=today))
        except RegistrationInvalid as exc:  # a generator bug: say which row and why
            raise RuntimeError(f"演示数据无效（{school.name} 第 {index + 1} 条）：{exc.fields}") from exc
    return register_students(actor=None, school=school, registrations=regs, now=now)


#: A demo registrar made by a seed was filed with the upper level (第22条) this many days ago, trained 5 days before.
DEMO_FILED_DAYS_AGO = 300


def demo_school_registrar(school: School) -> User:
    """The school's registrar, or — for the later seeds (verification, changes, oversight) at a school the demo
    gave none — a filed demo registrar ``demo_reg_<学校标识码>`` (第22条: filed and trained before acting)."""
    grant = (
        RoleGrant.objects.filter(role=Role.SCHOOL_REGISTRAR, org_unit_id=school.org_id).order_by("pk").first()
    )
    if grant is not None:
        return User.objects.get(pk=grant.user_id)  # fresh: no cached grants
    org = school.org
    user = user_create(
        actor=None,
        username=f"demo_reg_{school.school_code}",
        display_name=f"{school.name}学籍管理员",
        org_unit=org,
    )
    role_grant(actor=None, user=user, role=Role.SCHOOL_REGISTRAR, org_unit=org)
    today = timezone.localdate()
    filing_record(
        actor=None,
        user=user,
        filed_with=org.parent or org,
        filed_on=today - timedelta(days=DEMO_FILED_DAYS_AGO),
        trained_on=today - timedelta(days=DEMO_FILED_DAYS_AGO + 5),
    )
    return User.objects.get(pk=user.pk)


def first_class(school: School, grade: int) -> str:
    """The first class (by name) the school has pupils in for ``grade``, else "1班" (where a seed places a pupil)."""
    from .models import Enrollment  # noqa: PLC0415

    name = (
        Enrollment.objects.filter(school_id=school.pk, grade=grade, is_active=True)
        .order_by("class_name")
        .values_list("class_name", flat=True)
        .first()
    )
    return name or "1班"
