"""``manage.py run_checks [--province 440000 …] [--rule archive_overdue …] [--date YYYY-MM-DD]``: run the
problem-record checks now (第9、25条), as the nightly task does."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from xueji.checks.services import run_checks
from xueji.policies.rules import CHECK_RULES


class Command(BaseCommand):
    help = "Run the problem-record checks (第9、25条) and print what each rule opened."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--province", action="append", help="province code (repeatable); default all")
        parser.add_argument("--rule", action="append", choices=list(CHECK_RULES), help="rule (repeatable)")
        parser.add_argument("--date", help="the day the run counts as (YYYY-MM-DD); default today")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD: {options['date']}") from exc
        report = run_checks(actor=None, today=today, provinces=options["province"], rules=options["rule"])
        for rule, count in report.opened.items():
            self.stdout.write(f"{rule}: {count}")
        self.stdout.write(f"total {report.total} in {report.provinces} province(s), {report.seconds:.2f} s")
