from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "xueji.changes"
    label = "changes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """The "学籍变动" tab of a student's page (students cannot import changes: it stands below)."""
        from xueji.students.sections import register_record_section

        from .views import student_changes_context

        register_record_section("changes", student_changes_context)
