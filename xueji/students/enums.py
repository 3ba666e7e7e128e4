"""National code tables of the student basic-information sheet (全国中小学生学籍信息管理系统).

Values are the NATIONAL codes stored in the database and exchanged with the national template; labels are
the Chinese names. Sources: /work/shared/domain.md §1. Only enums and tiny pure helpers live here.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.schools.enums import Stage  # 学段 is what a school teaches; the grade rules below build on it


class Gender(models.TextChoices):
    """性别 — GB/T 2261.1 subset used by the national template."""

    MALE = "1", _("男")
    FEMALE = "2", _("女")


class Ethnicity(models.TextChoices):
    """民族 — GB/T 3304 (56 ethnic groups in standard order, 97 其他, 98 外国血统中国籍人士)."""

    HAN = "01", _("汉族")
    MONGOL = "02", _("蒙古族")
    HUI = "03", _("回族")
    TIBETAN = "04", _("藏族")
    UYGHUR = "05", _("维吾尔族")
    MIAO = "06", _("苗族")
    YI = "07", _("彝族")
    ZHUANG = "08", _("壮族")
    BOUYEI = "09", _("布依族")
    KOREAN = "10", _("朝鲜族")
    MANCHU = "11", _("满族")
    DONG = "12", _("侗族")
    YAO = "13", _("瑶族")
    BAI = "14", _("白族")
    TUJIA = "15", _("土家族")
    HANI = "16", _("哈尼族")
    KAZAKH = "17", _("哈萨克族")
    DAI = "18", _("傣族")
    LI = "19", _("黎族")
    LISU = "20", _("傈僳族")
    VA = "21", _("佤族")
    SHE = "22", _("畲族")
    GAOSHAN = "23", _("高山族")
    LAHU = "24", _("拉祜族")
    SUI = "25", _("水族")
    DONGXIANG = "26", _("东乡族")
    NAXI = "27", _("纳西族")
    JINGPO = "28", _("景颇族")
    KIRGIZ = "29", _("柯尔克孜族")
    TU = "30", _("土族")
    DAUR = "31", _("达斡尔族")
    MULAM = "32", _("仫佬族")
    QIANG = "33", _("羌族")
    BLANG = "34", _("布朗族")
    SALAR = "35", _("撒拉族")
    MAONAN = "36", _("毛南族")
    GELAO = "37", _("仡佬族")
    XIBE = "38", _("锡伯族")
    ACHANG = "39", _("阿昌族")
    PUMI = "40", _("普米族")
    TAJIK = "41", _("塔吉克族")
    NU = "42", _("怒族")
    UZBEK = "43", _("乌孜别克族")
    RUSSIAN = "44", _("俄罗斯族")
    EWENKI = "45", _("鄂温克族")
    DEANG = "46", _("德昂族")
    BONAN = "47", _("保安族")
    YUGUR = "48", _("裕固族")
    GIN = "49", _("京族")
    TATAR = "50", _("塔塔尔族")
    DERUNG = "51", _("独龙族")
    OROQEN = "52", _("鄂伦春族")
    HEZHEN = "53", _("赫哲族")
    MONBA = "54", _("门巴族")
    LHOBA = "55", _("珞巴族")
    JINO = "56", _("基诺族")
    OTHER = "97", _("其他")
    FOREIGN_ORIGIN = "98", _("外国血统中国籍人士")


class Nationality(models.TextChoices):
    """国籍/地区 — GB/T 2659 alpha-3 (subset: China, HK/Macau/Taiwan and common countries)."""

    CHN = "CHN", _("中国")
    HKG = "HKG", _("中国香港")
    MAC = "MAC", _("中国澳门")
    TWN = "TWN", _("中国台湾")
    USA = "USA", _("美国")
    CAN = "CAN", _("加拿大")
    MEX = "MEX", _("墨西哥")
    BRA = "BRA", _("巴西")
    ARG = "ARG", _("阿根廷")
    CHL = "CHL", _("智利")
    PER = "PER", _("秘鲁")
    GBR = "GBR", _("英国")
    IRL = "IRL", _("爱尔兰")
    FRA = "FRA", _("法国")
    DEU = "DEU", _("德国")
    ITA = "ITA", _("意大利")
    ESP = "ESP", _("西班牙")
    PRT = "PRT", _("葡萄牙")
    NLD = "NLD", _("荷兰")
    BEL = "BEL", _("比利时")
    CHE = "CHE", _("瑞士")
    AUT = "AUT", _("奥地利")
    SWE = "SWE", _("瑞典")
    NOR = "NOR", _("挪威")
    DNK = "DNK", _("丹麦")
    FIN = "FIN", _("芬兰")
    POL = "POL", _("波兰")
    RUS = "RUS", _("俄罗斯")
    UKR = "UKR", _("乌克兰")
    JPN = "JPN", _("日本")
    KOR = "KOR", _("韩国")
    PRK = "PRK", _("朝鲜")
    MNG = "MNG", _("蒙古")
    VNM = "VNM", _("越南")
    LAO = "LAO", _("老挝")
    KHM = "KHM", _("柬埔寨")
    THA = "THA", _("泰国")
    MMR = "MMR", _("缅甸")
    MYS = "MYS", _("马来西亚")
    SGP = "SGP", _("新加坡")
    IDN = "IDN", _("印度尼西亚")
    PHL = "PHL", _("菲律宾")
    IND = "IND", _("印度")
    PAK = "PAK", _("巴基斯坦")
    NPL = "NPL", _("尼泊尔")
    BGD = "BGD", _("孟加拉国")
    LKA = "LKA", _("斯里兰卡")
    KAZ = "KAZ", _("哈萨克斯坦")
    KGZ = "KGZ", _("吉尔吉斯斯坦")
    UZB = "UZB", _("乌兹别克斯坦")
    TJK = "TJK", _("塔吉克斯坦")
    AFG = "AFG", _("阿富汗")
    IRN = "IRN", _("伊朗")
    TUR = "TUR", _("土耳其")
    SAU = "SAU", _("沙特阿拉伯")
    ARE = "ARE", _("阿拉伯联合酋长国")
    ISR = "ISR", _("以色列")
    EGY = "EGY", _("埃及")
    ZAF = "ZAF", _("南非")
    NGA = "NGA", _("尼日利亚")
    KEN = "KEN", _("肯尼亚")
    ETH = "ETH", _("埃塞俄比亚")
    AUS = "AUS", _("澳大利亚")
    NZL = "NZL", _("新西兰")


class IdDocumentType(models.TextChoices):
    """身份证件类型 — JY/T 1001 SFZJLX, national-template subset plus two local codes (H, D)."""

    RESIDENT_ID = "1", _("居民身份证")
    HONG_KONG = "6", _("香港特区护照/身份证明")
    MACAU = "7", _("澳门特区护照/身份证明")
    TAIWAN_PERMIT = "8", _("台湾居民来往大陆通行证")
    FOREIGN_PERMANENT_RESIDENT = "9", _("境外永久居住证")
    PASSPORT = "A", _("护照")
    # "D" is our own code (not in the national template's subset, some provinces use it locally): the
    # 港澳居民来往内地通行证 (回乡证), numbers H/M + 8 or 10 digits.
    HK_MACAU_TRAVEL_PERMIT = "D", _("港澳居民来往内地通行证")
    # "H" is our own code: the 2018 港澳台居民居住证 (numbers prefixed 810000/820000/830000). The national
    # template's subset has no code for it, so we add one rather than mislabel it as 居民身份证.
    HK_MACAU_TAIWAN_RESIDENCE_PERMIT = "H", _("港澳台居民居住证")
    OTHER = "Z", _("其他")


class OverseasChineseStatus(models.TextChoices):
    """港澳台侨外 — DM-GATQ code table of the national template."""

    NONE = "00", _("否")
    HONG_KONG_COMPATRIOT = "01", _("香港同胞")
    HONG_KONG_COMPATRIOT_RELATIVE = "02", _("香港同胞亲属")
    MACAU_COMPATRIOT = "03", _("澳门同胞")
    MACAU_COMPATRIOT_RELATIVE = "04", _("澳门同胞亲属")
    TAIWAN_COMPATRIOT = "05", _("台湾同胞")
    TAIWAN_COMPATRIOT_RELATIVE = "06", _("台湾同胞亲属")
    OVERSEAS_CHINESE = "11", _("华侨")
    OVERSEAS_CHINESE_RELATIVE = "12", _("侨眷")
    RETURNED_OVERSEAS_CHINESE = "13", _("归侨")
    RETURNED_OVERSEAS_CHINESE_CHILD = "14", _("归侨子女")
    RETURNED_STUDENT = "21", _("归国留学人员")
    NON_HAN_ORIGIN_CHINESE = "31", _("非华裔中国人")
    FOREIGN_CHINESE_DESCENT = "41", _("外籍华裔人")
    FOREIGNER = "51", _("外国人")
    OTHER = "99", _("其他")


class PoliticalStatus(models.TextChoices):
    """政治面貌 — GB/T 4762 subset used by the national template."""

    CPC_MEMBER = "01", _("中共党员")
    CPC_PROBATIONARY_MEMBER = "02", _("中共预备党员")
    CYL_MEMBER = "03", _("共青团员")
    MASSES = "13", _("群众")


class HealthStatus(models.TextChoices):
    """健康状况 — national template code table (GB/T 2261.3 style)."""

    HEALTHY = "10", _("健康或良好")
    FAIR = "20", _("一般或较弱")
    CHRONIC_ILLNESS = "30", _("有慢性病")
    PHYSICAL_DEFECT = "40", _("有生理缺陷")
    DISABLED = "50", _("残疾")


class HouseholdType(models.TextChoices):
    """户口性质 — national template code table."""

    AGRICULTURAL = "1", _("农业户口")
    NON_AGRICULTURAL = "2", _("非农业户口")


class EntryMethod(models.TextChoices):
    """入学方式 — national template code table (11/12 义务教育, 21/22/23/99 普通高中)."""

    NEARBY = "11", _("就近入学")
    OTHER_COMPULSORY = "12", _("其他（义务教育）")
    UNIFIED_EXAM = "21", _("统一招生考试/普通入学")
    SPORTS_SPECIAL = "22", _("体育特招")
    ARTS_SPECIAL = "23", _("艺术特招")
    OTHER_SENIOR = "99", _("其他（高中）")


class StudyMode(models.TextChoices):
    """就读方式 — national template code table."""

    DAY = "1", _("走读")
    BOARDING = "2", _("住校")


class StudentSource(models.TextChoices):
    """学生来源 — national template code table."""

    NORMAL = "1", _("正常入学")
    VISITING = "2", _("借读")
    OTHER = "9", _("其他")


class LeftBehind(models.TextChoices):
    """是否留守儿童 — national template 填报说明 codes (0/1/2; a JS mirror uses 1/2/3, see domain.md §1.1)."""

    NO = "0", _("非留守儿童")
    ONE_PARENT = "1", _("单亲留守儿童")
    BOTH_PARENTS = "2", _("双亲留守儿童")


class InclusiveEducation(models.TextChoices):
    """随班就读 — national template code table."""

    NO = "0", _("非随班就读")
    VISUAL = "1", _("视力残疾随班就读")
    HEARING = "2", _("听力残疾随班就读")
    INTELLECTUAL = "3", _("智力残疾随班就读")
    OTHER = "4", _("其他残疾随班就读")


class DisabilityType(models.TextChoices):
    """残疾类型 — national template code table."""

    NONE = "0", _("无残疾")
    VISUAL = "1", _("视力残疾")
    HEARING = "2", _("听力残疾")
    SPEECH = "3", _("言语残疾")
    PHYSICAL = "4", _("肢体残疾")
    INTELLECTUAL = "5", _("智力残疾")
    MENTAL = "6", _("精神残疾")
    MULTIPLE = "7", _("多重残疾")
    OTHER = "8", _("其他残疾")


class FamilyRelation(models.TextChoices):
    """家庭成员关系 — national template subset of GB/T 4761."""

    FATHER = "1", _("父亲")
    MOTHER = "2", _("母亲")
    GRANDPARENT = "3", _("祖父母或外祖父母")
    SIBLING = "4", _("兄弟姐妹")
    OTHER = "9", _("其他")


class StudentStatus(models.TextChoices):
    """学生当前状态 — JY/T 1001 XSDQZT."""

    ENROLLED = "01", _("在读")
    SUSPENDED = "02", _("休学")
    WITHDRAWN = "03", _("退学")
    STOPPED = "04", _("停学")
    RESUMED = "05", _("复学")
    DROPPED_OUT = "06", _("流失")
    GRADUATED = "07", _("毕业")
    COMPLETED = "08", _("结业")
    INCOMPLETE = "09", _("肄业")
    TRANSFERRED_OUT = "10", _("转学（转出）")
    DECEASED = "11", _("死亡")
    ADMISSION_RESERVED = "12", _("保留入学资格")
    STUDYING_ABROAD_PUBLIC = "13", _("公派出国")
    EXPELLED = "14", _("开除")
    MISSING = "15", _("下落不明")
    OTHER = "99", _("其他")


_STAGE_GRADES: dict[str, range] = {
    Stage.PRIMARY.value: range(1, 7),
    Stage.JUNIOR.value: range(7, 10),
    Stage.SENIOR.value: range(10, 13),
}


def grade_range(stage: str) -> range:
    """The grades (1–12 numbering) of a stage: primary 1–6, junior 7–9, senior 10–12."""
    try:
        return _STAGE_GRADES[str(stage)]
    except KeyError:
        raise ValueError(f"unknown stage: {stage!r}") from None


def stage_for_grade(grade: int) -> Stage:
    """The stage a grade (1–12) belongs to."""
    for stage, grades in _STAGE_GRADES.items():
        if grade in grades:
            return Stage(stage)
    raise ValueError(f"grade out of range 1–12: {grade!r}")


def is_compulsory(stage: str) -> bool:
    """True for 义务教育 stages (小学, 初中); 普通高中 is not compulsory."""
    grade_range(stage)  # rejects unknown stages
    return str(stage) in (Stage.PRIMARY.value, Stage.JUNIOR.value)


def entry_methods_for(stage: str) -> tuple[EntryMethod, ...]:
    """The 入学方式 codes valid for a stage: 11/12 for 义务教育, 21/22/23/99 for 普通高中."""
    if is_compulsory(stage):
        return (EntryMethod.NEARBY, EntryMethod.OTHER_COMPULSORY)
    return (
        EntryMethod.UNIFIED_EXAM,
        EntryMethod.SPORTS_SPECIAL,
        EntryMethod.ARTS_SPECIAL,
        EntryMethod.OTHER_SENIOR,
    )


class YesNo(models.TextChoices):
    """是/否 flags of the national template (是否独生子女, 是否孤儿 …): 1 是, 0 否."""

    YES = "1", _("是")
    NO = "0", _("否")
