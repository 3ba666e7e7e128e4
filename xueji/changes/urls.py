from django.urls import path

from . import views

app_name = "changes"
urlpatterns = [
    path("", views.worklist_view, name="worklist"),
    path("requests/", views.request_list_view, name="list"),
    path("notifications/read/", views.notifications_read_view, name="notifications_read"),
    path("batch/", views.batch_view, name="batch"),
    path("new/<str:kind>/", views.new_view, name="new"),
    path("cohorts/graduation/", views.cohort_graduation_view, name="cohort_graduation"),
    path("cohorts/progression/", views.cohort_progression_view, name="cohort_progression"),
    path("promotion/", views.promotion_view, name="promotion"),
    path("timeline/<uuid:person_id>/", views.timeline_more_view, name="timeline"),
    path("<uuid:request_id>/", views.detail_view, name="detail"),
    path("<uuid:request_id>/decide/", views.decide_view, name="decide"),
    path("<uuid:request_id>/item/", views.work_item_view, name="work_item"),
    path("<uuid:request_id>/resubmit/", views.resubmit_view, name="resubmit"),
    path("<uuid:request_id>/cancel/", views.cancel_view, name="cancel"),
    path("<uuid:request_id>/attachments/", views.attachment_upload_view, name="attachment_upload"),
    path(
        "<uuid:request_id>/attachments/<uuid:attachment_id>/",
        views.attachment_file_view,
        name="attachment_file",
    ),
]
