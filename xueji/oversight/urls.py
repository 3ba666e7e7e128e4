from django.urls import path

from . import views

app_name = "oversight"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("<int:org_id>/", views.overview, name="unit"),
    path("<int:org_id>/people/", views.people, name="people"),
    path("<int:org_id>/<slug:metric>/", views.items, name="items"),
]
