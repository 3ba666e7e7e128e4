from django.urls import path

from . import views

app_name = "identity"
urlpatterns = [
    path("clients/", views.clients, name="clients"),
    path("clients/new/", views.client_new, name="client_new"),
    path("clients/<int:party_id>/disable/", views.client_disable, name="client_disable"),
]
