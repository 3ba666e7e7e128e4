from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "checks"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.queue_view, name="queue"),
    path("<uuid:problem_id>/", views.problem_view, name="problem"),
    path("<uuid:problem_id>/<str:action>/", views.act_view, name="act"),
]
