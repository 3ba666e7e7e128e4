"""The digital identity's own data: each person's secret internal subject id, and what each registered relying
party (an OAuth2 ``Application`` of django-oauth-toolkit) may ask for (第24条)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    scopes = models.JSONField(_("可申请的授权范围"), default=list)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接入系统")
        verbose_name_plural = _("接入系统")

    def __str__(self) -> str:
        return self.sector
