"""Driver for tests/imports/test_worker_kill.py: runs in a subprocess against a file SQLite database shared
with a real ``manage.py db_worker`` (the test process itself never opens that database through Django).

    python -m tests.imports.worker_harness setup ROWS   → prints the batch id (checked, commit queued)
    python -m tests.imports.worker_harness reap         → prints how many stale batches were marked failed
    python -m tests.imports.worker_harness retry ID     → re-queues the failed batch, prints its status
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    from tests.factories import core as f
    from tests.factories import imports as fi
    from xueji.imports import services, tasks
    from xueji.imports.models import ImportBatch
    from xueji.policies import rules

    rules.GRADE_AGE_DEFAULT = f.LENIENT_GRADE_AGE  # as tests/conftest.py does for the in-process tests

    command = argv[0]
    if command == "setup":
        rows = int(argv[1])
        f.departments()
        school = f.school("440105", "primary", name="海珠区第一小学")
        registrar = f.registrar(school, username="reg_kill")
        path = fi.write_csv(Path(settings.VAR_DIR) / "kill.csv", fi.students(rows))
        batch = services.import_batch_create(
            actor=registrar, school=school, uploaded_file_path=path, file_name="kill.csv"
        )
        services.import_batch_check(actor=registrar, batch=batch)
        assert batch.status == ImportBatch.Status.CHECKED, batch.message
        with override_settings(IMPORT_BACKGROUND_ROWS=1):
            assert tasks.start_commit(actor=registrar, batch=batch) is True
        print(batch.pk)
    elif command == "reap":
        from xueji.scheduling.tasks import reap_lost_tasks

        print(tasks.reap_stale.call())
        reap_lost_tasks.call()  # the import reaper failed the queue task already; this clears its lease
    elif command == "retry":
        batch = ImportBatch.objects.select_related("school", "school__org").get(pk=argv[1])
        with override_settings(IMPORT_BACKGROUND_ROWS=1):
            assert tasks.start_retry(actor=batch.created_by, batch=batch) is True
        print(batch.status)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
