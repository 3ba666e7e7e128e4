from django.urls import URLPattern, URLResolver

app_name = "checks"
urlpatterns: list[URLPattern | URLResolver] = []
