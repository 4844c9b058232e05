from django.urls import path

from governance.simulator import views

app_name = "simulator-files"

urlpatterns = [path("<str:token>", views.linked_file, name="file")]
