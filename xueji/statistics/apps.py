from django.apps import AppConfig


class StatisticsConfig(AppConfig):
    """学籍统计 (第5、23条): count snapshots by region, school, grade, gender, status and stage; top of the house."""

    name = "xueji.statistics"
    label = "statistics"
    default_auto_field = "django.db.models.BigAutoField"
