"""The public verification pages (no login): a certificate's page (its QR code leads here), the check of an
uploaded credential, and the machine-readable issuer key sets and status lists.

Every answer is one of the closed set valid / revoked / expired / bad-signature / unknown-issuer. A page shows a
masked name, the school, the kind and dates — never an ID number or 学籍号 (第24条).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from . import limits, presenters, services
from .enums import Result
from .forms import VerifyForm
from .models import Certificate, StatusList
from .verifier import loads_untrusted

BADGE = {
    Result.VALID: "ok",
    Result.REVOKED: "bad",
    Result.EXPIRED: "warn",
    Result.BAD_SIGNATURE: "bad",
    Result.UNKNOWN_ISSUER: "bad",
}


def _limited(request: HttpRequest, exc: limits.VerifyRateLimited) -> HttpResponse:
    """429: the verification form with the refusal (the check did not run)."""
    response = render(
        request, "certificates/public_verify.html", {"form": VerifyForm(), "limited": exc.message}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _result_page(
    request: HttpRequest, result: str, certificate: Certificate | None, *, form: VerifyForm | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "result": result,
        "result_label": Result(result).label,
        "badge": BADGE[Result(result)],
        "summary": presenters.public_summary(certificate) if certificate is not None else None,
        "form": form,
    }
    response = render(request, "certificates/public_result.html", context)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def certificate_page(request: HttpRequest, certificate_id: Any) -> HttpResponse:
    try:
        limits.hit(request)
    except limits.VerifyRateLimited as exc:
        return _limited(request, exc)
    certificate = services.certificate_by_id(certificate_id)
    if certificate is None:
        raise Http404
    verification = services.verify_online(certificate.credential)
    return _result_page(request, verification.result, certificate)


@require_GET
def qr_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        limits.hit(request)
    except limits.VerifyRateLimited as exc:
        return _limited(request, exc)
    try:
        verification, certificate = services.verify_qr_online(token)
    except services.NotFound:
        raise Http404 from None
    return _result_page(request, verification.result, certificate)


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    """Paste or upload a credential: the online check; a stored certificate's summary only when the document is
    the one issued (otherwise nothing about any student is shown)."""
    if request.method == "GET":
        return render(request, "certificates/public_verify.html", {"form": VerifyForm()})
    try:
        limits.hit(request)
    except limits.VerifyRateLimited as exc:
        return _limited(request, exc)
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "certificates/public_verify.html", {"form": form}, status=400)
    try:
        text = form.document_text()
    except Exception as exc:
        form.add_error("file", str(getattr(exc, "message", exc)))
        return render(request, "certificates/public_verify.html", {"form": form}, status=400)
    if not text.strip():
        form.add_error("text", _("请上传证书文件或粘贴证书内容"))
        return render(request, "certificates/public_verify.html", {"form": form}, status=400)
    try:
        document = loads_untrusted(text)
    except ValueError:  # not JSON, nested too deep, duplicate member names: reads bad-signature
        document = None
    verification = services.verify_online(document)
    certificate = None
    if verification.result != Result.BAD_SIGNATURE and verification.credential_id:
        cid = verification.credential_id.rsplit("/", 1)[-1]
        stored = services.certificate_by_id(cid)
        if stored is not None and stored.credential == document:
            certificate = stored
    return _result_page(request, verification.result, certificate, form=VerifyForm())


def _json(data: Any) -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def status_list_view(request: HttpRequest, province_code: str, number: int) -> JsonResponse:
    status_list = StatusList.objects.filter(province_code=province_code, number=number).first()
    if status_list is None or not status_list.credential:
        raise Http404
    return _json(status_list.credential)


@require_GET
def issuer_view(request: HttpRequest, province_code: str) -> JsonResponse:
    keys = services.key_set([province_code])
    if not keys["issuers"]:
        raise Http404
    return _json(keys["issuers"][0])


@require_GET
def key_set_view(request: HttpRequest) -> JsonResponse:
    """The pinned key set of every issuer, for the offline verifier (``--keys keys.json``)."""
    return _json(services.key_set())
