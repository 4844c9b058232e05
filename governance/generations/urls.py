from django.urls import path, re_path

from governance.generations import views

app_name = "generations"

urlpatterns = [
    path("videos", views.videos, name="videos"),
    path("videos/edits", views.not_governed_yet),
    path("videos/extensions", views.not_governed_yet),
    path("videos/characters", views.not_governed_yet),
    path("videos/characters/<id:character_id>", views.not_governed_yet),
    path("videos/<id:video_id>", views.video, name="video"),
    path("videos/<id:video_id>/content", views.video_content, name="video_content"),
    path("videos/<id:video_id>/remix", views.video_remix, name="video_remix"),
    path("models", views.models, name="models"),
    path("models/<id:model_id>", views.model, name="model"),
    path("openapi.json", views.openapi_document, name="openapi"),
    re_path(r"^[\s\S]*$", views.unknown_url, name="unknown_url"),  # not ".*", which stops at a percent-encoded newline
]
