"""Pages of the guardian mobile end (家长端, ``/m/``; 第5、13、15、16条). Phone-first htmx pages.

Signed in through :class:`~.middleware.GuardianSessionMiddleware` (``request.guardian``), never the staff
session. Every read of a child goes through the account's own links (another child → 404) and is audited.
Every POST carries the CSRF token (Django's middleware, as on every page).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xueji.core.errors import ApplicationError, NotFound
from xueji.core.htmx import is_htmx
from xueji.core.masking import mask_phone
from xueji.core.middleware import client_ip
from xueji.students.enums import StudentStatus

from . import forms as f
from . import limits, presenters, queries, services
from .enums import RequestKind, RequestState
from .limits import GuardianRateLimited
from .middleware import END

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "guardians"


def _limited(request: HttpRequest, exc: GuardianRateLimited) -> HttpResponse:
    response = render(request, "guardians/m/limited.html", {"message": exc.message}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


_NO_RETURN = ("/m/login/", "/m/logout/", "/m/captcha/")
#: The one return address outside /m/: the identity provider's pending authorisation (第24条, xueji/identity;
#: the request itself waits in the session, so this fixed path carries nothing).
PROVIDER_RETURN = "/o/authorize/continue/"


def safe_next(value: Any) -> str:
    """The page to return to after login: a same-origin path under ``/m/`` only (no scheme, no host, no
    ``//`` or backslash tricks, no control characters, not the login pages themselves), else ``""``.
    An open redirect would let a forged QR code send a signed-in guardian anywhere."""
    text = str(value or "")
    if text == PROVIDER_RETURN:
        return text
    if (
        not text.startswith("/m/")
        or len(text) > 300
        or "\\" in text
        or "//" in text
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in text)
        or text == "/m/"
        or text.startswith(_NO_RETURN)
        or not url_has_allowed_host_and_scheme(text, allowed_hosts=None)
    ):
        return ""
    return text


def _login_url(next_path: str) -> str:
    url = reverse("guardians_m:login")
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def guardian_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in guardians only (others go to the login page); NotFound → 404 without a hint, a rate limit →
    the 429 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if getattr(request, "guardian", None) is None:
            # Back to the page asked for after login (e.g. /m/bind/ from the slip's QR code; its #c= fragment
            # is kept by the browser in sessionStorage, m.js). Only GET pages are returned to.
            url = _login_url(safe_next(request.get_full_path()) if request.method == "GET" else "")
            if is_htmx(request):
                response = HttpResponse(status=200)
                response["HX-Redirect"] = url
                return response
            return HttpResponseRedirect(url)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except GuardianRateLimited as exc:
            return _limited(request, exc)

    return wrapper


def _login_page(
    request: HttpRequest, form: f.PhoneForm | None = None, status: int = 200, next_path: str = ""
) -> HttpResponse:
    """The phone + captcha form with a fresh captcha (a refused attempt keeps the number and its errors).
    Drawing captchas is limited per address (each is a row and a picture)."""
    try:
        limits.hit("captcha_ip", client_ip(request) or "")
    except GuardianRateLimited as exc:
        return _limited(request, exc)
    captcha = services.captcha_new()
    errors = form.errors if form is not None else {}
    phone = form.data.get("phone", "") if form is not None else ""
    fresh = f.PhoneForm(initial={"phone": phone, "captcha_id": str(captcha.pk)})
    context = {
        "form": fresh,
        "errors": errors,
        "general": errors.get("__all__", []),
        "captcha": captcha,
        "next": next_path,
    }
    return render(request, "guardians/m/login.html", context, status=status)


@require_GET
def login_view(request: HttpRequest) -> HttpResponse:
    next_path = safe_next(request.GET.get("next"))
    if getattr(request, "guardian", None) is not None:
        return HttpResponseRedirect(next_path or reverse("guardians_m:home"))
    return _login_page(request, next_path=next_path)


@require_GET
def captcha_refresh_view(request: HttpRequest) -> HttpResponse:
    """A new picture (htmx swaps the captcha fragment)."""
    try:
        limits.hit("captcha_ip", client_ip(request) or "")
    except GuardianRateLimited as exc:
        return _limited(request, exc)
    captcha = services.captcha_new()
    return render(request, "guardians/m/_captcha.html", {"captcha": captcha})


@require_GET
def captcha_image_view(request: HttpRequest, captcha_id: Any) -> HttpResponse:
    try:
        png = services.captcha_image(captcha_id)
    except NotFound as exc:
        raise Http404 from exc
    return HttpResponse(png, content_type="image/png")


@require_POST
def code_view(request: HttpRequest) -> HttpResponse:
    """Step 1: phone number + captcha → an SMS code is sent; the page asks for it."""
    form = f.PhoneForm(request.POST)
    next_path = safe_next(request.POST.get("next"))
    if not form.is_valid():
        return _login_page(request, form, status=400, next_path=next_path)
    try:
        phone = services.login_code_request(
            phone=form.cleaned_data["phone"],
            captcha_id=form.cleaned_data["captcha_id"],
            captcha_answer=form.cleaned_data["captcha"],
            ip=client_ip(request),
        )
    except GuardianRateLimited as exc:
        return _limited(request, exc)
    except ApplicationError as exc:
        f.refused(form, exc)
        return _login_page(request, form, status=400, next_path=next_path)
    verify = f.VerifyForm(initial={"phone": phone})
    context = {"form": verify, "masked": mask_phone(phone), "next": next_path}
    return render(request, "guardians/m/verify.html", context)


@require_POST
def verify_view(request: HttpRequest) -> HttpResponse:
    """Step 2: the SMS code → signed in: a new session and cookie (a session this browser still had ends),
    a new CSRF token (ASVS 7.2.4), then the page the guardian first asked for (``next``, checked)."""
    form = f.VerifyForm(request.POST)
    next_path = safe_next(request.POST.get("next"))
    context: dict[str, Any] = {
        "form": form,
        "masked": mask_phone(request.POST.get("phone", "")),
        "next": next_path,
    }
    if not form.is_valid():
        return render(request, "guardians/m/verify.html", context, status=400)
    try:
        signed = services.login_verify(
            phone=form.cleaned_data["phone"],
            code=form.cleaned_data["code"],
            ip=client_ip(request),
            previous=getattr(request, "guardian_session", None),
        )
    except GuardianRateLimited as exc:
        return _limited(request, exc)
    except ApplicationError as exc:
        f.refused(form, exc)
        return render(request, "guardians/m/verify.html", context, status=400)
    request.guardian_cookie = signed.cookie_value  # type: ignore[attr-defined]
    rotate_token(request)
    return HttpResponseRedirect(next_path or reverse("guardians_m:home"))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    session = getattr(request, "guardian_session", None)
    if session is not None:
        services.session_end(session=session)
    request.guardian_cookie = END  # type: ignore[attr-defined]
    return redirect("guardians_m:login")


@require_GET
@guardian_page
def home_view(request: HttpRequest) -> HttpResponse:
    account = request.guardian  # type: ignore[attr-defined]
    links = queries.links_of(account)
    notices = queries.notices_of(account)
    unread = [n.pk for n in notices if n.read_at is None]
    response = render(
        request, "guardians/m/home.html", {"links": links, "notices": notices, "unread": unread}
    )
    if unread:
        services.notices_read(account=account)
    return response


@require_http_methods(["GET", "POST"])
@guardian_page
def bind_view(request: HttpRequest) -> HttpResponse:
    """Bind a child with the school's binding code and the child's name, consenting (PIPL 第31条)."""
    form = f.BindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            link = services.link_bind(
                account=request.guardian,  # type: ignore[attr-defined]
                code=data["code"],
                child_name=data["child_name"],
                relation=data["relation"],
                guardian_name=data["guardian_name"],
                consent=bool(data["consent"]),
                ip=client_ip(request),
            )
        except GuardianRateLimited:
            raise
        except ApplicationError as exc:
            f.refused(form, exc)
        else:
            return redirect("guardians_m:child", link_id=link.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "guardians/m/bind.html", {"form": form}, status=status)


@require_GET
@guardian_page
def child_view(request: HttpRequest, link_id: Any) -> HttpResponse:
    """The child's record (identifiers masked), family, change history and the progress of every request."""
    account = request.guardian  # type: ignore[attr-defined]
    link = queries.link_get(account, link_id)
    enrollment = queries.enrollment_of(link)
    queries.child_viewed(account, link, enrollment, "学籍信息")
    changes = queries.change_requests_of(link)
    context = {
        "link": link,
        "enrollment": enrollment,
        "rows": presenters.record_rows(enrollment),
        "family": presenters.family_rows(queries.family_of(link)),
        "history": [(on, presenters.field_label(name)) for on, name in queries.field_history(link)],
        "changes": changes,
        "requests": queries.guardian_requests_of(link),
        "kinds": RequestKind.choices,
        "suspended": enrollment.status == StudentStatus.SUSPENDED,
    }
    return render(request, "guardians/m/child.html", context)


@require_http_methods(["GET", "POST"])
@guardian_page
def request_new_view(request: HttpRequest, link_id: Any, kind: str) -> HttpResponse:
    """A guardian's application: correction (第13条), transfer (第15条), 休学/复学 (第16条)."""
    if kind not in RequestKind.values:
        raise Http404
    account = request.guardian  # type: ignore[attr-defined]
    link = queries.link_get(account, link_id)
    data = request.POST if request.method == "POST" else None
    form: Any = (
        f.CorrectionForm(data, choices=presenters.correction_choices())
        if kind == RequestKind.CORRECTION
        else f.REQUEST_FORMS[kind](data)
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = services.request_submit(account=account, link=link, kind=kind, data=form.cleaned_data)
        except GuardianRateLimited:
            raise
        except ApplicationError as exc:
            f.refused(form, exc)
        else:
            return redirect("guardians_m:request", request_id=created.pk)
    context = {"link": link, "form": form, "kind": kind, "kind_label": RequestKind(kind).label}
    return render(
        request, "guardians/m/request_new.html", context, status=400 if request.method == "POST" else 200
    )


@require_GET
@guardian_page
def request_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    """A request's timeline: the guardian's and the school's entries, then the change's steps with deadlines."""
    account = request.guardian  # type: ignore[attr-defined]
    req = queries.guardian_request_get(account, request_id)
    queries.child_viewed(account, req.link, req.enrollment, "申请进度")
    context = {
        "req": req,
        "rows": presenters.payload_rows(req.kind, req.payload),
        "events": list(req.events.all()),
        "steps": queries.steps_of(req.change_request),
        "open": req.state == RequestState.SUBMITTED,
    }
    return render(request, "guardians/m/request.html", context)


@require_POST
@guardian_page
def request_withdraw_view(request: HttpRequest, request_id: Any) -> HttpResponse:
    account = request.guardian  # type: ignore[attr-defined]
    try:
        services.request_withdraw(account=account, request_id=request_id)
    except NotFound:
        raise
    except ApplicationError:
        pass  # already handled by the school: the page shows its state
    return redirect("guardians_m:request", request_id=request_id)


@require_GET
def privacy_view(request: HttpRequest) -> HttpResponse:
    """《儿童个人信息处理规则》 (PIPL 第31条; 《儿童个人信息网络保护规定》第8–10条)."""
    return render(request, "guardians/m/privacy.html")


@require_GET
def manifest_view(request: HttpRequest) -> HttpResponse:
    return render(request, "guardians/m/manifest.webmanifest", content_type="application/manifest+json")


@require_GET
def service_worker_view(request: HttpRequest) -> HttpResponse:
    """The service worker from ``static/guardians/sw.js``, served at ``/m/sw.js`` so that its scope is
    ``/m/``. It caches static files only, never a page (docs/guardians.md)."""
    body = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    body = body.replace("__STATIC_URL__", settings.STATIC_URL)
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/m/"
    return response
