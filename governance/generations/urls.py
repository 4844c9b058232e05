from django.urls import path, re_path

from governance.generations import views

app_name = "generations"

urlpatterns = [
    path("videos", views.videos, name="videos"),
    path("videos/edits", views.video_edit, name="video_edit"),
    path("videos/extensions", views.video_extension, name="video_extension"),
    path("videos/characters", views.characters, name="characters"),
    path(
        "videos/<id:video_id>/remix", views.video_remix, name="video_remix"
    ),  # before characters/<id>: "characters" may be a video id
    path("videos/characters/<id:character_id>", views.character, name="character"),
    path("videos/<id:video_id>", views.video, name="video"),
    path("videos/<id:video_id>/content", views.video_content, name="video_content"),
    path("models", views.models, name="models"),
    path("models/<id:model_id>", views.model, name="model"),
    path("openapi.json", views.openapi_document, name="openapi"),
    re_path(r"^[\s\S]*$", views.unknown_url, name="unknown_url"),  # not ".*", which stops at a percent-encoded newline
]
