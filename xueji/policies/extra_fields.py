"""Province-defined non-basic student information (第3条) as data: the definition schema and its validators.

第3条: 基础学籍信息由国务院教育行政部门统一确定 …… 非基础学籍信息由各省级教育行政部门统一确定并报国务院教育行政部门备案.
A province's field set is a list of definitions, stored as JSON on
:class:`xueji.policies.models.ExtraFieldSet`; a student's values are stored as JSON on ``Person.extra``.

Pure functions, no database: the same code validates a form, an API body and a million-row import.
Nothing here ever becomes SQL — keys are checked against a strict pattern, values are JSON scalars/lists.

A definition (one dict per field)::

    {"key": "residence_permit_no", "label": "居住证号码", "type": "text", "required": false,
     "max_length": 30, "help": "…"}
    {"key": "bus_route", "label": "校车线路", "type": "choice", "required": true,
     "choices": [{"code": "01", "label": "一号线"}, {"code": "02", "label": "二号线"}]}

Types and their attributes:

==============  ===========================================  ==========================================
type            attributes (all optional unless stated)       stored value (JSON)
==============  ===========================================  ==========================================
text            max_length (1–2000, default 200)              string
integer         min_value, max_value (integers)               integer
decimal         min_value, max_value, decimal_places (0–6, 2) canonical decimal string, e.g. "12.50"
date            —                                             ISO date string "YYYY-MM-DD"
boolean         —                                             true / false
choice          choices (required, a code table)              the chosen code
multi_choice    choices (required, a code table)              list of codes, in code-table order
==============  ===========================================  ==========================================

Every field also has ``key``, ``label``, ``type``, ``required`` (default false) and ``help``.
Decimals are stored as strings so that no binary-float rounding ever touches a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from xueji.core.errors import ApplicationError, FieldError

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")

TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
DATE = "date"
BOOLEAN = "boolean"
CHOICE = "choice"
MULTI_CHOICE = "multi_choice"

TYPE_LABELS: dict[str, str] = {
    TEXT: "文本",
    INTEGER: "整数",
    DECIMAL: "小数",
    DATE: "日期",
    BOOLEAN: "是/否",
    CHOICE: "单选（代码表）",
    MULTI_CHOICE: "多选（代码表）",
}
CHOICE_TYPES = frozenset({CHOICE, MULTI_CHOICE})
NUMERIC_TYPES = frozenset({INTEGER, DECIMAL})

# Which optional attributes each type accepts (besides key, label, type, required, help).
TYPE_ATTRIBUTES: dict[str, frozenset[str]] = {
    TEXT: frozenset({"max_length"}),
    INTEGER: frozenset({"min_value", "max_value"}),
    DECIMAL: frozenset({"min_value", "max_value", "decimal_places"}),
    DATE: frozenset(),
    BOOLEAN: frozenset(),
    CHOICE: frozenset({"choices"}),
    MULTI_CHOICE: frozenset({"choices"}),
}
COMMON_ATTRIBUTES = frozenset({"key", "label", "type", "required", "help"})
ALL_ATTRIBUTES = COMMON_ATTRIBUTES.union(*TYPE_ATTRIBUTES.values())

ATTRIBUTE_LABELS: dict[str, str] = {
    "key": "字段键",
    "label": "字段名称",
    "type": "类型",
    "required": "是否必填",
    "help": "填写说明",
    "max_length": "最大长度",
    "min_value": "最小值",
    "max_value": "最大值",
    "decimal_places": "小数位数",
    "choices": "选项",
}

# 第3条: the basic fields are fixed nationally; a province may not redefine them under its own key or header.
# The national field specs belong to the students app, which stands above policies: it declares them here from
# its ``AppConfig.ready`` (:func:`reserve_basic_fields`). The two derived basic items (学籍号, 学段) are reserved
# from the start.
RESERVED_KEYS: set[str] = {"student_number", "stage"}
RESERVED_LABELS: set[str] = {"学籍号", "学段"}


def reserve_basic_fields(*, keys: Iterable[str], labels: Iterable[str]) -> None:
    """Declare the national basic fields' keys and headers, which no province's extra field may take (第3条)."""
    RESERVED_KEYS.update(keys)
    RESERVED_LABELS.update(labels)


MAX_FIELDS = 100
MAX_CHOICES = 500
MAX_LABEL = 30
MAX_HELP = 200
MAX_TEXT_LENGTH = 2000
DEFAULT_TEXT_LENGTH = 200
MAX_CHOICE_LABEL = 60
DEFAULT_DECIMAL_PLACES = 2
MAX_DECIMAL_PLACES = 6
MAX_DECIMAL_DIGITS = 18

_TRUE = frozenset({"1", "是", "true", "y", "yes", "t"})
_FALSE = frozenset({"0", "否", "false", "n", "no", "f"})
_MULTI_SEPARATORS = re.compile(r"[,，;；、|\n]")
_INTEGER_TEXT = re.compile(r"^[+-]?\d{1,18}$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d")


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


@dataclass(frozen=True)
class FieldDef:
    """One validated field definition. ``to_dict()`` is the stored JSON form."""

    key: str
    label: str
    type: str
    required: bool = False
    help: str = ""
    max_length: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    decimal_places: int | None = None
    choices: tuple[Choice, ...] = ()

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.type, self.type)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "required": self.required,
        }
        if self.help:
            out["help"] = self.help
        if self.type == TEXT:
            out["max_length"] = self.max_length
        if self.type == DECIMAL:
            out["decimal_places"] = self.decimal_places
        for name in ("min_value", "max_value"):
            bound = getattr(self, name)
            if bound is not None:
                out[name] = int(bound) if self.type == INTEGER else str(bound)
        if self.type in CHOICE_TYPES:
            out["choices"] = [{"code": c.code, "label": c.label} for c in self.choices]
        return out

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> FieldDef:
        """Rebuild a definition that :func:`validate_definition` accepted earlier (no re-checking, so a
        filed version stays usable even if the national field list grows later)."""

        def dec(value: Any) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        return cls(
            key=data["key"],
            label=data["label"],
            type=data["type"],
            required=bool(data.get("required", False)),
            help=data.get("help", ""),
            max_length=data.get("max_length"),
            min_value=dec(data.get("min_value")),
            max_value=dec(data.get("max_value")),
            decimal_places=data.get("decimal_places"),
            choices=tuple(Choice(str(c["code"]), str(c["label"])) for c in data.get("choices") or ()),
        )

    def describe(self) -> str:
        """A short Chinese description of the constraints (for tables and help text)."""
        parts: list[str] = []
        if self.type == TEXT and self.max_length:
            parts.append(f"不超过 {self.max_length} 个字符")
        if self.type in NUMERIC_TYPES:
            if self.min_value is not None:
                parts.append(f"最小 {self.min_value}")
            if self.max_value is not None:
                parts.append(f"最大 {self.max_value}")
            if self.type == DECIMAL:
                parts.append(f"{self.decimal_places} 位小数")
        if self.type == DATE:
            parts.append("YYYY-MM-DD")
        if self.type == BOOLEAN:
            parts.append("是 / 否")
        if self.type in CHOICE_TYPES:
            parts.append("；".join(f"{c.code} {c.label}" for c in self.choices))
        return "，".join(parts)


class DefinitionInvalid(ApplicationError):
    """A field-set definition broke the schema. ``fields`` maps ``fields.<index>.<attribute>`` to a Chinese
    message; ``field_codes`` maps the same paths to stable codes (tests and clients match these)."""

    def __init__(self, messages: Mapping[str, str], codes: Mapping[str, str]) -> None:
        first = next(iter(messages.values()), "")
        super().__init__("invalid_extra_fields", f"非基础学籍信息字段定义有误：{first}", messages)
        self.field_codes: dict[str, str] = dict(codes)


class _Collector:
    def __init__(self) -> None:
        self.messages: dict[str, str] = {}
        self.codes: dict[str, str] = {}

    def add(self, path: str, code: str, message: str) -> None:
        if path not in self.messages:
            self.messages[path] = message
            self.codes[path] = code


def _where(index: int, attr: str) -> str:
    return f"第 {index + 1} 个字段的{ATTRIBUTE_LABELS.get(attr, attr)}"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
        return int(value.strip())
    return None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and value.strip()):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _parse_choices(raw: Any, index: int, errors: _Collector) -> tuple[Choice, ...]:
    path = f"fields.{index}.choices"
    if raw is None or (isinstance(raw, (list, tuple)) and not raw):
        errors.add(path, "choices_required", f"{_where(index, 'choices')}不能为空：单选、多选字段须有代码表")
        return ()
    if not isinstance(raw, (list, tuple)):
        errors.add(path, "invalid_choices", f"{_where(index, 'choices')}须为代码表（每项含代码和标签）")
        return ()
    if len(raw) > MAX_CHOICES:
        errors.add(path, "too_many_choices", f"{_where(index, 'choices')}最多 {MAX_CHOICES} 项")
        return ()
    out: list[Choice] = []
    codes: set[str] = set()
    labels: set[str] = set()
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            errors.add(path, "invalid_choices", f"{_where(index, 'choices')}第 {n} 项须包含代码和标签")
            return ()
        code = str(item.get("code") or "").strip()
        label = str(item.get("label") or "").strip()
        if not CODE_PATTERN.match(code):
            errors.add(
                path,
                "invalid_choice_code",
                f"{_where(index, 'choices')}第 {n} 项的代码“{code}”无效（1–20 位字母、数字、_ . -）",
            )
            return ()
        if not label or len(label) > MAX_CHOICE_LABEL:
            errors.add(
                path,
                "invalid_choice_label",
                f"{_where(index, 'choices')}第 {n} 项（代码 {code}）须有标签，且不超过 {MAX_CHOICE_LABEL} 个字符",
            )
            return ()
        if code in codes:
            errors.add(path, "duplicate_choice_code", f"{_where(index, 'choices')}中代码“{code}”重复")
            return ()
        if label in labels:
            errors.add(path, "duplicate_choice_label", f"{_where(index, 'choices')}中标签“{label}”重复")
            return ()
        codes.add(code)
        labels.add(label)
        out.append(Choice(code, label))
    return tuple(out)


def _parse_one(
    raw: Any, index: int, errors: _Collector, seen_keys: dict[str, int], seen_labels: dict[str, int]
) -> FieldDef | None:
    base = f"fields.{index}"
    if not isinstance(raw, Mapping):
        errors.add(base, "invalid_definition", f"第 {index + 1} 个字段的定义须为对象（含字段键、名称、类型）")
        return None
    before = len(errors.messages)

    unknown = sorted(str(k) for k in raw if k not in ALL_ATTRIBUTES)
    for attr in unknown:
        errors.add(f"{base}.{attr}", "unknown_attribute", f"第 {index + 1} 个字段含未知属性“{attr}”")

    key = raw.get("key")
    key = key.strip() if isinstance(key, str) else ""
    if not KEY_PATTERN.match(key):
        errors.add(
            f"{base}.key",
            "invalid_key",
            f"{_where(index, 'key')}“{key}”无效：须以小写字母开头，由小写字母、数字、下划线组成，2–40 位",
        )
    elif key in RESERVED_KEYS:
        errors.add(
            f"{base}.key",
            "reserved_key",
            f"{_where(index, 'key')}“{key}”与国家基础学籍信息字段重名（第三条：基础学籍信息由国家统一确定）",
        )
    elif key in seen_keys:
        errors.add(
            f"{base}.key",
            "duplicate_key",
            f"{_where(index, 'key')}“{key}”与第 {seen_keys[key] + 1} 个字段重复",
        )
    else:
        seen_keys[key] = index

    label = raw.get("label")
    label = label.strip() if isinstance(label, str) else ""
    if not label:
        errors.add(f"{base}.label", "label_required", f"{_where(index, 'label')}不能为空")
    elif len(label) > MAX_LABEL:
        errors.add(f"{base}.label", "label_too_long", f"{_where(index, 'label')}不能超过 {MAX_LABEL} 个字符")
    elif label in RESERVED_LABELS:
        errors.add(
            f"{base}.label",
            "reserved_label",
            f"{_where(index, 'label')}“{label}”与国家基础学籍信息字段名称相同，导入模板无法区分",
        )
    elif label in seen_labels:
        errors.add(
            f"{base}.label",
            "duplicate_label",
            f"{_where(index, 'label')}“{label}”与第 {seen_labels[label] + 1} 个字段重复",
        )
    else:
        seen_labels[label] = index

    field_type = raw.get("type")
    if field_type not in TYPE_LABELS:
        allowed = "、".join(f"{t}（{lbl}）" for t, lbl in TYPE_LABELS.items())
        errors.add(
            f"{base}.type", "invalid_type", f"{_where(index, 'type')}“{field_type}”无效，可选：{allowed}"
        )
        return None

    required = raw.get("required", False)
    if not isinstance(required, bool):
        errors.add(
            f"{base}.required", "invalid_required", f"{_where(index, 'required')}须为是或否（true/false）"
        )
        required = False

    help_text = raw.get("help") or ""
    if not isinstance(help_text, str) or len(help_text.strip()) > MAX_HELP:
        errors.add(
            f"{base}.help", "invalid_help", f"{_where(index, 'help')}须为不超过 {MAX_HELP} 个字符的文本"
        )
        help_text = ""
    help_text = help_text.strip()

    allowed_attrs = TYPE_ATTRIBUTES[field_type]
    for attr in sorted(ALL_ATTRIBUTES - COMMON_ATTRIBUTES - allowed_attrs):
        if raw.get(attr) not in (None, "", [], ()):
            errors.add(
                f"{base}.{attr}",
                "attribute_not_allowed",
                f"{_where(index, attr)}不适用于“{TYPE_LABELS[field_type]}”类型，请删除",
            )

    max_length: int | None = None
    if field_type == TEXT:
        given = raw.get("max_length")
        max_length = DEFAULT_TEXT_LENGTH if given in (None, "") else _as_int(given)
        if max_length is None or not 1 <= max_length <= MAX_TEXT_LENGTH:
            errors.add(
                f"{base}.max_length",
                "invalid_max_length",
                f"{_where(index, 'max_length')}须为 1–{MAX_TEXT_LENGTH} 的整数",
            )

    bounds: dict[str, Decimal | None] = {"min_value": None, "max_value": None}
    decimal_places: int | None = None
    if field_type == DECIMAL:
        given = raw.get("decimal_places")
        decimal_places = DEFAULT_DECIMAL_PLACES if given in (None, "") else _as_int(given)
        if decimal_places is None or not 0 <= decimal_places <= MAX_DECIMAL_PLACES:
            errors.add(
                f"{base}.decimal_places",
                "invalid_decimal_places",
                f"{_where(index, 'decimal_places')}须为 0–{MAX_DECIMAL_PLACES} 的整数",
            )
            decimal_places = DEFAULT_DECIMAL_PLACES
    if field_type in NUMERIC_TYPES:
        for attr in ("min_value", "max_value"):
            given = raw.get(attr)
            if given in (None, ""):
                continue
            if field_type == INTEGER:
                as_int = _as_int(given)
                number = None if as_int is None else Decimal(as_int)
                kind = "整数"
            else:
                number = _as_decimal(given)
                if number is not None and abs(number) < Decimal(10) ** MAX_DECIMAL_DIGITS:
                    step = Decimal(1).scaleb(-(decimal_places or 0))
                    number = number if number == number.quantize(step) else None
                kind = f"最多 {decimal_places} 位小数的数"
            if number is None or abs(number) >= Decimal(10) ** MAX_DECIMAL_DIGITS:
                errors.add(f"{base}.{attr}", "invalid_bound", f"{_where(index, attr)}须为{kind}")
            else:
                bounds[attr] = number
        low, high = bounds["min_value"], bounds["max_value"]
        if low is not None and high is not None and low > high:
            errors.add(
                f"{base}.max_value",
                "invalid_range",
                f"{_where(index, 'max_value')}（{high}）不能小于最小值（{low}）",
            )

    choices: tuple[Choice, ...] = ()
    if field_type in CHOICE_TYPES:
        choices = _parse_choices(raw.get("choices"), index, errors)

    if len(errors.messages) != before:
        return None
    return FieldDef(
        key=key,
        label=label,
        type=field_type,
        required=required,
        help=help_text,
        max_length=max_length,
        min_value=bounds["min_value"],
        max_value=bounds["max_value"],
        decimal_places=decimal_places,
        choices=choices,
    )


def validate_definition(fields: Any) -> list[FieldDef]:
    """Validate a province's field-set definition (第3条) and return it as :class:`FieldDef` objects.

    Rules: 1–100 fields; keys match ``^[a-z][a-z0-9_]{1,39}$``, are unique and do not collide with a national
    basic field key (第3条: 基础学籍信息由国务院教育行政部门统一确定); labels (the import column headers) are
    unique and differ from the national labels; the type is known and only its own attributes are given;
    choice types carry a non-empty code table with unique codes and labels.

    Raises :class:`DefinitionInvalid` (code ``invalid_extra_fields``) listing every problem, each keyed
    ``fields.<index>.<attribute>`` with a Chinese message naming the field's position and attribute.
    """
    errors = _Collector()
    if not isinstance(fields, (list, tuple)):
        errors.add("fields", "invalid_definition", "字段定义须为列表")
        raise DefinitionInvalid(errors.messages, errors.codes)
    if not fields:
        errors.add("fields", "no_fields", "至少定义一个非基础学籍信息字段")
        raise DefinitionInvalid(errors.messages, errors.codes)
    if len(fields) > MAX_FIELDS:
        errors.add("fields", "too_many_fields", f"非基础学籍信息字段最多 {MAX_FIELDS} 个")
        raise DefinitionInvalid(errors.messages, errors.codes)
    seen_keys: dict[str, int] = {}
    seen_labels: dict[str, int] = {}
    defs = [_parse_one(raw, i, errors, seen_keys, seen_labels) for i, raw in enumerate(fields)]
    if errors.messages:
        raise DefinitionInvalid(errors.messages, errors.codes)
    return [d for d in defs if d is not None]


def load_definition(stored: Iterable[Mapping[str, Any]]) -> list[FieldDef]:
    """Field definitions from a stored (already validated) field set."""
    return [FieldDef.from_stored(item) for item in stored]


# --------------------------------------------------------------------------------------------- values


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_blank(v) for v in value)
    return False


def _scalar_text(value: Any) -> str | None:
    """A spreadsheet/JSON scalar as text; ``None`` when the value is not a scalar."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets turn digit strings into numbers
    if isinstance(value, (str, int, float, Decimal)):
        return str(value).strip()
    return None


def _clean_text(spec: FieldDef, value: Any) -> str:
    if isinstance(value, bool) or (text := _scalar_text(value)) is None:
        raise FieldError(spec.key, "invalid_text", f"{spec.label}须为文本")
    if spec.max_length is not None and len(text) > spec.max_length:
        raise FieldError(spec.key, "too_long", f"{spec.label}不能超过 {spec.max_length} 个字符")
    return text


def _check_range(spec: FieldDef, number: Decimal) -> None:
    if spec.min_value is not None and number < spec.min_value:
        raise FieldError(spec.key, "below_min", f"{spec.label}不能小于 {spec.min_value}")
    if spec.max_value is not None and number > spec.max_value:
        raise FieldError(spec.key, "above_max", f"{spec.label}不能大于 {spec.max_value}")


def _clean_integer(spec: FieldDef, value: Any) -> int:
    number = _as_int(value)
    if number is None:
        raise FieldError(spec.key, "invalid_integer", f"{spec.label}“{_shown(value)}”不是整数")
    _check_range(spec, Decimal(number))
    return number


def _clean_decimal(spec: FieldDef, value: Any) -> str:
    number = _as_decimal(value)
    if number is None or abs(number) >= Decimal(10) ** MAX_DECIMAL_DIGITS:
        raise FieldError(spec.key, "invalid_decimal", f"{spec.label}“{_shown(value)}”不是有效的数")
    places = spec.decimal_places if spec.decimal_places is not None else DEFAULT_DECIMAL_PLACES
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise FieldError(spec.key, "too_many_decimal_places", f"{spec.label}最多保留 {places} 位小数")
    _check_range(spec, number)
    return str(number.quantize(step))


def _clean_date(spec: FieldDef, value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raw = _scalar_text(value) if not isinstance(value, bool) else None
    if raw is not None:
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(raw, fmt).date().isoformat()
            except ValueError:
                continue
    raise FieldError(
        spec.key, "invalid_date", f"{spec.label}“{_shown(value)}”不是有效日期（格式 YYYY-MM-DD）"
    )


def _clean_boolean(spec: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raw = _scalar_text(value)
    if raw is not None:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
    raise FieldError(spec.key, "invalid_bool", f"{spec.label}须填“是”或“否”")


def _code_for(spec: FieldDef, value: Any) -> str:
    """Accept the code ("01"), the label ("一号线") or the template's "code-label" / "code 标签" form."""
    raw = _scalar_text(value) if not isinstance(value, bool) else None
    if raw is None:
        raise FieldError(spec.key, "invalid_code", f"{spec.label}须为代码表中的代码")
    codes = {c.code for c in spec.choices}
    if raw in codes:
        return raw
    head = re.split(r"[-\s:：]", raw, maxsplit=1)[0]
    if head in codes and head != raw:
        return head
    for c in spec.choices:
        if c.label == raw:
            return c.code
    raise FieldError(spec.key, "invalid_code", f"{spec.label}“{raw}”不是代码表中的有效代码")


def _clean_multi(spec: FieldDef, value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [v for v in value if not _is_blank(v)]
    elif isinstance(value, str):
        items = [part.strip() for part in _MULTI_SEPARATORS.split(value) if part.strip()]
    else:
        items = [value]
    chosen = {_code_for(spec, item) for item in items}
    return [c.code for c in spec.choices if c.code in chosen]  # code-table order, no duplicates


def _shown(value: Any) -> str:
    text = _scalar_text(value)
    return (text if text is not None else type(value).__name__)[:40]


_CLEANERS: dict[str, Callable[[FieldDef, Any], Any]] = {
    TEXT: _clean_text,
    INTEGER: _clean_integer,
    DECIMAL: _clean_decimal,
    DATE: _clean_date,
    BOOLEAN: _clean_boolean,
    CHOICE: _code_for,
    MULTI_CHOICE: _clean_multi,
}


def clean_value(spec: FieldDef, value: Any) -> Any:
    """One value converted to its stored JSON form, or :class:`FieldError` naming the field label."""
    return _CLEANERS[spec.type](spec, value)


def validate_values(
    defs: Sequence[FieldDef], raw: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a student's non-basic values against their province's active field set (第3条).

    Accepts strings (form, spreadsheet import) or JSON values (API) and coerces them per type. Returns
    ``(clean, errors)``: ``clean`` holds only the filled fields in their JSON form; ``errors`` maps a field
    key to a Chinese message naming the field's label. Keys that the field set does not define are rejected
    (the key itself is the error key), blanks in required fields are errors, blanks elsewhere are omitted.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, {"__all__": "非基础学籍信息须为“字段键: 值”的对象"}
    by_key = {d.key: d for d in defs}
    for key in raw:
        if key not in by_key:
            shown = str(key)[:40]
            errors[shown] = f"“{shown}”不是本省已确定的非基础学籍信息字段"
    for spec in defs:
        value = raw.get(spec.key)
        if _is_blank(value):
            if spec.required:
                errors[spec.key] = f"{spec.label}为必填项"
            continue
        try:
            clean[spec.key] = clean_value(spec, value)
        except FieldError as exc:
            errors[spec.key] = exc.message
    return clean, errors


def values_validator(
    defs: Sequence[FieldDef],
) -> Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, str]]]:
    """A validator bound to one field set, in the shape ``clean_registration(extra_validator=…)`` expects."""
    frozen = tuple(defs)

    def validator(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return validate_values(frozen, raw)

    return validator


def display_value(spec: FieldDef, value: Any) -> str:
    """A stored value as Chinese display text (code → label, bool → 是/否)."""
    if _is_blank(value):
        return ""
    if spec.type == BOOLEAN:
        return "是" if value else "否"
    if spec.type in CHOICE_TYPES:
        labels = {c.code: c.label for c in spec.choices}
        codes = value if isinstance(value, list) else [value]
        return "、".join(labels.get(str(c), str(c)) for c in codes)
    return str(value)
