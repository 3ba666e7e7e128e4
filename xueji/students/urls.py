from django.urls import path

from . import editing, views

app_name = "students"
urlpatterns = [
    path("", views.student_list_view, name="list"),
    path("new/", views.register_view, name="register"),
    path("problems/", views.problems_view, name="problems"),
    path("class-move/", editing.class_move_view, name="class_move"),
    path("problems/<uuid:problem_id>/resolve/", views.problem_resolve_view, name="problem_resolve"),
    path("<uuid:person_id>/", views.student_detail, name="detail"),
    path("<uuid:person_id>/history/", views.student_history_view, name="history"),
    path("<uuid:person_id>/reveal/<str:field>/", views.student_reveal_view, name="reveal"),
    path("<uuid:person_id>/edit/", editing.student_edit_view, name="edit"),
    path("<uuid:person_id>/guardians/", views.guardian_add_view, name="guardian_add"),
    path("<uuid:person_id>/guardians/<uuid:guardian_id>/", editing.guardian_edit_view, name="guardian_edit"),
    path(
        "<uuid:person_id>/guardians/<uuid:guardian_id>/remove/",
        editing.guardian_remove_view,
        name="guardian_remove",
    ),
    path("<uuid:person_id>/archive/", views.archive_upload_view, name="archive_upload"),
    path("<uuid:person_id>/archive/complete/", views.archive_complete_view, name="archive_complete"),
    path("<uuid:person_id>/archive/<uuid:doc_id>/", views.archive_file_view, name="archive_file"),
]
