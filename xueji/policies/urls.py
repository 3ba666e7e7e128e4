"""Pages for province-defined non-basic fields (第3条), the registration age rules (第11条) and the
problem-record check rules (第9、25条), at /policies/."""

from django.urls import path

from . import views

app_name = "policies"
urlpatterns = [
    path("", views.field_set_list, name="list"),
    path("new/", views.field_set_new, name="new"),
    path("new/row/", views.field_set_row, name="row"),
    path("<int:pk>/", views.field_set_detail, name="detail"),
    path("<int:pk>/edit/", views.field_set_edit, name="edit"),
    path("<int:pk>/file/", views.field_set_file, name="file"),
    path("<int:pk>/activate/", views.field_set_activate, name="activate"),
    path("grade-age/", views.grade_age, name="grade_age"),
    path("check-rules/", views.check_rules, name="check_rules"),
]
