"""Infrastructure tables of the core app — no domain models (ARCHITECTURE.md: core holds no domain code).

:class:`RateCounter` counts sensitive reads per account and fixed time window (issue #6 §3.10, security.md
test 28). It lives in the database, not in a process cache, so every web worker and the task worker share
one count. Written only by :mod:`xueji.core.ratelimit`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RateCounter(models.Model):
    """How many requests of one kind (``bucket``) one account made in one fixed window.

    ``account_id`` is the user's primary key as a plain number (no foreign key: core does not depend on the
    accounts app, and counters of sealed accounts simply age out). Old windows are removed by
    :func:`xueji.core.ratelimit.ratelimit_purge`.
    """

    account_id = models.BigIntegerField(_("账号"))
    bucket = models.CharField(_("类别"), max_length=20)
    window_start = models.DateTimeField(_("时间窗开始"), db_index=True)
    count = models.PositiveIntegerField(_("次数"), default=0)

    class Meta:
        verbose_name = _("访问频率计数")
        verbose_name_plural = _("访问频率计数")
        constraints = [
            models.UniqueConstraint(
                fields=["account_id", "bucket", "window_start"], name="core_ratecounter_one_per_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.bucket} {self.window_start:%Y-%m-%d %H:%M} {self.count}"


class DataKey(models.Model):
    """One version of the data key of one encrypted column (:mod:`xueji.core.fieldcrypto`), stored only wrapped
    by the master key (or a hardware module). ``active``: new values are encrypted under it (one per column);
    ``retiring``: still read, no longer written (during a rotation); ``retired``: no value uses it any more and its
    wrapped key has been erased."""

    class State(models.TextChoices):
        ACTIVE = "active", _("使用中")
        RETIRING = "retiring", _("轮换中")
        RETIRED = "retired", _("已停用")

    name = models.CharField(_("加密列"), max_length=100)
    version = models.PositiveIntegerField(_("版本"))
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.ACTIVE)
    wrapped = models.BinaryField(_("封装的密钥"), default=b"")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    retiring_since = models.DateTimeField(_("开始轮换时间"), null=True, blank=True)
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("数据密钥")
        verbose_name_plural = _("数据密钥")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="core_datakey_one_per_version"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(state="active"), name="core_datakey_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.state})"
