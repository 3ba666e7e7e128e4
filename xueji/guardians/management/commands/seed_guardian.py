"""``manage.py seed_guardian``: a demo guardian bound to a demo pupil (issue 12 §1), after ``manage.py seed``.

The school registrar of the demo school issues a binding code and the guardian binds with it — both through the
services, audited like real work. Idempotent: run again, it only prints the login. Prints the phone number and
where the development SMS backend writes the login code (``var/sms/``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from xueji.accounts.jurisdiction import school_registrar_units
from xueji.accounts.models import User
from xueji.guardians import phones
from xueji.guardians.enums import Relation
from xueji.guardians.models import GuardianAccount, GuardianLink
from xueji.guardians.services import binding_code_issue, link_bind
from xueji.students.demo import demo_exists
from xueji.students.models import Enrollment, Guardian

DEMO_PHONE = "13800138001"
REGISTRAR = "school_registrar"


class Command(BaseCommand):
    help = "演示数据：家长端演示家长（已绑定一名演示学生），并打印登录方式（在 manage.py seed 之后运行）"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--phone", default=DEMO_PHONE, help="演示家长的手机号码")

    def handle(self, *args: Any, **options: Any) -> None:
        number = phones.normalise(options["phone"])
        account = GuardianAccount.objects.filter(phone_key=phones.blind_index(number)).first()
        link = (
            GuardianLink.objects.filter(account=account, revoked_at__isnull=True)
            .select_related("person")
            .first()
            if account
            else None
        )
        if link is None:
            if not demo_exists():
                self.stdout.write("没有演示数据：未建立家长端演示家长。")
                return
            link = self._bind(number)
            if link is None:
                self.stdout.write("演示学校没有可绑定的在读学生：未建立家长端演示家长。")
                return
        sms_dir = getattr(settings, "XUEJI_SMS_FILE_PATH", "var/sms")
        backend = getattr(settings, "XUEJI_SMS_BACKEND", "xueji.guardians.sms.FileBackend")
        self.stdout.write(
            f"家长端 http://127.0.0.1:8000/m/ ：手机号 {number}（已绑定演示学生 {link.person.name}）；"
            f"图形验证码后，短信验证码见 {sms_dir}/ 中最新的 .sms 文件（{backend}）"
        )

    def _bind(self, number: str) -> GuardianLink | None:
        registrar = User.objects.filter(username=REGISTRAR).first()
        if registrar is None:
            return None
        units = [u.pk for u in school_registrar_units(registrar)]
        enrollment = (
            Enrollment.objects.select_related("school", "school__org", "person")
            .filter(is_active=True, school__org_id__in=units, stage="primary")
            .order_by("grade", "pk")
            .first()
        )
        if enrollment is None:
            return None
        issued = binding_code_issue(actor=registrar, enrollment=enrollment, slot=1)
        account = GuardianAccount()
        phones.store(account, number)
        account.save()
        member = Guardian.objects.filter(person_id=enrollment.person_id, is_guardian=True).first()
        relation = member.relation if member and member.relation in Relation.values else Relation.OTHER
        return link_bind(
            account=account,
            code=issued.code,
            child_name=enrollment.person.name,
            relation=relation,
            guardian_name=member.name if member else "演示家长",
            consent=True,
            ip="127.0.0.1",
        )
