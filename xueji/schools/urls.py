from django.urls import path

from . import views

app_name = "schools"
urlpatterns = [
    path("", views.school_list_view, name="list"),
    path("new/", views.school_new, name="new"),
    path("<int:school_id>/", views.school_detail, name="detail"),
]
