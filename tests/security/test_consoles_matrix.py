"""三权分立 as a matrix (issue 11 §6; security.md §1.4, acceptance test 9; 等保 8.1.5.1–8.1.5.3).

Every (system admin, security admin, audit admin, business role) × page/API pair matches the policy table of
``tests/security/console_policy.py`` with 0 deviations:

* a role the table allows reaches the page — 200, or a redirect that is not to the login page (action
  endpoints, POSTed with an empty body: anything but a refusal);
* a role it does not allow is refused — 403 or 404 — and never sees the page;
* every URL of the site and every /api/v1 operation is in the table (a new page must be classified first);
* each administrator's console (the menu on the dashboard) shows only its own console's pages.

Object pages are probed with real objects of a small world (a school, a student, the registrar's account, an
alert) where the table's allowed roles can see them; ids of objects the world does not hold (a change request, a
batch) exercise the refusal only. Write operations of the API are classified, not probed: an empty body is
answered 422 before any role check (their role checks are tested with valid bodies in each app's API tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.factories import core as f
from tests.factories import students as sf
from tests.security import console_policy as policy
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.accounts.models import User
from xueji.alerts.models import Alert, AlertRule
from xueji.dropouts.enums import Reason, Source
from xueji.dropouts.services import case_open
from xueji.oversight.queries import METRICS
from xueji.schools.models import School
from xueji.students.models import Enrollment, ProblemRecord

pytestmark = pytest.mark.django_db

REFUSED = {403, 404}
#: Pages whose ``pk`` is an account.
ACCOUNT_PAGES = frozenset(
    {
        "accounts:user_detail",
        "accounts:user_seal",
        "accounts:user_unseal",
        "accounts:user_reset_password",
        "accounts:grant_create",
        "accounts:filing",
        "accounts:mfa_reset",
    }
)
DUMMY_UUID = uuid.UUID("00000000-0000-4000-8000-000000000001")
DUMMY_INT = 987654


class Rollback(Exception):
    pass


@dataclass
class World:
    users: dict[str, User]
    school: School
    enrollment: Enrollment
    target: User  # an account to administer: the school's registrar
    alert: Alert
    problem_id: Any  # a suspected duplicate (第9条)
    case_id: Any  # a dropout case (第17条)

    def kwargs(self, name: str, pattern: URLPattern) -> tuple[dict[str, Any], bool]:
        """Arguments for a URL and whether they name objects that exist (else the probe is a refusal check)."""
        person = self.enrollment.person
        known: dict[str, Any] = {
            "org_id": self.school.supervising_dept_id,
            "school_id": self.school.pk,
            "person_id": person.pk,
            "alert_id": self.alert.pk,
            "rule_id": AlertRule.objects.order_by("pk").values_list("pk", flat=True).first(),
            "field": "id_number",
            "kind": "transfer",
            "province_code": "440000",
            "metric": METRICS[0].key,
            "problem_id": self.problem_id,
            "case_id": self.case_id,
        }
        if name in ACCOUNT_PAGES:
            known["pk"] = (
                self.target.pk
            )  # elsewhere ``pk`` names a grant, a reset, a field set: not held here
        if name.startswith("oversight:"):
            known["org_id"] = self.school.org_id  # inside every business role's jurisdiction
        out: dict[str, Any] = {}
        real = True
        for arg, converter in pattern.pattern.converters.items():
            if arg in known:
                out[arg] = known[arg]
                continue
            real = False
            kind = type(converter).__name__
            out[arg] = DUMMY_UUID if kind == "UUIDConverter" else DUMMY_INT if kind == "IntConverter" else "x"
        return out, real


def _patterns(resolver: URLResolver, ns: str | None = None) -> Iterator[tuple[str, URLPattern]]:
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            inner = ns
            if p.namespace:
                inner = f"{ns}:{p.namespace}" if ns else p.namespace
            yield from _patterns(p, inner)
        elif p.name:
            yield (f"{ns}:{p.name}" if ns else p.name), p


def site_patterns() -> dict[str, URLPattern]:
    """Every named URL of the site except the API's (classified per operation in ``policy.API``)."""
    return {name: p for name, p in _patterns(get_resolver()) if not name.startswith("api:")}


def api_operations() -> dict[str, dict[str, Any]]:
    from config.api import api

    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path}": op for path, ops in schema["paths"].items() for method, op in ops.items()
    }


@pytest.fixture
def world(settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = str(tmp_path)
    school = f.school()
    registrar = f.registrar(school)
    users = {
        policy.SYS: f.user(Role.SYSTEM_ADMIN, f.dept("440000")),
        policy.SEC: f.user(Role.SECURITY_ADMIN, f.dept("440000")),
        policy.AUD: f.user(Role.AUDIT_ADMIN, f.dept("440000")),
        policy.SCHOOL: registrar,
        policy.COUNTY: f.user(Role.DEPT_REGISTRAR, f.dept("440105")),
        policy.PROVINCE: f.user(Role.DEPT_REGISTRAR, f.dept("440000")),
        policy.APPROVER: f.user(Role.APPROVER, f.dept("440105")),
    }
    enrollment = sf.student(school, registrar)
    # the administered account: a second registrar of the school (not one of the probing accounts)
    target = f.registrar(school)
    now = timezone.now()
    alert = Alert.objects.create(
        rule="login_failures", severity="warning", dedupe_key="matrix", count=10, first_at=now, last_at=now
    )
    # 第9条: two children without an identity number sharing name, sex and birth date → a problem record
    sf.student_without_id(school, registrar, name="王无证")
    suspect = sf.student_without_id(school, registrar, name="王无证")
    problem = ProblemRecord.objects.get(person=suspect.person)
    case = case_open(
        actor=registrar,
        enrollment=enrollment,
        source=Source.SCHOOL,
        days_absent=5,
        last_seen=timezone.localdate(),
        reason=Reason.UNKNOWN,
    )
    return World(
        users=users,
        school=school,
        enrollment=enrollment,
        target=target,
        alert=alert,
        problem_id=problem.pk,
        case_id=case.pk,
    )


def _login_target(response: Any) -> bool:
    location = response.get("Location", "")
    return response.status_code in (301, 302, 303) and (
        location.startswith(reverse("accounts:login")) or "/login/" in location
    )


def _verdict(name: str, rule: policy.Rule, role: str, response: Any, real: bool) -> str | None:
    """None when the response matches the table, else a description of the deviation."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if _login_target(response) and name != "accounts:logout":
        return "redirected to the login page"
    if role not in rule.allowed:
        return None if status in REFUSED else f"not refused ({status})"
    if rule.method == "POST" or not real:
        # an empty body or an object the world does not hold: reached unless refused by role (403)
        return None if status != 403 else "refused (403)"
    # reached: a page, a redirect onwards, or 400 for a missing query parameter
    return None if 200 <= status < 400 or status == 400 else f"refused ({status})"


def _probe_page(c: Client, user: User, rule: policy.Rule, url: str) -> Any:
    """One request in a savepoint rolled back afterwards: an action probed with an empty body changes nothing
    that the next probe would see."""
    box: dict[str, Any] = {}
    try:
        with transaction.atomic():
            cache.clear()  # the per-account rate limits are not what this matrix is about
            c.force_login(user)
            box["r"] = c.post(url, {}) if rule.method == "POST" else c.get(url)
            raise Rollback
    except Rollback:
        pass
    return box["r"]


def _judge(deviations: list[str], role: str, name: str, problem: str | None, what: str) -> None:
    """Collect a deviation; a known one (``policy.KNOWN_DEVIATIONS``, awaiting a fix in a file of another
    app) must still deviate, so that the list shrinks when it is fixed."""
    known = policy.KNOWN_DEVIATIONS.get((role, name))
    if problem and not known:
        deviations.append(f"{role} {name} {what}: {problem}")
    elif known and not problem:
        deviations.append(f"{role} {name} {what}: fixed, remove it from KNOWN_DEVIATIONS")


# --- the table is complete --------------------------------------------------------------------------------------


def test_every_url_is_classified() -> None:
    names = set(site_patterns())
    assert sorted(names - set(policy.PAGES)) == [], "unclassified URLs: add them to console_policy.PAGES"
    assert sorted(set(policy.PAGES) - names) == [], "stale entries in console_policy.PAGES"


def test_every_api_operation_is_classified() -> None:
    ops = set(api_operations())
    assert sorted(ops - set(policy.API)) == [], "unclassified API operations: add them to console_policy.API"
    assert sorted(set(policy.API) - ops) == [], "stale entries in console_policy.API"


def test_no_admin_console_overlaps_another() -> None:
    """三权分立: no page of one administrator's console is open to another administrator (the shared account
    pages excepted: the list and detail, and sealing, which both account administrators may do)."""
    shared = {"accounts:users", "accounts:user_detail", "accounts:user_seal"}
    entries = {**policy.PAGES, **policy.API}
    for name, rule in entries.items():
        admins = rule.allowed & policy.ADMINS
        if rule.public or rule.allowed >= policy.STAFF or name in shared:
            continue
        assert len(admins) <= 1, f"{name} is open to {sorted(admins)}"
        if admins:
            assert not rule.allowed & policy.BUSINESS or admins == {policy.SYS}, name


# --- the matrix ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", policy.ROLES)
def test_pages_match_the_policy_table(world: World, role: str) -> None:
    user = world.users[role]
    c = Client()
    deviations = []
    for name, pattern in sorted(site_patterns().items()):
        rule = policy.PAGES.get(name)
        if rule is None or rule.public:  # unclassified: test_every_url_is_classified fails
            continue
        kwargs, real = world.kwargs(name, pattern)
        url = reverse(name, kwargs=kwargs)
        response = _probe_page(c, user, rule, url)
        problem = _verdict(name, rule, role, response, real)
        _judge(deviations, role, name, problem, f"{rule.method} {url}")
    assert not deviations, "\n".join(deviations)


@pytest.mark.parametrize("role", policy.ROLES)
def test_api_reads_match_the_policy_table(world: World, role: str) -> None:
    user = world.users[role]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"}
    params = {
        "org_id": world.school.supervising_dept_id,
        "school_id": world.school.pk,
        "person_id": world.enrollment.person_id,
        "province_code": "440000",
        "problem_id": world.problem_id,
        "case_id": world.case_id,
    }
    c = Client()
    deviations = []
    for key, op in sorted(api_operations().items()):
        rule = policy.API.get(key)
        method, path = key.split(" ", 1)
        if rule is None or method != "GET" or rule.public:
            continue
        names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
        real = all(n in params for n in names)
        url = path.format(**{n: params.get(n, DUMMY_UUID if n.endswith("_id") else DUMMY_INT) for n in names})
        if "{round_id}" in path:
            url = path.format(round_id=DUMMY_INT, school_id=world.school.pk)
            real = False
        query = (
            {"org_id": world.school.supervising_dept_id, "school_year": 2026} if "promotion" in path else {}
        )
        cache.clear()
        response = c.get(url, query, **headers)
        problem = _verdict(key, rule, role, response, real)
        if problem and role in rule.allowed and response.status_code == 422:
            problem = None  # reached: a required query parameter was missing
        _judge(deviations, role, key, problem, url)
    assert not deviations, "\n".join(deviations)
