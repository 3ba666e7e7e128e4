"""Registering and disabling relying parties of the digital identity (第24条). Only the security administrator
does this (三权分立: accounts, grants and the systems that may receive identities are the security side)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from xueji.accounts.enums import Role
from xueji.accounts.jurisdiction import roles
from xueji.accounts.types import Actor
from xueji.audit.enums import EventType
from xueji.audit.services import record
from xueji.core.errors import FieldError, Forbidden, NotFound

from . import scopes as s
from .models import RelyingParty


def require_security_admin(actor: Actor) -> None:
    if Role.SECURITY_ADMIN not in roles(actor):
        raise Forbidden()


def registrable_scopes() -> dict[str, str]:
    """The scopes a relying party can be registered for (``openid`` is always granted), from the catalog
    :data:`xueji.identity.scopes.SCOPES` (which ``OAUTH2_PROVIDER["SCOPES"]`` must hold too)."""
    return {k: str(v) for k, v in s.SCOPES.items() if k != s.OPENID}


def _scopes_for(audience: str, scopes: list[str]) -> list[str]:
    """第24条 (no over-collection): a scope only for its audience — a staff system learns nothing about
    pupils, a guardians' system nothing about staff roles; a child's name only with its enrollment."""
    unknown = sorted(set(scopes) - set(registrable_scopes()))
    if unknown:
        raise FieldError("scopes", "invalid", f"授权范围：未知的范围 {'、'.join(unknown)}")
    if audience not in s.Audience.values:
        raise FieldError("audience", "invalid", "使用者：请选择教职工或家长")
    wrong = sorted(set(scopes) - s.AUDIENCE_SCOPES[s.Audience(audience)])
    if wrong:
        who = s.Audience(audience).label
        raise FieldError("scopes", "audience", f"授权范围：{'、'.join(wrong)} 不适用于使用者“{who}”")
    if s.PUPIL_NAME in scopes and s.ENROLLMENT not in scopes:
        raise FieldError("scopes", "pupil_name", f"授权范围：{s.PUPIL_NAME} 须与 {s.ENROLLMENT} 一起登记")
    return sorted(set(scopes))


def _redirect_uris(text: str) -> list[str]:
    uris = [u.strip() for u in text.split() if u.strip()]
    if not uris:
        raise FieldError("redirect_uris", "required", "回调地址：至少填写一个")
    allowed: list[str] = list(settings.OAUTH2_PROVIDER["ALLOWED_REDIRECT_URI_SCHEMES"])  # type: ignore[call-overload]
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme not in allowed or not parts.netloc or parts.fragment:
            raise FieldError(
                "redirect_uris",
                "invalid",
                f"回调地址：{uri} 不是允许的地址（须为 {'/'.join(allowed)}，不含 #）",
            )
    return uris


@dataclass(frozen=True)
class Registered:
    party: RelyingParty
    client_secret: str  # shown once; only its hash is stored


def register(
    *,
    actor: Actor,
    name: str,
    redirect_uris: str,
    scopes: list[str],
    sector: str = "",
    confidential: bool = True,
    audience: str = s.Audience.STAFF,
) -> Registered:
    """Register a relying party: an authorization-code client (PKCE required by settings), its sector (default:
    the host of its first redirect URI — two clients of one system share subjects only if registered with the
    same sector), its audience (staff or guardians: who signs in to it, and which scopes fit) and the scopes it
    may request. Audited; the secret is returned once."""
    require_security_admin(actor)
    name = name.strip()
    if not name:
        raise FieldError("name", "required", "系统名称：必填")
    uris = _redirect_uris(redirect_uris)
    scopes = _scopes_for(audience or s.Audience.STAFF, scopes)
    if not settings.OAUTH2_PROVIDER.get("OIDC_RSA_PRIVATE_KEY"):
        raise FieldError(
            "algorithm", "no_key", "签名密钥：身份提供方的签名密钥尚未配置（运行 manage.py oidc_key）"
        )
    sector = sector.strip() or (urlsplit(uris[0]).hostname or "")
    secret = generate_client_secret() if confidential else ""
    with transaction.atomic():
        application = Application(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL if confidential else Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(uris),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=False,
            client_secret=secret,
        )
        application.full_clean(exclude=["user", "client_secret"] if not confidential else ["user"])
        application.save()
        party = RelyingParty.objects.create(
            application=application,
            sector=sector,
            scopes=scopes,
            audience=audience or s.Audience.STAFF,
            registered_by=actor,
        )
        record(
            event_type=EventType.OIDC_CLIENT_REGISTERED,
            actor=actor,
            subject_type="oidc_client",
            subject_id=application.client_id,
            # the redaction keeps only its public keys: the scopes as "keys", the audience as "type"
            summary=f"{name}（{sector}）",
            after={"keys": party.scopes, "type": party.audience, "sector": sector, "redirect_uris": uris},
        )
    return Registered(party=party, client_secret=secret)


def disable(*, actor: Actor, party_id: int) -> RelyingParty:
    """Disable a relying party: it can no longer authorise or exchange codes; its tokens are revoked."""
    require_security_admin(actor)
    with transaction.atomic():
        party = RelyingParty.objects.select_for_update().filter(pk=party_id).first()
        if party is None:
            raise NotFound()
        if party.disabled_at is None:
            party.disabled_at = timezone.now()
            party.save(update_fields=["disabled_at"])
            application = party.application
            application.accesstoken_set.all().delete()
            application.refreshtoken_set.all().delete()
            application.grant_set.all().delete()
            record(
                event_type=EventType.OIDC_CLIENT_DISABLED,
                actor=actor,
                subject_type="oidc_client",
                subject_id=application.client_id,
                summary=application.name,
            )
    return party
