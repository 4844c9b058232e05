from django.urls import path

from governance.dashboard import audit_views, catalog_views, usage_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("generations/", views.generation_list, name="generation_list"),
    path("generations/<id:video_id>/", views.generation_detail, name="generation_detail"),
    path("catalog/", catalog_views.catalog, name="catalog"),
    path("usage/", usage_views.usage, name="usage"),
    path("generations/<id:video_id>/row/", views.generation_row, name="generation_row"),
    path("generations/<id:video_id>/content/<slug:variant>/", views.generation_content, name="generation_content"),
    path("playground/", views.playground, name="playground"),
    path("audit/", audit_views.audit, name="audit"),
    path("audit/verify/", audit_views.verify, name="audit_verify"),
    path("audit/export/<slug:kind>/", audit_views.export, name="audit_export"),
    path("audit/exports/<slug:export_id>/manifest.json", audit_views.manifest, name="audit_manifest"),
]
