"""The digital identity's own data: each person's secret internal subject id, and what each registered relying
party (an OAuth2 ``Application`` of django-oauth-toolkit) may ask for (第24条)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.guardians.models import GuardianAccount
from xueji.students.models import Person

from .scopes import Audience


def _random_id() -> str:
    return secrets.token_hex(16)


class Subject(models.Model):
    """A random id per account, never shown: the pairwise subject a relying party sees is a keyed hash of its
    sector and this id (:func:`xueji.identity.pairwise.pairwise_sub`), so two systems cannot link their users and
    the id reveals neither the account's key nor any personal number."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="identity_subject")
    internal_id = models.CharField(max_length=32, unique=True, default=_random_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"subject of {self.user_id}"


class RelyingParty(models.Model):
    """A relying party registered by the security administrator: its sector (pairwise subjects are per sector)
    and the scopes it may request (a request for any other scope is refused)."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, models.CASCADE, related_name="relying_party"
    )
    sector = models.CharField(_("接入系统标识域"), max_length=200)
    audience = models.CharField(_("使用者"), max_length=10, choices=Audience.choices, default=Audience.STAFF)
    scopes = models.JSONField(_("可申请的授权范围"), default=list)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接入系统")
        verbose_name_plural = _("接入系统")

    def __str__(self) -> str:
        return self.sector


class PupilSubject(models.Model):
    """A random id per pupil, never shown: a relying party sees a pupil (in the enrollment claims of a
    guardian's token, and in the verify answer) only as ``pairwise_sub(sector, "pupil." + internal id)`` — stable
    at one relying party, unlinkable across relying parties, and never the 学籍号 or an ID number (第24条)."""

    person = models.OneToOneField(Person, models.CASCADE, related_name="+")
    internal_id = models.CharField(max_length=32, unique=True, default=_random_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pupil subject of {self.person_id}"


class GuardianPrincipal(models.Model):
    """The provider-side stand-in of a guardian account (家长端 accounts are not staff accounts). The toolkit's
    codes and tokens belong to an account of ``AUTH_USER_MODEL``; a guardian's belong to this inactive account,
    which has no password, no grant and no unit: it can sign in nowhere (inactive accounts are refused by the
    authentication backend and are never sealed or listed by the account pages). The guardian authenticates
    through the 家长端 session only; the provider checks the guardian account, not this one."""

    account = models.OneToOneField(GuardianAccount, models.CASCADE, related_name="+")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.PROTECT, related_name="guardian_principal")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"principal of {self.account_id}"
