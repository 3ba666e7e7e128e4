from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "xueji.exports"
    label = "exports"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "数据导出审批"
