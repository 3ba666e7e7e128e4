"""security.md test 18 (第24条): an export needs a recorded legal basis and an approval; fields outside the
allow-list, a unit outside the jurisdiction and a period already over are refused with nothing written; the
approver is the upper level and never the requester; approving takes a verified second factor; the approval
record carries Ed25519 and SM2 signatures that fail once any term is altered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.exports.conftest import basis
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.audit import signing
from xueji.audit.models import AuditEvent
from xueji.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from xueji.exports import queries, services
from xueji.exports.enums import State
from xueji.exports.models import ExportRequest

pytestmark = pytest.mark.django_db


def create(actor: Any, unit: Any, **overrides: Any) -> ExportRequest:
    kwargs: dict[str, Any] = {
        "source": "roster",
        "unit_id": unit.pk,
        "fields": ["gender", "birth_date", "grade"],
        **basis(),
    }
    kwargs.update(overrides)
    return services.export_request_create(actor=actor, **kwargs)


@pytest.mark.parametrize(
    "missing", ["purpose", "recipient", "legal_basis", "authority", "document_number", "period_end"]
)
def test_no_legal_basis_or_term_missing_is_refused_and_nothing_written(
    registrar_a, school_a, missing
) -> None:
    with pytest.raises(ApplicationError) as exc:
        create(registrar_a, school_a.org, **{missing: None if missing == "period_end" else "  "})
    assert exc.value.code == "invalid_export_request" and missing in exc.value.fields
    assert not ExportRequest.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="export.").exists()


def test_authority_below_county_government_is_refused(registrar_a, school_a) -> None:
    """第24条: only a law or a people's government at county level or above authorises data leaving."""
    with pytest.raises(ApplicationError) as exc:
        create(registrar_a, school_a.org, authority_level="township")
    assert "authority_level" in exc.value.fields
    assert not ExportRequest.objects.exists()


def test_period_checks(registrar_a, school_a) -> None:
    today = timezone.localdate()
    for start, end in (
        (today - timedelta(days=9), today - timedelta(days=1)),  # over already
        (today, today - timedelta(days=1)),  # end before start
        (today, today + timedelta(days=400)),  # too long
    ):
        with pytest.raises(ApplicationError) as exc:
            create(registrar_a, school_a.org, period_start=start, period_end=end)
        assert "period_end" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        create(registrar_a, school_a.org, period_start=None)
    assert "period_start" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        create(registrar_a, school_a.org, purpose="用" * 301)
    assert "purpose" in exc.value.fields
    assert not ExportRequest.objects.exists()


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        ("roster", ["gender", "guardian_phone"]),
        ("roster", ["home_address"]),
        ("roster", []),
        ("roster", ["gender", "gender"]),
        ("statistics", ["id_number"]),
        ("flows", ["name"]),
        ("nothing", ["gender"]),
    ],
)
def test_fields_outside_the_allow_list_are_refused(registrar_a, school_a, source, fields) -> None:
    with pytest.raises(FieldError):
        create(registrar_a, school_a.org, source=source, fields=fields)
    assert not ExportRequest.objects.exists()


def test_filters_are_checked(registrar_a, county_registrar, school_a) -> None:
    county = f.dept("440105")
    with pytest.raises(FieldError) as exc:
        create(county_registrar, county, filters={"school": "9999999999"})
    assert exc.value.field == "school"
    with pytest.raises(FieldError):
        create(county_registrar, county, filters={"class_name": "1班"})
    with pytest.raises(FieldError):
        create(registrar_a, school_a.org, filters={"grade": "13"})
    with pytest.raises(FieldError):
        create(county_registrar, county, source="statistics", fields=["grade"], filters={"grade": "1"})
    with pytest.raises(FieldError):
        create(registrar_a, school_a.org, source="statistics", fields=["class"])
    with pytest.raises(FieldError):
        create(registrar_a, school_a.org, source="statistics", fields=["grade", "ethnicity"])
    with pytest.raises(FieldError):
        create(registrar_a, school_a.org, source="statistics", fields=["grade", "gender", "status"])
    with pytest.raises(FieldError):
        create(county_registrar, county, source="flows", fields=["transfer_in"], filters={"from": "2026-13"})
    assert not ExportRequest.objects.exists()
    ok = create(
        county_registrar, county, filters={"school": school_a.school_code, "grade": 1, "class_name": "1班"}
    )
    assert ok.filters == {"school": school_a.school_code, "grade": 1, "class_name": "1班"}


def test_out_of_scope_unit_is_404_and_nothing_created(registrar_a, school_b, school_a) -> None:
    for unit_id in (school_b.org.pk, f.dept("440106").pk, 99999999, "x"):
        with pytest.raises(NotFound):
            create(registrar_a, school_a.org, unit_id=unit_id)
        with pytest.raises(NotFound):
            create(registrar_a, school_a.org, unit_id=unit_id, source="statistics", fields=["grade"])
    assert not ExportRequest.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="export.").exists()


def test_the_approver_is_the_upper_level(
    registrar_a, school_a, county_registrar, county_approver, city_approver
) -> None:
    school_request = create(registrar_a, school_a.org)
    assert school_request.approving_unit == f.dept("440105")
    county_request = create(county_registrar, f.dept("440105"))
    assert county_request.approving_unit == f.dept("440100")
    assert list(queries.worklist(viewer=county_approver)) == [school_request]
    assert set(queries.worklist(viewer=city_approver)) == {school_request, county_request}
    # the county approver is not above the county's own request
    with pytest.raises(NotFound):
        services.export_approve(actor=county_approver, export_id=county_request.pk, second_factor=True)
    event = AuditEvent.objects.get(event_type="export.requested", subject_id=str(school_request.pk))
    assert event.actor_id == registrar_a.pk and event.after["state"] == "submitted"


def test_a_province_rule_names_the_approving_level(registrar_a, school_a) -> None:
    from xueji.policies.models import ProvinceRuleSet

    ProvinceRuleSet.objects.create(
        province_code="440000",
        version=1,
        rules={"exports": {"approving_level": "city"}},
        effective_from=timezone.localdate() - timedelta(days=1),
        filed_on=timezone.localdate() - timedelta(days=1),
        filing_reference="粤教〔2026〕1号",
    )
    assert create(registrar_a, school_a.org).approving_unit == f.dept("440100")


def test_national_requester_is_approved_by_another_national_approver(tree) -> None:
    from xueji.regions.models import OrgUnit

    nation = OrgUnit.objects.get(level="national")
    requester = f.user(Role.DEPT_REGISTRAR, nation)
    other = f.user(Role.APPROVER, nation)
    export = create(requester, nation, source="statistics", fields=["region"])
    assert export.approving_unit == nation
    with pytest.raises(Forbidden) as exc:
        services.export_approve(actor=requester, export_id=export.pk, second_factor=True)
    assert exc.value.code == "self_approval"
    assert (
        services.export_approve(actor=other, export_id=export.pk, second_factor=True).state == State.APPROVED
    )


def test_self_approval_is_refused_even_with_approving_rights(school_a, tree) -> None:
    """A county registrar who also approves at the city cannot approve their own county request."""
    both = f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="both")
    from xueji.accounts.models import RoleGrant

    RoleGrant.objects.create(user=both, role=Role.APPROVER, org_unit=f.dept("440100"))
    export = create(both, f.dept("440105"))
    with pytest.raises(Forbidden) as exc:
        services.export_approve(actor=both, export_id=export.pk, second_factor=True)
    assert exc.value.code == "self_approval"
    assert not queries.worklist(viewer=both).exists()
    export.refresh_from_db()
    assert export.state == State.SUBMITTED and export.approver is None


def test_approval_signs_records_and_queues_the_build(registrar_a, school_a, county_approver) -> None:
    export = create(registrar_a, school_a.org)
    approved = services.export_approve(
        actor=county_approver, export_id=export.pk, second_factor=True, note="同意"
    )
    approved.refresh_from_db()
    assert approved.state == State.APPROVED and approved.approver == county_approver
    assert approved.pseudonym_key and len(bytes(approved.pseudonym_key)) == 32
    assert DBTaskResult.objects.filter(task_path="xueji.exports.tasks.build_export").count() == 1
    assert services.approval_verify(approved)
    record = approved.signed_record
    assert (
        record["approver"]["id"] == county_approver.pk and record["document_number"] == "海府函〔2026〕12号"
    )
    assert record["fields"] == ["gender", "birth_date", "grade"] and record["identified"] is False
    keys = signing.public_keys()
    message = services.canonical(record)
    assert keys[approved.signature_kids["sm2"]].verify(message, bytes.fromhex(approved.signature_sm2))
    assert keys[approved.signature_kids["ed25519"]].verify(message, bytes.fromhex(approved.signature_ed25519))
    event = AuditEvent.objects.get(event_type="export.approved")
    assert event.actor_id == county_approver.pk and event.subject_id == str(export.pk)
    # decided once: a second decision conflicts
    with pytest.raises(Conflict):
        services.export_reject(actor=county_approver, export_id=export.pk, second_factor=True, note="不同意")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fields", ["gender", "birth_date", "grade", "name"]),
        ("purpose", "另作他用"),
        ("recipient", "某公司"),
        ("document_number", "海府函〔2026〕13号"),
        ("period_end", None),
        ("approved_identified", True),
        ("filters", {"school": "", "grade": 2, "class_name": ""}),
    ],
)
def test_signature_fails_when_the_record_is_altered(
    registrar_a, school_a, county_approver, field, value
) -> None:
    export = create(registrar_a, school_a.org)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    export.refresh_from_db()
    assert services.approval_verify(export)
    if field == "period_end":
        value = export.period_end + timedelta(days=365)
    ExportRequest.objects.filter(pk=export.pk).update(**{field: value})
    export.refresh_from_db()
    assert not services.approval_verify(export)


def test_signature_fails_with_a_forged_signature_or_unknown_key(
    registrar_a, school_a, county_approver
) -> None:
    export = create(registrar_a, school_a.org)
    services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    export.refresh_from_db()
    sig = bytearray(bytes.fromhex(export.signature_sm2))
    sig[5] ^= 1
    ExportRequest.objects.filter(pk=export.pk).update(signature_sm2=sig.hex())
    export.refresh_from_db()
    assert not services.approval_verify(export)
    ExportRequest.objects.filter(pk=export.pk).update(signature_sm2="zz")
    export.refresh_from_db()
    assert not services.approval_verify(export)
    ExportRequest.objects.filter(pk=export.pk).update(signature_kids={"ed25519": "x", "sm2": "y"})
    export.refresh_from_db()
    assert not services.approval_verify(export)
    unsigned = create(registrar_a, school_a.org)
    assert not services.approval_verify(unsigned)


def test_approval_refused_without_signing_keys(
    settings, tmp_path, registrar_a, school_a, county_approver
) -> None:
    export = create(registrar_a, school_a.org)
    settings.AUDIT_CHAIN_KEY_DIR = tmp_path / "none"
    with pytest.raises(ApplicationError):
        services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    export.refresh_from_db()
    assert export.state == State.SUBMITTED and not export.signature_sm2
    assert not DBTaskResult.objects.exists()


@pytest.mark.mfa
def test_approval_without_a_verified_second_factor_is_refused(registrar_a, school_a, county_approver) -> None:
    export = create(registrar_a, school_a.org)
    for decide in (
        lambda: services.export_approve(actor=county_approver, export_id=export.pk, second_factor=False),
        lambda: services.export_reject(
            actor=county_approver, export_id=export.pk, second_factor=False, note="否"
        ),
    ):
        with pytest.raises(Forbidden) as exc:
            decide()
        assert exc.value.code == "second_factor_required"
    export.refresh_from_db()
    assert export.state == State.SUBMITTED and export.approver is None
    assert not AuditEvent.objects.filter(event_type__in=["export.approved", "export.rejected"]).exists()
    assert (
        services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True).state
        == "approved"
    )


def test_approval_after_the_period_is_refused(registrar_a, school_a, county_approver) -> None:
    export = create(registrar_a, school_a.org)
    ExportRequest.objects.filter(pk=export.pk).update(
        period_start=timezone.localdate() - timedelta(days=10),
        period_end=timezone.localdate() - timedelta(days=1),
    )
    with pytest.raises(FieldError) as exc:
        services.export_approve(actor=county_approver, export_id=export.pk, second_factor=True)
    assert exc.value.code == "export_period_over"
    export.refresh_from_db()
    assert export.state == State.SUBMITTED


def test_reject_needs_a_reason_and_is_audited(registrar_a, school_a, county_approver) -> None:
    export = create(registrar_a, school_a.org)
    with pytest.raises(FieldError):
        services.export_reject(actor=county_approver, export_id=export.pk, second_factor=True, note=" ")
    rejected = services.export_reject(
        actor=county_approver, export_id=export.pk, second_factor=True, note="依据不足"
    )
    assert rejected.state == State.REJECTED and rejected.decision_note == "依据不足"
    assert AuditEvent.objects.filter(event_type="export.rejected", actor_id=county_approver.pk).exists()
    with pytest.raises(NotFound):
        services.export_approve(actor=county_approver, export_id="not-a-uuid", second_factor=True)


def test_draft_then_submit(registrar_a, school_a, county_approver, registrar_b) -> None:
    draft = create(registrar_a, school_a.org, submit=False)
    assert draft.state == State.DRAFT and not queries.worklist(viewer=county_approver).exists()
    with pytest.raises(NotFound):
        services.export_submit(actor=registrar_b, export=draft)
    with pytest.raises(Conflict):
        services.export_approve(actor=county_approver, export_id=draft.pk, second_factor=True)
    ExportRequest.objects.filter(pk=draft.pk).update(
        period_end=timezone.localdate() - timedelta(days=1),
        period_start=timezone.localdate() - timedelta(days=2),
    )
    with pytest.raises(FieldError):
        services.export_submit(actor=registrar_a, export=draft)
    ExportRequest.objects.filter(pk=draft.pk).update(period_end=timezone.localdate())
    submitted = services.export_submit(actor=registrar_a, export=draft)
    assert submitted.state == State.SUBMITTED
    assert AuditEvent.objects.filter(event_type="export.submitted").count() == 1
    with pytest.raises(Conflict):
        services.export_submit(actor=registrar_a, export=submitted)


def test_viewers(registrar_a, registrar_b, school_a, county_approver) -> None:
    export = create(registrar_a, school_a.org)
    assert queries.export_get(viewer=county_approver, export_id=export.pk) == export
    with pytest.raises(NotFound):
        queries.export_get(viewer=registrar_b, export_id=export.pk)
    with pytest.raises(NotFound):
        queries.own_export(viewer=county_approver, export_id=export.pk)
    with pytest.raises(NotFound):
        queries.export_get(viewer=registrar_a, export_id="nope")
