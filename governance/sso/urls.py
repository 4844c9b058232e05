from django.urls import path

from governance.sso import views

app_name = "sso"

urlpatterns = [
    path("start/", views.StartSignIn.as_view(), name="start"),
    path("callback/", views.FinishSignIn.as_view(), name="callback"),
]
