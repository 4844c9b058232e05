from django.urls import path

from governance.dashboard import (
    project_views,
    usage_views,
    views,
)

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("generations/", views.generation_list, name="generation_list"),
    path("generations/<id:video_id>/", views.generation_detail, name="generation_detail"),
    path("usage/", usage_views.usage, name="usage"),
    path("generations/<id:video_id>/row/", views.generation_row, name="generation_row"),
    path("generations/<id:video_id>/content/<slug:variant>/", views.generation_content, name="generation_content"),
    path("playground/", views.playground, name="playground"),
    path("projects/", project_views.project_list, name="project_list"),
    path("projects/<slug:project_slug>/", project_views.project_detail, name="project_detail"),
    path("projects/<slug:project_slug>/members/", project_views.member_add, name="member_add"),
    path(
        "projects/<slug:project_slug>/members/<int:membership_id>/", project_views.member_change, name="member_change"
    ),
    path(
        "projects/<slug:project_slug>/members/<int:membership_id>/remove/",
        project_views.member_remove,
        name="member_remove",
    ),
    path("projects/<slug:project_slug>/keys/<int:key_id>/revoke/", project_views.api_key_revoke, name="api_key_revoke"),
    path(
        "projects/<slug:project_slug>/environments/<str:environment_name>/keys/new/",
        project_views.api_key_create,
        name="api_key_create",
    ),
    path(
        "projects/<slug:project_slug>/environments/<str:environment_name>/content-credentials/",
        project_views.content_credentials,
        name="content_credentials",
    ),
]
