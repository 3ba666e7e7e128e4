"""The OAuth2/OIDC validator of the digital identity (第24条): pairwise subjects, claims only as the granted
scopes allow (each claim is computed only when its scope was granted), scopes only as the relying party was
registered for, disabled relying parties refused. A guardian's codes and tokens belong to its stand-in account
(:class:`xueji.identity.models.GuardianPrincipal`); they work while the guardian account is active.

Configured as ``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``; PKCE is required by the settings.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator

from xueji.accounts.auth import usable
from xueji.accounts.enums import Role

from . import scopes as s
from .claims import enrollment_claims, guardian_of
from .models import RelyingParty, Subject
from .pairwise import pairwise_sub

#: claim → the scope that releases it (xueji.pupil_name adds the child's name inside ``xueji_enrollment``).
CLAIM_SCOPES = {
    "sub": s.OPENID,
    "name": s.PROFILE,
    "xueji_roles": s.ROLE,
    "xueji_enrollment": s.ENROLLMENT,
}


def relying_party(application: Application | None) -> RelyingParty | None:
    if application is None:
        return None
    return RelyingParty.objects.filter(application=application, disabled_at__isnull=True).first()


def subject_of(user: Any, application: Application) -> str:
    """The pairwise subject of ``user`` at ``application``'s sector (created on first use)."""
    rp = relying_party(application)
    sector = rp.sector if rp else application.client_id
    subject, _created = Subject.objects.get_or_create(user=user)
    return pairwise_sub(sector, subject.internal_id)


def role_claims(user: Any) -> list[dict[str, str]]:
    """What the ``xueji.role`` scope tells: each role and the unit it is held at (no personal number)."""
    out = []
    for grant in user.grants.select_related("org_unit").order_by("role", "org_unit__code"):
        out.append(
            {
                "role": grant.role,
                "role_name": str(Role(grant.role).label) if grant.role in Role.values else grant.role,
                "unit": grant.org_unit.name,
                "unit_code": grant.org_unit.code,
                "unit_level": grant.org_unit.level,
            }
        )
    return out


class XuejiValidator(OAuth2Validator):
    oidc_claim_scope = CLAIM_SCOPES

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        application = super()._load_application(client_id, request)
        if application is not None and relying_party(application) is None:
            request.client = None
            return None
        return application

    def validate_scopes(
        self, client_id: str, scopes: Any, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A relying party gets only the scopes it was registered for (第24条: no over-collection)."""
        rp = relying_party(client)
        if rp is None or not set(scopes) <= set(rp.scopes) | {s.OPENID}:
            return False
        return bool(super().validate_scopes(client_id, scopes, client, request, *args, **kwargs))

    def _account_usable(self, request: Any) -> bool:
        """A staff account that may sign in (active, not sealed); a guardian's stand-in while the guardian
        account is active."""
        user = getattr(request, "user", None)
        if user is None:
            return False
        account = guardian_of(user)
        if account is not None:
            return bool(account.is_active)
        return usable(user)

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A code is exchanged only while its account may still sign in (active, not sealed, 第24条)."""
        ok = super().validate_code(client_id, code, client, request, *args, **kwargs)
        return bool(ok) and self._account_usable(request)

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """A deactivated or sealed account's refresh tokens stop working at once."""
        ok = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        return bool(ok) and self._account_usable(request)

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        """Userinfo answers only for an account that may still sign in."""
        ok = super().validate_bearer_token(token, scopes, request)
        return bool(ok) and self._account_usable(request)

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        return ["openid"]

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        """Callables: the toolkit evaluates a claim only when its scope was granted (no read of a child's record
        for a token without ``xueji.enrollment``)."""
        return {
            "name": lambda r: None if guardian_of(r.user) else (r.user.display_name or r.user.get_username()),
            "xueji_roles": lambda r: [] if guardian_of(r.user) else role_claims(r.user),
            "xueji_enrollment": lambda r: enrollment_claims(
                r.user, r.client, with_names=s.PUPIL_NAME in (r.scopes or [])
            ),
        }

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        claims = super().get_claim_dict(request)
        claims["sub"] = subject_of(request.user, request.client)
        return claims
