from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("students/<uuid:person_id>/card/", views.card_view, name="card"),
    path("students/<uuid:person_id>/card.pdf", views.card_pdf_view, name="card_pdf"),
    path("changes/<uuid:request_id>/form/", views.change_form_view, name="change_form"),
    path("changes/<uuid:request_id>/form.pdf", views.change_form_pdf_view, name="change_form_pdf"),
]
