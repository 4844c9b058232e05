from django.urls import path

from governance.lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("lifecycle/", views.impact, name="impact"),
    path("catalog/snapshots/<int:snapshot_id>/review/", views.snapshot_review, name="snapshot_review"),
    path("projects/<slug:project_slug>/webhooks/", views.webhooks, name="webhooks"),
    path("projects/<slug:project_slug>/webhooks/<int:webhook_id>/delete/", views.webhook_delete, name="webhook_delete"),
]
