"""The 三权分立 policy table (issue 11 §6; security.md §1.4 and acceptance test 9), as data: for every URL of the
site and every operation of /api/v1, which roles may reach it. ``tests/security/test_consoles_matrix.py`` logs in
one account per role and checks every (role × entry) pair against this table; a URL or API operation missing
from it fails the build, so a new page must be classified here first.

The three consoles (no overlap):

* system administrator (``sys``): accounts are created and password resets requested here, schools (org
  resources), the platform's configuration and backups (``dashboard:system``). Never student data; never the
  province's rule sets or the calendar (business data of the departments).
* security administrator (``sec``): grants and revocations, unsealing, second-factor resets, confirming password
  resets, the early-warning console and its rules, the relying parties of the digital identity.
* audit administrator (``aud``): the audit log, its checkpoints and an export without personal data.

Business roles: ``school`` (学校学籍管理员), ``county`` (县级部门学籍管理员), ``province`` (省级部门学籍管理员),
``approver`` (县级审核人). Reference pages every signed-in staff account needs (the org tree, the schools of the
jurisdiction — it is where the security administrator grants roles) are ``STAFF``; the account list is shared by
the two account-administering consoles and the departments that file their registrars (第22条).
"""

from __future__ import annotations

from dataclasses import dataclass

SYS, SEC, AUD = "sys", "sec", "aud"
SCHOOL, COUNTY, PROVINCE, APPROVER = "school", "county", "province", "approver"
ADMINS = frozenset({SYS, SEC, AUD})
BUSINESS = frozenset({SCHOOL, COUNTY, PROVINCE, APPROVER})
DEPTS = frozenset({COUNTY, PROVINCE})
STAFF = ADMINS | BUSINESS
NOBODY: frozenset[str] = frozenset()
ROLES = (SYS, SEC, AUD, SCHOOL, COUNTY, PROVINCE, APPROVER)


@dataclass(frozen=True)
class Rule:
    """Who may reach an entry. ``method``: how the matrix probes it (``POST`` for action endpoints, sent with
    an empty body: a role outside ``allowed`` must be refused before anything is read). ``public``: reachable
    without a staff login (the login page, public verification, the guardians' end, the OIDC protocol); such
    entries are not part of the role matrix."""

    allowed: frozenset[str] = NOBODY
    method: str = "GET"
    public: bool = False


def r(*roles: str | frozenset[str], method: str = "GET") -> Rule:
    out: set[str] = set()
    for role in roles:
        out |= {role} if isinstance(role, str) else set(role)
    return Rule(frozenset(out), method)


def post(*roles: str | frozenset[str]) -> Rule:
    return r(*roles, method="POST")


PUBLIC = Rule(public=True)

#: Every named URL of the site (django.urls.get_resolver walk, /api/v1 excluded: see API below).
PAGES: dict[str, Rule] = {
    # --- public --------------------------------------------------------------------------------------------
    "set_language": PUBLIC,
    "accounts:login": PUBLIC,
    **dict.fromkeys(
        [
            "verify:check",
            "verify:certificate",
            "verify:qr",
            "verify:status_list",
            "verify:key_set",
            "verify:issuer",
        ],
        PUBLIC,
    ),
    **dict.fromkeys(
        [
            "oauth2_provider:authorize",
            "oauth2_provider:user-info",
            "oauth2_provider:token",
            "oauth2_provider:revoke-token",
            "oauth2_provider:oidc-connect-discovery-info",
            "oauth2_provider:jwks-info",
            "oauth2_provider:authorize-continue",
        ],
        PUBLIC,
    ),
    **dict.fromkeys(
        [
            "guardians_m:home",
            "guardians_m:login",
            "guardians_m:code",
            "guardians_m:verify",
            "guardians_m:logout",
            "guardians_m:captcha_refresh",
            "guardians_m:captcha",
            "guardians_m:bind",
            "guardians_m:child",
            "guardians_m:request_new",
            "guardians_m:request",
            "guardians_m:request_withdraw",
            "guardians_m:privacy",
            "guardians_m:manifest",
            "guardians_m:sw",
        ],
        PUBLIC,
    ),
    # --- every signed-in staff account -----------------------------------------------------------------------
    "dashboard:dashboard": r(STAFF),
    "accounts:logout": post(STAFF),
    "accounts:password_change": r(STAFF),
    "accounts:mfa_verify": r(STAFF),
    "accounts:mfa_setup": r(STAFF),
    "accounts:mfa_recovery": post(STAFF),
    "accounts:session_status": r(STAFF),
    "accounts:session_keepalive": post(STAFF),
    # each account's own second factors (issue 11 §1)
    "accounts:mfa_factors": r(STAFF),
    "accounts:mfa_api_token": post(STAFF),
    "accounts:mfa_setup_sm3": r(STAFF),
    "accounts:mfa_device_remove": post(STAFF),
    "accounts:mfa_passkey_registered": post(STAFF),
    "accounts:webauthn_catalog": r(STAFF),
    "accounts:webauthn_register_begin": post(STAFF),
    "accounts:webauthn_register_complete": post(STAFF),
    "accounts:webauthn_auth_begin": post(STAFF),
    "accounts:webauthn_auth_complete": post(STAFF),
    "regions:tree": r(STAFF),
    "regions:suggest": r(STAFF),
    "regions:detail": r(STAFF),
    "regions:children": r(STAFF),
    "schools:list": r(STAFF),
    "schools:detail": r(STAFF),
    # --- system administrator's console ----------------------------------------------------------------------
    "dashboard:system": r(SYS),
    "accounts:user_create": r(SYS),
    "accounts:user_reset_password": post(SYS),
    "schools:new": r(SYS, DEPTS),
    # shared account pages: the account list (sys creates, sec authorises, departments file registrars)
    "accounts:users": r(SYS, SEC, DEPTS),
    "accounts:user_detail": r(SYS, SEC, DEPTS),
    "accounts:user_seal": post(SYS, SEC),
    "accounts:filing": post(SYS, DEPTS),
    # --- security administrator's console --------------------------------------------------------------------
    "accounts:user_unseal": post(SEC),
    "accounts:grant_create": post(SEC),
    "accounts:grant_revoke": post(SEC),
    "accounts:reset_confirm": post(SEC),
    "accounts:mfa_reset": post(SEC),
    "alerts:console": r(SEC),
    "alerts:detail": r(SEC),
    "alerts:rules": r(SEC),
    "alerts:rule_update": post(SEC),
    "identity:clients": r(SEC),
    "identity:client_new": r(SEC),
    "identity:client_disable": post(SEC),
    # --- audit administrator's console -----------------------------------------------------------------------
    "audit:list": r(AUD),
    "audit:checkpoints": r(AUD),
    "dashboard:audit_export": r(AUD),
    # --- business: student records ---------------------------------------------------------------------------
    "students:list": r(BUSINESS),
    "students:register": r(SCHOOL),
    "students:problems": r(BUSINESS),
    "students:class_move": post(SCHOOL),
    "students:problem_resolve": post(COUNTY, PROVINCE, APPROVER),
    "students:detail": r(BUSINESS),
    "students:history": r(BUSINESS),
    "students:reveal": post(BUSINESS),
    "students:edit": r(SCHOOL),
    "students:guardian_add": post(SCHOOL),
    "students:guardian_edit": r(SCHOOL),
    "students:guardian_remove": post(SCHOOL),
    "students:archive_upload": post(SCHOOL),
    "students:archive_complete": post(SCHOOL),
    "students:archive_file": r(BUSINESS),
    "imports:list": r(BUSINESS),
    "imports:new": r(SCHOOL),
    "imports:template": r(BUSINESS),
    "imports:export_roster": post(SCHOOL, DEPTS),
    "imports:roster": r(SCHOOL, DEPTS),
    "imports:export_detail": r(SCHOOL, DEPTS),
    "imports:export_download": r(SCHOOL, DEPTS),
    "imports:detail": r(BUSINESS),
    "imports:check": post(SCHOOL),
    "imports:commit": post(SCHOOL),
    "imports:retry": post(SCHOOL),
    "imports:problems": post(BUSINESS),
    "imports:created": post(BUSINESS),
    # province rule sets (非基础信息字段, 第3条) and the age-for-grade rules: business data of the departments
    "policies:list": r(BUSINESS),
    "policies:new": r(PROVINCE),
    "policies:row": r(PROVINCE),
    "policies:detail": r(BUSINESS),
    "policies:edit": r(PROVINCE),
    "policies:file": post(PROVINCE),
    "policies:activate": post(PROVINCE),
    "policies:grade_age": r(BUSINESS),
    "policies:check_rules": r(BUSINESS),
    "changes:worklist": r(BUSINESS),
    "changes:list": r(BUSINESS),
    "changes:notifications_read": post(BUSINESS),
    "changes:batch": post(BUSINESS),
    "changes:new": r(SCHOOL),
    "changes:cohort_graduation": r(SCHOOL),
    "changes:cohort_progression": r(SCHOOL),
    "changes:promotion": r(DEPTS),
    "changes:timeline": r(BUSINESS),
    "changes:detail": r(BUSINESS),
    "changes:decide": post(BUSINESS),
    "changes:work_item": r(BUSINESS),
    "changes:resubmit": post(SCHOOL),
    "changes:cancel": post(SCHOOL),
    "changes:attachment_upload": post(SCHOOL),
    "changes:attachment_file": r(BUSINESS),
    "dropouts:ledger": r(BUSINESS),
    "dropouts:export": r(BUSINESS),
    "dropouts:open": r(BUSINESS),
    "dropouts:lead": r(DEPTS),
    "dropouts:leads_import": r(DEPTS),
    "dropouts:leads_template": r(DEPTS),
    "dropouts:case": r(BUSINESS),
    "dropouts:follow_up": post(BUSINESS),
    "dropouts:close": post(BUSINESS),
    "checks:queue": r(BUSINESS),
    "checks:problem": r(BUSINESS),
    "checks:act": post(BUSINESS),
    "verification:index": r(BUSINESS),
    "verification:open": r(PROVINCE),
    "verification:round": r(BUSINESS),
    "verification:close": post(PROVINCE),
    "verification:review": r(DEPTS, APPROVER),
    "verification:return": r(BUSINESS),
    "verification:submit": post(SCHOOL),
    "verification:decide": post(DEPTS, APPROVER),
    "verification:mark": r(SCHOOL),
    "verification:unmark": post(SCHOOL),
    "documents:card": r(BUSINESS),
    "documents:card_pdf": r(BUSINESS),
    "documents:change_form": r(BUSINESS),
    "documents:change_form_pdf": r(BUSINESS),
    "oversight:overview": r(BUSINESS),
    "oversight:unit": r(BUSINESS),
    "oversight:people": r(BUSINESS),
    "oversight:items": r(BUSINESS),
    "statistics:overview": r(BUSINESS),
    "statistics:export": r(BUSINESS),
    "statistics:export_flows": r(BUSINESS),
    "guardians:worklist": r(SCHOOL),
    "guardians:request": r(SCHOOL),
    "guardians:accept": post(SCHOOL),
    "guardians:decline": post(SCHOOL),
    "guardians:find_pupil": post(SCHOOL),
    "guardians:binding": r(SCHOOL),
    "guardians:issue": post(SCHOOL),
    "guardians:code_revoke": post(SCHOOL),
    "guardians:link_revoke": post(SCHOOL),
    "certificates:index": r(BUSINESS),
    "certificates:issue": post(BUSINESS),
    "certificates:batch_create": post(BUSINESS),
    "certificates:batch": r(BUSINESS),
    "certificates:detail": r(BUSINESS),
    "certificates:pdf": r(BUSINESS),
    "certificates:json": r(BUSINESS),
    "certificates:revoke": post(BUSINESS),
    # approved de-identified exports (第24条)
    "exports:list": r(BUSINESS),
    "exports:new": r(BUSINESS),
    "exports:approvals": r(DEPTS, APPROVER),
    "exports:detail": r(BUSINESS),
    "exports:submit": post(BUSINESS),
    "exports:approve": post(BUSINESS),
    "exports:reject": post(BUSINESS),
    "exports:download": r(BUSINESS),
}

#: Every operation of /api/v1 ("METHOD path" as in the OpenAPI schema). GET operations are probed with a bearer
#: token per role; write operations are classified here (their role checks are tested with valid bodies in
#: each app's API tests: an empty body is answered 422 before any role check).
API: dict[str, Rule] = {
    "POST /api/v1/auth/token": PUBLIC,
    "GET /api/v1/auth/me": r(STAFF),
    "GET /api/v1/orgs/": r(STAFF),
    "GET /api/v1/orgs/{org_id}": r(STAFF),
    "GET /api/v1/orgs/{org_id}/children": r(STAFF),
    "GET /api/v1/schools/": r(STAFF),
    "POST /api/v1/schools/": post(SYS, DEPTS),
    "GET /api/v1/schools/{school_id}": r(STAFF),
    "GET /api/v1/students/": r(BUSINESS),
    "POST /api/v1/students/": post(SCHOOL),
    "GET /api/v1/students/problems": r(BUSINESS),
    "POST /api/v1/students/problems/{problem_id}/resolve": post(COUNTY, PROVINCE, APPROVER),
    "GET /api/v1/students/{person_id}": r(BUSINESS),
    "PATCH /api/v1/students/{person_id}": post(SCHOOL),
    "POST /api/v1/students/{person_id}/reveal": post(BUSINESS),
    "POST /api/v1/students/{person_id}/guardians": post(SCHOOL),
    "POST /api/v1/students/{person_id}/archive": post(SCHOOL),
    "POST /api/v1/students/{person_id}/archive/complete": post(SCHOOL),
    "GET /api/v1/students/{person_id}/history": r(BUSINESS),
    "GET /api/v1/imports/": r(BUSINESS),
    "POST /api/v1/imports/": post(SCHOOL),
    "GET /api/v1/imports/template": r(BUSINESS),
    "GET /api/v1/imports/{batch_id}": r(BUSINESS),
    "POST /api/v1/imports/{batch_id}/check": post(SCHOOL),
    "POST /api/v1/imports/{batch_id}/commit": post(SCHOOL),
    "POST /api/v1/imports/{batch_id}/retry": post(SCHOOL),
    "GET /api/v1/imports/{batch_id}/students": r(BUSINESS),
    "GET /api/v1/policies/": r(BUSINESS),
    "POST /api/v1/policies/": post(PROVINCE),
    "GET /api/v1/policies/active/{province_code}": r(BUSINESS),
    "GET /api/v1/policies/{field_set_id}": r(BUSINESS),
    "POST /api/v1/policies/{field_set_id}/file": post(PROVINCE),
    "POST /api/v1/policies/{field_set_id}/activate": post(PROVINCE),
    "GET /api/v1/audit/events": r(AUD),
    "GET /api/v1/audit/checkpoints": r(AUD),
    "GET /api/v1/changes/worklist": r(BUSINESS),
    "GET /api/v1/changes/notifications": r(BUSINESS),
    "POST /api/v1/changes/notifications/read": post(BUSINESS),
    "GET /api/v1/changes/timeline/{person_id}": r(BUSINESS),
    "GET /api/v1/changes/": r(BUSINESS),
    "POST /api/v1/changes/": post(SCHOOL),
    "POST /api/v1/changes/decisions/batch": post(BUSINESS),
    "POST /api/v1/changes/cohorts/graduation": post(SCHOOL),
    "POST /api/v1/changes/cohorts/progression": post(SCHOOL),
    "GET /api/v1/changes/promotion/preview": r(DEPTS),
    "POST /api/v1/changes/promotion/run": post(DEPTS),
    "GET /api/v1/changes/{request_id}": r(BUSINESS),
    "POST /api/v1/changes/{request_id}/decisions": post(BUSINESS),
    "POST /api/v1/changes/{request_id}/resubmit": post(SCHOOL),
    "POST /api/v1/changes/{request_id}/cancel": post(SCHOOL),
    "POST /api/v1/changes/{request_id}/attachments": post(SCHOOL),
    "GET /api/v1/statistics/counts": r(BUSINESS),
    "GET /api/v1/statistics/flows": r(BUSINESS),
    "GET /api/v1/dropouts/": r(BUSINESS),
    "POST /api/v1/dropouts/": post(SCHOOL, DEPTS),
    "POST /api/v1/dropouts/leads": post(DEPTS),
    "GET /api/v1/dropouts/{case_id}": r(BUSINESS),
    "POST /api/v1/dropouts/{case_id}/follow-ups": post(BUSINESS),
    "POST /api/v1/dropouts/{case_id}/close": post(BUSINESS),
    "GET /api/v1/checks/problems": r(BUSINESS),
    "GET /api/v1/checks/problems/{problem_id}": r(BUSINESS),
    **{
        f"POST /api/v1/checks/problems/{{problem_id}}/{action}": post(BUSINESS)
        for action in ("explain", "correct", "resolve", "return", "escalate", "reopen")
    },
    "GET /api/v1/checks/rules/{province_code}": r(BUSINESS),
    "POST /api/v1/checks/rules/{province_code}": post(PROVINCE),
    "GET /api/v1/verification/rounds": r(BUSINESS),
    "POST /api/v1/verification/rounds": post(PROVINCE),
    "POST /api/v1/verification/rounds/{round_id}/close": post(PROVINCE),
    "GET /api/v1/verification/rounds/{round_id}/progress": r(BUSINESS),
    "GET /api/v1/verification/rounds/{round_id}/schools/{school_id}": r(BUSINESS),
    "POST /api/v1/verification/rounds/{round_id}/schools/{school_id}/findings": post(SCHOOL),
    "DELETE /api/v1/verification/rounds/{round_id}/schools/{school_id}/findings/{enrollment_id}": post(
        SCHOOL
    ),
    "POST /api/v1/verification/rounds/{round_id}/schools/{school_id}/submit": post(SCHOOL),
    "POST /api/v1/verification/rounds/{round_id}/schools/{school_id}/review": post(DEPTS, APPROVER),
    "POST /api/v1/certificates/": post(BUSINESS),
    "GET /api/v1/certificates/{certificate_id}": r(BUSINESS),
    "POST /api/v1/certificates/{certificate_id}/revoke": post(BUSINESS),
    "POST /api/v1/certificates/batches": post(BUSINESS),
    "GET /api/v1/certificates/batches/{batch_id}": r(BUSINESS),
    "POST /api/v1/certificates/verify": PUBLIC,
    "GET /api/v1/exports/": r(BUSINESS),
    "POST /api/v1/exports/": post(BUSINESS),
    "GET /api/v1/exports/approvals": r(BUSINESS),
    "GET /api/v1/exports/{export_id}": r(BUSINESS),
    "POST /api/v1/exports/{export_id}/submit": post(BUSINESS),
    "POST /api/v1/exports/{export_id}/approve": post(BUSINESS),
    "POST /api/v1/exports/{export_id}/reject": post(BUSINESS),
    "GET /api/v1/exports/{export_id}/signature": r(BUSINESS),
    "GET /api/v1/exports/{export_id}/file": r(BUSINESS),
    # relying parties' verification of a student's enrolment (OIDC client credentials, not a staff login)
    "POST /api/v1/identity/verify": PUBLIC,
}

#: Deviations awaiting a fix in files this table's owner may not edit, with whose fix they await. The matrix
#: fails when one of them no longer deviates (remove it here then) and on any deviation not listed.
KNOWN_DEVIATIONS: dict[tuple[str, str], str] = {}
