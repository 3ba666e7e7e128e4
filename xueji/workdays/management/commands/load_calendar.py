from django.core.management.base import BaseCommand

from xueji.workdays.services import calendar_load_package


class Command(BaseCommand):
    help = "Load the official working-day calendar from the chinesecalendar package (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        n = calendar_load_package(actor=None)
        self.stdout.write(f"loaded {n} calendar year(s)")
