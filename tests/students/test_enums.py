"""National code tables (xueji.students.enums)."""

from __future__ import annotations

import pytest
from django.conf import settings

if not settings.configured:  # run without a project settings module (pytest -p no:django)
    settings.configure(USE_I18N=True, LANGUAGE_CODE="zh-hans")
    import django

    django.setup()

from xueji.students import enums
from xueji.students.enums import (
    DisabilityType,
    EntryMethod,
    Ethnicity,
    FamilyRelation,
    Gender,
    HealthStatus,
    HouseholdType,
    IdDocumentType,
    InclusiveEducation,
    LeftBehind,
    Nationality,
    OverseasChineseStatus,
    PoliticalStatus,
    Stage,
    StudentSource,
    StudentStatus,
    StudyMode,
    YesNo,
    entry_methods_for,
    grade_range,
    is_compulsory,
    stage_for_grade,
)

# GB/T 3304 order, 01..56.
ETHNIC_GROUPS = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]


def as_dict(choices: type[enums.models.TextChoices]) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}


def test_gender() -> None:
    assert as_dict(Gender) == {"1": "男", "2": "女"}


def test_ethnicity_gb_t_3304() -> None:
    expected = {f"{i:02d}": name for i, name in enumerate(ETHNIC_GROUPS, start=1)}
    expected |= {"97": "其他", "98": "外国血统中国籍人士"}
    assert len(ETHNIC_GROUPS) == 56
    assert as_dict(Ethnicity) == expected
    assert list(Ethnicity.values) == list(expected)  # standard order


def test_nationality() -> None:
    labels = as_dict(Nationality)
    assert {"CHN", "HKG", "MAC", "TWN", "USA", "JPN", "KOR", "GBR", "RUS"} <= set(labels)
    assert len(labels) >= 44
    assert all(len(code) == 3 and code.isupper() for code in labels)
    assert labels["CHN"] == "中国" and labels["HKG"] == "中国香港" and labels["TWN"] == "中国台湾"
    assert len(set(labels.values())) == len(labels)


def test_id_document_type() -> None:
    assert as_dict(IdDocumentType) == {
        "1": "居民身份证",
        "6": "香港特区护照/身份证明",
        "7": "澳门特区护照/身份证明",
        "8": "台湾居民来往大陆通行证",
        "9": "境外永久居住证",
        "A": "护照",
        "D": "港澳居民来往内地通行证",
        "H": "港澳台居民居住证",
        "Z": "其他",
    }


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (
            OverseasChineseStatus,
            "00 01 02 03 04 05 06 11 12 13 14 21 31 41 51 99",
        ),
        (PoliticalStatus, "01 02 03 13"),
        (HealthStatus, "10 20 30 40 50"),
        (HouseholdType, "1 2"),
        (EntryMethod, "11 12 21 22 23 99"),
        (StudyMode, "1 2"),
        (StudentSource, "1 2 9"),
        (LeftBehind, "0 1 2"),
        (InclusiveEducation, "0 1 2 3 4"),
        (DisabilityType, "0 1 2 3 4 5 6 7 8"),
        (FamilyRelation, "1 2 3 4 9"),
        (StudentStatus, "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 99"),
        (Stage, "primary junior senior"),
        (YesNo, "1 0"),
    ],
)
def test_code_values(choices: type[enums.models.TextChoices], expected: str) -> None:
    assert list(choices.values) == expected.split()


@pytest.mark.parametrize(
    ("member", "label"),
    [
        (OverseasChineseStatus.NONE, "否"),
        (OverseasChineseStatus.FOREIGN_CHINESE_DESCENT, "外籍华裔人"),
        (PoliticalStatus.MASSES, "群众"),
        (HealthStatus.DISABLED, "残疾"),
        (EntryMethod.NEARBY, "就近入学"),
        (StudyMode.BOARDING, "住校"),
        (StudentSource.VISITING, "借读"),
        (LeftBehind.BOTH_PARENTS, "双亲留守儿童"),
        (DisabilityType.MULTIPLE, "多重残疾"),
        (FamilyRelation.GRANDPARENT, "祖父母或外祖父母"),
        (StudentStatus.ENROLLED, "在读"),
        (StudentStatus.DROPPED_OUT, "流失"),
        (StudentStatus.MISSING, "下落不明"),
        (Stage.SENIOR, "普通高中"),
        (YesNo.YES, "是"),
    ],
)
def test_labels(member: enums.models.TextChoices, label: str) -> None:
    assert str(member.label) == label


def test_every_enum_has_a_docstring_and_unique_labels() -> None:
    classes = [
        obj
        for obj in vars(enums).values()
        if isinstance(obj, type)
        and issubclass(obj, enums.models.TextChoices)
        and obj.__module__ == enums.__name__
    ]
    assert len(classes) == 17  # Stage (学段) is the school's: xueji.schools.enums
    for cls in classes:
        assert cls.__doc__ and "\n" not in cls.__doc__.strip(), cls
        labels = [str(label) for label in cls.labels]
        assert len(set(labels)) == len(labels), cls


@pytest.mark.parametrize(
    ("stage", "grades", "compulsory"),
    [
        (Stage.PRIMARY, range(1, 7), True),
        (Stage.JUNIOR, range(7, 10), True),
        (Stage.SENIOR, range(10, 13), False),
    ],
)
def test_stage_helpers(stage: Stage, grades: range, compulsory: bool) -> None:
    assert grade_range(stage) == grades
    assert grade_range(stage.value) == grades
    assert is_compulsory(stage) is compulsory
    assert is_compulsory(stage.value) is compulsory
    assert all(stage_for_grade(g) is stage for g in grades)


def test_stage_helpers_reject_unknown() -> None:
    with pytest.raises(ValueError):
        grade_range("kindergarten")
    with pytest.raises(ValueError):
        is_compulsory("college")
    for grade in (0, 13):
        with pytest.raises(ValueError):
            stage_for_grade(grade)


def test_entry_methods_for() -> None:
    assert entry_methods_for(Stage.PRIMARY) == (EntryMethod.NEARBY, EntryMethod.OTHER_COMPULSORY)
    assert entry_methods_for("junior") == (EntryMethod.NEARBY, EntryMethod.OTHER_COMPULSORY)
    assert set(entry_methods_for(Stage.SENIOR)) == {"21", "22", "23", "99"}
