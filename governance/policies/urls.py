from django.urls import path

from governance.policies import views

app_name = "policies"

ENVIRONMENT = "projects/<slug:project_slug>/environments/<str:environment_name>/"

urlpatterns = [
    path(ENVIRONMENT + "policy/", views.policy_editor, name="policy_editor"),
    path(ENVIRONMENT + "policy/diff/", views.revision_diff, name="revision_diff"),
]
