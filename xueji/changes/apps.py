from django.apps import AppConfig

from xueji.students.sections import register_record_section


class ChangesConfig(AppConfig):
    name = "xueji.changes"
    label = "changes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """The "学籍变动" tab of a student's page (students cannot import changes: it stands below)."""
        from .views import student_changes_context  # noqa: PLC0415 - apps.ready: views load models after the registry

        register_record_section("changes", student_changes_context)
