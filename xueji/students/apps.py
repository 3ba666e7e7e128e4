from django.apps import AppConfig

from xueji.policies.extra_fields import reserve_basic_fields

from .fields import ENROLLMENT_FIELDS, PERSON_FIELDS


class StudentsConfig(AppConfig):
    name = "xueji.students"
    label = "students"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """第3条: the national basic fields (this app's catalog) are reserved: no province's extra field may
        take their key or header (policies stands below students and learns them here)."""
        specs = (*PERSON_FIELDS, *ENROLLMENT_FIELDS)
        reserve_basic_fields(keys=[s.key for s in specs], labels=[s.label for s in specs])
        # The audit pages name a student by masked name and 学籍号, to those who may see the student.
        from xueji.audit.queries import register_subject_labeller  # noqa: PLC0415 - apps.ready: loads audit models

        from .queries import student_labels  # noqa: PLC0415 - apps.ready: queries load the models

        register_subject_labeller("student", student_labels)
