"""Auth API (/api/v1/auth/): bearer tokens for API clients, and "who am I".

``POST /token`` runs the same checks as the login page: django-axes counts failures per username + IP and
answers 429 ``locked_out`` while locked; an unknown user, a wrong password and a deactivated account all get
401 ``invalid_credentials``; only with the right password does a sealed account (第24条) get 403
``account_sealed`` and an account that owes a password change 403 ``password_change_required`` (it must
change it in the browser first). See xueji/accounts/views.py for why this does not enable enumeration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.http import HttpRequest
from ninja import Field, Router, Schema

from xueji.audit.enums import EventType
from xueji.core.errors import ApplicationError, Forbidden

from . import factors, passwords, queries, services
from .auth import actor_of, issue_token
from .models import User

router = Router(tags=["账号与登录"])


class ErrorOut(Schema):
    """The one error shape of the API (same component as every other router's ``ErrorOut``)."""

    code: str
    message: str
    fields: dict[str, str]


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)
    otp: str = Field(
        "",
        max_length=16,
        description="第二因子验证码（身份验证器 6 位数字或 8 位恢复码）；管理员和县级以上审核人员必填",
    )


class TokenOut(Schema):
    token: str = Field(..., description="Bearer 令牌，仅此一次返回；请求头 Authorization: Bearer <token>")
    expires_at: datetime


class RoleOut(Schema):
    role: str
    role_label: str
    org_unit_id: int
    org_unit_name: str
    org_unit_level: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    org_unit_id: int | None
    roles: list[RoleOut]
    is_admin: bool
    filed_and_trained: bool = Field(..., description="已备案并完成培训（第二十二条 先培训后上岗）")
    must_change_password: bool


class Unauthenticated(ApplicationError):
    status = 401


class LockedOut(ApplicationError):
    status = 429


@router.post(
    "/token", auth=None, response={200: TokenOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}
)
def token_issue(request: HttpRequest, payload: TokenIn) -> Any:
    """Exchange username and password for a bearer token (valid API_TOKEN_TTL_HOURS hours)."""
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        # Answer in the API's JSON shape; stop AxesMiddleware from swapping in the HTML lockout page.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        services.login_failed_recorded(username=payload.username, reason="API：连续失败次数过多，已临时锁定")
        raise LockedOut("locked_out", "登录失败次数过多，请稍后再试")
    if user is None:
        services.login_failed_recorded(username=payload.username, reason="API：用户名或密码错误")
        raise Unauthenticated("invalid_credentials", "用户名或密码错误")
    if user.sealed_at is not None:
        services.login_failed_recorded(username=payload.username, reason="API：账号已封存", user=user)
        raise Forbidden("account_sealed", "账号已封存（半年以上未使用，第二十四条），请联系安全管理员解封")
    if passwords.change_required(user):
        services.login_failed_recorded(username=payload.username, reason="API：须先修改密码", user=user)
        raise Forbidden("password_change_required", "须先在网页上修改密码后才能使用接口（第二十四条）")
    if factors.required_for(user) and factors.match(user, payload.otp) is None:
        # issue 11 §1: a token is a login; the accounts the policy names need their second factor here too.
        services.login_failed_recorded(username=payload.username, reason="API：第二因子缺失或错误", user=user)
        raise Unauthenticated("second_factor_required", "该账号须提供有效的第二因子验证码（otp）")
    raw, row = issue_token(user)
    # Counts as a login: stamps last_login (dormancy clock, 第24条) and clears the lockout's failures. Not via
    # the user_logged_in signal: axes' receiver would create a session just to hash it, and a token client
    # has no session (issue 7: no session for token clients).
    update_last_login(User, user)
    AxesProxyHandler.reset_attempts(username=user.username)
    services.audit_account(
        EventType.TOKEN_ISSUED,
        actor=user,
        user=user,
        summary=f"{user.username} 获取 API 令牌（有效至 {row.expires_at:%Y-%m-%d %H:%M}）",
        after={"token_id": row.pk, "expires_at": row.expires_at.isoformat()},
    )
    return {"token": raw, "expires_at": row.expires_at}


@router.get("/me", response={200: MeOut, 401: ErrorOut})
def me(request: HttpRequest) -> Any:
    """The signed-in account: roles with their org units, and whether it is filed and trained (第22条)."""
    return queries.me(actor_of(request))
