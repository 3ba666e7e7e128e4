"""What an audit event may carry: who, what, when, which record and which fields — never personal values.

Issue #6 §3.3 (security.md §2, PIPL 第28条: minors' data is sensitive; 等保 8.1.5.3: the audit administrator
reads audit records, not student records). :func:`xueji.audit.services.record` passes every ``before`` /
``after`` payload and every summary through :func:`sanitise` / :func:`scrub_text`, so a new call site cannot
leak by accident:

- Keys are classified by an allow-list. A value under a :data:`PUBLIC_KEYS` key (ids, codes, counts, states,
  grades, dates of operations) is kept as it is. A value under :data:`ORG_TEXT_KEYS` (free-text reasons,
  references) is kept only for events about an organisation, an account or a policy — on a student it may
  hold health or family details and is masked.
- Identifiers keep the shape the UI shows: ``id_number``/``document_number`` as ``110***********1234``,
  ``student_number`` as ``G440105********1234``, ``phone`` as ``138****8000``.
- Any other key keeps its name (so the event still says *which* fields changed) and its value becomes
  :data:`MASK` (``None`` and ``""`` stay as they are: they say nothing). Nested mappings and lists under such
  keys are walked, so ``facts.person.name`` is masked while ``facts.grade`` stays.
- Strings that are kept are scanned once more for identity numbers, 学籍号, mobile numbers and e-mail
  addresses, which are masked wherever they appear (defence in depth for summaries and free text).

The before/after values of personal fields are not lost: :func:`personal_changes` lists them so that the audit
service can keep them in the record history (:class:`xueji.audit.models.FieldHistory`), which only those who
may see the student can read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from xueji.core.masking import mask_id_number, mask_phone, mask_student_number

MASK = "***"

#: Keys whose values are never personal data (ids, codes, counts, states, dates of operations, field names).
PUBLIC_KEYS = frozenset(
    {
        # records, requests, steps
        "request",
        "position",
        "action",
        "operation",
        "kind",
        "state",
        "status",
        "previous_status",
        "outcome",
        "field",
        "changed",
        "changed_labels",
        "keys",
        "version",
        "active_version",
        "masked",
        "success",
        "channel",
        # org units, schools, enrolments
        "org_unit_id",
        "school",
        "school_id",
        "school_code",
        "from_school",
        "to_school",
        "successor_org_id",
        "record_school_id",
        "placement_school_id",
        "reform_school_id",
        "reform_school_name",
        "archive_custodian_id",
        "scope_path",
        "type",
        "stages",
        "stage",
        "grade",
        "class_name",
        "school_year",
        "is_active",
        "enrollment",
        "enrollment_id",
        "previous_enrollment_id",
        "abroad_request_id",
        "reused_person",
        "suspected_duplicate",
        "graduated",
        "student_number_changed",
        "student_number_unchanged",
        "public_funded",
        "destination",
        "destination_name",
        "departure_date",
        "overseas_study",
        "deferred_until",
        "renewal_of",
        "closed_on",
        "effective_on",  # the date an approved change takes effect (changes, ADR 0005)
        "approved_by",  # the staff account whose approval a scheduled change applies on
        "filing_due",
        "filing_due_provisional",
        "filed_late",
        "archive_due",
        # relying parties of the digital identity (systems, not people)
        "scope",
        "scopes",
        "sector",
        "audience",
        "redirect_uris",
        "overdue",
        # bulk operations
        "submitted",
        "skipped",
        "code",
        "counts",
        "in_flight",
        "promoted",
        "promoted_year",
        "active_moved",
        "former_moved",
        "created",
        "rows",
        "count",
        # files
        "document",
        "attachment",
        "sha256",
        "file_sha256",
        "size",
        # calendar
        "days_off",
        "workdays",
        "source",
        # accounts (staff accounts, not student data; phone and e-mail are not on this list)
        "role",
        "username",
        "display_name",
        "temporary_password",
        "must_change_password",
        "reset_by_admin",
        "reset_request",
        "requested_by",
        "confirmed_by",
        "token_id",
        "expires_at",
        "last_login",
        "last_activity",
        "sealed_at",
        "filed_with_id",
        "filed_on",
        "trained_on",
        "training_course",
        "filing_reference",
        # rate limits (xueji.core.ratelimit: security.rate_limited)
        "bucket",
        "limit",
        "period",
        "window_start",
        # semester verification (xueji.verification: round, return and counts, never a finding's text)
        "deadline",
        "schools",
        "semester",
        "return_id",
        "round_id",
        "roster_count",
        "findings",
        # the audit chain (xueji.audit.chain: positions, counts and problem kinds, never an event's content)
        "checked",
        "head_seq",
        "checkpoints",
        "problems",
        "since_seq",
        "last_seq",
    }
)

#: Free text that is harmless on an organisation/account/policy event but may carry health or family details
#: when it is about a student (a 休学 reason, a reviewer's comment).
ORG_TEXT_KEYS = frozenset({"reason", "comment", "note", "sealed_reason", "decision_ref"})

#: Subjects that are people whose record is protected (the student record; 第24条).
PERSON_SUBJECTS = frozenset({"student", "person"})


_MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "id_number_masked": mask_id_number,
    "document_number": mask_id_number,
    "document_number_masked": mask_id_number,
    "student_number": mask_student_number,
    "phone": mask_phone,
}

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    # 学籍号: a kind letter and an 18-character identity number.
    (re.compile(_NOT_ALNUM_BEFORE + r"[A-Z]\d{17}[\dXx]" + _NOT_ALNUM_AFTER), mask_student_number),
    # Resident identity numbers (18 and the old 15 digits).
    (re.compile(_NOT_ALNUM_BEFORE + r"(?:\d{17}[\dXx]|\d{15})" + _NOT_ALNUM_AFTER), mask_id_number),
    # Mainland mobile numbers.
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), mask_phone),
    # E-mail addresses.
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda _m: MASK),
)


def scrub_text(text: str) -> str:
    """Mask identity numbers, 学籍号, mobile numbers and e-mail addresses inside a free string."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(lambda m, mask=mask: mask(m.group(0)), text)  # type: ignore[misc]
    return text


def _keep(value: Any) -> Any:
    """A value under a public key: kept, with strings scrubbed at any depth."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): _keep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_keep(v) for v in value]
    return value


def _mask_value(key: str, value: Any, person: bool) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, Mapping):
        return _sanitise_mapping(value, person)
    if isinstance(value, list | tuple):
        return [_mask_value(key, v, person) for v in value]
    if key in _MASKERS and isinstance(value, str):
        # Already masked by the caller (the UI's shape): keep it, re-scrubbed.
        return scrub_text(value) if "*" in value else _MASKERS[key](value)
    return MASK


def _sanitise_mapping(data: Mapping[str, Any], person: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key)
        if key in PUBLIC_KEYS or (key in ORG_TEXT_KEYS and not person):
            out[key] = _keep(value)
        else:
            out[key] = _mask_value(key, value, person)
    return out


def sanitise(data: Mapping[str, Any] | None, *, subject_type: str = "") -> dict[str, Any] | None:
    """The payload as the audit keeps it: field names with public values, personal values masked."""
    if data is None:
        return None
    return _sanitise_mapping(data, subject_type in PERSON_SUBJECTS)


def is_public(key: str, *, subject_type: str = "") -> bool:
    return key in PUBLIC_KEYS or (key in ORG_TEXT_KEYS and subject_type not in PERSON_SUBJECTS)


def _leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf of a nested mapping; values under public keys are not walked."""
    if not isinstance(data, Mapping):
        return
    for raw_key, value in data.items():
        key = str(raw_key)
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and key not in PUBLIC_KEYS:
            yield from _leaves(value, dotted + ".")
        else:
            yield dotted, value


def personal_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, subject_type: str
) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every personal (non-public) field whose value the payload changes.

    Only for person subjects; the dotted field name keeps the nesting (``person.name``).
    """
    if subject_type not in PERSON_SUBJECTS:
        return []
    old = dict(_leaves(before or {}))
    new = dict(_leaves(after or {}))
    out = []
    for field in list(old) + [k for k in new if k not in old]:
        leaf = field.rsplit(".", 1)[-1]
        if is_public(leaf, subject_type=subject_type):
            continue
        b, a = old.get(field), new.get(field)
        if leaf in _MASKERS:
            # The record page masks these too (the full value is an audited reveal, 第24条).
            b, a = _mask_value(leaf, b, True), _mask_value(leaf, a, True)
        if b != a:
            out.append((field, b, a))
    return out
