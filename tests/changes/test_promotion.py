"""年度升级 (第7条): preview, set-based run, exceptions, re-runs, audit, jurisdiction."""

from datetime import date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import changes as c
from tests.factories import core as f
from xueji.accounts.enums import Role
from xueji.audit.models import AuditEvent
from xueji.changes.models import ChangeRequest
from xueji.changes.promotion import promotion_preview, promotion_run
from xueji.changes.services import change_submit
from xueji.core.errors import ApplicationError, FieldError, Forbidden, NotFound
from xueji.regions.models import OrgUnit
from xueji.students.models import Enrollment

pytestmark = pytest.mark.django_db
YEAR = 2027
RUN_DAY = date(2027, 8, 10)  # the central run (domain.md §3.1)


def _grade(e):
    return Enrollment.objects.get(pk=e.pk).grade


@pytest.fixture
def env(tree):
    c.calendar()
    primary = f.school("440105", "primary", name="海珠一小")
    junior = f.school("440105", "junior", name="海珠一中")
    other = f.school("440106", "primary", name="天河一小")
    reg = f.registrar(primary)
    s = {
        "primary": primary,
        "junior": junior,
        "other": other,
        "reg": reg,
        "county": c.dept_registrar("440105"),
        "haizhu": f.dept("440105"),
        "tianhe": f.dept("440106"),
    }
    # Promoted: grades 1, 3 (在读), 5 (复学 05), junior 7 and 8.
    s["g1"] = c.enrolled(primary, grade=1)
    s["g3"] = c.enrolled(primary, grade=3)
    s["g5_resumed"] = c.enrolled(primary, grade=5)
    Enrollment.objects.filter(pk=s["g5_resumed"].pk).update(status="05")
    s["g7"] = c.enrolled(junior, grade=7)
    s["g8"] = c.enrolled(junior, grade=8)
    # Not promoted: graduating grades 6 and 9; suspended; open request; other status; entered this year.
    s["g6"] = c.enrolled(primary, grade=6)
    s["g9"] = c.enrolled(junior, grade=9)
    s["suspended"] = c.enrolled(primary, grade=2)
    Enrollment.objects.filter(pk=s["suspended"].pk).update(status="02")
    s["in_flight"] = c.enrolled(primary, grade=4)
    s["request"] = change_submit(
        actor=reg,
        kind="suspension",
        enrollment=s["in_flight"],
        facts={
            "start_date": "2027-03-01",
            "end_date": "2027-12-01",
            "reason": "illness",
            "applicant_name": "张大明",
        },
        today=date(2027, 2, 20),
    )
    s["stopped"] = c.enrolled(primary, grade=3)
    Enrollment.objects.filter(pk=s["stopped"].pk).update(status="04")
    s["new_entrant"] = c.enrolled(primary, grade=1)
    Enrollment.objects.filter(pk=s["new_entrant"].pk).update(entry_ym="202709")
    # A former record (transferred out) and a student of another county: never touched by a 海珠 run.
    s["former"] = c.enrolled(primary, grade=2)
    Enrollment.objects.filter(pk=s["former"].pk).update(is_active=False, status="10")
    s["tianhe_g2"] = c.enrolled(other, grade=2)
    return s


def _preview(s, actor="county", org="haizhu", **kw):
    return promotion_preview(actor=s[actor], org_unit=s[org], school_year=YEAR, today=RUN_DAY, **kw)


def _run(s, actor="county", org="haizhu"):
    return promotion_run(actor=s[actor], org_unit=s[org], school_year=YEAR, today=RUN_DAY)


PROMOTED = ("g1", "g3", "g5_resumed", "g7", "g8")
UNCHANGED = ("g6", "g9", "suspended", "in_flight", "stopped", "new_entrant", "former", "tianhe_g2")


def test_preview_counts_exceptions_exactly_and_writes_nothing(env):
    events = AuditEvent.objects.count()
    report = _preview(env)
    assert report.counts == {
        "promote": 5,
        "awaiting_graduation": 2,
        "suspended": 1,
        "in_flight": 1,
        "grade_settled": 0,
        "other_status": 1,
        "entered_this_year": 1,
        "already_promoted": 0,
    }
    rows = {(r["school_name"], r["grade"]): r for r in report.by_school_grade}
    assert {k: r["promote"] for k, r in rows.items() if r["promote"]} == {
        ("海珠一小", 1): 1,
        ("海珠一小", 3): 1,
        ("海珠一小", 5): 1,
        ("海珠一中", 7): 1,
        ("海珠一中", 8): 1,
    }
    assert rows[("海珠一小", 6)]["awaiting_graduation"] == 1
    assert rows[("海珠一中", 9)]["awaiting_graduation"] == 1
    assert rows[("海珠一小", 2)]["suspended"] == 1
    assert not report.by_school_truncated
    [held] = report.in_flight
    assert (held["enrollment_id"], held["request_id"], held["kind"], held["grade"]) == (
        str(env["in_flight"].pk),
        str(env["request"].pk),
        "suspension",
        4,
    )
    assert held["student_number"] and held["name"] == "张小明"
    assert report.promoted is None
    assert AuditEvent.objects.count() == events
    assert _grade(env["g3"]) == 3


def test_run_promotes_exactly_the_eligible(env):
    before = {k: _grade(env[k]) for k in PROMOTED + UNCHANGED}
    report = _run(env)
    assert report.promoted == 5
    for key in PROMOTED:
        e = Enrollment.objects.get(pk=env[key].pk)
        assert (e.grade, e.promoted_year) == (before[key] + 1, YEAR), key
    for key in UNCHANGED:
        e = Enrollment.objects.get(pk=env[key].pk)
        assert (e.grade, e.promoted_year) == (before[key], None), key
    # The stage does not change (graduating grades are never promoted across a stage boundary).
    assert Enrollment.objects.get(pk=env["g8"].pk).stage == "junior"


def test_one_audit_event_per_promoted_student_and_one_summary(env):
    report = _run(env)
    per_student = AuditEvent.objects.filter(event_type="change.bulk", subject_type="student")
    assert sorted(per_student.values_list("subject_id", flat=True)) == sorted(
        str(env[k].person_id) for k in PROMOTED
    )
    g3 = per_student.get(subject_id=str(env["g3"].person_id))
    assert g3.before == {"grade": 3}
    assert g3.after == {"grade": 4, "promoted_year": YEAR, "enrollment_id": str(env["g3"].pk)}
    assert (g3.org_unit_id, g3.actor_id, g3.actor_role) == (
        env["primary"].pk,
        env["county"].pk,
        "dept_registrar",
    )
    assert g3.summary == "2027学年年度升级：3年级→4年级"
    [summary] = AuditEvent.objects.filter(event_type="change.bulk", subject_type="org")
    assert (summary.subject_id, summary.org_unit_id) == (str(env["haizhu"].pk), env["haizhu"].pk)
    assert summary.after["promoted"] == 5 == report.promoted
    assert summary.after["counts"]["in_flight"] == 1
    assert summary.after["in_flight"] == [str(env["in_flight"].pk)]


def test_second_run_of_the_same_year_changes_nothing(env):
    _run(env)
    grades = dict(Enrollment.objects.values_list("pk", "grade"))
    per_student = AuditEvent.objects.filter(event_type="change.bulk", subject_type="student").count()
    report = _run(env)
    assert report.promoted == 0
    assert report.counts["promote"] == 0
    assert report.counts["already_promoted"] == 5
    assert dict(Enrollment.objects.values_list("pk", "grade")) == grades
    assert AuditEvent.objects.filter(event_type="change.bulk", subject_type="student").count() == per_student
    assert AuditEvent.objects.filter(event_type="change.bulk", subject_type="org").count() == 2


def test_rerun_promotes_a_student_whose_request_was_closed_meanwhile(env):
    _run(env)
    ChangeRequest.objects.filter(pk=env["request"].pk).update(state="cancelled", closed_at=timezone.now())
    report = _run(env)
    assert report.promoted == 1
    assert _grade(env["in_flight"]) == 5


def test_student_promoted_then_moved_is_not_promoted_again(env):
    """A transfer after the run opens a new enrollment; the person was promoted this year already."""
    _run(env)
    old = Enrollment.objects.get(pk=env["g3"].pk)
    Enrollment.objects.filter(pk=old.pk).update(is_active=False, status="10")
    new = Enrollment.objects.create(
        person_id=old.person_id,
        province_code=old.province_code,
        school=env["primary"],
        scope_path=old.scope_path,
        stage=old.stage,
        grade=old.grade,
        class_name="4班",
        entry_ym=old.entry_ym,
        entry_method=old.entry_method,
        study_mode=old.study_mode,
        registered_at=timezone.now(),
        archive_due=old.archive_due,
    )
    report = _run(env)
    assert report.promoted == 0
    assert report.counts["already_promoted"] == 5  # the old record is inactive, the new one counts
    assert Enrollment.objects.get(pk=new.pk).grade == 4


def test_grade_set_by_a_resumption_this_school_year_is_not_promoted_again(env):
    e = env["g3"]
    ChangeRequest.objects.create(
        kind="resumption",
        state="approved",
        person_id=e.person_id,
        enrollment=e,
        province_code="440000",
        source_path=e.scope_path,
        created_by=env["reg"],
        initiator_org=env["primary"].org,
        closed_at=timezone.make_aware(datetime(2027, 7, 20, 10, 0)),
    )
    report = _run(env)
    assert report.counts["grade_settled"] == 1
    assert report.promoted == 4
    assert _grade(e) == 3


def test_resumption_before_the_school_year_does_not_hold_back(env):
    e = env["g3"]
    ChangeRequest.objects.create(
        kind="resumption",
        state="approved",
        person_id=e.person_id,
        enrollment=e,
        province_code="440000",
        source_path=e.scope_path,
        created_by=env["reg"],
        initiator_org=env["primary"].org,
        closed_at=timezone.make_aware(datetime(2027, 3, 1, 10, 0)),
    )
    assert _run(env).promoted == 5


def test_city_registrar_runs_the_city_and_national_registrar_the_country(env):
    city = f.user(Role.DEPT_REGISTRAR, f.dept("440100"))
    report = promotion_run(actor=city, org_unit=f.dept("440100"), school_year=YEAR, today=RUN_DAY)
    assert report.promoted == 6
    assert _grade(env["tianhe_g2"]) == 3
    national_org = OrgUnit.objects.get(level="national")
    national = f.user(Role.DEPT_REGISTRAR, national_org)
    again = promotion_run(actor=national, org_unit=national_org, school_year=YEAR, today=RUN_DAY)
    assert (again.promoted, again.counts["already_promoted"]) == (0, 6)


def test_out_of_scope_region_is_not_found(env):
    with pytest.raises(NotFound):
        _run(env, org="tianhe")
    with pytest.raises(NotFound):
        _preview(env, org="tianhe")
    assert _grade(env["tianhe_g2"]) == 2


def test_only_department_registrars_may_promote(env):
    # A school registrar: the county is outside their jurisdiction; their own school is visible but refused.
    with pytest.raises(NotFound):
        _run(env, actor="reg")
    env["school_org"] = env["primary"].org
    with pytest.raises(Forbidden) as exc:
        _run(env, actor="reg", org="school_org")
    assert exc.value.code == "not_department_registrar"
    env["approver"] = f.user(Role.APPROVER, env["haizhu"])
    with pytest.raises(Forbidden):
        _run(env, actor="approver")
    env["unfiled"] = f.user(Role.DEPT_REGISTRAR, env["haizhu"], filed=False)
    with pytest.raises(ApplicationError) as exc:
        _run(env, actor="unfiled")
    assert exc.value.code == "registrar_not_filed"
    assert Enrollment.objects.filter(promoted_year__isnull=False).count() == 0


def test_a_school_year_other_than_the_current_one_is_refused(env):
    for year, day in ((2028, RUN_DAY), (2027, date(2027, 6, 30)), (2026, RUN_DAY)):
        with pytest.raises(FieldError) as exc:
            promotion_run(actor=env["county"], org_unit=env["haizhu"], school_year=year, today=day)
        assert (exc.value.code, exc.value.field) == ("school_year_not_current", "school_year")
    assert (
        promotion_run(
            actor=env["county"], org_unit=env["haizhu"], school_year=2027, today=date(2028, 6, 30)
        ).promoted
        == 5
    )


def test_management_command_previews_and_runs(tree):
    today = timezone.localdate()
    year = today.year if today.month >= 7 else today.year - 1
    school = f.school("440105", "primary", name="海珠三小")
    e = c.enrolled(school, grade=2)
    Enrollment.objects.filter(pk=e.pk).update(entry_ym=f"{year - 1}09")
    f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="county_reg")
    out = StringIO()
    call_command(
        "promote", "--org", "440105", "--year", str(year), "--user", "county_reg", "--preview", stdout=out
    )
    assert "应升级：1" in out.getvalue()
    assert _grade(e) == 2
    out = StringIO()
    call_command("promote", "--org", "440105", "--year", str(year), "--user", "county_reg", stdout=out)
    assert "已升级：1 人" in out.getvalue()
    assert _grade(e) == 3
    with pytest.raises(CommandError, match="school_year_not_current"):
        call_command("promote", "--org", "440105", "--year", str(year + 1), "--user", "county_reg")
    with pytest.raises(CommandError, match="找不到机构代码"):
        call_command("promote", "--org", "999999", "--year", str(year), "--user", "county_reg")


def test_a_request_submitted_while_the_run_updates_refuses_the_whole_run(env, monkeypatch):
    """PostgreSQL READ COMMITTED: a request committed during the UPDATE could carry the old grade. The run
    looks again after its UPDATE and, finding one, writes nothing (run it again)."""
    from xueji.changes import promotion

    def racing(original):
        def promote(sql, base):
            result = original(sql, base)
            g3 = Enrollment.objects.get(pk=env["g3"].pk)
            ChangeRequest.objects.create(
                kind="suspension",
                state="pending",
                person_id=g3.person_id,
                enrollment=g3,
                province_code="440000",
                source_path=g3.scope_path,
                created_by=env["reg"],
                initiator_org=env["primary"].org,
                before={"grade": 3},  # read before the run's UPDATE reached the row
            )
            return result

        return promote

    monkeypatch.setattr(promotion, "_promote_postgresql", racing(promotion._promote_postgresql))
    monkeypatch.setattr(promotion, "_promote_sqlite", racing(promotion._promote_sqlite))
    events = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as exc:
        _run(env)
    assert exc.value.code == "promotion_raced"
    assert _grade(env["g1"]) == 1 and _grade(env["g3"]) == 3
    assert Enrollment.objects.filter(promoted_year__isnull=False).count() == 0
    assert AuditEvent.objects.count() == events


# --------------------------------------------------------------------------------------------- on the queue
def test_the_page_runs_the_promotion_on_the_task_queue_and_shows_the_report(client, env):
    """Started from the web, the run is a queue task (the request does not hold the database for the whole
    region); the page polls it and shows the report; its audit events carry the starting request's id."""
    from django.urls import reverse

    from tests.factories.tasks import run_queued_tasks
    from xueji.audit.enums import EventType
    from xueji.changes.views import current_school_year

    year = current_school_year(timezone.localdate())
    # The factory enrols in 2026-09; for the current school year these pupils must have entered earlier.
    Enrollment.objects.filter(pk__in=[env[k].pk for k in PROMOTED]).update(entry_ym=f"{year - 1}09")
    expected = promotion_preview(actor=env["county"], org_unit=env["haizhu"], school_year=year).to_promote
    assert expected > 0
    grades = {k: _grade(env[k]) for k in PROMOTED}
    url = reverse("changes:promotion")
    client.force_login(env["county"])
    response = client.post(url, {"school_year": str(year), "confirm": "1"}, HTTP_X_REQUEST_ID="promo-req-1")
    assert response.status_code == 302
    job_url = response["Location"]
    assert job_url.startswith(f"{url}?job=")
    assert {k: _grade(env[k]) for k in PROMOTED} == grades  # queued, not run in the request

    waiting = client.get(job_url).content.decode()
    assert 'data-testid="promotion-running"' in waiting and 'hx-trigger="every 2s"' in waiting
    assert 'data-testid="promotion-result"' not in waiting

    assert run_queued_tasks() == ["SUCCESSFUL"]
    poll = client.get(job_url, HTTP_HX_REQUEST="true")
    assert poll["HX-Redirect"] == job_url
    done = client.get(job_url).content.decode()
    assert 'data-testid="promotion-result"' in done and f"升级 {expected} 人" in done
    assert 'data-testid="promotion-running"' not in done
    assert Enrollment.objects.filter(promoted_year=year).count() == expected
    summary = AuditEvent.objects.get(event_type=EventType.BULK_CHANGE, subject_type="org")
    assert (summary.request_id, summary.actor_username) == ("promo-req-1", env["county"].username)


def test_a_promotion_job_is_visible_only_to_the_account_that_started_it(client, env):
    from django.urls import reverse

    from tests.factories.tasks import run_queued_tasks
    from xueji.changes.views import current_school_year

    year = current_school_year(timezone.localdate())
    client.force_login(env["county"])
    job_url = client.post(reverse("changes:promotion"), {"school_year": str(year), "confirm": "1"})[
        "Location"
    ]
    other = c.dept_registrar("440105")
    client.force_login(other)
    assert client.get(job_url).status_code == 404
    assert client.get(f"{reverse('changes:promotion')}?job=not-a-task").status_code == 404
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert client.get(job_url).status_code == 404


def test_a_refusal_inside_the_queued_run_is_shown_on_the_page(client, env, monkeypatch):
    from django.urls import reverse

    from tests.factories.tasks import run_queued_tasks
    from xueji.changes import tasks as change_tasks
    from xueji.changes.views import current_school_year
    from xueji.core.errors import Conflict

    def raced(**kwargs):
        raise Conflict(
            "promotion_raced", "升级过程中有 1 名学生新提交了学籍业务，本次升级未写入任何数据，请重新办理"
        )

    year = current_school_year(timezone.localdate())
    client.force_login(env["county"])
    job_url = client.post(reverse("changes:promotion"), {"school_year": str(year), "confirm": "1"})[
        "Location"
    ]
    monkeypatch.setattr(change_tasks, "promotion_run", raced)
    assert run_queued_tasks() == ["SUCCESSFUL"]
    response = client.get(job_url)
    assert response.status_code == 400
    assert "本次升级未写入任何数据，请重新办理" in response.content.decode()


def test_a_refused_promotion_is_shown_at_once_and_nothing_is_queued(client, env):
    from django.urls import reverse
    from django_tasks_db.models import DBTaskResult

    client.force_login(env["county"])
    response = client.post(reverse("changes:promotion"), {"school_year": "2019", "confirm": "1"})
    assert response.status_code == 400
    assert DBTaskResult.objects.count() == 0


def test_a_promotion_whose_worker_died_shows_as_failed_and_can_be_run_again(client, env):
    import socket
    import subprocess

    from django.urls import reverse
    from django_tasks_db.models import DBTaskResult

    from tests.factories.tasks import run_queued_tasks
    from xueji.changes.views import current_school_year
    from xueji.scheduling.models import TaskLease
    from xueji.scheduling.tasks import reap_lost_tasks

    year = current_school_year(timezone.localdate())
    client.force_login(env["county"])
    url = reverse("changes:promotion")
    job_url = client.post(url, {"school_year": str(year), "confirm": "1"})["Location"]
    task_id = job_url.split("job=")[1]

    child = subprocess.Popen(["true"])  # noqa: S607 - a worker process that is gone
    child.wait(timeout=10)
    DBTaskResult.objects.filter(pk=task_id).update(status="RUNNING", started_at=timezone.now())
    TaskLease.objects.create(task_id=task_id, host=socket.gethostname(), pid=child.pid)
    assert 'data-testid="promotion-running"' in client.get(job_url).content.decode()
    assert reap_lost_tasks.call() == 1
    failed = client.get(job_url)
    assert failed.status_code == 400
    assert "年度升级失败（系统错误），未写入任何数据，请重新办理" in failed.content.decode()
    again = client.post(url, {"school_year": str(year), "confirm": "1"})["Location"]
    assert run_queued_tasks() == ["SUCCESSFUL"]
    assert 'data-testid="promotion-result"' in client.get(again).content.decode()


def test_an_approved_change_waiting_for_its_date_holds_the_student(env):
    """Issue 8 item 10: a scheduled (已批准待生效) request is business in flight — the promotion leaves the
    student to it, as it does an open one."""
    ChangeRequest.objects.filter(pk=env["request"].pk).update(
        state="scheduled", effective_on=date(2027, 9, 1)
    )
    report = _preview(env)
    assert report.counts["in_flight"] == 1
    assert [h["request_id"] for h in report.in_flight] == [str(env["request"].pk)]
    _run(env)
    assert _grade(env["in_flight"]) == 4
