"""Pages and API of approved exports (第24条): the request form prefilled from the roster and statistics pages,
out-of-scope units 404 with nothing written, the detail page with its timeline, the approver's worklist and
decision (second factor), the requester-only download (second factor, rate limit, audit)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.exports.conftest import basis
from tests.exports.helpers import approve_and_build, request
from tests.factories import core as f
from tests.factories.tasks import run_queued_tasks
from xueji.accounts.enums import Role
from xueji.audit.models import AuditEvent
from xueji.exports.enums import State
from xueji.exports.models import ExportRequest

pytestmark = pytest.mark.django_db
NEW = reverse("exports:new")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(unit: Any, source: str = "roster", **extra: Any) -> dict[str, Any]:
    data = {"source": source, "unit": unit.pk, **{k: str(v) for k, v in basis().items()}}
    data.update(extra)
    return data


def test_roster_page_prefills_the_request(registrar_a, school_a) -> None:
    client = logged_in(registrar_a)
    answer = client.post(reverse("imports:export_roster"), {"school": school_a.school_code})
    page = client.get(answer["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and f'<option value="{school_a.pk}" selected>' in html
    roster = client.get(
        reverse("imports:roster"), {"unit": school_a.pk, "columns": ["name", "gender"], "grade": "1"}
    )
    html = client.get(roster["Location"]).content.decode()
    assert re.search(r'name="fields_" value="name"[^>]*checked', html)
    assert not re.search(r'name="fields_" value="school"[^>]*checked', html)
    assert 'value="1" selected' in html


def test_statistics_page_prefills_the_request(county_registrar) -> None:
    client = logged_in(county_registrar)
    county = f.dept("440105")
    answer = client.get(reverse("statistics:export"), {"unit": county.pk, "by": "grade", "split": "gender"})
    html = client.get(answer["Location"]).content.decode()
    assert "学籍统计表" in html and f'<option value="{county.pk}" selected>' in html
    assert re.search(r'name="fields_" value="grade"[^>]*checked', html)
    assert re.search(r'name="fields_" value="gender"[^>]*checked', html)
    assert not re.search(r'name="fields_" value="ethnicity"[^>]*checked', html)
    flows = client.get(
        reverse("statistics:export_flows"), {"unit": county.pk, "from": "2026-01", "to": "2026-03"}
    )
    html = client.get(flows["Location"]).content.decode()
    assert 'value="2026-01"' in html and 'value="2026-03"' in html


def test_submit_the_form_files_a_request(registrar_a, school_a, county_approver) -> None:
    client = logged_in(registrar_a)
    answer = client.post(NEW, form_data(school_a.org, fields_=["gender", "grade"], action="submit"))
    export = ExportRequest.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("exports:detail", args=[export.pk])
    assert export.state == State.SUBMITTED and export.fields == ["gender", "grade"]
    detail = client.get(answer["Location"]).content.decode()
    assert "待审批" in detail and "海府函〔2026〕12号" in detail and "提交审批" in detail
    assert "export-approve" not in detail  # the requester does not decide
    listing = client.get(reverse("exports:list")).content.decode()
    assert reverse("exports:detail", args=[export.pk]) in listing
    worklist = logged_in(county_approver).get(reverse("exports:approvals")).content.decode()
    assert reverse("exports:detail", args=[export.pk]) in worklist


def test_form_errors_name_the_field_and_write_nothing(registrar_a, school_a) -> None:
    client = logged_in(registrar_a)
    missing = client.post(NEW, form_data(school_a.org, fields_=["gender"], document_number=""))
    assert missing.status_code == 400 and 'id="id_document_number-error"' in missing.content.decode()
    bad_level = client.post(NEW, form_data(school_a.org, fields_=["gender"], authority_level="township"))
    assert bad_level.status_code == 400
    outside = client.post(NEW, form_data(school_a.org, fields_=["gender", "home_address"]))
    assert outside.status_code == 400 and 'id="id_fields_-error"' in outside.content.decode()
    assert not ExportRequest.objects.exists()


def test_draft_then_submit_on_the_page(registrar_a, school_a) -> None:
    client = logged_in(registrar_a)
    client.post(NEW, form_data(school_a.org, fields_=["gender"], action="draft"))
    export = ExportRequest.objects.get()
    assert export.state == State.DRAFT
    assert client.post(reverse("exports:submit", args=[export.pk])).status_code == 302
    export.refresh_from_db()
    assert export.state == State.SUBMITTED
    again = client.post(reverse("exports:submit", args=[export.pk]))
    assert again.status_code == 409 and "只有草稿可以提交审批" in again.content.decode()


def test_out_of_scope_unit_is_404_on_the_form_and_api(registrar_a, school_b) -> None:
    client = logged_in(registrar_a)
    assert client.get(NEW, {"source": "roster", "unit": school_b.pk}).status_code == 404
    assert client.post(NEW, form_data(school_b.org, fields_=["gender"])).status_code == 404
    assert client.get(NEW, {"source": "nothing"}).status_code == 404
    body = {"source": "roster", "unit_id": school_b.pk, "fields": ["gender"], **_api_basis()}
    assert client.post("/api/v1/exports/", body, content_type="application/json").status_code == 404
    assert not ExportRequest.objects.exists()
    assert not AuditEvent.objects.filter(event_type__startswith="export.").exists()


def test_admins_have_no_export_pages(tree) -> None:
    admin = logged_in(f.user(Role.SYSTEM_ADMIN, f.dept("440000")))
    assert admin.get(reverse("exports:list")).status_code == 404
    assert admin.get(NEW).status_code == 404
    assert admin.get(reverse("exports:approvals")).status_code == 404


def test_approve_on_the_page_then_download(registrar_a, school_a, county_approver, pupils) -> None:
    export = request(registrar_a, school_a.org, fields=["gender", "grade"])
    approver = logged_in(county_approver)
    page = approver.get(reverse("exports:detail", args=[export.pk])).content.decode()
    assert "export-approve" in page
    assert approver.post(reverse("exports:approve", args=[export.pk]), {"note": "同意"}).status_code == 302
    assert run_queued_tasks() == ["SUCCESSFUL"]
    export.refresh_from_db()
    assert export.state == State.READY
    page = approver.get(reverse("exports:detail", args=[export.pk])).content.decode()
    assert "签名有效" in page and "export-download" not in page  # the approver never gets the file
    assert approver.get(reverse("exports:download", args=[export.pk])).status_code == 404
    requester = logged_in(registrar_a)
    detail = requester.get(reverse("exports:detail", args=[export.pk])).content.decode()
    assert "export-download" in detail and "文件已生成" in detail
    answer = requester.get(reverse("exports:download", args=[export.pk]))
    assert answer.status_code == 200 and b"".join(answer.streaming_content).startswith(b"PK")
    assert AuditEvent.objects.filter(event_type="export.downloaded", actor_id=registrar_a.pk).count() == 1


def test_reject_on_the_page_needs_a_reason(registrar_a, school_a, county_approver) -> None:
    export = request(registrar_a, school_a.org)
    approver = logged_in(county_approver)
    refused = approver.post(reverse("exports:reject", args=[export.pk]), {"note": ""})
    assert refused.status_code == 400 and "不批准时须说明理由" in refused.content.decode()
    assert approver.post(reverse("exports:reject", args=[export.pk]), {"note": "依据不足"}).status_code == 302
    export.refresh_from_db()
    assert export.state == State.REJECTED
    self_try = logged_in(registrar_a).post(reverse("exports:approve", args=[export.pk]))
    assert self_try.status_code == 403


def test_downloads_are_rate_limited(registrar_a, school_a, county_approver, pupils, settings) -> None:
    export, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    settings.XUEJI_RATE_LIMITS = {**settings.XUEJI_RATE_LIMITS, "export": (1, 86400)}
    client = logged_in(registrar_a)
    assert client.get(reverse("exports:download", args=[export.pk])).status_code == 200
    refused = client.get(reverse("exports:download", args=[export.pk]))
    assert refused.status_code == 429
    assert AuditEvent.objects.filter(event_type="export.downloaded").count() == 1


def test_expired_download_on_the_page(registrar_a, school_a, county_approver, pupils) -> None:
    from datetime import timedelta

    from django.utils import timezone

    export, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    ExportRequest.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    answer = logged_in(registrar_a).get(reverse("exports:download", args=[export.pk]))
    assert answer.status_code == 410 and "已过期" in answer.content.decode()


@pytest.mark.mfa
def test_pages_send_to_the_second_factor(registrar_a, school_a, county_approver, pupils) -> None:
    export, _key = approve_and_build(request(registrar_a, school_a.org, fields=["gender"]), county_approver)
    download = logged_in(registrar_a).get(reverse("exports:download", args=[export.pk]))
    assert download.status_code == 302 and download["Location"].startswith("/mfa/setup/")
    other = request(registrar_a, school_a.org)
    approve = logged_in(county_approver).post(reverse("exports:approve", args=[other.pk]))
    assert approve.status_code == 302 and "/mfa/" in approve["Location"]
    other.refresh_from_db()
    assert other.state == State.SUBMITTED
    assert not AuditEvent.objects.filter(event_type="export.downloaded").exists()


# ------------------------------------------------------------------------------------------ API
def _api_basis() -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in basis().items()}


def test_api_request_decide_verify_download(registrar_a, school_a, county_approver, pupils) -> None:
    requester = logged_in(registrar_a)
    body = {"source": "roster", "unit_id": school_a.pk, "fields": ["gender"], **_api_basis()}
    created = requester.post("/api/v1/exports/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    export_id = created.json()["id"]
    assert created.json()["state"] == "submitted"
    assert requester.get("/api/v1/exports/").json()["count"] == 1
    approver = logged_in(county_approver)
    assert approver.get("/api/v1/exports/approvals").json()["results"][0]["id"] == export_id
    self_try = requester.post(f"/api/v1/exports/{export_id}/approve", {}, content_type="application/json")
    assert self_try.status_code == 403 and self_try.json()["code"] == "self_approval"
    ok = approver.post(
        f"/api/v1/exports/{export_id}/approve", {"note": "同意"}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    signature = approver.get(f"/api/v1/exports/{export_id}/signature").json()
    assert signature["valid"] is True and signature["record"]["request"] == export_id
    run_queued_tasks()
    assert requester.get(f"/api/v1/exports/{export_id}").json()["state"] == "ready"
    assert approver.get(f"/api/v1/exports/{export_id}/file").status_code == 404
    file = requester.get(f"/api/v1/exports/{export_id}/file")
    assert file.status_code == 200 and b"".join(file.streaming_content).startswith(b"PK")
    assert requester.post(f"/api/v1/exports/{export_id}/submit").status_code == 409


def test_api_refuses_mass_assignment_and_bad_input(registrar_a, school_a) -> None:
    client = logged_in(registrar_a)
    body = {
        "source": "roster",
        "unit_id": school_a.pk,
        "fields": ["gender"],
        **_api_basis(),
        "state": "approved",
    }
    assert client.post("/api/v1/exports/", body, content_type="application/json").status_code == 422
    body.pop("state")
    body["document_number"] = ""
    refused = client.post("/api/v1/exports/", body, content_type="application/json")
    assert refused.status_code == 400 and "document_number" in refused.json()["fields"]
    draft = client.post(
        "/api/v1/exports/",
        {**body, "document_number": "x号", "submit": False},
        content_type="application/json",
    )
    assert draft.json()["state"] == "draft"
    submitted = client.post(f"/api/v1/exports/{draft.json()['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"
    rejected = client.post(
        f"/api/v1/exports/{draft.json()['id']}/reject", {"note": "x"}, content_type="application/json"
    )
    assert rejected.status_code == 403
