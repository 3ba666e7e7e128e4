from django.apps import AppConfig

from xueji.core.signals import records_changed


class StatisticsConfig(AppConfig):
    """学籍统计 (第5、23条): count snapshots by region, school, grade, class, sex, ethnicity, status, stage,
    household type and flags, and monthly flows; top of the house."""

    name = "xueji.statistics"
    label = "statistics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Refresh the snapshot soon after imports and applied changes (issue 10 §1; the apps that write them
        stand below statistics and send :data:`~xueji.core.signals.records_changed`)."""
        from .receivers import on_records_changed  # noqa: PLC0415 - apps.ready: receivers load models after the registry

        records_changed.connect(on_records_changed, dispatch_uid="statistics.refresh")
