"""Typed audit events (第23、24条: full operation logging)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    LOGIN = "auth.login", _("登录")
    LOGIN_FAILED = "auth.login_failed", _("登录失败")
    LOGOUT = "auth.logout", _("退出")
    PASSWORD_CHANGED = "auth.password_changed", _("修改密码")
    TOKEN_ISSUED = "auth.token_issued", _("签发API令牌")
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", _("申请重置密码")
    PASSWORD_RESET_CONFIRMED = "auth.password_reset_confirmed", _("确认重置密码")
    PASSWORD_RESET_USED = "auth.password_reset_used", _("使用一次性临时密码")
    ACCOUNT_CREATED = "account.created", _("创建账号")
    ACCOUNT_SEALED = "account.sealed", _("封存账号")
    ACCOUNT_UNSEALED = "account.unsealed", _("解封账号")
    ROLE_GRANTED = "account.role_granted", _("授予角色")
    ROLE_REVOKED = "account.role_revoked", _("撤销角色")
    FILING_RECORDED = "account.filing_recorded", _("登记备案与培训")
    MFA_ENROLLED = "auth.mfa_enrolled", _("绑定第二身份鉴别因子")
    MFA_VERIFIED = "auth.mfa_verified", _("第二因子验证通过")
    MFA_FAILED = "auth.mfa_failed", _("第二因子验证失败")
    MFA_RESET = "account.mfa_reset", _("重置第二身份鉴别因子")
    MFA_RECOVERY_RENEWED = "auth.mfa_recovery_renewed", _("重新生成恢复码")
    ORG_CREATED = "org.created", _("创建机构")
    SCHOOL_CREATED = "school.created", _("创建学校")
    SCHOOL_UPDATED = "school.updated", _("修改学校")
    STUDENT_REGISTERED = "student.registered", _("注册学籍")
    STUDENT_UPDATED = "student.updated", _("修改学籍信息")
    STUDENT_VIEWED = "student.viewed", _("查看学生完整信息")
    STUDENT_REVEALED = "student.revealed", _("查看完整证件号/电话")
    GUARDIAN_ADDED = "student.guardian_added", _("添加家庭成员")
    GUARDIAN_UPDATED = "student.guardian_updated", _("修改家庭成员")
    GUARDIAN_REMOVED = "student.guardian_removed", _("删除家庭成员")
    CLASS_ASSIGNED = "student.class_assigned", _("分班/调班")
    ARCHIVE_ATTACHED = "archive.attached", _("上传档案材料")
    ARCHIVE_DOWNLOADED = "archive.downloaded", _("下载档案材料")
    ARCHIVE_COMPLETED = "archive.completed", _("档案建立完成")
    DOCUMENT_PRINTED = "document.printed", _("打印或下载学籍表单")
    PROBLEM_OPENED = "problem.opened", _("生成问题学籍")
    PROBLEM_RESOLVED = "problem.resolved", _("处理问题学籍")
    PROBLEM_EXPLAINED = "problem.explained", _("问题学籍：学校说明情况")
    PROBLEM_CORRECTED = "problem.corrected", _("问题学籍：学校已更正")
    PROBLEM_RETURNED = "problem.returned", _("问题学籍：退回下级")
    PROBLEM_ESCALATED = "problem.escalated", _("问题学籍：提交上级")
    PROBLEM_REOPENED = "problem.reopened", _("问题学籍：重新打开")
    CHECKS_RUN = "checks.run", _("问题学籍自动检查")
    EXTRA_FIELDS_DEFINED = "policy.extra_fields_defined", _("定义非基础学籍信息")
    EXTRA_FIELDS_FILED = "policy.extra_fields_filed", _("非基础学籍信息报部备案")
    EXTRA_FIELDS_ACTIVATED = "policy.extra_fields_activated", _("启用非基础学籍信息")
    RULES_FILED = "policy.rules_filed", _("省级学籍规则新版本报部备案")
    IMPORT_COMMITTED = "import.committed", _("批量导入")
    ROSTER_EXPORTED = "export.roster", _("导出名册")
    STATISTICS_EXPORTED = "export.statistics", _("导出统计表")
    CHANGE_SUBMITTED = "change.submitted", _("提交学籍变动申请")
    CHANGE_DECIDED = "change.decided", _("审核学籍变动")
    CHANGE_RESUBMITTED = "change.resubmitted", _("重新提交学籍变动")
    CHANGE_CANCELLED = "change.cancelled", _("撤销学籍变动")
    CHANGE_APPLIED = "change.applied", _("学籍变动生效")
    BULK_CHANGE = "change.bulk", _("批量学籍变动")
    DROPOUT_OPENED = "dropout.opened", _("控辍保学立案")
    DROPOUT_FOLLOWED_UP = "dropout.followed_up", _("控辍保学跟踪记录")
    DROPOUT_CLOSED = "dropout.closed", _("控辍保学结案")
    DROPOUT_EXPORTED = "dropout.exported", _("导出控辍保学台账")
    DROPOUT_ESCALATED = "dropout.escalated", _("控辍保学升级督办")
    CERTIFICATE_ISSUED = "certificate.issued", _("签发电子学籍证明")
    CERTIFICATE_REVOKED = "certificate.revoked", _("撤销电子学籍证明")
    CERTIFICATE_DOWNLOADED = "certificate.downloaded", _("下载电子学籍证明")
    CERTIFICATE_BATCH_QUEUED = "certificate.batch_queued", _("批量签发电子学籍证明")
    CERTIFICATE_KEY_CREATED = "certificate.key_created", _("创建签发密钥")
    CERTIFICATE_KEY_ROTATED = "certificate.key_rotated", _("轮换签发密钥")
    CALENDAR_UPDATED = "calendar.updated", _("维护官方日历")
    IDENTITY_LOOKUP = "identity.lookup", _("跨区域身份查询")
    RATE_LIMITED = "security.rate_limited", _("操作频率超限")
    OIDC_CLIENT_REGISTERED = "identity.client_registered", _("登记接入系统（OIDC 客户端）")
    OIDC_CLIENT_DISABLED = "identity.client_disabled", _("停用接入系统（OIDC 客户端）")
    OIDC_AUTHORIZED = "identity.authorized", _("向接入系统提供数字身份")
    ALERT_HANDLED = "alert.handled", _("处理安全预警")
    ALERT_RULE_CHANGED = "alert.rule_changed", _("修改预警规则")
    VERIFICATION_ROUND_OPENED = "verification.round_opened", _("发起学籍核查")
    VERIFICATION_ROUND_CLOSED = "verification.round_closed", _("结束学籍核查")
    VERIFICATION_FINDING_SAVED = "verification.finding_saved", _("标记核查异常")
    VERIFICATION_FINDING_REMOVED = "verification.finding_removed", _("撤销核查异常")
    VERIFICATION_SUBMITTED = "verification.submitted", _("提交学籍核查")
    VERIFICATION_ACCEPTED = "verification.accepted", _("学籍核查审核通过")
    VERIFICATION_RETURNED = "verification.returned", _("学籍核查退回")
    AUDIT_CHAIN_VERIFIED = "audit.chain_verified", _("审计链校验通过")
    AUDIT_CHAIN_BROKEN = "audit.chain_broken", _("审计链校验发现篡改")
    AUDIT_CHECKPOINTS_EXPORTED = "audit.checkpoints_exported", _("导出审计链检查点")
    # 家长端 (xueji/guardians, 第5、13、15、16条): the guardian is named in ``after.guardian`` (not a staff account).
    GUARDIAN_CODE_SENT = "guardian.code_sent", _("家长端发送短信验证码")
    GUARDIAN_LOGIN = "guardian.login", _("家长登录")
    GUARDIAN_LOGIN_FAILED = "guardian.login_failed", _("家长登录失败")
    GUARDIAN_LOGOUT = "guardian.logout", _("家长退出")
    GUARDIAN_BINDING_ISSUED = "guardian.binding_issued", _("签发家长绑定码")
    GUARDIAN_BINDING_REVOKED = "guardian.binding_revoked", _("作废家长绑定码")
    GUARDIAN_BOUND = "guardian.bound", _("家长绑定学生")
    GUARDIAN_BIND_FAILED = "guardian.bind_failed", _("家长绑定失败")
    GUARDIAN_UNBOUND = "guardian.unbound", _("解除家长绑定")
    GUARDIAN_VIEWED = "guardian.viewed", _("家长查看学籍信息")
    GUARDIAN_REQUEST_SUBMITTED = "guardian.request_submitted", _("家长提交申请")
    GUARDIAN_REQUEST_DECIDED = "guardian.request_decided", _("学校处理家长申请")
    GUARDIAN_REQUEST_WITHDRAWN = "guardian.request_withdrawn", _("家长撤回申请")
    GUARDIAN_BINDING_VOIDED = "guardian.binding_voided", _("绑定码因多次姓名错误失效")
    OIDC_CLAIMS_RELEASED = "identity.claims_released", _("向接入系统提供学生在读信息")
    OIDC_VERIFIED = "identity.verified", _("接入系统核验学生在读情况")
    MFA_DEVICE_REMOVED = "auth.mfa_device_removed", _("删除第二因子设备")
    # 经批准的去标识化导出 (第24条, xueji/exports): request, decision, file, download, expiry.
    EXPORT_REQUESTED = "export.requested", _("申请数据导出")
    EXPORT_SUBMITTED = "export.submitted", _("提交数据导出申请")
    EXPORT_APPROVED = "export.approved", _("批准数据导出")
    EXPORT_REJECTED = "export.rejected", _("不批准数据导出")
    EXPORT_BUILT = "export.built", _("生成数据导出文件")
    EXPORT_BUILD_FAILED = "export.build_failed", _("数据导出文件生成失败")
    EXPORT_DOWNLOADED = "export.downloaded", _("下载数据导出文件")
    EXPORT_EXPIRED = "export.expired", _("数据导出过期删除")
    # 三权分立 consoles (issue 11 §6): the audit administrator's export of the trail (no personal data).
    AUDIT_EVENTS_EXPORTED = "audit.events_exported", _("导出审计记录")


#: What an event is about, as the audit pages name it (the stored ``subject_type`` is a code, never shown).
SUBJECT_TYPE_LABELS = {
    "export_request": _("数据导出申请"),
    "issuer_key": _("签发密钥"),
    "checks": _("问题学籍检查"),
    "student": _("学生"),
    "school": _("学校"),
    "org": _("机构"),
    "user": _("账号"),
    "username": _("账号"),
    "import_batch": _("导入批次"),
    "calendar": _("官方日历"),
    "extra_field_set": _("非基础学籍信息"),
    "province_rule_set": _("省级学籍规则"),
}
