"""Queue tasks of approved exports (第24条): the file is built by ``manage.py db_worker`` once approved (the task
row is written in the approval's transaction), and expired files are deleted daily."""

from __future__ import annotations

from uuid import UUID

from django_tasks import task

from . import services


@task()
def build_export(export_id: str) -> str:
    """Queue task: build one approved export's encrypted file (a no-op when it is not waiting)."""
    export = services.export_build(export_id=UUID(export_id))
    return "superseded" if export is None else str(export.state)


@task()
def expire_exports() -> int:
    """Scheduled: delete the files of exports past their expiry (services.exports_expire)."""
    return services.exports_expire()
