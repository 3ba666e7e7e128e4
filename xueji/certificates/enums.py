"""Code lists of the electronic certificates (第19条, issue 12 §2). Only enums and constants live here."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from xueji.students.enums import StudentStatus

#: Audit event types of this app that ``audit.enums.EventType`` does not name yet (the value is what is stored).
EVENT_ISSUED = "certificate.issued"
EVENT_REVOKED = "certificate.revoked"
EVENT_DOWNLOADED = "certificate.downloaded"
EVENT_BATCH_QUEUED = "certificate.batch_queued"
EVENT_KEY_CREATED = "certificate.key_created"
EVENT_KEY_ROTATED = "certificate.key_rotated"


class Kind(models.TextChoices):
    """What a certificate certifies: the three leaving certificates of 第19条 and the proof of enrolment."""

    GRADUATION = "graduation", _("毕业证书")
    COMPLETION = "completion", _("结业证书")
    INCOMPLETE = "incomplete", _("肄业证书")
    ENROLLMENT = "enrollment", _("在读证明")


#: The student status (JY/T 1001) a leaving certificate requires (第19条: 毕业 07, 结业 08, 肄业 09).
LEAVING_STATUS: dict[str, str] = {
    Kind.GRADUATION: StudentStatus.GRADUATED,
    Kind.COMPLETION: StudentStatus.COMPLETED,
    Kind.INCOMPLETE: StudentStatus.INCOMPLETE,
}
#: Statuses that count as 在读 for an enrolment proof (在读 01, 复学 05).
IN_SCHOOL_STATUSES = frozenset({StudentStatus.ENROLLED, StudentStatus.RESUMED})

#: The credential ``type`` of each kind (after ``VerifiableCredential``).
CREDENTIAL_TYPE: dict[str, str] = {
    Kind.GRADUATION: "XuejiGraduationCertificate",
    Kind.COMPLETION: "XuejiCompletionCertificate",
    Kind.INCOMPLETE: "XuejiIncompleteCertificate",
    Kind.ENROLLMENT: "XuejiEnrollmentProof",
}
KIND_OF_TYPE = {v: k for k, v in CREDENTIAL_TYPE.items()}


class Result(models.TextChoices):
    """The closed set of verification results (security.md §4, step 6)."""

    VALID = "valid", _("有效")
    REVOKED = "revoked", _("已撤销")
    EXPIRED = "expired", _("已过期")
    BAD_SIGNATURE = "bad-signature", _("签名无效（证书内容被篡改）")
    UNKNOWN_ISSUER = "unknown-issuer", _("签发机构或密钥未知")


class BatchState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("签发中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
