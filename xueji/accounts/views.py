"""Login, logout, password change, and the account-management pages of system and security admins.

Login messages and user enumeration (ASVS 6.3.8): an unknown username, a wrong password, a deactivated
account and a sealed account with a wrong password all get the same message, status and page, and all run
the password hasher once (Django's ModelBackend hashes even for unknown names), so they cannot be told
apart. Only when the password is *right* for a sealed account do we say that it is sealed (第24条) and whom
to ask: the message then goes to someone who has proved knowledge of the credential, it reveals nothing to
a guesser, it spares the holder a pointless password reset, and the attempt is recorded as a failed login
that security admins see. Failures count towards the django-axes lockout on username + IP (ASVS 6.3.1):
another address can still log in, so nobody can lock a victim out from elsewhere.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as N_
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from xueji.core.errors import ApplicationError, Forbidden, NotFound

from . import factors, passwords, queries, services
from .auth import actor_of
from .enums import ADMIN_ROLES, STUDENT_DATA_ROLES, Role
from .forms import (
    FilingForm,
    LoginForm,
    PasswordChangeForm,
    RoleGrantForm,
    SealForm,
    UserCreateForm,
    UserFilterForm,
)
from .jurisdiction import all_grants, data_grants, roles
from .middleware import SESSION_IDLE, SESSION_LOGIN_AT, SESSION_SEEN_AT, end_keeping_cookie
from .models import User
from .session_clock import leave_unrenewed, session_clock

# Marked for the catalogue (N_) and translated where they are shown (`_()` below).
GENERIC_LOGIN_ERROR = N_("用户名或密码错误")
SEALED_LOGIN_ERROR = N_("账号已封存（半年以上未使用，第二十四条），请联系安全管理员解封")
REASONS = {
    "sealed": gettext_lazy("账号已封存，会话已结束。请联系安全管理员解封（第二十四条）"),
    "inactive": gettext_lazy("账号已停用，会话已结束"),
    "expired": gettext_lazy("会话已超过最长时限，请重新登录"),
    "idle": gettext_lazy("登录超时，请重新登录（长时间未操作，会话已结束）"),
    "timeout": gettext_lazy("登录超时，请重新登录"),
}


TEMPORARY_SPENT_ERROR = N_("一次性临时密码已使用或已失效，请联系系统管理员重新申请重置密码")


def _spend_temporary_credential(user: User) -> bool:
    """False when the login uses a reset's one-time password a second time or after it expired."""
    try:
        services.temporary_login(user=user)
    except Forbidden:
        return False
    return True


def _tell_about_resets(request: HttpRequest, user: User) -> None:
    """issue #6 §3.4: the holder is told at login who reset the password and when (once per reset)."""
    for reset in services.reset_notices_take(user=user):
        messages.warning(
            request,
            _(
                "您的密码曾于 %(when)s 被重置：由系统管理员 %(requester)s 申请、安全管理员 %(confirmer)s 确认。"
                "如非本人申请，请立即联系安全管理员。"
            )
            % {
                "when": f"{timezone.localtime(reset.confirmed_at):%Y-%m-%d %H:%M}",
                "requester": _who(reset.requested_by),
                "confirmer": _who(reset.confirmed_by),
            },
        )


def _who(user: User | None) -> str:
    if user is None:
        return "system"
    return f"{user.display_name}（{user.username}）" if user.display_name else user.username


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


def admin_idle_seconds() -> int:
    """Idle limit for the three admin roles (security.md §1.1: 15 minutes), never longer than everyone's."""
    return min(int(getattr(settings, "ADMIN_SESSION_IDLE_SECONDS", 15 * 60)), settings.SESSION_COOKIE_AGE)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """第24条 / 等保 CES1-01..02: authenticate, count failures (axes), refuse sealed accounts, audit."""
    if request.method == "GET" and request.user.is_authenticated:
        return HttpResponseRedirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    reason = REASONS.get(request.GET.get("reason", ""), "")
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware replaces this response with accounts/locked.html (429).
            services.login_failed_recorded(username=username, reason="连续失败次数过多，已临时锁定")
            form.add_error(None, _(GENERIC_LOGIN_ERROR))
            status = 429
        elif user is None:
            services.login_failed_recorded(username=username, reason="用户名或密码错误")
            form.add_error(None, _(GENERIC_LOGIN_ERROR))
        elif user.sealed_at is not None:
            services.login_failed_recorded(username=username, reason="账号已封存", user=user)
            form.add_error(None, _(SEALED_LOGIN_ERROR))
        elif not _spend_temporary_credential(user):
            # issue #6 §3.4: a reset's one-time password works for one login only, and not after it expired.
            services.login_failed_recorded(
                username=username, reason=services.TEMPORARY_CREDENTIAL_SPENT, user=user
            )
            form.add_error(None, _(TEMPORARY_SPENT_ERROR))
        else:
            login(request, user)  # rotates the session key (ASVS 7.2.4) and stamps last_login
            _tell_about_resets(request, user)
            request.session[SESSION_LOGIN_AT] = request.session[SESSION_SEEN_AT] = time.time()
            if roles(user) & ADMIN_ROLES:
                request.session[SESSION_IDLE] = admin_idle_seconds()
            services.login_recorded(user=user, channel="web")
            if passwords.change_required(user):
                return HttpResponseRedirect(reverse("accounts:password_change"))
            return HttpResponseRedirect(_safe_next(request))
    return render(
        request,
        "accounts/login.html",
        {"form": form, "reason": reason, "next": _safe_next(request)},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Logout flushes the server-side session (等保 剩余信息保护); POST only, so no cross-site GET logs out."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        services.logout_recorded(user=user)
    logout(request)
    return HttpResponseRedirect(settings.LOGOUT_REDIRECT_URL)


@never_cache
@require_GET
def session_status_view(request: HttpRequest) -> JsonResponse:
    """GET: how long this session has left (session_clock.py), for the page's timeout warning.

    Reading it is not activity: the session is not saved (``SESSION_SAVE_EVERY_REQUEST`` would renew its
    expiry) and the middleware does not stamp ``SESSION_SEEN_AT``, so a page left open still times out.
    A session whose time is up ends here (its row may outlive the clock by the time a response took), so
    that "重新登录" finds the user signed out; the cookie stays, so the next request says "登录超时"."""
    leave_unrenewed(request)
    if not request.user.is_authenticated:
        return JsonResponse({"active": False})
    clock = session_clock(request)
    if clock.remaining <= 0:
        end_keeping_cookie(request)
    return JsonResponse(clock.as_json())


@never_cache
@require_POST
def session_keepalive_view(request: HttpRequest) -> JsonResponse:
    """POST (CSRF-checked): "继续使用". An ordinary signed-in request renews the session and restarts the
    idle clock (middleware); answers the new clock. Without a session: 401 ``{"active": false}``."""
    if not request.user.is_authenticated:
        return JsonResponse({"active": False}, status=401)
    return JsonResponse(session_clock(request).as_json())


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    """第24条 定期更改密码: the holder changes their own password; other sessions end, this one continues."""
    user = actor_of(request)
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                actor=user,
                user=user,
                old=form.cleaned_data["old_password"],
                new=form.cleaned_data["new_password1"],
            )
        except ApplicationError as exc:
            form.attach_errors(exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("密码已修改"))
            return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
    reset = services.current_reset(user) if user.must_change_password else None
    if reset is not None and reset.confirmed_at is not None:
        why = _(
            "您的密码已于 %(when)s 被重置（系统管理员 %(requester)s 申请、安全管理员 %(confirmer)s 确认）。"
            "您正在使用一次性临时密码，请先设置自己的密码；如非本人申请，请立即联系安全管理员。"
        ) % {
            "when": f"{timezone.localtime(reset.confirmed_at):%Y-%m-%d %H:%M}",
            "requester": _who(reset.requested_by),
            "confirmer": _who(reset.confirmed_by),
        }
    elif user.must_change_password:
        why = _("您正在使用一次性临时密码，请先设置自己的密码")
    elif passwords.password_expired(user):
        why = _("密码已超过 %(days)d 天未修改，请先修改密码（第二十四条 定期更改密码）") % {
            "days": settings.PASSWORD_MAX_AGE_DAYS
        }
    else:
        why = ""
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "why": why},
        status=400 if form.is_bound and form.errors else 200,
    )


# -------------------------------------------------------------------------------------------------------------
# account management (system admin, security admin; filed department registrars for filings)


def _require_viewer(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated or not queries.can_view_accounts(user):
        raise PermissionDenied(_("只有系统管理员、安全管理员可以管理账号"))
    return user


def _require_role(viewer: User, *allowed: str) -> None:
    """三权分立 (issue 11 §6): an action of another console is refused (403) before its form is read."""
    if not roles(viewer) & set(allowed):
        raise PermissionDenied(_("此操作不属于您的职责（三权分立）"))


def _get_user(viewer: User, pk: Any) -> User:
    try:
        return queries.user_get(viewer=viewer, user_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _capabilities(viewer: User, target: User) -> dict[str, bool]:
    mine = roles(viewer)
    target_roles = {g.role for g in target.grants.all()}
    target_admin = bool(target_roles & ADMIN_ROLES)
    is_self = viewer.pk == target.pk
    dept_units = {g.org_unit_id for g in data_grants(viewer) if g.role == Role.DEPT_REGISTRAR}
    return {
        "can_seal": bool(mine & {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN})
        and not target.is_sealed
        and not target_admin
        and not is_self,
        "can_unseal": Role.SECURITY_ADMIN in mine and target.is_sealed and not is_self,
        "can_reset": Role.SYSTEM_ADMIN in mine and not target_admin and not is_self,
        "can_confirm_reset": Role.SECURITY_ADMIN in mine and not target_admin and not is_self,
        "can_grant": Role.SECURITY_ADMIN in mine and not is_self,
        "can_reset_factor": Role.SECURITY_ADMIN in mine and not is_self and factors.has_factor(target),
        "can_file": (Role.SYSTEM_ADMIN in mine or bool(dept_units))
        and not is_self
        and bool(target_roles & STUDENT_DATA_ROLES),
    }


def _detail(
    request: HttpRequest, viewer: User, target: User, status: int = 200, **forms: Any
) -> HttpResponse:
    filing = queries.filing_of(target)
    initial = {}
    if filing is not None:
        initial = {
            "filed_with_code": filing.filed_with.code,
            "filed_on": filing.filed_on,
            "filing_reference": filing.filing_reference,
            "trained_on": filing.trained_on,
            "training_course": filing.training_course,
        }
    context = {
        "target": target,
        "grants": list(target.grants.all()),
        "filing": filing,
        "filed_and_trained": filing is not None and filing.trained_on is not None,
        "grant_form": forms.get("grant_form") or RoleGrantForm(),
        "filing_form": forms.get("filing_form") or FilingForm(initial=initial),
        "seal_form": forms.get("seal_form") or SealForm(),
        "pending_reset": queries.pending_reset(target),
        **_capabilities(viewer, target),
    }
    return render(request, "accounts/user_detail.html", context, status=status)


def _service_error(exc: ApplicationError) -> None:
    if isinstance(exc, NotFound):
        raise Http404(exc.message) from exc
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from exc


@login_required
def user_list_view(request: HttpRequest) -> HttpResponse:
    viewer = _require_viewer(request)
    form = UserFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    page = Paginator(queries.user_list(viewer=viewer, **filters), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/user_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_create": Role.SYSTEM_ADMIN in roles(viewer),
            "pending_resets": list(queries.pending_resets(viewer=viewer)[:50])
            if Role.SECURITY_ADMIN in roles(viewer)
            else [],
        },
    )


@login_required
def user_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    return _detail(request, viewer, _get_user(viewer, pk))


@login_required
def user_create_view(request: HttpRequest) -> HttpResponse:
    viewer = _require_viewer(request)
    if Role.SYSTEM_ADMIN not in roles(viewer):
        raise PermissionDenied(_("只有系统管理员可以创建账号"))
    own = [g.org_unit for g in all_grants(viewer) if g.role == Role.SYSTEM_ADMIN]
    form = UserCreateForm(request.POST or None, initial={"org_code": own[0].code if own else ""})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            unit = queries.org_unit_by_code(viewer=viewer, code=data["org_code"])
            user = services.user_create(
                actor=viewer,
                username=data["username"],
                display_name=data["display_name"],
                phone=data["phone"],
                org_unit=unit,
            )
        except ApplicationError as exc:
            _service_error(exc)
            form.attach_errors(exc)
        else:
            return render(
                request,
                "accounts/temp_password.html",
                {
                    "target": user,
                    "password": user.temporary_password,  # type: ignore[attr-defined]
                    "created": True,
                },
            )
    return render(
        request,
        "accounts/user_create.html",
        {"form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@require_POST
@login_required
def user_seal_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    _require_role(viewer, Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN)
    target = _get_user(viewer, pk)
    form = SealForm(request.POST)
    if form.is_valid():
        try:
            services.account_seal(actor=viewer, user=target, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            _service_error(exc)
            form.attach_errors(exc)
        else:
            messages.success(request, _("账号已封存"))
            return redirect("accounts:user_detail", pk=target.pk)
    return _detail(request, viewer, target, status=400, seal_form=form)


@require_POST
@login_required
def user_unseal_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    target = _get_user(viewer, pk)
    try:
        services.account_unseal(actor=viewer, user=target)
    except ApplicationError as exc:
        _service_error(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("账号已解封"))
    return redirect("accounts:user_detail", pk=target.pk)


@require_POST
@login_required
def user_reset_password_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A system admin resets a password. For an account that reads student data this only files a request
    that a security admin must confirm (issue #6 §3.4, maker–checker): no password is shown here."""
    viewer = _require_viewer(request)
    target = _get_user(viewer, pk)
    try:
        if services.reads_student_data(target):
            services.password_reset_request(actor=viewer, user=target)
            messages.success(request, _("已提交重置密码申请，待安全管理员确认后生成一次性临时密码"))
            return redirect("accounts:user_detail", pk=target.pk)
        temp = services.password_reset(actor=viewer, user=target)
    except ApplicationError as exc:
        _service_error(exc)
        messages.error(request, exc.message)
        return redirect("accounts:user_detail", pk=target.pk)
    return render(
        request, "accounts/temp_password.html", {"target": target, "password": temp, "created": False}
    )


@require_POST
@login_required
def reset_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A security admin confirms a pending reset; the one-time password is shown once, to them."""
    viewer = _require_viewer(request)
    try:
        reset = queries.reset_get(viewer=viewer, reset_id=pk)
        reset, temp = services.password_reset_confirm(actor=viewer, reset=reset)
    except ApplicationError as exc:
        _service_error(exc)
        messages.error(request, exc.message)
        return redirect("accounts:users")
    return render(
        request,
        "accounts/temp_password.html",
        {"target": reset.user, "password": temp, "created": False, "reset": reset},
    )


@require_POST
@login_required
def grant_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    _require_role(viewer, Role.SECURITY_ADMIN)
    target = _get_user(viewer, pk)
    form = RoleGrantForm(request.POST)
    if form.is_valid():
        try:
            unit = queries.org_unit_by_code(viewer=viewer, code=form.cleaned_data["org_code"])
            services.role_grant(actor=viewer, user=target, role=form.cleaned_data["role"], org_unit=unit)
        except ApplicationError as exc:
            _service_error(exc)
            form.attach_errors(exc)
        else:
            messages.success(request, _("已授予角色"))
            return redirect("accounts:user_detail", pk=target.pk)
    return _detail(request, viewer, target, status=400, grant_form=form)


@require_POST
@login_required
def grant_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    try:
        grant = queries.grant_get(viewer=viewer, grant_id=pk)
        services.role_revoke(actor=viewer, grant=grant)
    except ApplicationError as exc:
        _service_error(exc)
        messages.error(request, exc.message)
        return redirect("accounts:users")
    messages.success(request, _("已撤销角色"))
    return redirect("accounts:user_detail", pk=grant.user_id)


@require_POST
@login_required
def filing_view(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _require_viewer(request)
    _require_role(viewer, Role.SYSTEM_ADMIN, Role.DEPT_REGISTRAR)
    target = _get_user(viewer, pk)
    form = FilingForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            unit = queries.org_unit_for_filing(code=data["filed_with_code"])
            services.filing_record(
                actor=viewer,
                user=target,
                filed_with=unit,
                filed_on=data["filed_on"],
                filing_reference=data["filing_reference"],
                trained_on=data["trained_on"],
                training_course=data["training_course"],
            )
        except ApplicationError as exc:
            _service_error(exc)
            form.attach_errors(exc)
        else:
            messages.success(request, _("已登记备案与培训信息"))
            return redirect("accounts:user_detail", pk=target.pk)
    return _detail(request, viewer, target, status=400, filing_form=form)
