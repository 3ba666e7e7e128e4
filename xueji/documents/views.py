"""Print views and PDFs: a student's 学籍卡 (学生登记表) and a transfer's 转学申请表 (联系函).

- Scope: exactly the record page's and the request page's checks — student-data roles only, the record
  through :func:`xueji.students.queries.enrollment_get`, the request through
  :func:`xueji.changes.queries.change_get`; outside the viewer's jurisdiction → 404 and nothing is written
  (第5、23条). A request of a kind without a printable form is a 404 as well.
- Each print view and each PDF is an audited read (:mod:`xueji.documents.services`, 第24条), written after the
  document was produced.
- Rate limits (issue #6 §3.10): a 学籍卡 shows full identifiers, so it counts as a reveal; a change form as a
  page read (``list``); every PDF also counts in ``print`` (WeasyPrint layout is CPU work). One record per
  request: nothing here prints in bulk.
- The PDF is the print view's own template rendered by WeasyPrint (``pdf`` in the context drops the screen
  toolbar); ``static/css/print.css`` lays out A4 for both.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from xueji.accounts.auth import actor_of
from xueji.accounts.jurisdiction import require_student_roles
from xueji.changes.queries import change_get
from xueji.core.errors import NotFound
from xueji.core.ratelimit import ratelimit_hit
from xueji.core.web import ui_errors
from xueji.students.queries import enrollment_get

from .pdf import pdf_bytes
from .presenters import FORMS, card_context, change_form_context
from .services import Channel, card_print, change_form_print


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], channel: Channel, filename: str
) -> HttpResponse:
    html = render_to_string(template, {**context, "pdf": channel == "pdf"}, request=request)
    if channel == "html":
        response = HttpResponse(html)
    else:
        response = HttpResponse(pdf_bytes(html), content_type="application/pdf")
        # The file name carries no personal data (ids only), like the archive downloads.
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
    return response


def _card(request: HttpRequest, person_id: Any, channel: Channel) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    ratelimit_hit(user, "reveal")  # the card shows identifiers in full, like an audited reveal
    if channel == "pdf":
        ratelimit_hit(user, "print")
    enrollment = enrollment_get(viewer=user, person_id=person_id)
    card = card_context(user, enrollment)
    person_id = enrollment.person_id
    context = {
        **card.context,
        "back_url": reverse("students:detail", args=[person_id]),
        "pdf_url": reverse("documents:card_pdf", args=[person_id]),
    }
    response = _respond(request, "print/card.html", context, channel, f"xueji-card-{person_id}.pdf")
    card_print(actor=user, enrollment=enrollment, channel=channel, full_fields=card.full_fields)
    return response


@login_required
@require_GET
@ui_errors
def card_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """学籍卡 print view (HTML, A4 print stylesheet)."""
    return _card(request, person_id, "html")


@login_required
@require_GET
@ui_errors
def card_pdf_view(request: HttpRequest, person_id: Any) -> HttpResponse:
    """学籍卡 as a PDF download (the same template through WeasyPrint)."""
    return _card(request, person_id, "pdf")


def _change_form(request: HttpRequest, request_id: Any, channel: Channel) -> HttpResponse:
    user = actor_of(request)
    require_student_roles(user)
    ratelimit_hit(user, "list")
    if channel == "pdf":
        ratelimit_hit(user, "print")
    req = change_get(viewer=user, request_id=request_id)
    if req.kind not in FORMS:
        raise NotFound()
    context = {
        **change_form_context(user, req),
        "back_url": reverse("changes:detail", args=[req.pk]),
        "pdf_url": reverse("documents:change_form_pdf", args=[req.pk]),
    }
    response = _respond(request, "print/change_form.html", context, channel, f"xueji-{req.kind}-{req.pk}.pdf")
    change_form_print(actor=user, request=req, channel=channel)
    return response


@login_required
@require_GET
@ui_errors
def change_form_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """转学申请表 print view (HTML)."""
    return _change_form(request, request_id, "html")


@login_required
@require_GET
@ui_errors
def change_form_pdf_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """转学申请表 as a PDF download."""
    return _change_form(request, request_id, "pdf")
