from django.urls import path

from governance.catalog import views

app_name = "catalog"

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
]
