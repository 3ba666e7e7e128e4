"""Codes of the guardian mobile end (家长端)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Relation(models.TextChoices):
    """The guardian's relation to the child (the national family-relation codes, GB/T 4761 subset)."""

    FATHER = "1", _("父亲")
    MOTHER = "2", _("母亲")
    GRANDPARENT = "3", _("祖父母或外祖父母")
    OTHER = "9", _("其他法定监护人")


class RequestKind(models.TextChoices):
    CORRECTION = "correction", _("更正学籍信息")
    TRANSFER = "transfer", _("转学申请")
    SUSPENSION = "suspension", _("休学申请")
    RESUMPTION = "resumption", _("复学申请")


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", _("待学校处理")
    ACCEPTED = "accepted", _("学校已受理，按学籍变动办理")
    DONE = "done", _("已办结")
    DECLINED = "declined", _("学校未受理")
    WITHDRAWN = "withdrawn", _("已撤回")
    CLOSED = "closed", _("家长绑定已解除，申请关闭")


OPEN_REQUEST_STATES = frozenset({RequestState.SUBMITTED})


class EventKind(models.TextChoices):
    """Entries of a guardian request's timeline."""

    SUBMITTED = "submitted", _("家长提交申请")
    ACCEPTED = "accepted", _("学校受理")
    APPLIED = "applied", _("学校审核通过，信息已更正")
    DECLINED = "declined", _("学校不予受理")
    WITHDRAWN = "withdrawn", _("家长撤回申请")
    CLOSED = "closed", _("学校解除家长绑定，申请随之关闭")


class CodeState(models.TextChoices):
    ACTIVE = "active", _("未使用")
    USED = "used", _("已使用")
    REVOKED = "revoked", _("已作废")
    EXPIRED = "expired", _("已过期")
