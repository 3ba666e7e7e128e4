from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """学籍卡 (学生登记表) and transfer forms: print views and PDFs. On the top floor of the house beside the
    dashboard: it reads students and changes, and nothing imports it."""

    name = "xueji.documents"
    label = "documents"
    default_auto_field = "django.db.models.BigAutoField"
