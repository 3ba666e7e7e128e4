from django.apps import AppConfig
from django_tasks.signals import task_finished, task_started


class SchedulingConfig(AppConfig):
    name = "xueji.scheduling"
    label = "scheduling"
    verbose_name = "定时任务"

    def ready(self) -> None:
        from . import signals  # noqa: PLC0415 - apps.ready: signals load TaskLease after the registry

        task_started.connect(signals.task_started, dispatch_uid="xueji-task-lease-start")
        task_finished.connect(signals.task_finished, dispatch_uid="xueji-task-lease-finish")
