from django.urls import path

from . import views

app_name = "verification"

urlpatterns = [
    path("", views.index_view, name="index"),
    path("new/", views.open_view, name="open"),
    path("<int:round_id>/", views.round_view, name="round"),
    path("<int:round_id>/close/", views.close_view, name="close"),
    path("<int:round_id>/review/", views.review_view, name="review"),
    path("<int:round_id>/schools/<int:school_id>/", views.return_view, name="return"),
    path("<int:round_id>/schools/<int:school_id>/submit/", views.submit_view, name="submit"),
    path("<int:round_id>/schools/<int:school_id>/decide/", views.decide_view, name="decide"),
    path("<int:round_id>/schools/<int:school_id>/pupils/<uuid:enrollment_id>/", views.mark_view, name="mark"),
    path(
        "<int:round_id>/schools/<int:school_id>/pupils/<uuid:enrollment_id>/remove/",
        views.unmark_view,
        name="unmark",
    ),
]
