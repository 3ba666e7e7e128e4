"""The digital identity's API (/api/v1/identity/, 第24条): the yes/no enrollment check of the ``xueji.verify``
scope. A relying party presents the access token the guardian gave it (``Authorization: Bearer``); the answer
is "yes" or "no", never a record. The access tokens of the provider open nothing else of /api/v1: the staff
API's bearer scheme (:class:`xueji.accounts.auth.TokenAuth`) recognises a provider token and refuses it (403)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.security import HttpBearer
from oauth2_provider.oauth2_backends import get_oauthlib_core

from xueji.core.errors import Forbidden
from xueji.core.ratelimit import ratelimit_hit

from . import scopes as s
from .claims import verify_enrollment
from .validators import subject_of

#: The rate-limit bucket of verify calls (per guardian): ``verify`` when settings.XUEJI_RATE_LIMITS names it,
#: else the national look-ups' ``lookup`` (100 a day).
VERIFY_BUCKET = "verify"


def verify_bucket() -> str:
    configured = getattr(settings, "XUEJI_RATE_LIMITS", {}) or {}
    return VERIFY_BUCKET if VERIFY_BUCKET in configured else "lookup"


def _provider_token(request: HttpRequest, scopes: list[str]) -> Any:
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=scopes)
    return oauth_request.access_token if valid and oauth_request is not None else None


class OidcVerifyAuth(HttpBearer):
    """A provider access token granting ``xueji.verify`` (a valid token without it: 403)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        access = _provider_token(request, [s.VERIFY])
        if access is not None:
            return access
        if _provider_token(request, []) is not None:
            raise Forbidden("scope_missing", "该令牌未获“在读核验”（xueji.verify）授权")
        return None


class IdentityErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, str]


class IdentityVerifyIn(Schema):
    school_code: str = Field(..., min_length=1, max_length=10, description="学校标识码")
    grade: int | None = Field(None, ge=1, le=12, description="年级（可选）")
    pupil: str = Field(
        "", max_length=64, description="子女在本系统的标识（xueji_enrollment 中的 pupil；可选）"
    )


class IdentityVerifyOut(Schema):
    sub: str = Field(..., description="令牌所属用户在本接入系统的标识")
    enrolled: bool = Field(..., description="是否在读")
    as_of: date = Field(..., description="答复所依据的日期")


router = Router(tags=["identity"])


@router.post(
    "/verify",
    auth=OidcVerifyAuth(),
    response={200: IdentityVerifyOut, 401: IdentityErrorOut, 403: IdentityErrorOut, 429: IdentityErrorOut},
)
def identity_verify(request: HttpRequest, payload: IdentityVerifyIn) -> IdentityVerifyOut:
    """在读核验（第二十四条）：令牌所属家长的子女（指定 pupil 时为该子女）是否在该校（该年级）在读。只答“是/否”，
    不返回任何学籍信息；每次调用均记入审计，并按家长限制频率。"""
    access = request.auth  # type: ignore[attr-defined]
    ratelimit_hit(access.user, verify_bucket())
    answer = verify_enrollment(
        user=access.user,
        application=access.application,
        school_code=payload.school_code,
        grade=payload.grade,
        pupil=payload.pupil,
    )
    return IdentityVerifyOut(
        sub=subject_of(access.user, access.application), enrolled=answer.enrolled, as_of=answer.as_of
    )
