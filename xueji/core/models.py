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
