"""``manage.py seed_oversight`` (issue 10 §4, 第26条): after the demo seeds every column of the 违规监督 page has a
non-zero count somewhere — through the real change services, dated back; a second run adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from xueji.changes.models import ChangeRequest
from xueji.oversight.management.commands.seed_oversight import MARK
from xueji.oversight.queries import METRICS, Window

pytestmark = pytest.mark.django_db


def test_every_oversight_column_has_a_count_and_the_seed_runs_once():  # type: ignore[no-untyped-def]
    call_command("seed", students=120, demo_departments_only=True, stdout=StringIO())
    for command in ("seed_dropouts", "seed_verification", "seed_checks", "seed_changes"):
        call_command(command, stdout=StringIO())
    out = StringIO()
    call_command("seed_oversight", stdout=out)
    window = Window.default()
    counts = {m.key: m.records("/", window).count() for m in METRICS}
    assert all(n > 0 for n in counts.values()), (counts, out.getvalue())
    requests = ChangeRequest.objects.filter(note=MARK).count()
    assert requests == 4, out.getvalue()
    call_command("seed_oversight", stdout=StringIO())  # idempotent
    assert ChangeRequest.objects.filter(note=MARK).count() == requests
    assert {m.key: m.records("/", window).count() for m in METRICS} == counts
