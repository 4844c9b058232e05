from django.urls import path

from governance.exports import content_views, views

app_name = "exports"

urlpatterns = [
    path("audit/", views.audit, name="audit"),
    path("audit/content/", content_views.verify_content_page, name="content_verify"),
    path("audit/verify/", views.verify, name="audit_verify"),
    path("audit/events/", views.events, name="audit_events"),
    path("audit/export/<slug:kind>/", views.export, name="audit_export"),
    path("audit/exports/<slug:export_id>/manifest.json", views.manifest, name="audit_manifest"),
]
