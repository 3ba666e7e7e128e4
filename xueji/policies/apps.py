from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "xueji.policies"
    label = "policies"
    default_auto_field = "django.db.models.BigAutoField"
